package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// runKefu runs the command in-process and returns its exit code and output.
func runKefu(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String() + errb.String()
}

func TestAsk(t *testing.T) {
	code, out := runKefu(t, "ask", "快递到哪了")
	if code != 0 || !strings.Contains(out, "decision:   answer logistics_track") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{"tokens:", "top intents:", "confidence:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	code, out = runKefu(t, "ask", "--json", "订单号2023112312345678 还没发货")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	var r struct {
		Action   string `json:"action"`
		Entities []struct{ Type, Value string }
		Tokens   []string
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if len(r.Entities) != 1 || r.Entities[0].Value != "2023112312345678" || r.Action == "" {
		t.Errorf("got %+v", r)
	}
	if code, _ := runKefu(t, "ask"); code == 0 {
		t.Error("ask without text exited 0")
	}
}

func TestFAQLint(t *testing.T) {
	code, out := runKefu(t, "faq", "lint", "../../faq/sample")
	if code != 0 || !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("sample: exit %d\n%s", code, out)
	}
	code, out = runKefu(t, "faq", "lint", "../../faq/testdata/broken")
	if code != 1 {
		t.Fatalf("broken: exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{"a.yaml:10:5: duplicate id", "b.yaml:3:16: YAML syntax error", "c.yaml:4:17: invalid UTF-8", "12 problem(s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("lint output lacks %q:\n%s", want, out)
		}
	}
}

func TestFAQTest(t *testing.T) {
	dir := t.TempDir()
	faqText := `intents:
  - id: logistics_track
    category: logistics
    questions: [我的快递到哪了, 查物流, 包裹到哪里了]
    answer: 在「我的订单」里查看物流。
  - id: invoice_request
    category: invoice
    questions: [怎么开发票, 我要开发票, 发票在哪里开]
    answer: 在订单详情里申请发票。
`
	os.WriteFile(filepath.Join(dir, "faq.yaml"), []byte(faqText), 0o644)
	os.WriteFile(filepath.Join(dir, "tests.yaml"), []byte("tests:\n  - text: 查物流\n    expect: logistics_track\n"), 0o644)
	if code, out := runKefu(t, "faq", "test", dir); code != 0 || !strings.Contains(out, "1 passed, 0 failed") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	os.WriteFile(filepath.Join(dir, "tests.yaml"), []byte("tests:\n  - text: 查物流\n    expect: invoice_request\n"), 0o644)
	code, out := runKefu(t, "faq", "test", dir)
	if code != 1 || !strings.Contains(out, `FAIL tests.yaml:2: "查物流": expected invoice_request, got answer logistics_track`) {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

func TestEvalCases(t *testing.T) {
	file := filepath.Join(t.TempDir(), "cases.tsv")
	os.WriteFile(file, []byte("# comment\n快递到哪了\tlogistics_track\n转人工\t@handoff\nasdfgh\t@none\n快递到哪了\tinvoice_request|refund_status\n"), 0o644)
	code, out := runKefu(t, "eval", "cases", "--json", file)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	var got struct {
		Total   int `json:"total"`
		Results []struct {
			Text, Expected, Action, Intent, Verdict string
			Confidence                              float64
			Choices                                 []string
		} `json:"results"`
		Summary struct{ Right, Wrong, Other int } `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if got.Total != 4 || len(got.Results) != 4 {
		t.Fatalf("total %d results %d", got.Total, len(got.Results))
	}
	r := got.Results[0]
	if r.Action != "answer" || r.Intent != "logistics_track" || r.Verdict != "right" || r.Choices == nil {
		t.Errorf("first result %+v", r)
	}
	if got.Results[1].Action != "handoff" || got.Results[2].Action != "none" {
		t.Errorf("handoff/none: %+v %+v", got.Results[1], got.Results[2])
	}
	if got.Summary.Right != 3 || got.Summary.Wrong != 1 {
		t.Errorf("summary %+v", got.Summary)
	}
}

func TestEvalPairs(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pairs.csv")
	os.WriteFile(file, []byte("\ufeffsentence1,sentence2,label\n我的快递到哪了,我的包裹到哪里了,1\n我的快递到哪了,怎么开发票,0\n退款多久到账,退款几天能到,1\n怎么退货,怎么换货,0\n"), 0o644)
	code, out := runKefu(t, "eval", "pairs", "--json", file)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	var got struct {
		Pairs     int       `json:"pairs"`
		Threshold float64   `json:"threshold"`
		Accuracy  float64   `json:"accuracy"`
		Scores    []float64 `json:"scores"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got.Pairs != 4 || len(got.Scores) != 4 || got.Accuracy < 0.75 {
		t.Errorf("got %+v", got)
	}
	code, out = runKefu(t, "eval", "pairs", "--threshold", "0.99", "--json", file)
	if code != 0 || !strings.Contains(out, `"threshold":0.99`) {
		t.Errorf("fixed threshold: exit %d %s", code, out)
	}
	os.WriteFile(file, []byte("a,b,maybe\n"), 0o644)
	if code, out := runKefu(t, "eval", "pairs", file); code == 0 || !strings.Contains(out, "not 0 or 1") {
		t.Errorf("bad label: exit %d %s", code, out)
	}
}

// TestTrimpathBinary builds kefu with -trimpath and runs it with no Go module
// cache and an empty home: the bundled dictionaries must be enough.
func TestTrimpathBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "kefu")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	home := t.TempDir()
	cmd := exec.Command(bin, "ask", "快递到哪了")
	cmd.Dir = home
	cmd.Env = []string{"HOME=" + home, "XDG_CACHE_HOME=" + filepath.Join(home, "cache"), "GOMODCACHE=/nonexistent", "GOPATH=/nonexistent", "PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "answer logistics_track") {
		t.Fatalf("trimpath binary: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(home, "cache", "kefu")); err != nil {
		t.Errorf("dictionaries not written to the cache dir: %v", err)
	}
	// A configured dictionary folder that lacks a file is a clear error, not a panic.
	cmd = exec.Command(bin, "ask", "--dict", t.TempDir(), "快递到哪了")
	cmd.Env = []string{"HOME=" + home}
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "jieba.dict.utf8") || strings.Contains(string(out), "panic") {
		t.Errorf("bad dict dir: %v\n%s", err, out)
	}
}

// The threshold scan prints a header and one row per point of its grid, each
// with rates between 0 and 1.
func TestEvalThresholds(t *testing.T) {
	file := filepath.Join(t.TempDir(), "cases.tsv")
	os.WriteFile(file, []byte("快递到哪了\tlogistics_track\n怎么开发票\tinvoice_request\n转人工\t@handoff\nasdfgh\t@none\n"), 0o644)
	code, out := runKefu(t, "eval", "thresholds", file)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if strings.Join(strings.Fields(lines[0]), " ") != "answer clarify span right wrong" {
		t.Fatalf("header %q", lines[0])
	}
	rows := lines[1:]
	if want := len(scanAnswer) * len(scanClarify) * len(scanSpan); len(rows) != want || want != 45 {
		t.Fatalf("%d rows, want %d:\n%s", len(rows), want, out)
	}
	bestRight := 0.0
	for i, row := range rows {
		var at, ct, span, right, wrong float64
		if n, err := fmt.Sscan(row, &at, &ct, &span, &right, &wrong); n != 5 || err != nil {
			t.Fatalf("row %q: %v", row, err)
		}
		if at != scanAnswer[i/9] || ct != scanClarify[i/3%3] || span != scanSpan[i%3] {
			t.Errorf("row %d is %v %v %v, out of the grid's order", i, at, ct, span)
		}
		if right < 0 || wrong < 0 || right+wrong > 1 {
			t.Errorf("row %q: rates out of range", row)
		}
		bestRight = max(bestRight, right)
	}
	if bestRight < 0.75 {
		t.Errorf("no threshold gets 3 of these 4 easy cases right:\n%s", out)
	}
	if code, _ := runKefu(t, "eval", "thresholds"); code == 0 {
		t.Error("no file: exit 0")
	}
}

const fitPairs = "sentence1,sentence2,label\n" +
	"我的快递到哪了,我的包裹到哪里了,1\n我的快递到哪了,怎么开发票,0\n退款多久到账,退款几天能到,1\n怎么退货,怎么换货,0\n" +
	"怎么开发票,发票在哪里开,1\n订单怎么取消,怎么修改收货地址,0\n怎么修改收货地址,收货地址能改吗,1\n运费怎么算,退款多久到账,0\n"

// fitCoefs returns the numbers between the braces of a `var x = [...]float64{…}` line.
func fitCoefs(t *testing.T, out, decl string) []float64 {
	t.Helper()
	_, rest, ok := strings.Cut(out, decl)
	body, _, ok2 := strings.Cut(rest, "}")
	if !ok || !ok2 {
		t.Fatalf("no %q line in:\n%s", decl, out)
	}
	var cs []float64
	for _, f := range strings.Split(body, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			t.Fatalf("coefficient %q: %v", f, err)
		}
		cs = append(cs, v)
	}
	return cs
}

// The similarity fit prints the cross-validated and full accuracy and a
// simCoef declaration with one coefficient per feature.
func TestEvalFitSimilarity(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pairs.csv")
	os.WriteFile(file, []byte(fitPairs), 0o644)
	code, out := runKefu(t, "eval", "fit", "similarity", file)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if !strings.HasPrefix(out, "8 pairs\n2-fold accuracy: ") {
		t.Errorf("output:\n%s", out)
	}
	var acc float64
	if _, after, ok := strings.Cut(out, "fit on all: accuracy "); !ok {
		t.Errorf("no full accuracy in:\n%s", out)
	} else if fmt.Sscan(after, &acc); acc < 0.75 {
		t.Errorf("accuracy %v on 8 easy pairs", acc)
	}
	if cs := fitCoefs(t, out, "var simCoef = [numSimFeatures]float64{"); len(cs) != 9 {
		t.Errorf("%d coefficients, want 9 (numSimFeatures)", len(cs))
	}
	// One class only: refused, not a meaningless fit.
	os.WriteFile(file, []byte("sentence1,sentence2,label\n快递,包裹,1\n发票,开票,1\n"), 0o644)
	if code, out := runKefu(t, "eval", "fit", "similarity", file); code == 0 || !strings.Contains(out, "too little data") {
		t.Errorf("one class: exit %d %s", code, out)
	}
	if code, _ := runKefu(t, "eval", "fit", "nonsense", file); code == 0 {
		t.Error("unknown fit: exit 0")
	}
}

// The confidence fit uses the sample FAQ's questions as in-scope examples
// and the pair file's first sentences as out-of-scope ones.
func TestEvalFitConfidence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "bank.csv")
	os.WriteFile(file, []byte("sentence1,sentence2,label\n信用卡额度怎么提升,怎么提高信用卡额度,1\n房贷利率是多少,贷款利息怎么算,0\n定期存款的利息,存款利率,1\n"), 0o644)
	cases := filepath.Join(dir, "cases.tsv")
	os.WriteFile(cases, []byte("快递到哪了\tlogistics_track\n"), 0o644)
	code, out := runKefu(t, "eval", "fit", "confidence", "--cases", cases, "--cases-weight", "2", file)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	var n, pos int
	if _, err := fmt.Sscanf(out, "%d examples (%d positive)", &n, &pos); err != nil || pos == 0 || pos >= n || n-pos < 3 {
		t.Errorf("counts %d/%d (%v) in:\n%s", pos, n, err, out)
	}
	if cs := fitCoefs(t, out, "var confCoef = [numConfFeatures]float64{"); len(cs) != 9 {
		t.Errorf("%d coefficients, want 9 (numConfFeatures)", len(cs))
	}
}
