package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadFileAndEnv(t *testing.T) {
	file := filepath.Join(t.TempDir(), "kefu.yaml")
	os.WriteFile(file, []byte("matcher:\n  answer_threshold: 0.9\n  clarify_threshold: 0.2\n"), 0o644)
	t.Setenv("KEFU_CLARIFY_THRESHOLD", "0.25")
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if c.Matcher.AnswerThreshold != 0.9 || c.Matcher.ClarifyThreshold != 0.25 {
		t.Errorf("got %+v", c.Matcher)
	}
	if c.Matcher.MaxChoices != 3 || len(c.Matcher.HandoffPhrases) == 0 {
		t.Errorf("defaults lost: %+v", c.Matcher)
	}
}

func TestLoadListsEveryProblem(t *testing.T) {
	file := filepath.Join(t.TempDir(), "kefu.yaml")
	os.WriteFile(file, []byte("faq_dir: /no/such/dir\nmatcher:\n  answer_threshold: 2\n  clarify_threshold: -1\n"), 0o644)
	_, err := Load(file)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"faq_dir", "answer_threshold", "clarify_threshold"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	os.WriteFile(file, []byte("matcher:\n  answer_treshold: 0.5\n"), 0o644)
	if _, err := Load(file); err == nil || !strings.Contains(err.Error(), "answer_treshold") {
		t.Errorf("unknown key: %v", err)
	}
	t.Setenv("KEFU_ANSWER_THRESHOLD", "high")
	if _, err := Load(""); err == nil || !strings.Contains(err.Error(), "KEFU_ANSWER_THRESHOLD") {
		t.Errorf("bad env: %v", err)
	}
}
