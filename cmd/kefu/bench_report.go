package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/handoff"
	"github.com/kefu-dev/kefu/report"
)

// benchReportTexts are customers' messages for a generated archive when no
// --texts are given: reports never read the texts.
var benchReportTexts = []string{"快递到哪了", "我的订单[订单x]还没发货", "怎么开发票", "我要退货", "优惠券怎么用",
	"能便宜点吗", "转人工", "地址写错了能改吗"}

// cmdBenchReport fills an archive with synthetic conversations (optional),
// builds the rollups from its events, and times 90-day reports by day and
// by agent.
//
//	kefu bench report --dsn DSN [--generate N] [--messages=false] [--days 90] [--runs 20] [--texts FILE,…] [--hours 09:00-21:00]
func cmdBenchReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench report", flag.ContinueOnError)
	dsn := fs.String("dsn", "", "the archive: postgres://… or an SQLite file path (required)")
	gen := fs.Int("generate", 0, "first write this many synthetic conversations (into an empty archive)")
	days := fs.Int("days", 90, "the generated conversations' span and the reports' period, in days")
	runs := fs.Int("runs", 20, "times each report is run (after one to warm up)")
	texts := fs.String("texts", "", "customer texts for --generate, comma-separated files (default: a few built in)")
	seed := fs.Uint64("seed", 1, "random seed")
	messages := fs.Bool("messages", true, "--generate also writes the messages (false: conversations and events only, which is all reports read)")
	hoursFlag := fs.String("hours", "09:00-21:00", "business hours (Asia/Shanghai, every day) the …_bh_s figures count in; empty: always open")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dsn == "" {
		return errors.New("bench report: --dsn is required")
	}
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return err
	}
	var hours report.BusinessHours
	if *hoursFlag != "" {
		open, closing, _ := strings.Cut(*hoursFlag, "-")
		cal, err := handoff.NewCalendar(handoff.Hours{Timezone: "Asia/Shanghai", Open: open, Close: closing})
		if err != nil {
			return fmt.Errorf("--hours %q: want HH:MM-HH:MM: %w", *hoursFlag, err)
		}
		hours = cal
	}
	rep, err := report.New(report.Config{Location: loc, Hours: hours})
	if err != nil {
		return err
	}
	db, err := archive.Open(ctx, *dsn, nil, archive.WithRollups(rep))
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(stdout, "archive %s (%s)\n", archive.Redacted(*dsn), db.Dialect())
	end := time.Now()
	if *gen > 0 {
		if res, err := db.Search(ctx, archive.Query{Limit: 1, ExactTotal: true}); err != nil {
			return err
		} else if res.Total > 0 {
			return fmt.Errorf("bench report: --generate wants an empty archive; this one has %d conversations", res.Total)
		}
		corpus := benchReportTexts
		if *texts != "" {
			corpus = nil
			for _, f := range strings.Split(*texts, ",") {
				ts, err := readTexts(f)
				if err != nil {
					return err
				}
				corpus = append(corpus, ts...)
			}
		}
		start, last := time.Now(), time.Now()
		err := db.Generate(ctx, archive.GenerateConfig{Conversations: *gen, Texts: corpus, Seed: *seed, End: end,
			Span: time.Duration(*days) * 24 * time.Hour, Batch: 10000, EventsOnly: !*messages,
			Progress: func(done int) {
				if time.Since(last) > 30*time.Second || done == *gen {
					last = time.Now()
					fmt.Fprintf(stderr, "  %d conversations in %s\n", done, time.Since(start).Round(time.Second))
				}
			}})
		if err != nil {
			return err
		}
		el := time.Since(start)
		fmt.Fprintf(stdout, "generated %d conversations over %d days in %s (%.0f/s; messages %v)\n", *gen, *days, el.Round(time.Second), float64(*gen)/el.Seconds(), *messages)
	}
	// Generate writes rows, not through Write: the rollups are built from
	// the events, as at the first open of an archive that had none.
	start, last := time.Now(), time.Now()
	rebuilt, err := rep.Prepare(ctx, db, func(done int) {
		if time.Since(last) > 30*time.Second {
			last = time.Now()
			fmt.Fprintf(stderr, "  rollups: %d conversations in %s\n", done, time.Since(start).Round(time.Second))
		}
	})
	if err != nil {
		return err
	}
	if rebuilt {
		fmt.Fprintf(stdout, "rollups built from the events in %s\n", time.Since(start).Round(time.Second))
	}
	q := report.Query{From: end.In(loc).AddDate(0, 0, -(*days - 1)).Format(time.DateOnly), To: end.In(loc).Format(time.DateOnly)}
	fmt.Fprintf(stdout, "%d-day reports, %s to %s, %d runs each after one to warm up\n", *days, q.From, q.To, *runs)
	fmt.Fprintf(stdout, "%-8s %6s %12s %9s %9s %9s\n", "by", "rows", "conversations", "p50", "p95", "max")
	for _, by := range []string{report.ByDay, report.ByAgent, report.ByChannel, report.ByGroup, report.ByIntent, report.ByWeek, report.ByMonth, report.ByHour} {
		q.By = by
		var lat []time.Duration
		var res *report.Report
		for i := 0; i <= *runs; i++ {
			t := time.Now()
			if res, err = rep.Report(ctx, db, q); err != nil {
				return err
			}
			if i > 0 {
				lat = append(lat, time.Since(t))
			}
		}
		if len(lat) == 0 {
			continue
		}
		slices.Sort(lat)
		fmt.Fprintf(stdout, "%-8s %6d %12d %9s %9s %9s\n", by, len(res.Rows), res.Total.Conversations,
			archMS(archPct(lat, 50)), archMS(archPct(lat, 95)), archMS(lat[len(lat)-1]))
	}
	return nil
}
