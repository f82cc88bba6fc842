package intents

// courtesy words open or close a message without saying what it is about
// (你好, 在吗, 问一下). When a message says something else too, they are left
// out, so that "你好 录音笔坏了" is about the recorder, not a greeting; a
// message of courtesy words alone keeps them (it is a greeting). The words
// are the canonical forms after synonym mapping.
var courtesy = map[string]bool{
	"你好": true, "在吗": true, "美女": true, "帅哥": true, "亲爱": true, "早上好": true, "下午好": true,
	"晚上好": true, "喂": true, "问一下": true, "问下": true, "想问": true, "请教": true, "咨询": true,
}

// dropCourtesy removes the courtesy words from a's tokens and parts unless
// they are all it has.
func dropCourtesy(a *Analysis) {
	n := 0
	for _, t := range a.Tokens {
		if courtesy[t] {
			n++
		}
	}
	if n == 0 || n == len(a.Tokens) {
		return
	}
	out := make([]string, 0, len(a.Tokens)-n)
	if a.parts == nil {
		for _, t := range a.Tokens {
			if !courtesy[t] {
				out = append(out, t)
			}
		}
		a.Tokens = out
		return
	}
	parts := make([]span, 0, len(a.parts))
	for _, p := range a.parts {
		start := len(out)
		for _, t := range a.Tokens[p.from:p.to] {
			if !courtesy[t] {
				out = append(out, t)
			}
		}
		if len(out) > start {
			parts = append(parts, span{start, len(out)})
		}
	}
	if len(parts) < 2 {
		parts = nil
	}
	a.Tokens, a.parts = out, parts
}
