package faq

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoadSample(t *testing.T) {
	f, err := LoadSample()
	if err != nil {
		t.Fatalf("sample faq: %v", err)
	}
	if len(f.Intents) < 44 {
		t.Errorf("sample has %d intents, want at least 44", len(f.Intents))
	}
	for _, in := range f.Intents {
		if len(in.Questions) < 8 {
			t.Errorf("%s has %d questions, want at least 8", in.ID, len(in.Questions))
		}
	}
	for _, id := range []string{"complaint"} {
		if in := f.Intent(id); in == nil || !in.Handoff {
			t.Errorf("%s must be handoff: true", id)
		}
	}
	for _, id := range []string{"payment_charged_no_order", "account_security"} {
		if in := f.Intent(id); in == nil || in.Priority != PriorityUrgent {
			t.Errorf("%s must be priority: urgent", id)
		}
	}
	if len(f.Tests) == 0 {
		t.Error("sample has no editor tests")
	}
}

func TestLoadValid(t *testing.T) {
	f, err := Load("testdata/valid")
	if err != nil {
		t.Fatal(err)
	}
	in := f.Intent("refund_status")
	if in == nil {
		t.Fatal("refund_status missing")
	}
	if got := in.Answer.For("wechat", "zh"); !strings.Contains(got, "微信") {
		t.Errorf("wechat variant: got %q", got)
	}
	if got := in.Answer.For("web", "en"); !strings.HasPrefix(got, "Refunds") {
		t.Errorf("english: got %q", got)
	}
	if got := in.Answer.For("telegram", "zh"); got != "退款会在 1–3 个工作日内原路退回。" {
		t.Errorf("default: got %q", got)
	}
	if diff := cmp.Diff([]string{"快递", "包裹", "快件"}, f.Synonyms[0].Words); diff != "" {
		t.Errorf("synonyms (-want +got):\n%s", diff)
	}
	if len(f.Tests) != 1 || f.Tests[0].Expect[0] != "logistics_track" {
		t.Errorf("tests: %+v", f.Tests)
	}
}

// TestLoadBroken checks that every mistake in the broken fixtures is reported,
// at once, with its file, line and column.
func TestLoadBroken(t *testing.T) {
	_, err := Load("testdata/broken")
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("want Problems, got %v", err)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Error("errors.Is(err, ErrInvalid) is false")
	}
	want, err := os.ReadFile("testdata/broken/expected.txt")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	for _, w := range strings.Split(strings.TrimSpace(string(want)), "\n") {
		found := false
		for _, g := range got {
			if strings.HasPrefix(g, w) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("missing problem %q", w)
		}
	}
	if len(got) != len(strings.Split(strings.TrimSpace(string(want)), "\n")) {
		t.Errorf("got %d problems, want %d:\n%s", len(got), len(strings.Split(strings.TrimSpace(string(want)), "\n")), strings.Join(got, "\n"))
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"not a mapping", "- a\n- b\n", "must be a mapping"},
		{"unknown top key", "intentz: []\n", `unknown key "intentz"`},
		{"intents not a list", "intents: {a: b}\n", "intents must be a list"},
		{"handoff not bool", "intents:\n  - id: a\n    category: c\n    questions: [x, y, z]\n    answer: ok\n    handoff: yes please\n", "handoff must be true or false"},
		{"bad priority", "intents:\n  - id: a\n    category: c\n    questions: [x, y, z]\n    answer: ok\n    priority: highest\n", `priority "highest"`},
		{"bad id", "intents:\n  - id: Order Status\n    category: c\n    questions: [x, y, z]\n    answer: ok\n", "use lower-case letters"},
		{"no id", "intents:\n  - category: c\n    questions: [x, y, z]\n    answer: ok\n", "intent has no id"},
		{"duplicate question in one intent", "intents:\n  - id: a\n    category: c\n    questions: [退货, 退 货, z]\n    answer: ok\n", "appears twice in a"},
		{"punctuation question", "intents:\n  - id: a\n    category: c\n    questions: [\"？？\", y, z]\n    answer: ok\n", "has no letters or digits"},
		{"bad expect", "tests:\n  - text: hi\n    expect: \"@robot\"\n", `expect "@robot"`},
		{"too big", strings.Repeat("#", MaxFileSize+1), "more than the"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFile("x.yaml", []byte(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestLoadEmptyFolder(t *testing.T) {
	_, err := Load(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "no .yaml files") {
		t.Errorf("got %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing folder: no error")
	}
}

func TestQuestionKey(t *testing.T) {
	for in, want := range map[string]string{"退货 吗？": "退货吗", "ＳＦ快递": "sf快递", "Where IS it?": "whereisit"} {
		if got := QuestionKey(in); got != want {
			t.Errorf("QuestionKey(%q) = %q, want %q", in, got, want)
		}
	}
}
