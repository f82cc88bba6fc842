package priority

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
)

type labelled struct {
	line   int
	raised bool
	level  Level
	text   string
}

func readSet(t testing.TB, path string) []labelled {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []labelled
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		label, text, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("%s:%d: want label<TAB>text", path, n)
		}
		l, err := Parse(label)
		if err != nil || l < Normal {
			t.Fatalf("%s:%d: label %q: want normal, high or urgent", path, n, label)
		}
		out = append(out, labelled{line: n, raised: l > Normal, level: l, text: text})
	}
	return out
}

type score struct{ tp, fp, fn, tn, exact, n int }

func (s score) precision() float64 { return float64(s.tp) / float64(s.tp+s.fp) }
func (s score) recall() float64    { return float64(s.tp) / float64(s.tp+s.fn) }
func (s score) String() string {
	return fmt.Sprintf("%d messages: precision %.3f recall %.3f (tp %d fp %d fn %d tn %d), exact level %d/%d",
		s.n, s.precision(), s.recall(), s.tp, s.fp, s.fn, s.tn, s.exact, s.n)
}

func measure(t testing.TB, x *Lexicon, path string, show bool) score {
	var s score
	for _, c := range readSet(t, path) {
		a := x.Assess(c.text)
		s.n++
		if a.Level == c.level {
			s.exact++
		}
		switch {
		case a.Raised() && c.raised:
			s.tp++
		case a.Raised():
			s.fp++
		case c.raised:
			s.fn++
		default:
			s.tn++
		}
		if show && a.Raised() != c.raised {
			t.Logf("%s:%d: want %s, got %s %v: %s", path, c.line, c.level, a.Level, a.Words, c.text)
		}
	}
	return s
}

// TestLexiconDev is the tuning set: the lexicon must keep its figures
// there. A failing case is logged with the words that decided it.
func TestLexiconDev(t *testing.T) {
	s := measure(t, Default(), "testdata/dev.tsv", true)
	t.Log("dev: ", s)
	if s.precision() < 0.95 || s.recall() < 0.95 {
		t.Errorf("dev: %v; want precision and recall >= 0.95", s)
	}
}

// TestLexiconHeldout measures the held-out set, which was never used to
// tune: a floor below the figures measured, so that a change that makes it
// worse fails.
func TestLexiconHeldout(t *testing.T) {
	s := measure(t, Default(), "testdata/heldout.tsv", testing.Verbose())
	t.Log("held-out: ", s)
	if s.precision() < 0.85 || s.recall() < 0.80 {
		t.Errorf("held-out: %v; want precision >= 0.85 and recall >= 0.80", s)
	}
}

// The mechanisms, one case each, so that a broken one names itself.
func TestAssessMechanisms(t *testing.T) {
	x := Default()
	cases := []struct {
		text  string
		want  Level
		words string
	}{
		{"太垃圾了", High, "垃圾"},
		{"不急，慢慢来", Normal, ""},
		{"别急", Normal, ""},        // imperative negator on urgency
		{"别骗我", High, "骗我"},       // imperative negator does not cancel anger
		{"我没有生气", Normal, ""},     // plain negator
		{"我不是很急", Normal, ""},     // negator within the window
		{"不行，太急了", High, "急"},     // negation does not cross punctuation
		{"你们是不是骗子", High, "骗子"},   // A-not-A is a question, not a negation
		{"急不急都行", Normal, ""},     // … and 急 after 急不 is negated by nothing but is "急不急"
		{"请问怎么投诉快递员", Normal, ""}, // named, not felt
		{"投诉电话多少", Normal, ""},    // named before a topic word
		{"我要投诉", High, "投诉"},
		{"我要报警", Urgent, "报警"},                       // a threat is urgent on its own
		{"我没有报警", Normal, ""},                        // … unless negated
		{"垃圾！！！立刻给我退款！！！", Urgent, "垃圾 立刻 !!!"},      // anger + urgency + shouting
		{"我已经问了三遍了！！！", High, "!!!"},                 // shouting alone
		{"收到的是空盒子！！", High, "空盒子"},                   // exclamation bonus, stays high
		{"急急急", High, "急"},                           // repetition counted once as a word
		{"I'm not angry, just asking", Normal, ""},   // English negation
		{"this is ridiculous", High, "ridiculous"},   // English word
		{"I will call the POLICE", Urgent, "police"}, // case-insensitive
		{"打了13811012345", Normal, ""},                // a number containing 110 is not 110
		{"", Normal, ""},
	}
	for _, c := range cases {
		a := x.Assess(c.text)
		if a.Level != c.want || strings.Join(a.Words, " ") != c.words {
			t.Errorf("Assess(%q) = %s %q (score %d); want %s %q", c.text, a.Level, strings.Join(a.Words, " "), a.Score, c.want, c.words)
		}
	}
}

func TestParseLexiconErrors(t *testing.T) {
	cases := map[string]string{
		"levels: {high: 2, urgent: 1}\nclasses: {}\n":                                                       "need 0 < high < urgent",
		"levels: {high: 2, urgent: 6}\nclasses: {a: {weight: 2, words: [x]}, b: {weight: 1, words: [x]}}\n": `"x" is in both a and b`,
		"levels: {high: 2, urgent: 6}\nclasses: {a: {words: [x]}}\n":                                        "needs a weight",
		"levels: {high: 2, urgent: 6}\nclasses: {a: {level: high, words: [x]}}\n":                           "only urgent may be set",
		"levels: {high: 2, urgent: 6}\nclasses: {a: {weight: 1, words: [\"!!\"]}}\n":                        "is not a word",
		"levels: {high: 2, urgent: 6}\nclasses: {}\nfoo: 1\n":                                               "field foo not found",
	}
	for in, want := range cases {
		_, err := ParseLexicon("lex.yaml", []byte(in))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "lex.yaml") {
			t.Errorf("ParseLexicon(%q) = %v; want an error naming lex.yaml with %q", in, err, want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, l := range Levels() {
		if got, err := Parse(l.String()); err != nil || got != l {
			t.Errorf("Parse(%q) = %v, %v", l, got, err)
		}
	}
	if _, err := Parse("high!"); err == nil {
		t.Error("Parse(high!) = nil error")
	}
}

func BenchmarkAssess(b *testing.B) {
	x := Default()
	msgs := readSet(b, "testdata/dev.tsv")
	b.ResetTimer()
	for i := range b.N {
		x.Assess(msgs[i%len(msgs)].text)
	}
}

// TestLexiconHeldout2 keeps the second held-out set's figures. Measured once
// unseen (precision 0.800, recall 0.390: a lexicon misses the words it does
// not have), its misses were then used to widen the lexicon, so it is a
// second development set now; heldout3.tsv, written blind, is the measure.
func TestLexiconHeldout2(t *testing.T) {
	s := measure(t, Default(), "testdata/heldout2.tsv", testing.Verbose())
	t.Log("held-out 2 (after use): ", s)
	if s.precision() < 0.95 || s.recall() < 0.95 {
		t.Errorf("held-out 2: %v; want precision and recall >= 0.95", s)
	}
}

// TestLexiconHeldout3 measures the set written blind by a separate author
// (testdata/heldout3.tsv), never used to tune: its first measure, precision
// 0.915 and recall 0.717 on 120 messages, is the figure to quote. The floor
// sits just under it so that a change that makes it worse fails.
func TestLexiconHeldout3(t *testing.T) {
	s := measure(t, Default(), "testdata/heldout3.tsv", testing.Verbose())
	t.Log("held-out 3 (blind): ", s)
	if s.precision() < 0.90 || s.recall() < 0.70 {
		t.Errorf("held-out 3: %v; want precision >= 0.90 and recall >= 0.70", s)
	}
}
