package faq

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// maxFuzzInput bounds what FuzzParseFile parses. Large inputs add nothing
// the parser's rules do not already meet in small ones, and each new
// coverage a large input finds is minimised for up to a minute (whole
// sample files as seeds kept the fuzzer minimising: 16 executions in 60 s).
const maxFuzzInput = 4 << 10

// fuzzSeeds are small FAQ documents: the test folders' files, and each
// sample file cut into documents of one list item (an intent, a test, a
// synonym group…), the largest left out.
func fuzzSeeds(tb testing.TB) [][]byte {
	var seeds [][]byte
	for _, dir := range []string{"testdata/valid", "testdata/broken"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil && len(b) <= maxFuzzInput {
				seeds = append(seeds, b)
			}
		}
	}
	files, _ := filepath.Glob("sample/*.yaml")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		n := 0
		for _, item := range splitItems(string(b)) {
			if len(item) <= 2048 && n < 4 {
				seeds = append(seeds, []byte(item))
				n++
			}
		}
	}
	if len(seeds) < 10 {
		tb.Fatalf("only %d fuzz seeds", len(seeds))
	}
	return seeds
}

// splitItems cuts a FAQ file into documents of one top-level list item
// each, under its top-level key ("intents:", "tests:", "synonyms:"…).
func splitItems(s string) []string {
	var docs []string
	key, cur := "", ""
	flush := func() {
		if key != "" && strings.TrimSpace(cur) != "" {
			docs = append(docs, key+cur)
		}
		cur = ""
	}
	for _, line := range strings.SplitAfter(s, "\n") {
		switch {
		case line != "" && line[0] != ' ' && line[0] != '#' && strings.TrimSpace(line) != "":
			flush()
			key = line
		case strings.HasPrefix(line, "  - "):
			flush()
			cur = line
		default:
			cur += line
		}
	}
	flush()
	return docs
}

// FuzzParseFile: no input makes the loader panic, and whatever it accepts
// satisfies the rules it promises. It fuzzes ParseFile alone (YAML parsing
// and validation): nothing heavier is linked into the body.
func FuzzParseFile(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > maxFuzzInput {
			return
		}
		fq, err := ParseFile("fuzz.yaml", b)
		if err != nil {
			return
		}
		for _, in := range fq.Intents {
			if in.ID == "" || len(in.Questions) < 3 || in.Answer.Text == "" {
				t.Fatalf("accepted an invalid intent: %+v", in)
			}
		}
		for _, c := range fq.Canned {
			vars, unclosed := ParseVars(c.Text)
			if c.Title == "" || c.Text == "" || unclosed >= 0 {
				t.Fatalf("accepted an invalid canned reply: %+v", c)
			}
			for _, v := range vars {
				if !slices.Contains(CannedVars, v.Name) {
					t.Fatalf("accepted an unknown variable %q in %+v", v.Name, c)
				}
			}
		}
	})
}
