package intents

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/kefu-dev/kefu/faq"
	"golang.org/x/text/width"
)

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"我的快递到哪了？？", "我的快递到哪了"},
		{"訂單還沒到", "订单还没到"},
		{"ＡＢＣ１２３", "abc123"},
		{"退货😀😀怎么弄!!!", "退货 怎么弄"},
		{"  Where IS my Parcel?  ", "where is my parcel"},
		{"【急】 发货", "急 发货"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestExtractEntities(t *testing.T) {
	tests := []struct {
		in       string
		wantText string
		want     []Entity
	}{
		{"订单号：2023112312345678 还没发货", "还没发货", []Entity{{EntityOrder, "2023112312345678"}}},
		{"sf1234567890到哪了", "到哪了", []Entity{{EntityTracking, "SF1234567890"}}},
		{"ＳＦ１２３４５６７８９０", "", []Entity{{EntityTracking, "SF1234567890"}}},
		{"运单号 YT1234567890123 电话13812345678", "运单号 电话", []Entity{{EntityTracking, "YT1234567890123"}, {EntityPhone, "13812345678"}}},
		{"查询订单号:[订单x]， 商品号:[数字x]", "查询订单号: , 商品号:", []Entity{{EntityOrder, "[订单x]"}}},
		{"order 2023112312345678", "", []Entity{{EntityOrder, "2023112312345678"}}},
		{"买了3件 7天无理由", "买了3件 7天无理由", nil},
	}
	for _, tt := range tests {
		text, got := ExtractEntities(Fold(tt.in))
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ExtractEntities(%q) (-want +got):\n%s", tt.in, diff)
		}
		if n := strings.Join(strings.Fields(text), " "); n != tt.wantText {
			t.Errorf("ExtractEntities(%q) text = %q, want %q", tt.in, n, tt.wantText)
		}
	}
}

// FuzzNormalize: never panics, idempotent, and leaves only lower-case letters,
// digits and single spaces.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"我的快递到哪了？？", "訂單號：２０２３１１２３", "SF1234567890 [订单x]", "😀\u3000ａ", "\xff\xfe", "order 12345678901234"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if Normalize(n) != n {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, n, Normalize(n))
		}
		if strings.HasPrefix(n, " ") || strings.HasSuffix(n, " ") || strings.Contains(n, "  ") {
			t.Fatalf("bad spacing in %q", n)
		}
		han, latin := 0, 0
		for _, r := range n {
			if r != ' ' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				t.Fatalf("rune %q left in %q", r, n)
			}
			if isHan(r) {
				han++
			} else if r < utf8.RuneSelf && unicode.IsLetter(r) {
				latin++
			}
		}
		// The counts analyze reads for the language are the result's.
		if n2, h, l := normalizeCount(Fold(s)); n2 != n || h != han || l != latin {
			t.Fatalf("%q: normalizeCount gives %q, %d Han, %d Latin; want %q, %d, %d", s, n2, h, l, n, han, latin)
		}
		if n2, h, l := normalizeCountRunes(Fold(s)); n2 != n || h != han || l != latin {
			t.Fatalf("%q: normalizeCountRunes gives %q, %d Han, %d Latin; want %q, %d, %d", s, n2, h, l, n, han, latin)
		}
		text, _ := ExtractEntities(Fold(s))
		_ = Normalize(text)
	})
}

// TestNormalizeCountAsRunes: normalizeCount, which copies ASCII and common
// ideographs without decoding them, gives what the rune-by-rune loop gives.
func TestNormalizeCountAsRunes(t *testing.T) {
	pieces := []string{"a", "Z", "0", " ", "  ", "?", "-", "我", "訂", "\u212a", "\ufffd", "\xff", "\xe4\xb8", "😀", "ａ", "Ä", "ß", "\u3000", "一", "\u9fff", "\u4dff", "\U00020000", "١", "\t"}
	rng := rand.New(rand.NewPCG(9, 1))
	for range 200000 {
		var sb strings.Builder
		for range rng.IntN(12) {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		s := sb.String()
		a, h, l := normalizeCount(s)
		a2, h2, l2 := normalizeCountRunes(s)
		if a != a2 || h != h2 || l != l2 {
			t.Fatalf("normalizeCount(%q) = %q, %d, %d; rune by rune %q, %d, %d", s, a, h, l, a2, h2, l2)
		}
	}
}

// TestFoldFastPath: Fold's shortcut for text it would not change agrees with
// the full transformation.
func TestFoldFastPath(t *testing.T) {
	texts := []string{"快递到哪了", "訂單取消", "ＳＦ１２３４５６７８９０", "ｈｅｌｌｏ　world", "ｶﾀｶﾅ", "￥100", "→←", "①②", "😂😂", "我的快遞到哪了？"}
	for _, c := range mustCases(t) {
		texts = append(texts, c.Text)
	}
	f, err := faq.LoadSample()
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range f.Intents {
		texts = append(texts, in.Questions...)
	}
	for r := rune(0x80); r < 0x30000; r += 7 {
		texts = append(texts, "a"+string(r)+"字")
	}
	// With a full-width comma, every rune goes through foldCommon (or makes
	// it give way to the general path).
	for r := rune(0x80); r < 0x30000; r++ {
		texts = append(texts, "，"+string(r)+"字？")
	}
	texts = append(texts, "，\xff订单", "訂單\xfe，", "\u3000ａ，ｶ")
	t2sOnce.Do(loadT2S)
	for _, s := range texts {
		want := strings.Map(func(r rune) rune {
			if s2, ok := t2s[r]; ok {
				return s2
			}
			return r
		}, width.Fold.String(s))
		if got := Fold(s); got != want {
			t.Errorf("Fold(%q) = %q, want %q", s, got, want)
		}
	}
}

// The fast paths for CJK ideographs agree with the unicode tables on every
// rune.
func TestHanFastPaths(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if got, want := isHan(r), unicode.Is(unicode.Han, r); got != want {
			t.Fatalf("isHan(%U) = %v, unicode.Han says %v", r, got, want)
		}
		if r >= 0x4e00 && r <= 0x9fff && (!unicode.IsLetter(r) || unicode.ToLower(r) != r) {
			t.Fatalf("%U: not a caseless letter, the fast path in normalizeFolded is wrong", r)
		}
	}
}

// TestBracketsAsRegexp: findBracket and blankPlaceholders find what the
// regexps they stand for find, on texts made of the pieces that matter.
func TestBracketsAsRegexp(t *testing.T) {
	pieces := []string{"[", "]", "数字", "数字x", "订单", "地址", "url", "x", "a", "0", "9", "z", "Z", "-", " ", "我", "[订单", "[数字", "]]", "\xe4", "组织机构"}
	rng := rand.New(rand.NewPCG(3, 5))
	orderRE := entityPatterns[0].re
	for range 200000 {
		var sb strings.Builder
		for range 1 + rng.IntN(10) {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		s := sb.String()
		if got, want := blankPlaceholders(s), placeholderRE.ReplaceAllString(s, " "); got != want {
			t.Fatalf("blankPlaceholders(%q) = %q, the regexp gives %q", s, got, want)
		}
		want := orderRE.FindStringIndex(s)
		if a, b := findBracket(s, entityPatterns[0].bracket); want == nil && a >= 0 || want != nil && (a != want[0] || b != want[1]) {
			t.Fatalf("findBracket(%q) = %d, %d, the regexp gives %v", s, a, b, want)
		}
	}
}

// normalizeCountRunes is normalizeCount rune by rune, as it was written
// first: the tests hold the fast one to it.
func normalizeCountRunes(s string) (out string, han, latin int) {
	var b strings.Builder
	b.Grow(len(s))
	space := true
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			r = ' '
		case r >= 0x4e00 && r <= 0x9fff:
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			r = unicode.ToLower(r)
		default:
			r = ' '
		}
		if r == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
			switch {
			case isHan(r):
				han++
			case r < utf8.RuneSelf && unicode.IsLetter(r):
				latin++
			}
		}
		b.WriteRune(r)
	}
	return strings.TrimRight(b.String(), " "), han, latin
}
