package console

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/kefu-dev/kefu/archive"
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
	if err := db.Write(context.Background(), evs); err != nil {
		tb.Fatal(err)
	}
	return MustEnvDeps(tb, nil, func(d *Deps) { d.Archive = db; d.Reports = dbReports{rep, db} })
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
	var b []byte
	for {
		ents, _ := os.ReadDir(dir)
		if len(ents) == 1 && !strings.HasSuffix(ents[0].Name(), ".crdownload") {
			if b, _ = os.ReadFile(filepath.Join(dir, ents[0].Name())); len(b) > 0 {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("no CSV downloaded into %s: %v", dir, ents)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !bytes.HasPrefix(b, []byte("\ufeff按周,会话,仅机器人,")) {
		t.Errorf("CSV header: %q", firstLine(b))
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\r\n")
	if len(lines) != 28 || !strings.HasPrefix(lines[len(lines)-1], "合计,5,1,") || !strings.HasPrefix(lines[1], "2024-01-01,0,0,0,,0,,0") {
		t.Errorf("CSV: %d lines, first row %q, last %q", len(lines), lines[1], lines[len(lines)-1])
	}
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}
