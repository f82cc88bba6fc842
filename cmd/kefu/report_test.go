package main

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kefu-dev/kefu/report"
)

// TestReportThroughGateway drives conversations through the running
// gateway (real serve path, real Redis, the SQLite archive) on a clock the
// test moves, and checks `kefu report --json` against the figures worked
// out here from the script alone.
//
// Day 2026-11-03 in Shanghai, from 10:00 (t0):
//
//	A  0:00 asks the bot; never back (closed idle)             bot only, contained
//	B1 1:00 asks the bot; back at 3:00:00 (idle close, B2)     bot only, not contained, reopened
//	B2 3:00:00 asks the bot; closed idle                       bot only, contained
//	C  2:00 asks, 2:10 转人工, claimed 3:40 (wait 90 s), reply 4:10 (first response 120 s),
//	   closed 9:10, rated 5
//	D  11:00 asks, 11:10 转人工, claimed 16:10 (300 s), 16:30 misses its 5-minute first-response
//	   target (held by alice), reply 17:10 (360 s), closed 20:00, rated 2
//	E  22:00 asks, 22:10 转人工, 25:30 取消 (abandoned), closed idle
//	F1 26:00 asks, 26:10 转人工, claimed 26:40 (30 s), reply 26:50 (40 s), closed 28:00, no rating;
//	   back at 1:28:00 (F2)                                    reopened, so not first-contact resolved
//	F2 1:28:00 asks the bot; closed idle                       bot only, contained
func TestReportThroughGateway(t *testing.T) {
	mustRedisEnv(t)
	t0 := time.Date(2026, 11, 3, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	var clock atomic.Int64
	clock.Store(t0.UnixMilli())
	at := func(d time.Duration) { clock.Store(t0.Add(d).UnixMilli()) }
	var srv atomic.Pointer[server]
	cfg := agentConfig(t, "handoff:\n  lease: 48h\n  sla:\n    first_response: {urgent: 5m, high: 5m, normal: 5m, low: 5m}\n"+
		"    next_response: {urgent: 1h, high: 1h, normal: 1h, low: 1h}\n    resolution: {urgent: 1h, high: 1h, normal: 1h, low: 1h}\n"+
		"retention:\n  idle: 1h\nreport:\n  timezone: Asia/Shanghai\n  reopen_window: 24h\n")
	data := t.TempDir()
	g := mustServeWith(t, func(s *server) {
		s.now = func() time.Time { return time.UnixMilli(clock.Load()) }
		srv.Store(s)
	}, "--config", cfg, "--data", data)

	type visitor struct {
		token, conv string
		n           int
	}
	newVisitor := func() *visitor {
		var s struct{ Token, Conv string }
		if code := doJSON(t, "POST", g.URL+"/api/session", "", nil, &s); code != 200 || s.Conv == "" {
			t.Fatalf("session: %d %+v", code, s)
		}
		return &visitor{token: s.Token, conv: s.Conv}
	}
	say := func(v *visitor, body map[string]any) replyJSON {
		t.Helper()
		v.n++
		body["id"] = v.conv + "-" + itoa(v.n)
		var r replyJSON
		if code := doJSON(t, "POST", g.URL+"/api/messages", v.token, body, &r); code != 200 {
			t.Fatalf("%s says %v: %d %+v", v.conv, body, code, r)
		}
		return r
	}
	ask := func(v *visitor) { say(v, map[string]any{"text": "快递到哪了"}) }
	human := func(v *visitor) {
		if r := say(v, map[string]any{"kind": "human"}); len(r.Replies) == 0 || r.Replies[0].Kind != "handoff" {
			t.Fatalf("%s: not handed off: %+v", v.conv, r)
		}
	}
	alice := mustAgent(t, g, "alice", "alice-pw")
	claim := func(v *visitor) {
		t.Helper()
		var c struct{ Conv string }
		if code := alice.call("POST", "claim", map[string]string{"conv": v.conv}, &c); code != 200 || c.Conv != v.conv {
			t.Fatalf("claim %s: %d %+v", v.conv, code, c)
		}
	}
	reply := func(v *visitor) {
		t.Helper()
		var r struct{ Delivered bool }
		if code := alice.call("POST", "convs/"+v.conv+"/reply", map[string]string{"text": "您好，马上帮您查", "id": v.conv + "-r"}, &r); code != 200 {
			t.Fatalf("reply %s: %d", v.conv, code)
		}
	}
	closeConv := func(v *visitor) {
		t.Helper()
		var r struct{ Survey string }
		if code := alice.call("POST", "convs/"+v.conv+"/close", map[string]string{}, &r); code != 200 || r.Survey != "sent" {
			t.Fatalf("close %s: %d %+v", v.conv, code, r)
		}
	}
	rate := func(v *visitor, score string) { say(v, map[string]any{"kind": "rating", "choice": score}) }
	m := func(min, sec int) time.Duration {
		return time.Duration(min)*time.Minute + time.Duration(sec)*time.Second
	}

	a, b, c, d, e, f := newVisitor(), newVisitor(), newVisitor(), newVisitor(), newVisitor(), newVisitor()
	at(0)
	ask(a)
	at(m(1, 0))
	ask(b)
	at(m(2, 0))
	ask(c)
	at(m(2, 10))
	human(c)
	at(m(3, 40))
	claim(c)
	at(m(4, 10))
	reply(c)
	at(m(9, 10))
	closeConv(c)
	at(m(10, 0))
	rate(c, "5")
	at(m(11, 0))
	ask(d)
	at(m(11, 10))
	human(d)
	at(m(16, 10))
	claim(d)
	at(m(16, 30))
	// The sweep records D's breach (a background one may have already:
	// either way, once).
	if _, err := srv.Load().queue.SLASweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	at(m(17, 10))
	reply(d)
	at(m(20, 0))
	closeConv(d)
	at(m(21, 0))
	rate(d, "2")
	at(m(22, 0))
	ask(e)
	at(m(22, 10))
	human(e)
	at(m(25, 30))
	say(e, map[string]any{"text": "取消"})
	at(m(26, 0))
	ask(f)
	at(m(26, 10))
	human(f)
	at(m(26, 40))
	claim(f)
	at(m(26, 50))
	reply(f)
	at(m(28, 0))
	closeConv(f)
	at(m(88, 0))
	ask(f) // F2
	at(m(180, 0))
	ask(b) // B2, after an hour idle: B1 is closed now
	at(m(300, 0))
	// The idle sweeper closes A, E, F2 and B2 (also on its own tick).
	if _, err := srv.Load().sweeper.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}

	// The script's figures, worked out by hand from the definitions.
	f64 := func(v float64) *float64 { return &v }
	total := report.Figures{Key: "total", Conversations: 8, BotOnly: 4, Contained: 3, ContainmentRate: f64(3.0 / 8),
		Handoffs: 4, HandoffRate: f64(0.5), Abandoned: 1,
		QueueWaitP50: f64(90), QueueWaitP90: f64(300),
		FirstResponseP50: f64(120), FirstResponseP90: f64(360), FirstResponseMean: f64((120.0 + 360 + 40) / 3),
		Resolved: 8, ResolutionP50: f64(0), ResolutionP90: f64(540), // 0 0 0 0 120 210 430 540
		Reopened: 2, FCRRate: f64(2.0 / 3), SurveysSent: 3, CSATResponses: 2, CSATScore: f64(0.5), CSATMean: f64(3.5),
		ComplaintRate: f64(1.0 / 3),
		// No business hours configured: the same as in calendar time.
		QueueWaitP50BH: f64(90), QueueWaitP90BH: f64(300),
		FirstResponseP50BH: f64(120), FirstResponseP90BH: f64(360), FirstResponseMeanBH: f64((120.0 + 360 + 40) / 3),
		ResolutionP50BH: f64(0), ResolutionP90BH: f64(540),
		// People: C, D and F1, one message each; alice held C 3:40-9:10,
		// D 16:10-20:00, F1 26:40-28:00.
		Handled: 3, AgentMessages: 3, HandlingP50: f64(230), HandlingMean: f64((330.0 + 230 + 80) / 3),
		CSATResponseRate: f64(2.0 / 3),
		// First responses given: C, D (breached), F1; none awaited
		// another; closed while held: C, D, F1.
		SLAFirstResponse: 3, SLAFirstResponseMiss: 1, SLAFirstResponseMet: f64(2.0 / 3),
		SLAResolution: 3, SLAResolutionMet: f64(1),
		HandoffsByReason: map[string]int64{"requested": 4}, HandoffRateByReason: map[string]float64{"requested": 0.5}}
	alicesRow := report.Figures{Key: "alice", Conversations: 3, Handoffs: 3, HandoffRate: f64(1),
		ContainmentRate: f64(0), QueueWaitP50: f64(90), QueueWaitP90: f64(300),
		FirstResponseP50: f64(120), FirstResponseP90: f64(360), FirstResponseMean: f64((120.0 + 360 + 40) / 3),
		Resolved: 3, ResolutionP50: f64(430), ResolutionP90: f64(540), // 120 430 540
		Reopened: 1, FCRRate: f64(2.0 / 3), SurveysSent: 3, CSATResponses: 2, CSATScore: f64(0.5), CSATMean: f64(3.5),
		ComplaintRate:  f64(1.0 / 3),
		QueueWaitP50BH: f64(90), QueueWaitP90BH: f64(300),
		FirstResponseP50BH: f64(120), FirstResponseP90BH: f64(360), FirstResponseMeanBH: f64((120.0 + 360 + 40) / 3),
		ResolutionP50BH: f64(430), ResolutionP90BH: f64(540),
		Handled: 3, AgentMessages: 3, HandlingP50: f64(230), HandlingMean: f64((330.0 + 230 + 80) / 3),
		CSATResponseRate: f64(2.0 / 3),
		SLAFirstResponse: 3, SLAFirstResponseMiss: 1, SLAFirstResponseMet: f64(2.0 / 3),
		SLAResolution: 3, SLAResolutionMet: f64(1),
		HandoffsByReason: map[string]int64{"requested": 3}, HandoffRateByReason: map[string]float64{"requested": 1}}

	run := func(by string) report.Report {
		t.Helper()
		code, out := runKefu(t, "report", "--config", cfg, "--data", data, "--from", "2026-11-03", "--to", "2026-11-03",
			"--by", by, "--json")
		if code != 0 {
			t.Fatalf("kefu report: %d %s", code, out)
		}
		var r report.Report
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return r
	}
	// The archiver is asynchronous: wait until it has everything.
	var got report.Report
	waitFor(t, func() bool {
		got = run("day")
		return got.Total.Resolved == 8 && got.Total.CSATResponses == 2
	})
	within := cmp.Comparer(func(x, y *float64) bool {
		if x == nil || y == nil {
			return x == nil && y == nil
		}
		return math.Abs(*x-*y) <= report.RelativeError*math.Max(math.Abs(*x), math.Abs(*y))+1e-9
	})
	if d := cmp.Diff(total, got.Total, within); d != "" {
		t.Errorf("total (-script +kefu report):\n%s", d)
	}
	dayRow := total
	dayRow.Key = "2026-11-03"
	if len(got.Rows) != 1 || cmp.Diff(dayRow, got.Rows[0], within) != "" {
		t.Errorf("rows by day (-script +kefu report):\n%s", cmp.Diff([]report.Figures{dayRow}, got.Rows, within))
	}
	if got.From != "2026-11-03" || got.To != "2026-11-03" || got.By != "day" || got.TZ != "Asia/Shanghai" {
		t.Errorf("header %q %q %q %q", got.From, got.To, got.By, got.TZ)
	}
	byAgent := run("agent")
	if d := cmp.Diff([]report.Figures{alicesRow}, byAgent.Rows, within); d != "" {
		t.Errorf("by agent (-script +kefu report):\n%s", d)
	}

	// Prometheus: the same conversations, by group and channel.
	resp, err := http.Get(g.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sum := func(prefix string) (n float64) {
		for _, l := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(l, prefix) {
				f := strings.Fields(l)
				v, _ := strconv.ParseFloat(f[len(f)-1], 64)
				n += v
			}
		}
		return n
	}
	for prefix, want := range map[string]float64{
		"kefu_first_response_seconds_count{": 3, "kefu_queue_wait_seconds_count{": 3,
		"kefu_first_response_seconds_sum{": 520, "kefu_queue_wait_seconds_sum{": 420,
		"kefu_surveys_total{": 3, "kefu_ratings_total{": 2} {
		if got := sum(prefix); got != want {
			t.Errorf("/metrics %s… = %v, want %v", prefix, got, want)
		}
	}
	if !strings.Contains(string(body), `channel="web"`) || !strings.Contains(string(body), `score="2"`) {
		t.Errorf("/metrics lacks the channel or score labels:\n%s", grep(string(body), "kefu_ratings_total"))
	}

	// The JSON names are the contract's; a figure without data is null.
	code, out := runKefu(t, "report", "--config", cfg, "--data", data, "--from", "2026-11-04", "--to", "2026-11-04", "--format", "json")
	if code != 0 {
		t.Fatal(out)
	}
	var raw struct {
		Rows  []map[string]any `json:"rows"`
		Total map[string]any   `json:"total"`
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Total) != len(reportColumns)+len(reportMaps)-1 {
		t.Errorf("total has %d fields, want the contract's and the added ones, %d: %v", len(raw.Total),
			len(reportColumns)+len(reportMaps)-1, raw.Total)
	}
	for _, col := range append(slices.Clone(reportColumns), reportMaps...) {
		v, ok := raw.Total[col]
		if !ok {
			t.Errorf("no %q in the JSON", col)
		}
		if strings.HasSuffix(col, "_rate") || strings.HasSuffix(col, "_s") || col == "csat_score" || col == "csat_mean" {
			if v != nil {
				t.Errorf("%s = %v on a day without conversations, want null", col, v)
			}
		}
	}
	// CSV: a header, the day, the total.
	code, out = runKefu(t, "report", "--config", cfg, "--data", data, "--from", "2026-11-03", "--to", "2026-11-03", "--format", "csv")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || lines[0] != strings.Join(reportColumns, ",") || !strings.HasPrefix(lines[2], "total,8,4,3,0.375,4,0.5,1,") {
		t.Errorf("csv: %d\n%s", code, out)
	}
	if code, out := runKefu(t, "report", "--data", filepath.Join(data), "--by", "year"); code == 0 || !strings.Contains(out, "--by") {
		t.Errorf("--by year: %d %s", code, out)
	}
}

// TestBenchReportSmoke: kefu bench report on a small generated SQLite
// archive builds the rollups and reports every generated conversation.
func TestBenchReportSmoke(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "bench.db")
	code, out := runKefu(t, "bench", "report", "--dsn", dsn, "--generate", "200", "--days", "10", "--runs", "1")
	if code != 0 || !strings.Contains(out, "generated 200 conversations over 10 days") ||
		!strings.Contains(out, "rollups built from the events") {
		t.Fatalf("bench report: exit %d\n%s", code, out)
	}
	// Every row reports the conversations of the period: the first day's
	// earliest hours may fall before it in Shanghai.
	for _, by := range []string{"day", "agent"} {
		var line string
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, by+" ") {
				line = l
			}
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			t.Fatalf("no %s line:\n%s", by, out)
		}
		if n, _ := strconv.Atoi(f[2]); n < 170 || n > 200 {
			t.Errorf("%s: %s conversations in the period, want about 200\n%s", by, f[2], out)
		}
	}
}
