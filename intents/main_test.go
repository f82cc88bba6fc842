package intents

import (
	"os"
	"sync"
	"testing"

	"github.com/kefu-dev/kefu/faq"
)

// One tokenizer and lexicon per test binary: each takes over a second to load.
var (
	sharedOnce sync.Once
	sharedTok  *JiebaTokenizer
	sharedLx   *Lexicon
	sharedErr  error
)

func loadShared() {
	sharedOnce.Do(func() {
		sharedLx, sharedErr = LoadLexicon("")
		if sharedErr != nil {
			return
		}
		sharedTok, sharedErr = NewJiebaTokenizer("", sampleWords())
	})
}

func mustTokenizer(tb testing.TB) *JiebaTokenizer {
	tb.Helper()
	loadShared()
	if sharedErr != nil {
		tb.Fatal(sharedErr)
	}
	return sharedTok
}

func mustLexicon(tb testing.TB) *Lexicon {
	tb.Helper()
	loadShared()
	if sharedErr != nil {
		tb.Fatal(sharedErr)
	}
	return sharedLx
}

func sampleWords() []string {
	f, err := faq.LoadSample()
	if err != nil {
		return nil
	}
	return UserWords(f)
}

// mustCases reads the development cases.
func mustCases(tb testing.TB) []Case {
	tb.Helper()
	fh, err := os.Open("testdata/dev_cases.tsv")
	if err != nil {
		tb.Fatal(err)
	}
	defer fh.Close()
	cs, err := ReadCases(fh)
	if err != nil {
		tb.Fatal(err)
	}
	return cs
}
