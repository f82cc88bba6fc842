package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kefu-dev/kefu/report"
)

// reportColumns are the figures' names, as `kefu report --json` spells
// them, in the table's and the CSV's order.
var reportColumns = []string{"key", "conversations", "bot_only", "contained", "containment_rate", "handoffs",
	"handoff_rate", "abandoned", "queue_wait_p50_s", "queue_wait_p90_s", "first_response_p50_s",
	"first_response_p90_s", "first_response_mean_s", "resolved", "resolution_p50_s", "resolution_p90_s",
	"reopened", "fcr_rate", "surveys_sent", "csat_responses", "csat_score", "csat_mean", "complaint_rate",
	// added after the contract's
	"queue_wait_p50_bh_s", "queue_wait_p90_bh_s", "first_response_p50_bh_s", "first_response_p90_bh_s",
	"first_response_mean_bh_s", "resolution_p50_bh_s", "resolution_p90_bh_s",
	"handled", "agent_messages", "transfers_out", "handling_time_p50_s", "handling_time_mean_s", "csat_response_rate",
	"sla_first_response_measured", "sla_first_response_breached", "sla_first_response_met_rate",
	"sla_next_response_measured", "sla_next_response_breached", "sla_next_response_met_rate",
	"sla_resolution_measured", "sla_resolution_breached", "sla_resolution_met_rate",
	"handoffs_by_reason"}

// reportMaps are the JSON's object fields (reason -> figure): the CSV and
// the table show handoffs_by_reason as "reason=n;…", the rates are in the
// JSON only.
var reportMaps = []string{"handoffs_by_reason", "handoff_rate_by_reason"}

// reportCells are a row's values in reportColumns' order; null is "".
func reportCells(f report.Figures) []string {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	x := func(v *float64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'f', -1, 64)
	}
	return []string{f.Key, n(f.Conversations), n(f.BotOnly), n(f.Contained), x(f.ContainmentRate), n(f.Handoffs),
		x(f.HandoffRate), n(f.Abandoned), x(f.QueueWaitP50), x(f.QueueWaitP90), x(f.FirstResponseP50),
		x(f.FirstResponseP90), x(f.FirstResponseMean), n(f.Resolved), x(f.ResolutionP50), x(f.ResolutionP90),
		n(f.Reopened), x(f.FCRRate), n(f.SurveysSent), n(f.CSATResponses), x(f.CSATScore), x(f.CSATMean),
		x(f.ComplaintRate),
		x(f.QueueWaitP50BH), x(f.QueueWaitP90BH), x(f.FirstResponseP50BH), x(f.FirstResponseP90BH),
		x(f.FirstResponseMeanBH), x(f.ResolutionP50BH), x(f.ResolutionP90BH),
		n(f.Handled), n(f.AgentMessages), n(f.TransfersOut), x(f.HandlingP50), x(f.HandlingMean), x(f.CSATResponseRate),
		n(f.SLAFirstResponse), n(f.SLAFirstResponseMiss), x(f.SLAFirstResponseMet),
		n(f.SLANextResponse), n(f.SLANextResponseMiss), x(f.SLANextResponseMet),
		n(f.SLAResolution), n(f.SLAResolutionMiss), x(f.SLAResolutionMet),
		reasonsCell(f.HandoffsByReason)}
}

// reasonsCell is handoffs_by_reason as one cell: "reason=n;…" by reason
// ("" is written "(none)").
func reasonsCell(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		name := k
		if name == "" {
			name = "(none)"
		}
		parts = append(parts, name+"="+strconv.FormatInt(m[k], 10))
	}
	return strings.Join(parts, ";")
}

// cmdReport prints a report from the archive's rollups.
func cmdReport(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	var f archiveFlags
	f.register(fs) // --config, --data, --json (same as --format json)
	from := fs.String("from", "", "first day, YYYY-MM-DD in report.timezone (default: 29 days before --to)")
	to := fs.String("to", "", "last day, YYYY-MM-DD (default: today)")
	by := fs.String("by", report.ByDay, "day|week|month|hour|channel|group|agent|intent|label")
	format := fs.String("format", "table", "table|csv|json")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if f.json {
		*format = "json"
	}
	if !slices.Contains([]string{"table", "csv", "json"}, *format) {
		return fmt.Errorf("--format %q: want table, csv or json", *format)
	}
	if !slices.Contains(report.Bys, *by) {
		return fmt.Errorf("--by %q: want one of %s", *by, strings.Join(report.Bys, ", "))
	}
	cfg, err := f.config()
	if err != nil {
		return err
	}
	loc, err := cfg.Report.Location(cfg)
	if err != nil {
		return err
	}
	q := report.Query{From: *from, To: *to, By: *by}
	if q.To == "" {
		q.To = time.Now().In(loc).Format(time.DateOnly)
	}
	end, err := day(q.To, loc, "--to")
	if err != nil {
		return err
	}
	if q.From == "" {
		q.From = end.AddDate(0, 0, -29).Format(time.DateOnly)
	}
	if _, err := day(q.From, loc, "--from"); err != nil {
		return err
	}
	db, where, err := openArchive(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := newReporter(cfg)
	if err != nil {
		return err
	}
	res, err := rep.Report(ctx, db, q)
	if err != nil {
		return err
	}
	return writeReport(stdout, res, *format, where)
}

func writeReport(w io.Writer, res *report.Report, format, where string) error {
	switch format {
	case "json":
		return writeJSON(w, res)
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write(reportColumns)
		for _, r := range res.Rows {
			_ = cw.Write(reportCells(r))
		}
		_ = cw.Write(reportCells(res.Total))
		cw.Flush()
		return cw.Error()
	}
	fmt.Fprintf(w, "%s to %s by %s (%s), from %s; rates 0-1, times in seconds, - no data\n\n", res.From, res.To, res.By, res.TZ, where)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	short := func(c string) string { return strings.TrimSuffix(strings.ReplaceAll(c, "first_response", "frt"), "_s") }
	for i, c := range reportColumns {
		if i > 0 {
			fmt.Fprint(tw, "\t")
		}
		fmt.Fprint(tw, short(c))
	}
	fmt.Fprintln(tw, "\t")
	line := func(f report.Figures) {
		for i, c := range reportCells(f) {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			if c == "" {
				c = "-"
			} else if v, err := strconv.ParseFloat(c, 64); err == nil && strings.Contains(c, ".") && i > 0 {
				c = strconv.FormatFloat(v, 'f', 2, 64)
			}
			if i == 0 && c == "-" {
				c = "(none)"
			}
			fmt.Fprint(tw, c)
		}
		fmt.Fprintln(tw, "\t")
	}
	for _, r := range res.Rows {
		line(r)
	}
	line(res.Total)
	return tw.Flush()
}
