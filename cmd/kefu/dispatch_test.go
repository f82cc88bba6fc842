package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/handoff"
	"github.com/kefu-dev/kefu/internal/testkit"
	"github.com/kefu-dev/kefu/report"
)

// The refresh of the agents' performance reads the archive's rollups (a
// generated SQLite archive of rated, answered conversations) and writes
// each agent's report figures, with their scores, where weighted
// auto-assignment reads them; run twice it writes the same (idempotent).
func TestRefreshPerformanceFromRollups(t *testing.T) {
	ctx := context.Background()
	rep, err := report.New(report.Config{Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	db, err := archive.Open(ctx, filepath.Join(t.TempDir(), "archive.db"), nil, archive.WithRollups(rep))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	if err := db.Generate(ctx, archive.GenerateConfig{Conversations: 300, Agents: 4, Groups: []string{"pre_sales"},
		Texts: []string{"快递到哪了", "我要退货", "发票怎么开"}, End: now, Span: 5 * 24 * time.Hour, Seed: 7,
		EventsOnly: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := rep.Prepare(ctx, db, nil); err != nil {
		t.Fatal(err)
	}
	rdb := testkit.Redis(t, 0)
	q, err := handoff.New(rdb, handoff.Config{Prefix: testkit.PrefixOn(t, rdb), Groups: []string{"pre_sales"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := refreshPerformance(ctx, q, rep, db, now, 7*24*time.Hour, 10*time.Minute)
	if err != nil || n == 0 {
		t.Fatalf("refresh: %d agents, %v", n, err)
	}
	want, err := rep.Report(ctx, db, report.Query{From: "2026-11-26", To: "2026-12-03", By: report.ByAgent})
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Rows) != n {
		t.Fatalf("%d agents written, the report has %d", n, len(want.Rows))
	}
	rated := 0
	for _, r := range want.Rows {
		got, err := q.PerformanceOf(ctx, r.Key)
		if err != nil {
			t.Fatal(err)
		}
		p := agentPerformance(&report.Report{Rows: []report.Figures{r}})[0]
		c, f, s := p.Scores()
		fig := func(v *float64) string {
			if v == nil {
				return "-"
			}
			return fmt.Sprintf("%.2f", *v)
		}
		frt := "-"
		if r.FirstResponseP50 != nil {
			frt = fmt.Sprintf("%.0f", *r.FirstResponseP50)
		}
		if w := fmt.Sprintf("%.4f %.4f %.4f %s %s %s", c, f, s, fig(r.CSATMean), frt, fig(r.FCRRate)); got != w {
			t.Errorf("agent %s: stored %q, want %q (from the report)", r.Key, got, w)
		}
		if r.CSATMean != nil {
			rated++
		}
	}
	if rated == 0 {
		t.Error("no agent has a CSAT: the archive proves too little")
	}
	before, _ := q.PerformanceOf(ctx, want.Rows[0].Key)
	t.Logf("%d agents, %s: %q", n, want.Rows[0].Key, before)
	if _, err := refreshPerformance(ctx, q, rep, db, now, 7*24*time.Hour, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	if after, _ := q.PerformanceOf(ctx, want.Rows[0].Key); after != before {
		t.Errorf("a second refresh changed %q to %q", before, after)
	}
}
