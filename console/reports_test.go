package console

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/internal/testkit"
	"github.com/kefu-dev/kefu/report"
)

// dbReports is the console's Reports over an archive, as cmd/kefu wires it.
type dbReports struct {
	r  *report.Reporter
	db *archive.DB
}

func (d dbReports) Report(ctx context.Context, q report.Query) (*report.Report, error) {
	return d.r.Report(ctx, d.db, q)
}

// mustReportsEnv is a console env whose reports count archiveFixture.
func mustReportsEnv(tb testing.TB) *env {
	tb.Helper()
	loc, _ := time.LoadLocation("Asia/Shanghai")
	rep, err := report.New(report.Config{Location: loc})
	if err != nil {
		tb.Fatal(err)
	}
	db, err := archive.Open(context.Background(), "sqlite://"+filepath.Join(tb.TempDir(), "archive.db"), nil, archive.WithRollups(rep))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := rep.Prepare(context.Background(), db, nil); err != nil {
		tb.Fatal(err)
	}
	var evs []archive.Event
	for _, a := range archiveFixture {
		evs = append(evs, a.events()...)
	}
	evs = append(evs, julyFixture()...)
	if err := db.Write(context.Background(), evs); err != nil {
		tb.Fatal(err)
	}
	return MustEnvDeps(tb, nil, func(d *Deps) { d.Archive = db; d.Reports = dbReports{rep, db} })
}

// julyFixture is three conversations in July 2024 (Shanghai), a minute
// apart each step, for the hand-off reasons, the agents' figures and the
// service levels:
//
//	visitor4: 0 hand-off (low_confidence, pre_sales), 1 alice claims, 2 misses
//	          its first-response target (alice holds it), 3 alice replies, 4
//	          the customer writes, 5 alice answers, 6 transfers to bob, 7 bob
//	          writes, 8 bob closes, 9 rated 5
//	visitor5: 0 hand-off (complaint, after_sales), 1 carol claims, 2 replies,
//	          3 closes, 4 rated 2
//	visitor6: 0 hand-off (requested, after_sales), 1 misses its first-response
//	          target waiting, 2 carol claims, 3 replies, 4 closes
func julyFixture() []archive.Event {
	var evs []archive.Event
	for i, steps := range [][][]string{
		{{conv.Handoff, conv.EvReason, "low_confidence", conv.EvGroup, "pre_sales"}, {conv.Claimed, conv.EvAgent, "alice"},
			{conv.SLABreached, conv.EvTarget, "first_response", conv.EvAgent, "alice"},
			{conv.AgentMessage, conv.EvAgent, "alice"}, {conv.CustomerMessage, conv.EvText, "在吗"},
			{conv.AgentMessage, conv.EvAgent, "alice"}, {conv.Transfer, conv.EvFrom, "alice", conv.EvTo, "bob"},
			{conv.AgentMessage, conv.EvAgent, "bob"}, {conv.Closed, conv.EvBy, "bob"}, {conv.Rated, conv.EvScore, "5"}},
		{{conv.Handoff, conv.EvReason, "complaint", conv.EvGroup, "after_sales"}, {conv.Claimed, conv.EvAgent, "carol"},
			{conv.AgentMessage, conv.EvAgent, "carol"}, {conv.Closed, conv.EvBy, "carol"}, {conv.Rated, conv.EvScore, "2"}},
		{{conv.Handoff, conv.EvReason, "requested", conv.EvGroup, "after_sales"},
			{conv.SLABreached, conv.EvTarget, "first_response", conv.EvAgent, ""}, {conv.Claimed, conv.EvAgent, "carol"},
			{conv.AgentMessage, conv.EvAgent, "carol"}, {conv.Closed, conv.EvBy, "carol"}},
	} {
		thread := fmt.Sprintf("web:visitor%d", 4+i)
		id := conv.ArchiveID(thread, "1")
		start := time.Date(2024, 7, 10+i, 2, 0, 0, 0, time.UTC)
		evs = append(evs, archive.Event{ID: fmt.Sprintf("%d-0", start.UnixMilli()), Type: conv.Started, Conv: id, At: start,
			Fields: map[string]string{conv.EvCustomer: thread, conv.EvChannel: "web"}})
		for j, st := range steps {
			at := start.Add(time.Duration(j) * time.Minute)
			f := map[string]string{}
			for k := 1; k+1 < len(st); k += 2 {
				f[st[k]] = st[k+1]
			}
			evs = append(evs, archive.Event{ID: fmt.Sprintf("%d-%d", at.UnixMilli(), j+1), Type: st[0], Conv: id, At: at, Fields: f})
		}
	}
	return evs
}

// TestReportsAPI: supervisors read reports (the CLI's JSON), agents may
// not, a bad period is a 400.
func TestReportsAPI(t *testing.T) {
	e := mustReportsEnv(t)
	var r report.Report
	e.signedIn(t, "sup").must("GET", "reports?from=2024-01-01&to=2024-06-30&by=agent", nil, &r)
	if r.Total.Conversations != 5 || len(r.Rows) != 3 || r.By != "agent" || r.TZ != "Asia/Shanghai" {
		t.Errorf("report %+v", r)
	}
	// July: hand-off reasons, the agents' figures, the service levels.
	var j report.Report
	e.signedIn(t, "sup").must("GET", "reports?from=2024-07-01&to=2024-07-31&by=agent", nil, &j)
	type agentFigures struct {
		Key                                            string
		Handled, Messages, TransfersOut                int64
		HandlingMean                                   float64
		FirstMeasured, FirstBreached, Next, Resolution int64
	}
	var rows []agentFigures
	for _, f := range j.Rows {
		rows = append(rows, agentFigures{f.Key, f.Handled, f.AgentMessages, f.TransfersOut, deref(f.HandlingMean),
			f.SLAFirstResponse, f.SLAFirstResponseMiss, f.SLANextResponse, f.SLAResolution})
	}
	want := []agentFigures{{"carol", 2, 2, 0, 120, 2, 1, 0, 2}, {"alice", 1, 2, 1, 300, 1, 1, 1, 0}, {"bob", 1, 1, 0, 120, 0, 0, 0, 1}}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("July by agent:\n got %v\nwant %v", rows, want)
	}
	tot := j.Total
	if fmt.Sprint(tot.HandoffsByReason) != "map[complaint:1 low_confidence:1 requested:1]" ||
		tot.SLAFirstResponse != 3 || tot.SLAFirstResponseMiss != 2 || deref(tot.SLAFirstResponseMet) != 1.0/3 ||
		tot.SLANextResponse != 1 || deref(tot.SLANextResponseMet) != 1 || tot.SLAResolution != 3 || tot.TransfersOut != 1 {
		t.Errorf("July's total: %+v", tot)
	}
	e.signedIn(t, "alice").refused("GET", "reports?from=2024-01-01&to=2024-06-30&by=day", nil, 403, "forbidden")
	e.signedIn(t, "sup").refused("GET", "reports?from=2024-07-01&to=2024-06-30&by=day", nil, 400, "bad_request")
}

// TestBrowserReports: a supervisor opens the Reports page in Chinese, sees
// its line and bar charts drawn from the archive's figures and the table,
// and downloads the table as CSV.
func TestBrowserReports(t *testing.T) {
	e := mustReportsEnv(t)
	bctx := MustBrowser(t)
	ctx, cancel := context.WithTimeout(bctx, 150*time.Second)
	defer cancel()
	eval := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return s
	}
	waitFor := func(what, js, want string) {
		t.Helper()
		for {
			got, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
			if err == nil && got == want {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("%s: %q, want %q (%v)", what, got, want, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	dir := t.TempDir()
	if err := chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir})
			return err
		}),
		chromedp.Navigate(e.srv.URL+"/console/"),
		chromedp.WaitVisible(chromedp.CSS("#signin-id")),
		chromedp.SendKeys(chromedp.CSS("#signin-id"), "sup"),
		chromedp.SendKeys(chromedp.CSS("#signin-password"), testPassword),
		chromedp.Click(chromedp.CSS("#signin-btn")),
		chromedp.WaitVisible(chromedp.CSS("#reports-link")),
		chromedp.Click(chromedp.CSS("#reports-link")),
		chromedp.WaitVisible(chromedp.CSS("#rp-form")),
	); err != nil {
		t.Fatal(err)
	}
	waitFor("the first report", `document.body.dataset.state`, "ready")
	// The period and dimension pickers.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#rp-from"), "2024-01-01"),
		chromedp.SetValue(chromedp.CSS("#rp-to"), "2024-06-30"),
		chromedp.SetValue(chromedp.CSS("#rp-by"), "week"),
		chromedp.Click(chromedp.CSS("#rp-go")),
	); err != nil {
		t.Fatal(err)
	}
	waitFor("the period's report", `document.body.dataset.state + ' ' + Chart.getChart('chart-conversations').data.labels[0]`, "ready 2024-01-01")
	// At a desktop's and a phone's width nothing sticks out sideways, once
	// the charts have followed the window (KEFU_SCREENSHOTS: the README's
	// screenshots).
	testkit.LookAt(t, ctx, "console-reports", func() {
		waitFor("the charts resized", `String([...document.querySelectorAll('canvas')].every((c) => c.getBoundingClientRect().right <= document.documentElement.clientWidth + 1))`, "true")
	})
	// Line charts over time: the conversations sum to the archive's five,
	// one week per point; the containment, first response and CSAT
	// charts have their series.
	if got := eval(`String(Chart.getChart('chart-conversations').data.datasets[0].data.reduce((a, b) => a + b, 0))`); got != "5" {
		t.Errorf("conversations charted: %s, want 5", got)
	}
	if got := eval(`String(Chart.getChart('chart-conversations').data.labels.length)`); got != "26" {
		t.Errorf("%s weeks charted, want 26 (Monday 2024-01-01 to Sunday 2024-06-30)", got)
	}
	if got := eval(`Chart.getChart('chart-frt').data.datasets.map((d) => d.label + ':' + d.data.filter((v) => v !== null).length).join(' ')`); got != "中位数:4 90 分位:4" {
		t.Errorf("first response series: %s", got)
	}
	if got := eval(`String(Chart.getChart('chart-csat').data.datasets[0].data.filter((v) => v !== null).length)`); got != "3" {
		t.Errorf("CSAT points: %s, want the 3 weeks with ratings", got)
	}
	if got := eval(`String(Chart.getChart('chart-containment').data.datasets[0].data.filter((v) => v !== null).length)`); got != "5" {
		t.Errorf("containment points: %s, want the 5 weeks with conversations", got)
	}
	// Bars by channel, group and agent.
	if got := eval(`Chart.getChart('bar-agent').data.labels.join(' ') + '|' + Chart.getChart('bar-agent').data.datasets[0].data.join(' ')`); got != "carol alice bob|2 1 1" {
		t.Errorf("agents' bars: %s", got)
	}
	if got := eval(`Chart.getChart('bar-group').data.labels.join(' ')`); got != "after_sales pre_sales （无）" {
		t.Errorf("groups' bars: %s", got)
	}
	if got := eval(`Chart.getChart('bar-channel').data.labels.join(' ')`); got != "网页" {
		t.Errorf("channels' bars: %s", got)
	}
	// The table, in Chinese, with its total.
	if got := eval(`document.querySelector('#rp-table thead').textContent`); !strings.Contains(got, "会话") || !strings.Contains(got, "首次解决率") {
		t.Errorf("table header %q", got)
	}
	if got := eval(`Array.from(document.querySelectorAll('#rp-table tr.total td')).slice(0, 2).map((td) => td.textContent).join(' ')`); got != "合计 5" {
		t.Errorf("total row %q", got)
	}
	// CSV export of the table. (A mouse click lands where the button was
	// before the charts above it were laid out; the button's own click is
	// what a user's does.)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](`document.getElementById('csv-table').click()`)); err != nil {
		t.Fatal(err)
	}
	waitFor("the CSV made", `document.body.dataset.csv || ''`, "table")
	// The download lands in dir under a GUID; poll for it complete.
	download := func(dir string) []byte {
		t.Helper()
		for {
			ents, _ := os.ReadDir(dir)
			if len(ents) == 1 && !strings.HasSuffix(ents[0].Name(), ".crdownload") {
				if b, _ := os.ReadFile(filepath.Join(dir, ents[0].Name())); len(b) > 0 {
					return b
				}
			}
			if ctx.Err() != nil {
				t.Fatalf("no CSV downloaded into %s: %v", dir, ents)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	b := download(dir)
	if !bytes.HasPrefix(b, []byte("\ufeff按周,会话,仅机器人,")) {
		t.Errorf("CSV header: %q", firstLine(b))
	}
	// The columns added to the contract's: business hours, the agents'
	// figures, service levels, hand-off reasons.
	for _, col := range []string{"首响 P50（工作时间）", "处理时长均值", "转出", "首响达标率", "解决达标率", "转人工原因"} {
		if !strings.Contains(firstLine(b), ","+col) {
			t.Errorf("CSV header lacks %s: %q", col, firstLine(b))
		}
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\r\n")
	if len(lines) != 28 || !strings.HasPrefix(lines[len(lines)-1], "合计,5,1,") || !strings.HasPrefix(lines[1], "2024-01-01,0,0,0,,0,,0") {
		t.Errorf("CSV: %d lines, first row %q, last %q", len(lines), lines[1], lines[len(lines)-1])
	}

	// July, by agent: hand-offs by reason (named in Chinese from the
	// console's messages), service levels per target, the agents' table.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#rp-from"), "2024-07-01"),
		chromedp.SetValue(chromedp.CSS("#rp-to"), "2024-07-31"),
		chromedp.SetValue(chromedp.CSS("#rp-by"), "agent"),
		chromedp.Click(chromedp.CSS("#rp-go")),
	); err != nil {
		t.Fatal(err)
	}
	waitFor("July's report", `document.body.dataset.state + ' ' + Chart.getChart('chart-conversations').data.labels[0]`, "ready 2024-07-01")
	if got := eval(`Chart.getChart('bar-reason').data.labels.join(' ') + '|' + Chart.getChart('bar-reason').data.datasets[0].data.join(' ')`); got != "投诉 机器人无法回答 客户要求人工|1 1 1" {
		t.Errorf("reasons' bars: %s", got)
	}
	if got := eval(`Chart.getChart('bar-sla').data.labels.join(' ') + '|' + Chart.getChart('bar-sla').data.datasets[0].data.map((v) => v.toFixed(3)).join(' ')`); got != "首次响应 后续响应 解决|0.333 1.000 1.000" {
		t.Errorf("service levels' bars: %s", got)
	}
	row := func(table, key string) string {
		t.Helper()
		return eval(`Array.from(document.querySelectorAll('#` + table + ` tbody tr')).filter((tr) => tr.cells[0].textContent === '` + key +
			`').map((tr) => Array.from(tr.cells).slice(1).filter((td) => td.dataset.col !== 'first_response_p50_s' && td.dataset.col !== 'handling_time_p50_s').map((td) => td.textContent).join(' ')).join('')`)
	}
	// handled, messages, handling mean, responses, CSAT share, mean, transfers out, first/next/resolution met
	for key, want := range map[string]string{"alice": "1 2 300 1 1 5 1 0 1 —", "bob": "1 1 120 1 1 5 0 — — 1",
		"carol": "2 2 120 1 0 2 0 0.5 — 1"} {
		if got := row("rp-agents", key); got != want {
			t.Errorf("agents' table, %s: %q, want %q", key, got, want)
		}
	}
	if got := eval(`document.querySelector('#rp-agents thead').textContent`); !strings.Contains(got, "处理时长均值") || !strings.Contains(got, "转出") {
		t.Errorf("agents' table header %q", got)
	}
	// By group: measured, breached, met for each target.
	if got, want := row("rp-sla", "合计"), "3 2 0.333 1 0 1 3 0 1"; got != want {
		t.Errorf("service levels' total: %q, want %q", got, want)
	}
	if got, want := row("rp-sla", "after_sales"), "2 1 0.5 0 0 — 2 0 1"; got != want {
		t.Errorf("service levels of after_sales: %q, want %q", got, want)
	}
	if got, want := row("rp-reasons", "机器人无法回答"), "1 0.333"; got != want {
		t.Errorf("reasons' table: %q, want %q", got, want)
	}
	dir2 := t.TempDir()
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir2})
		return err
	})); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](`document.getElementById('csv-agents').click()`)); err != nil {
		t.Fatal(err)
	}
	b = download(dir2)
	lines = strings.Split(strings.TrimSpace(string(b)), "\r\n")
	if len(lines) != 5 || lines[0] != "\ufeff按客服,人工接待,客服消息,首响 P50,处理时长 P50,处理时长均值,评价数,满意率,平均分,转出,首响达标率,续响达标率,解决达标率" ||
		!strings.HasPrefix(lines[2], "alice,1,2,") || !strings.HasSuffix(lines[2], ",300,1,1,5,1,0,1,") {
		t.Errorf("agents' CSV:\n%s", strings.Join(lines, "\n"))
	}
}

func deref(v *float64) float64 {
	if v == nil {
		return -1
	}
	return *v
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}
