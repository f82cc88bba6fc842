package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kefu-dev/kefu/config"
	"github.com/kefu-dev/kefu/gaps"
	"github.com/kefu-dev/kefu/intents"
	"github.com/kefu-dev/kefu/replay"
)

// editorRange reads --from and --to (days in handoff.hours.timezone, --to
// included) into [from, to).
func editorRange(cfg config.Config, fromS, toS string) (from, to time.Time, err error) {
	loc, lerr := time.LoadLocation(cfg.Handoff.Hours.Timezone)
	if lerr != nil {
		loc = time.Local
	}
	if from, err = day(fromS, loc, "--from"); err != nil {
		return
	}
	if to, err = day(toS, loc, "--to"); err != nil {
		return
	}
	if !to.IsZero() {
		to = to.AddDate(0, 0, 1)
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		err = fmt.Errorf("--from %s is after --to %s", fromS, toS)
	}
	return
}

// cmdFAQGaps prints the clusters of customer messages the bot did not
// answer well, largest first.
func cmdFAQGaps(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("faq gaps", flag.ContinueOnError)
	var f archiveFlags
	f.register(fs)
	fromS := fs.String("from", "", "conversations started on or after this day (YYYY-MM-DD, in handoff.hours.timezone)")
	toS := fs.String("to", "", "conversations started on or before this day (YYYY-MM-DD)")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("faq gaps: unexpected %q", strings.Join(rest, " "))
	}
	cfg, err := f.config()
	if err != nil {
		return err
	}
	from, to, err := editorRange(cfg, *fromS, *toS)
	if err != nil {
		return err
	}
	fq, err := loadFAQ(cfg.FAQDir)
	if err != nil {
		return err
	}
	live, err := intents.NewLive(fq, cfg.DictDir, cfg.Matcher)
	if err != nil {
		return err
	}
	db, err := f.open(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	cs, err := gaps.Find(ctx, db, live.Matcher(), gaps.Options{From: from, To: to})
	if err != nil {
		return err
	}
	if f.json {
		if cs == nil {
			cs = []gaps.Cluster{}
		}
		return writeJSON(stdout, map[string]any{"clusters": cs})
	}
	if len(cs) == 0 {
		fmt.Fprintln(stdout, "no unanswered questions found")
		return nil
	}
	for i, c := range cs {
		fmt.Fprintf(stdout, "%d. %d message(s) · nearest %s (%.2f) · %s\n", i+1, c.Size, dash(c.NearestIntent), c.Score, c.Suggestion)
		for _, e := range c.Examples {
			fmt.Fprintf(stdout, "   %s\n", oneLine(e))
		}
		for _, l := range strings.Split(strings.TrimRight(c.YAML, "\n"), "\n") {
			fmt.Fprintf(stdout, "   | %s\n", l)
		}
	}
	return nil
}

// cmdReplay re-decides archived first messages with an FAQ folder and
// thresholds and compares with what the bot decided then.
func cmdReplay(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	var f archiveFlags
	f.register(fs)
	answer := fs.Float64("answer-threshold", -1, "answer at this confidence or more (default: the configuration's)")
	clarify := fs.Float64("clarify-threshold", -1, "offer choices at this confidence or more (default: the configuration's)")
	fromS := fs.String("from", "", "conversations started on or after this day (YYYY-MM-DD, in handoff.hours.timezone)")
	toS := fs.String("to", "", "conversations started on or before this day (YYYY-MM-DD)")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("replay: unexpected %q", strings.Join(rest, " "))
	}
	cfg, err := f.config()
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	mc := cfg.Matcher
	for name, v := range map[string]*float64{"answer-threshold": answer, "clarify-threshold": clarify} {
		if set[name] && (*v < 0 || *v > 1) {
			return fmt.Errorf("--%s %v: want a confidence from 0 to 1", name, *v)
		}
	}
	if set["answer-threshold"] {
		mc.AnswerThreshold = *answer
	}
	if set["clarify-threshold"] {
		mc.ClarifyThreshold = *clarify
	}
	if mc.ClarifyThreshold > mc.AnswerThreshold && mc.AnswerThreshold > 0 {
		return errors.New("replay: the clarify threshold is above the answer threshold")
	}
	from, to, err := editorRange(cfg, *fromS, *toS)
	if err != nil {
		return err
	}
	fq, err := loadFAQ(cfg.FAQDir)
	if err != nil {
		return err
	}
	live, err := intents.NewLive(fq, cfg.DictDir, mc)
	if err != nil {
		return err
	}
	db, err := f.open(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := replay.Run(ctx, db, live.Matcher(), from, to)
	if err != nil {
		return err
	}
	if f.json {
		return writeJSON(stdout, rep)
	}
	fmt.Fprintf(stdout, "%d first messages replayed\n\n", rep.Messages)
	fmt.Fprintf(stdout, "%-10s %8s %8s\n", "", "then", "proposed")
	row := func(name string, a, b int) { fmt.Fprintf(stdout, "%-10s %8d %8d\n", name, a, b) }
	c, p := rep.Current, rep.Proposed
	row("answer", c.Answer, p.Answer)
	row("clarify", c.Clarify, p.Clarify)
	row("handoff", c.Handoff, p.Handoff)
	row("none", c.None, p.None)
	row("labelled", c.Labelled, p.Labelled)
	fmt.Fprintf(stdout, "%-10s %8s %8s\n", "right", pct(c.Right, c.Labelled), pct(p.Right, p.Labelled))
	fmt.Fprintf(stdout, "%-10s %8s %8s\n", "wrong", pct(c.Wrong, c.Labelled), pct(p.Wrong, p.Labelled))
	fmt.Fprintf(stdout, "\n%d decision(s) change\n", rep.ChangedTotal)
	for _, ch := range rep.Changed {
		fmt.Fprintf(stdout, "  %s → %s  %s\n", ch.From, ch.To, oneLine(ch.Text))
	}
	return nil
}
