package canned

import (
	"testing"

	"github.com/kefu-dev/kefu/faq"
)

func testIndex(t *testing.T) *Index {
	t.Helper()
	f, err := faq.ParseFile("t.yaml", []byte(`intents:
  - id: refund_time
    category: refund
    questions: [退款多久到账, 钱什么时候退回来, 退款几天能到]
    answer: 退款会在 1–3 个工作日内原路退回。
  - id: invoice
    category: invoice
    questions: [怎么开发票, 开票, 电子发票]
    answer: 在「我的订单」中申请开票。
canned:
  - title: 问候
    text: 您好{{customer.name|}}，我是{{agent.name}}。
  - title: 退款进度
    groups: [after_sales]
    text: "{{order|您的订单}}的退款已提交。"
  - title: VIP会员权益
    text: 会员享受包邮。
`))
	if err != nil {
		t.Fatal(err)
	}
	return Build(f)
}

func titles(items []*Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Kind+":"+it.Title)
	}
	return out
}

func TestSearch(t *testing.T) {
	x := testIndex(t)
	if x.Len() != 5 {
		t.Fatalf("index holds %d items, want 5", x.Len())
	}
	sales := []string{"after_sales"}
	for _, tc := range []struct {
		name, q string
		first   string // the best hit
	}{
		{"initials", "tk", "canned:退款进度"},
		{"full pinyin", "tuikuan", "canned:退款进度"},
		{"mixed", "tuikjd", "canned:退款进度"},
		{"upper-case initials", "TKJD", "canned:退款进度"},
		{"chinese", "退款", "canned:退款进度"},
		{"initials of a greeting", "wh", "canned:问候"},
		{"latin in a title", "vip", "canned:VIP会员权益"},
		{"latin then pinyin", "viphy", "canned:VIP会员权益"},
		{"faq question by pinyin", "kfp", "faq:怎么开发票"},
		{"faq question by chinese", "电子发票", "faq:怎么开发票"},
		{"faq answer by chinese", "原路退回", "faq:退款多久到账"},
		{"full-width letters", "ｔｋ", "canned:退款进度"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := x.Search(tc.q, sales, false, 8)
			if len(got) == 0 || got[0].Kind+":"+got[0].Title != tc.first {
				t.Errorf("%q: got %v, want %s first", tc.q, titles(got), tc.first)
			}
		})
	}
	if got := x.Search("zzzq", sales, false, 8); len(got) != 0 {
		t.Errorf("nonsense found %v", titles(got))
	}
	// Both readings of a heteronym find it: 还 is hai and huan.
	f, _ := faq.ParseFile("h.yaml", []byte("canned:\n  - title: 还款\n    text: 好的\n"))
	h := Build(f)
	for _, q := range []string{"hk", "huankuan", "haikuan"} {
		if got := h.Search(q, nil, false, 8); len(got) != 1 {
			t.Errorf("%q: got %v", q, titles(got))
		}
	}
}

func TestSearchScope(t *testing.T) {
	x := testIndex(t)
	if got := x.Search("tk", []string{"pre_sales"}, false, 8); len(got) > 0 && got[0].Kind == KindCanned {
		t.Errorf("pre_sales agent sees %v", titles(got))
	}
	if got := x.Search("tk", []string{"pre_sales"}, true, 8); len(got) == 0 || got[0].Title != "退款进度" {
		t.Errorf("supervisor: got %v", titles(got))
	}
	all := x.Search("", []string{"pre_sales"}, false, 0)
	if want := []string{"canned:问候", "canned:VIP会员权益"}; len(all) != 2 || titles(all)[0] != want[0] || titles(all)[1] != want[1] {
		t.Errorf("empty query: got %v, want %v", titles(all), want)
	}
	if got := x.Search("", []string{"after_sales"}, false, 2); len(got) != 2 {
		t.Errorf("limit 2: got %v", titles(got))
	}
}

// BenchmarkBuild: the pinyin of the sample FAQ's canned titles and every
// question, computed once per FAQ load.
func BenchmarkBuild(b *testing.B) {
	f, err := faq.LoadSample()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		Build(f)
	}
}

// BenchmarkSearch: one keystroke of the picker over the sample FAQ, for
// queries that match early (Chinese), late (initials that reach the
// questions) and nowhere (every question tried).
func BenchmarkSearch(b *testing.B) {
	f, err := faq.LoadSample()
	if err != nil {
		b.Fatal(err)
	}
	x := Build(f)
	for _, q := range []string{"退款", "tkjd", "zzzq"} {
		b.Run(q, func(b *testing.B) {
			for b.Loop() {
				x.Search(q, []string{"after_sales"}, false, 8)
			}
		})
	}
}
