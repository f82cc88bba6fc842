package intents

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/kefu-dev/kefu/faq"
	"github.com/yanyiwu/gojieba"
)

// The tokenizer segments through gojieba's C Tokenize (offsets, no string
// per word; see jiebacall.go); it must give exactly the words of gojieba's
// Cut with the HMM, and of gojieba's own Go Tokenize.
func TestSegmentIsGojiebaCut(t *testing.T) {
	tok := mustTokenizer(t)
	f, err := faq.LoadSample()
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, in := range f.Intents {
		texts = append(texts, in.Questions...)
	}
	for _, c := range mustCases(t) {
		texts = append(texts, c.Text)
	}
	texts = append(texts, "", " ", "SF1234567890 到哪了", "我要 退货  怎么弄", "how can I cancel this order", "😀😀 訂單",
		strings.Repeat("快递到哪了 ", 200), "短", "退货\x00运费") // the C side's copy is reused: long, then short
	n := 0
	var buf cutBuf // reused, as Match reuses it
	for _, s := range texts {
		s = Normalize(s)
		want := tok.j.Cut(s, true)
		got := tok.segment(s, nil, &buf.text)
		if !slices.Equal(got, want) {
			t.Fatalf("%q: segment %q, gojieba Cut %q", s, got, want)
		}
		var viaGo []string
		for _, w := range tok.j.Tokenize(s, gojieba.DefaultMode, true) {
			viaGo = append(viaGo, w.Str)
		}
		if !slices.Equal(got, viaGo) {
			t.Fatalf("%q: segment %q, gojieba Tokenize %q", s, got, viaGo)
		}
		n += len(want)
		parts := tok.cutParts(s, &buf)
		if fresh := tok.CutParts(s); !slices.EqualFunc(parts, fresh, slices.Equal) {
			t.Fatalf("%q: parts in a reused buffer %q, fresh %q", s, parts, fresh)
		}
	}
	if n < 5000 {
		t.Fatalf("only %d words compared", n)
	}
}

// jiebaHandle reads the C handle as the first field of *gojieba.Jieba, a
// C pointer; a gojieba release that moves it must fail here, not crash.
func TestJiebaHandleLayout(t *testing.T) {
	typ := reflect.TypeFor[gojieba.Jieba]()
	f := typ.Field(0)
	if f.Name != "jieba" || f.Offset != 0 || f.Type.Kind() != reflect.UnsafePointer || f.Type.Size() != unsafe.Sizeof(uintptr(0)) {
		t.Fatalf("gojieba.Jieba's first field is %s %v (%d bytes at %d): jiebacall.go reads a C pointer there", f.Name, f.Type, f.Type.Size(), f.Offset)
	}
	if h := jiebaHandle(mustTokenizer(t).j); h == nil {
		t.Fatal("the handle of a loaded tokenizer is nil")
	}
}
