// Package sampletest gives tests the sample FAQ's matcher, loaded once per
// test binary (the segmenter takes over a second to load). Only tests import
// it; it is apart from testkit so that tests without a matcher do not link
// the segmenter.
package sampletest

import (
	"sync"
	"testing"

	"github.com/kefu-dev/kefu/faq"
	"github.com/kefu-dev/kefu/intents"
)

var (
	once sync.Once
	live *intents.Live
	err  error
)

// Live is the sample FAQ's live matcher with the default configuration.
func Live(tb testing.TB) *intents.Live {
	tb.Helper()
	once.Do(func() {
		var f *faq.FAQ
		if f, err = faq.LoadSample(); err == nil {
			live, err = intents.NewLive(f, "", intents.Config{})
		}
	})
	if err != nil {
		tb.Fatal(err)
	}
	return live
}
