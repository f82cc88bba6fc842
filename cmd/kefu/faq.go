package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/kefu-dev/kefu/config"
	"github.com/kefu-dev/kefu/faq"
	"github.com/kefu-dev/kefu/intents"
)

// cmdFAQLint checks a FAQ folder: exit 0 when clean, 1 with every problem.
// The canned replies' groups are checked against the configuration's
// handoff.groups (--config, else the default configuration).
func cmdFAQLint(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("faq lint", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration file (YAML): the groups canned replies may name")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	dir := ""
	if len(pos) > 0 {
		dir = pos[0]
	}
	f, err := loadFAQWith(dir, faq.Options{Groups: cfg.Handoff.Groups})
	var ps faq.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			fmt.Fprintln(out, p.String())
		}
		fmt.Fprintf(out, "%d problem(s)\n", len(ps))
		return exitError{1}
	}
	if err != nil {
		return err
	}
	nq := 0
	for _, in := range f.Intents {
		nq += len(in.Questions)
	}
	fmt.Fprintf(out, "ok: %d intents, %d questions, %d synonym groups, %d tests, %d canned replies in %d files\n",
		len(f.Intents), nq, len(f.Synonyms), len(f.Tests), len(f.Canned), len(f.Files))
	return nil
}

// cmdFAQTest runs the editors' tests of a FAQ folder.
func cmdFAQTest(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("faq test", flag.ContinueOnError)
	var c common
	c.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		c.faqDir = pos[0]
	}
	m, err := c.matcher()
	if err != nil {
		return err
	}
	tests := m.FAQ().Tests
	if len(tests) == 0 {
		fmt.Fprintln(out, "no tests: add a tests.yaml with `tests: [{text: ..., expect: intent_id}]`")
		return exitError{1}
	}
	failed := 0
	for _, tc := range tests {
		r := m.Match(tc.Text)
		if passes(r, tc.Expect) {
			continue
		}
		failed++
		got := string(r.Action)
		switch {
		case r.Intent != "":
			got += " " + r.Intent
		case len(r.Choices) > 0:
			got += " " + strings.Join(r.Choices, ",")
		}
		fmt.Fprintf(out, "FAIL %s:%d: %q: expected %s, got %s (top %s %.2f, confidence %.2f)\n",
			tc.Pos.File, tc.Pos.Line, tc.Text, strings.Join(tc.Expect, "|"), got, r.Top().Intent, r.Top().Score, r.Confidence)
	}
	fmt.Fprintf(out, "%d passed, %d failed\n", len(tests)-failed, failed)
	if failed > 0 {
		return exitError{1}
	}
	return nil
}

// passes: an editor's test wants its intent reached (answered, or handed off
// for an intent that always goes to a person), @handoff, or @none.
func passes(r intents.Result, expect []string) bool {
	switch r.Action {
	case intents.ActionAnswer:
		return slices.Contains(expect, r.Intent)
	case intents.ActionHandoff:
		return slices.Contains(expect, "@handoff") || (r.Intent != "" && slices.Contains(expect, r.Intent))
	case intents.ActionNone:
		return slices.Contains(expect, "@none")
	}
	return false
}
