package faq

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// FuzzParseFile: no input makes the loader panic, and whatever it accepts
// satisfies the rules it promises.
func FuzzParseFile(f *testing.F) {
	for _, dir := range []string{"sample", "testdata/valid", "testdata/broken"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fq, err := ParseFile("fuzz.yaml", b)
		if err != nil {
			return
		}
		for _, in := range fq.Intents {
			if in.ID == "" || len(in.Questions) < 3 || in.Answer.Text == "" {
				t.Fatalf("accepted an invalid intent: %+v", in)
			}
		}
	})
}
