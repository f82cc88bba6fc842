package intents

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/kefu-dev/kefu/faq"
)

func mustSampleMatcher(tb testing.TB) *Matcher {
	tb.Helper()
	f, err := faq.LoadSample()
	if err != nil {
		tb.Fatal(err)
	}
	return NewMatcher(f, mustTokenizer(tb), mustLexicon(tb), DefaultConfig())
}

func TestMatchDecisions(t *testing.T) {
	m := mustSampleMatcher(t)
	tests := []struct {
		text   string
		action Action
		intent string // for answer and intent hand-offs
		reason string
		urgent bool
	}{
		{"快递到哪了", ActionAnswer, "logistics_track", "", false},
		{"我的快遞到哪了？", ActionAnswer, "logistics_track", "", false},
		{"怎么开发票", ActionAnswer, "invoice_request", "", false},
		{"转人工", ActionHandoff, "", ReasonRequested, false},
		{"我要人工客服", ActionHandoff, "", ReasonRequested, false},
		{"can I talk to a human", ActionHandoff, "", ReasonRequested, false},
		{"你们就是骗子 垃圾", ActionHandoff, "", ReasonComplaint, false},
		{"asdfghjkl", ActionNone, "", "", false},
		{"？", ActionNone, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			r := m.Match(tt.text)
			if r.Action != tt.action || r.Reason != tt.reason || r.Urgent != tt.urgent {
				t.Fatalf("got %s %q reason %q urgent %v (top %+v), want %s %q reason %q", r.Action, r.Intent, r.Reason, r.Urgent, r.Top(), tt.action, tt.intent, tt.reason)
			}
			if tt.intent != "" && r.Intent != tt.intent {
				t.Errorf("intent %q, want %q", r.Intent, tt.intent)
			}
			if r.Confidence < 0 || r.Confidence > 1 {
				t.Errorf("confidence %v out of [0,1]", r.Confidence)
			}
		})
	}
}

// TestMatchUrgentAndHandoffIntents: the FAQ's standard questions of urgent and
// handoff intents hand off with the right reason.
func TestMatchUrgentAndHandoffIntents(t *testing.T) {
	m := mustSampleMatcher(t)
	for _, in := range m.FAQ().Intents {
		if in.Priority != faq.PriorityUrgent && !in.Handoff {
			continue
		}
		r := m.Match(in.Questions[0])
		if r.Action != ActionHandoff {
			t.Errorf("%s: %q -> %s, want handoff", in.ID, in.Questions[0], r.Action)
			continue
		}
		if in.Priority == faq.PriorityUrgent && (!r.Urgent || r.Intent != in.ID) {
			t.Errorf("%s: urgent %v intent %q", in.ID, r.Urgent, r.Intent)
		}
	}
}

// TestMatchStandardQuestions: every intent's own standard question reaches it.
func TestMatchStandardQuestions(t *testing.T) {
	m := mustSampleMatcher(t)
	for _, in := range m.FAQ().Intents {
		r := m.Match(in.Questions[0])
		if r.Top().Intent != in.ID {
			t.Errorf("%s: standard question %q ranks %s first", in.ID, in.Questions[0], r.Top().Intent)
		}
	}
}

func TestMatchEntitiesKept(t *testing.T) {
	m := mustSampleMatcher(t)
	r := m.Match("订单号2023112312345678 怎么还没发货")
	if len(r.Entities) != 1 || r.Entities[0].Value != "2023112312345678" {
		t.Fatalf("entities %+v", r.Entities)
	}
	for _, tok := range r.Tokens {
		if tok == "2023112312345678" {
			t.Error("order number left in the tokens")
		}
	}
}

func TestClarifyChoicesAndPick(t *testing.T) {
	m := mustSampleMatcher(t)
	// Find a message the matcher is unsure about among the editor tests' texts
	// or FAQ questions shortened to their first two characters.
	var r Result
	for _, in := range m.FAQ().Intents {
		for _, q := range in.Questions {
			rs := []rune(q)
			if len(rs) < 3 {
				continue
			}
			r = m.Match(string(rs[:2]))
			if r.Action == ActionClarify {
				break
			}
		}
		if r.Action == ActionClarify {
			break
		}
	}
	if r.Action != ActionClarify {
		t.Fatal("no clarify decision found")
	}
	if len(r.Choices) == 0 || len(r.Choices) > m.Config().MaxChoices {
		t.Fatalf("choices %v", r.Choices)
	}
	if r.Choices[0] != r.Top().Intent {
		t.Errorf("first choice %s is not the top candidate %s", r.Choices[0], r.Top().Intent)
	}
	if a, _ := m.PickChoice(r.Choices[0]); a == ActionNone {
		t.Errorf("picking %s gave none", r.Choices[0])
	}
	if a, _ := m.PickChoice("complaint"); a != ActionHandoff {
		t.Errorf("picking complaint: %s", a)
	}
	if a, reason := m.PickChoice("account_security"); a != ActionHandoff || reason != ReasonUrgent {
		t.Errorf("picking account_security: %s %s", a, reason)
	}
	if a, _ := m.PickChoice("no_such"); a != ActionNone {
		t.Errorf("unknown choice: %s", a)
	}
}

// A negative MaxChoices sets no limit: every candidate within the span is
// offered (and the result is not a panic).
func TestClarifyWithoutChoiceLimit(t *testing.T) {
	m := mustSampleMatcher(t)
	cfg := m.Config()
	cfg.MaxChoices, cfg.AnswerThreshold, cfg.ClarifyThreshold, cfg.ClarifySpan = -1, 0.999, 0.001, 1
	lim := NewMatcher(m.FAQ(), m.tok, m.lx, cfg)
	r := lim.Match("订单的事") // not 订单 alone: a topic word's choices are the intents that use it (TestOneTopicWord)
	if r.Action != ActionClarify || len(r.Choices) != len(r.Candidates) || len(r.Choices) <= DefaultConfig().MaxChoices {
		t.Fatalf("%s, choices %v of %d candidates; want every candidate offered", r.Action, r.Choices, len(r.Candidates))
	}
}

// TestDevCases guards the figures reported in BENCHMARKS.md on the labelled
// development cases (real customer openings and our own): at most 5% answered
// wrongly, and the share right no lower than measured when this was written.
func TestDevCases(t *testing.T) {
	m := mustSampleMatcher(t)
	cases := mustCases(t)
	if len(cases) < 150 {
		t.Fatalf("%d development cases, want at least 150", len(cases))
	}
	right, wrong := judgeAll(m, cases)
	n := float64(len(cases))
	t.Logf("%d cases: right %.3f wrong %.3f", len(cases), float64(right)/n, float64(wrong)/n)
	if float64(wrong)/n > 0.05 {
		t.Errorf("wrong answers %.3f > 0.05", float64(wrong)/n)
	}
	if float64(right)/n < 0.85 {
		t.Errorf("right %.3f < 0.85", float64(right)/n)
	}
}

// TestHeldOutCases guards the held-out figures in BENCHMARKS.md (openings
// never used to fit or choose anything): a change that loses them fails.
func TestHeldOutCases(t *testing.T) {
	m := mustSampleMatcher(t)
	fh, err := os.Open("testdata/heldout_cases.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	cases, err := ReadCases(fh)
	if err != nil {
		t.Fatal(err)
	}
	right, wrong := judgeAll(m, cases)
	n := float64(len(cases))
	t.Logf("%d held-out cases: right %.3f wrong %.3f", len(cases), float64(right)/n, float64(wrong)/n)
	// Issue 13 (fewer confident wrong answers) took wrong answers from 3 to 1
	// and right from 54 to 55 of 88; see BENCHMARKS.md.
	if len(cases) != 88 || wrong > 1 || right < 55 {
		t.Errorf("held-out %d cases: %d right, %d wrong; want 88 cases, at least 55 right, at most 1 wrong", len(cases), right, wrong)
	}
}

// TestHeldOut2Cases guards the second held-out set's figures in
// BENCHMARKS.md (labelled and committed before issue 13's second session
// tuned anything; measured once before and once after).
func TestHeldOut2Cases(t *testing.T) {
	m := mustSampleMatcher(t)
	fh, err := os.Open("testdata/heldout2_cases.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	cases, err := ReadCases(fh)
	if err != nil {
		t.Fatal(err)
	}
	right, wrong := judgeAll(m, cases)
	t.Logf("%d held-out cases: %d right, %d wrong", len(cases), right, wrong)
	if len(cases) != 103 || wrong > 5 || right < 90 {
		t.Errorf("second held-out set, %d cases: %d right, %d wrong; want 103 cases, at least 90 right, at most 5 wrong", len(cases), right, wrong)
	}
}

// TestHeldOut3Cases guards the third held-out set's figures in
// BENCHMARKS.md (77 short everyday phrasings, labelled and committed before
// issue 13's third session changed the matcher; measured once before, 69
// right and 1 wrong, and once after).
func TestHeldOut3Cases(t *testing.T) {
	m := mustSampleMatcher(t)
	fh, err := os.Open("testdata/heldout3_cases.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	cases, err := ReadCases(fh)
	if err != nil {
		t.Fatal(err)
	}
	right, wrong := judgeAll(m, cases)
	t.Logf("%d held-out cases: %d right, %d wrong", len(cases), right, wrong)
	if len(cases) != 77 || wrong > 1 || right < 72 {
		t.Errorf("third held-out set, %d cases: %d right, %d wrong; want 77 cases, at least 72 right, at most 1 wrong", len(cases), right, wrong)
	}
}

// TestSmallPartCountsLess: a generic fragment ("怎么回事") of a longer message
// must not outrank the intent the rest of the message is about.
func TestSmallPartCountsLess(t *testing.T) {
	r := mustSampleMatcher(t).Match("请问怎么回事，物流长时间没更新")
	if r.Top().Intent != "logistics_delay" {
		t.Errorf("top %s (%q), want logistics_delay", r.Top().Intent, r.Top().Question)
	}
}

// TestDisputeWordingHandsOff: an unresolved dispute goes to a person.
func TestDisputeWordingHandsOff(t *testing.T) {
	m := mustSampleMatcher(t)
	for _, text := range []string{"交易纠纷的问题，要申诉", "怎么没人理我", "售后一直没人处理"} {
		if r := m.Match(text); r.Action != ActionHandoff || r.Reason != ReasonComplaint {
			t.Errorf("%q: %s (%s), want handoff (complaint)", text, r.Action, r.Reason)
		}
	}
}

// TestSampleEditorTests: the sample FAQ's own tests.yaml passes in the main.
func TestSampleEditorTests(t *testing.T) {
	m := mustSampleMatcher(t)
	failed := 0
	for _, tc := range m.FAQ().Tests {
		r := m.Match(tc.Text)
		ok := (r.Action == ActionAnswer && slices.Contains(tc.Expect, r.Intent)) ||
			(r.Action == ActionHandoff && (slices.Contains(tc.Expect, "@handoff") || slices.Contains(tc.Expect, r.Intent))) ||
			(r.Action == ActionNone && slices.Contains(tc.Expect, "@none")) ||
			(r.Action == ActionClarify && len(r.Choices) > 0 && slices.Contains(tc.Expect, r.Choices[0]))
		if !ok {
			failed++
		}
	}
	t.Logf("%d of %d editor tests reach their intent (answer, or the first clarify choice)", len(m.FAQ().Tests)-failed, len(m.FAQ().Tests))
	if float64(failed) > 0.25*float64(len(m.FAQ().Tests)) {
		t.Errorf("%d of %d editor tests miss", failed, len(m.FAQ().Tests))
	}
}

// TestMatchConcurrent runs Match from many goroutines (under -race in the
// test script) and checks they agree.
func TestMatchConcurrent(t *testing.T) {
	m := mustSampleMatcher(t)
	texts := []string{"快递到哪了", "怎么退货", "发票怎么开", "转人工", "訂單取消"}
	want := make([]Result, len(texts))
	for i, s := range texts {
		want[i] = m.Match(s)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				k := (g + i) % len(texts)
				r := m.Match(texts[k])
				if r.Action != want[k].Action || r.Intent != want[k].Intent || r.Confidence != want[k].Confidence {
					errs <- fmt.Sprintf("%q: %s %s, want %s %s", texts[k], r.Action, r.Intent, want[k].Action, want[k].Intent)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestLiveReload swaps a matcher for a new FAQ while readers match.
func TestLiveReload(t *testing.T) {
	mk := func(answer string, extra string) *faq.FAQ {
		f, err := faq.ParseFile("a.yaml", []byte(fmt.Sprintf(`intents:
  - id: logistics_track
    category: logistics
    questions: [我的快递到哪了, 查物流, 包裹到哪里了]
    answer: %s
words: [%s]
`, answer, extra)))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	live, err := NewLive(mk("一", "小熊电器"), "", Config{})
	if err != nil {
		t.Fatal(err)
	}
	old := live.Matcher()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				if r := live.Matcher().Match("快递到哪了"); r.Top().Intent != "logistics_track" {
					t.Errorf("during reload: top %q", r.Top().Intent)
					return
				}
			}
		}
	}()
	if err := live.Reload(mk("二", "小熊电器")); err != nil {
		t.Fatal(err)
	}
	same := live.Matcher()
	if same.tok != old.tok {
		t.Error("unchanged vocabulary rebuilt the tokenizer")
	}
	if err := live.Reload(mk("三", "九阳豆浆机")); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	cur := live.Matcher()
	if cur.tok == old.tok {
		t.Error("new vocabulary kept the old tokenizer")
	}
	if got := cur.FAQ().Intent("logistics_track").Answer.Text; got != "三" {
		t.Errorf("answer %q after reload, want 三", got)
	}
	if got := cur.Analyze("九阳豆浆机坏了").Tokens; !slices.Contains(got, "九阳豆浆机") {
		t.Errorf("FAQ word not kept whole: %v", got)
	}
}

func TestPairScores(t *testing.T) {
	scores := PairScores(mustTokenizer(t), mustLexicon(t), [][2]string{
		{"我的快递到哪了", "我的包裹到哪里了"},
		{"我的快递到哪了", "怎么开发票"},
		{"", "怎么开发票"},
	})
	if !(scores[0] > 0.5 && scores[1] < scores[0] && scores[2] == 0) {
		t.Errorf("scores %v", scores)
	}
	th, acc := BestThreshold([]float64{0.1, 0.2, 0.8, 0.9}, []bool{false, false, true, true})
	if acc != 1 || th <= 0.2 || th >= 0.8 {
		t.Errorf("BestThreshold = %v, %v", th, acc)
	}
	if a := Accuracy([]float64{0.1, 0.9}, []bool{true, true}, 0.5); a != 0.5 {
		t.Errorf("Accuracy = %v", a)
	}
}

// judgeAll counts the right and wrong decisions on cases.
func judgeAll(m *Matcher, cases []Case) (right, wrong int) {
	for _, c := range cases {
		switch Judge(m.Match(c.Text), c.Expected) {
		case Right:
			right++
		case Wrong:
			wrong++
		}
	}
	return right, wrong
}

func TestPhrasesMatchEnglishOnWordBoundaries(t *testing.T) {
	ps := newPhrases([]string{"sb", "转人工", "real person"})
	for s, want := range map[string]bool{
		"you sb": true, "sbc card": false, "我要转人工吧": true, "a real person please": true, "unreal persons": false,
	} {
		if got := containsAny(Normalize(s), ps); got != want {
			t.Errorf("containsAny(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestContainsWhich: one pass finds what containsAny finds for each list.
func TestContainsWhich(t *testing.T) {
	cfg := DefaultConfig()
	h, c := newPhrases(cfg.HandoffPhrases), newPhrases(cfg.ComplaintWords)
	texts := append(append([]string{"", "我要投诉 转人工", "sb 人工", "sbc", "human agent scam", "你好"}, cfg.HandoffPhrases...), cfg.ComplaintWords...)
	for _, a := range texts {
		for _, b := range []string{"", " ", "投诉", "人工", "x"} {
			s := Normalize(a + b)
			inH, inC := containsWhich(s, h, c)
			if inH != containsAny(s, h) || !inH && inC != containsAny(s, c) {
				t.Errorf("containsWhich(%q) = %v, %v; containsAny: %v, %v", s, inH, inC, containsAny(s, h), containsAny(s, c))
			}
		}
	}
}
