package intents

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/kefu-dev/kefu/faq"
)

// TestDumpResults writes every result, unexported fields included, on a
// large set of inputs to $KEFU_DUMP, for comparing two versions of the
// matcher to the bit (cmp the two files); with KEFU_DUMP_10K set, the
// 10,000-intent FAQ's too (about 380,000 results, 450 MB, 25 s):
//
//	KEFU_DUMP=/tmp/a.txt KEFU_DUMP_10K=1 go test ./intents -run DumpResults
func TestDumpResults(t *testing.T) {
	path := os.Getenv("KEFU_DUMP")
	if path == "" {
		t.Skip("KEFU_DUMP not set")
	}
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	w := bufio.NewWriter(fh)
	defer w.Flush()
	n := 0
	dump := func(tag, text string, r Result) {
		n++
		fmt.Fprintf(w, "%s %q %+v\n", tag, text, r)
	}
	tok, lx := mustTokenizer(t), mustLexicon(t)
	var caseTexts []string
	for _, file := range []string{"dev_cases.tsv", "heldout_cases.tsv", "dev_classes.tsv", "heldout_classes.tsv", "heldout2_cases.tsv", "heldout3_cases.tsv"} {
		b, err := os.ReadFile("testdata/" + file)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			text, _, _ := strings.Cut(line, "\t")
			caseTexts = append(caseTexts, text)
		}
	}
	run := func(tag string, m *Matcher, extra []string, mixes int) {
		var texts []string
		for _, q := range m.questions {
			texts = append(texts, q.text)
		}
		for _, tc := range m.faq.Tests {
			texts = append(texts, tc.Text)
		}
		texts = append(texts, caseTexts...)
		texts = append(texts, extra...)
		var words []string
		for wd := range m.st.words {
			words = append(words, wd)
		}
		slices.Sort(words)
		base := slices.Clone(texts)
		texts = append(texts, words...)
		rng := rand.New(rand.NewPCG(7, 11))
		seps := []string{"", " ", "，", "。", "？", "! ", " 123 ", "42码", "还是", "不", "没有", " and ", "订单号123456789012"}
		for range mixes {
			k := 1 + rng.IntN(3)
			var sb strings.Builder
			for j := range k {
				if j > 0 {
					sb.WriteString(seps[rng.IntN(len(seps))])
				}
				switch rng.IntN(4) {
				case 0:
					sb.WriteString(words[rng.IntN(len(words))])
				case 1:
					s := []rune(base[rng.IntN(len(base))])
					if len(s) == 0 {
						continue
					}
					a := rng.IntN(len(s))
					b := a + 1 + rng.IntN(len(s)-a)
					sb.WriteString(string(s[a:b]))
				default:
					sb.WriteString(base[rng.IntN(len(base))])
				}
			}
			texts = append(texts, sb.String())
		}
		for _, text := range texts {
			dump(tag, text, m.Match(text))
		}
		for qi, q := range m.questions {
			dump(tag+"-loo", q.text, m.match(q.text, int32(qi)))
		}
	}
	sample, err := faq.LoadSample()
	if err != nil {
		t.Fatal(err)
	}
	m := NewMatcher(sample, tok, lx, DefaultConfig())
	edge := []string{"", " ", "\x00", strings.Repeat("我要退货", 500), "get my money back", "my order didn't go through",
		"我要退货 我要换货 发票 快递 售后 运费", "售后", "快递", "快递问题", "我要售后", "股票怎么买", "流程"}
	var long []string
	for i, q := range m.questions {
		long = append(long, q.text)
		if i%97 == 96 {
			edge = append(edge, strings.Join(long, "，"), strings.Join(long, ""))
		}
	}
	edge = append(edge, strings.Join(long, " "))
	run("sample", m, edge, 15000)
	cfg := DefaultConfig()
	cfg.MaxChoices, cfg.TopN = -1, 3
	run("sample-cfg", NewMatcher(sample, tok, lx, cfg), edge, 2000)
	in := func(id, answer string, qs ...string) *faq.Intent {
		return &faq.Intent{ID: id, Category: "test", Questions: qs, Answer: faq.Answer{Text: answer}}
	}
	small := &faq.FAQ{Intents: []*faq.Intent{
		in("return", "退货流程：在订单里申请售后。", "怎么退货", "我要退货", "退货要多久", "退货怎么弄", "退货地址在哪"),
		in("exchange", "换货流程：在订单里申请售后。", "换货流程是什么", "怎么换货", "我要换货", "换货要多久", "换货需要什么"),
		in("invoice", "开发票的流程：在订单详情里申请。", "怎么开发票", "开发票", "发票怎么弄", "发票多久能开", "发票流程是什么"),
		in("warranty", "保修一年，维修流程：在订单里申请售后。", "保修多久", "保修需要发票吗", "坏了能保修吗", "保修流程是什么", "保修要多久"),
	}}
	run("small", NewMatcher(small, tok, lx, DefaultConfig()), []string{"退货流程", "保修需要什么", "我需要开发票", "退货流程是什么", "退货需要什么", "退货是什么流程", "流程"}, 2000)
	if os.Getenv("KEFU_DUMP_10K") != "" {
		bf, qs := generatedFAQ(t)
		run("10k", NewMatcher(bf, tok, lx, DefaultConfig()), qs, 1000)
	}
	t.Logf("%d results", n)
}
