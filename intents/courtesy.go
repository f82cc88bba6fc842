package intents

// courtesy words open or close a message without saying what it is about
// (你好, 在吗, 问一下). When a message says something else too, they are left
// out, so that "你好 录音笔坏了" is about the recorder, not a greeting; a
// message of courtesy words alone keeps them (it is a greeting). The words
// are the canonical forms after synonym mapping; every synonymMap marks them
// (wordRule.courtesy).
var courtesy = map[string]bool{
	"你好": true, "在吗": true, "美女": true, "帅哥": true, "亲爱": true, "早上好": true, "下午好": true,
	"晚上好": true, "喂": true, "问一下": true, "问下": true, "想问": true, "请教": true, "咨询": true,
}

// dropCourtesy removes the courtesy words (isCourtesy, by token) from a's
// tokens and parts unless they are all it has; info (by token, or nil)
// follows, in its own memory.
func dropCourtesy(a *Analysis, info []tokenInfo, isCourtesy []bool) []tokenInfo {
	n := 0
	for _, c := range isCourtesy {
		if c {
			n++
		}
	}
	if n == 0 || n == len(a.Tokens) {
		return info
	}
	out := make([]string, 0, len(a.Tokens)-n)
	keptInfo := info[:0]
	keep := func(from, to int) {
		for i := from; i < to; i++ {
			if !isCourtesy[i] {
				out = append(out, a.Tokens[i])
				if info != nil {
					keptInfo = append(keptInfo, info[i])
				}
			}
		}
	}
	if a.parts == nil {
		keep(0, len(a.Tokens))
	} else {
		parts := make([]span, 0, len(a.parts))
		for _, p := range a.parts {
			start := len(out)
			keep(p.from, p.to)
			if len(out) > start {
				parts = append(parts, span{start, len(out)})
			}
		}
		if len(parts) < 2 {
			parts = nil
		}
		a.parts = parts
	}
	a.Tokens = out
	if info == nil {
		return nil
	}
	return keptInfo
}
