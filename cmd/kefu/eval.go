package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/kefu-dev/kefu/intents"
)

type caseResult struct {
	Text       string   `json:"text"`
	Expected   string   `json:"expected"`
	Action     string   `json:"action"`
	Intent     string   `json:"intent"`
	Confidence float64  `json:"confidence"`
	Choices    []string `json:"choices"`
	Verdict    string   `json:"verdict"`
}

type caseSummary struct {
	Right     int            `json:"right"`
	Wrong     int            `json:"wrong"`
	Other     int            `json:"other"`
	RightRate float64        `json:"right_rate"`
	WrongRate float64        `json:"wrong_rate"`
	Actions   map[string]int `json:"actions"`
	// Answered: share of cases the bot answered itself; AnswerPrecision:
	// share of those answers that were right.
	Answered        float64 `json:"answered"`
	AnswerPrecision float64 `json:"answer_precision"`
}

func cmdEvalCases(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("eval cases", flag.ContinueOnError)
	var c common
	c.register(fs)
	asJSON := fs.Bool("json", false, "print one JSON object")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("eval cases: give one FILE.tsv (lines text<TAB>expected)")
	}
	cases, err := readCases(pos[0])
	if err != nil {
		return fmt.Errorf("eval cases: %w", err)
	}
	m, err := c.matcher()
	if err != nil {
		return err
	}
	res := make([]caseResult, 0, len(cases))
	sum := caseSummary{Actions: map[string]int{}}
	answeredRight := 0
	for _, cs := range cases {
		r := m.Match(cs.Text)
		v := intents.Judge(r, cs.Expected)
		intent := r.Intent
		if intent == "" {
			intent = r.Top().Intent
		}
		choices := r.Choices
		if choices == nil {
			choices = []string{}
		}
		res = append(res, caseResult{
			Text: cs.Text, Expected: strings.Join(cs.Expected, "|"), Action: string(r.Action),
			Intent: intent, Confidence: round3(r.Confidence), Choices: choices, Verdict: string(v),
		})
		sum.Actions[string(r.Action)]++
		switch v {
		case intents.Right:
			sum.Right++
			if r.Action == intents.ActionAnswer {
				answeredRight++
			}
		case intents.Wrong:
			sum.Wrong++
		default:
			sum.Other++
		}
	}
	n := len(cases)
	if n > 0 {
		sum.RightRate = round3(float64(sum.Right) / float64(n))
		sum.WrongRate = round3(float64(sum.Wrong) / float64(n))
		sum.Answered = round3(float64(sum.Actions["answer"]) / float64(n))
	}
	if a := sum.Actions["answer"]; a > 0 {
		sum.AnswerPrecision = round3(float64(answeredRight) / float64(a))
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		return enc.Encode(map[string]any{"total": n, "results": res, "summary": sum})
	}
	fmt.Fprintf(out, "%-7s %-8s %-28s %-5s %-40s %s\n", "verdict", "action", "intent", "conf", "expected", "text")
	for _, r := range res {
		shown := r.Intent
		if r.Action == "clarify" {
			shown = strings.Join(r.Choices, ",")
		}
		fmt.Fprintf(out, "%-7s %-8s %-28s %.2f  %-40s %s\n", r.Verdict, r.Action, shown, r.Confidence, r.Expected, r.Text)
	}
	fmt.Fprintf(out, "\n%d cases: %d right (%s), %d wrong (%s), %d other; answered %s with precision %s; actions %v\n",
		n, sum.Right, pct(sum.Right, n), sum.Wrong, pct(sum.Wrong, n), sum.Other,
		pct(sum.Actions["answer"], n), pct(answeredRight, sum.Actions["answer"]), sum.Actions)
	return nil
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// readCases reads a labelled cases file (text<TAB>expected).
func readCases(path string) ([]intents.Case, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cases, err := intents.ReadCases(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cases, nil
}

// readPairs reads a sentence-pair CSV file.
func readPairs(path string) ([][2]string, []bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	pairs, labels, err := intents.ReadPairs(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return pairs, labels, nil
}

func cmdEvalPairs(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("eval pairs", flag.ContinueOnError)
	var c common
	c.register(fs)
	threshold := fs.Float64("threshold", -1, "decision threshold (default: the accuracy-maximising one on FILE)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("eval pairs: give one FILE.csv (sentence1,sentence2,label)")
	}
	pairs, labels, err := readPairs(pos[0])
	if err != nil {
		return err
	}
	_, _, tok, lx, err := c.loadParts()
	if err != nil {
		return err
	}
	scores := intents.PairScores(tok, lx, pairs)
	t, acc := *threshold, 0.0
	if t < 0 {
		t, acc = intents.BestThreshold(scores, labels)
	} else {
		acc = intents.Accuracy(scores, labels, t)
	}
	if *asJSON {
		rs := make([]float64, len(scores))
		for i, s := range scores {
			rs[i] = math.Round(s*1e4) / 1e4
		}
		return json.NewEncoder(out).Encode(map[string]any{
			"pairs": len(pairs), "threshold": math.Round(t*1e4) / 1e4, "accuracy": math.Round(acc*1e4) / 1e4, "scores": rs,
		})
	}
	fmt.Fprintf(out, "%d pairs, threshold %.4f, accuracy %.4f\n", len(pairs), t, acc)
	return nil
}

// cmdEvalFit refits the matcher's coefficients and prints them as the Go
// declarations to paste into intents (similarity.go's simCoef,
// matcher.go's confCoef).
func cmdEvalFit(args []string, out io.Writer) error {
	what := ""
	if len(args) > 0 {
		what, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("eval fit "+what, flag.ContinueOnError)
	var c common
	c.register(fs)
	casesFile := fs.String("cases", "", "confidence: real customer messages (text<TAB>expected) as extra examples")
	weight := fs.Int("cases-weight", 3, "confidence: how many times each of --cases counts")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if (what != "similarity" && what != "confidence") || len(pos) != 1 {
		return fmt.Errorf("eval fit: give similarity or confidence, then one FILE.csv (sentence1,sentence2,label)")
	}
	pairs, labels, err := readPairs(pos[0])
	if err != nil {
		return err
	}
	_, f, tok, lx, err := c.loadParts()
	if err != nil {
		return err
	}
	if what == "similarity" {
		r, err := intents.FitSimilarity(tok, lx, pairs, labels)
		if err != nil {
			return fmt.Errorf("eval fit similarity %s: %w", pos[0], err)
		}
		fmt.Fprintf(out, "%d pairs\n2-fold accuracy: %.4f %.4f\nfit on all: accuracy %.4f\n", r.Pairs, r.FoldAccuracy[0], r.FoldAccuracy[1], r.Accuracy)
		fmt.Fprintf(out, "var simCoef = [numSimFeatures]float64{%s}\n", coefList(r.Coef))
		return nil
	}
	var cases []intents.Case
	if *casesFile != "" {
		if cases, err = readCases(*casesFile); err != nil {
			return fmt.Errorf("eval fit confidence: %w", err)
		}
	}
	firsts := make([]string, len(pairs))
	for i, p := range pairs {
		firsts[i] = p[0]
	}
	m := intents.NewMatcher(f, tok, lx, intents.DefaultConfig())
	r, err := intents.FitConfidence(m, firsts, cases, *weight)
	if err != nil {
		return fmt.Errorf("eval fit confidence: %w", err)
	}
	fmt.Fprintf(out, "%d examples (%d positive)\nvar confCoef = [numConfFeatures]float64{%s}\n", r.Examples, r.Positive, coefList(r.Coef))
	return nil
}

func coefList(c []float64) string {
	s := make([]string, len(c))
	for i, v := range c {
		s[i] = fmt.Sprintf("%.3f", v)
	}
	return strings.Join(s, ", ")
}

// Thresholds scanned by `kefu eval thresholds` (DefaultConfig's values were
// chosen on this grid).
var (
	scanAnswer  = []float64{0.4, 0.5, 0.6, 0.7, 0.8}
	scanClarify = []float64{0.1, 0.2, 0.3}
	scanSpan    = []float64{0.05, 0.1, 0.2}
)

// cmdEvalThresholds prints the right and wrong rates on labelled cases for
// each combination of decision thresholds.
func cmdEvalThresholds(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("eval thresholds", flag.ContinueOnError)
	var c common
	c.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("eval thresholds: give one FILE.tsv (lines text<TAB>expected)")
	}
	cases, err := readCases(pos[0])
	if err != nil {
		return fmt.Errorf("eval thresholds: %w", err)
	}
	if len(cases) == 0 {
		return fmt.Errorf("eval thresholds %s: no cases", pos[0])
	}
	cfg, f, tok, lx, err := c.loadParts()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%-6s %-7s %-5s %-6s %s\n", "answer", "clarify", "span", "right", "wrong")
	for _, at := range scanAnswer {
		for _, ct := range scanClarify {
			for _, span := range scanSpan {
				mc := cfg.Matcher
				mc.AnswerThreshold, mc.ClarifyThreshold, mc.ClarifySpan = at, ct, span
				m := intents.NewMatcher(f, tok, lx, mc)
				right, wrong := 0, 0
				for _, cs := range cases {
					switch intents.Judge(m.Match(cs.Text), cs.Expected) {
					case intents.Right:
						right++
					case intents.Wrong:
						wrong++
					}
				}
				n := float64(len(cases))
				fmt.Fprintf(out, "%-6.2f %-7.2f %-5.2f %-6.3f %.3f\n", at, ct, span, float64(right)/n, float64(wrong)/n)
			}
		}
	}
	return nil
}
