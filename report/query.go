package report

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/kefu-dev/kefu/archive"
)

// ErrBadQuery: a report asked for with a period or a dimension it cannot
// have.
var ErrBadQuery = errors.New("bad report query")

// The ways a report can be split (Query.By).
const (
	ByDay     = "day"
	ByWeek    = "week" // weeks start on Monday; the key is the Monday
	ByMonth   = "month"
	ByHour    = "hour" // the hour of the day the conversations started, 00-23
	ByChannel = "channel"
	ByGroup   = "group"
	ByAgent   = "agent"
	ByIntent  = "intent"
	ByLabel   = "label" // its wrap-up label and the labels agents put on it (each its row); "" without any
)

// Bys lists the values of Query.By.
var Bys = []string{ByDay, ByWeek, ByMonth, ByHour, ByChannel, ByGroup, ByAgent, ByIntent, ByLabel}

// Query asks for a report.
type Query struct {
	From, To string // YYYY-MM-DD, days in the report's zone, both included
	By       string
}

// Figures are one row of a report (`kefu report --json` prints them:
// keep the names). Rates are 0-1 and times seconds; a figure with nothing
// to compute it from is null.
type Figures struct {
	Key               string   `json:"key"`
	Conversations     int64    `json:"conversations"`
	BotOnly           int64    `json:"bot_only"`
	Contained         int64    `json:"contained"`
	ContainmentRate   *float64 `json:"containment_rate"`
	Handoffs          int64    `json:"handoffs"`
	HandoffRate       *float64 `json:"handoff_rate"`
	Abandoned         int64    `json:"abandoned"`
	QueueWaitP50      *float64 `json:"queue_wait_p50_s"`
	QueueWaitP90      *float64 `json:"queue_wait_p90_s"`
	FirstResponseP50  *float64 `json:"first_response_p50_s"`
	FirstResponseP90  *float64 `json:"first_response_p90_s"`
	FirstResponseMean *float64 `json:"first_response_mean_s"`
	Resolved          int64    `json:"resolved"`
	ResolutionP50     *float64 `json:"resolution_p50_s"`
	ResolutionP90     *float64 `json:"resolution_p90_s"`
	Reopened          int64    `json:"reopened"`
	FCRRate           *float64 `json:"fcr_rate"`
	SurveysSent       int64    `json:"surveys_sent"`
	CSATResponses     int64    `json:"csat_responses"`
	CSATScore         *float64 `json:"csat_score"`
	CSATMean          *float64 `json:"csat_mean"`
	ComplaintRate     *float64 `json:"complaint_rate"`
	// Added after issue 15's contract (additional fields only).
	//
	// In business hours (handoff.hours, holidays): the same durations
	// counting only the time within them.
	QueueWaitP50BH       *float64           `json:"queue_wait_p50_bh_s"`
	QueueWaitP90BH       *float64           `json:"queue_wait_p90_bh_s"`
	FirstResponseP50BH   *float64           `json:"first_response_p50_bh_s"`
	FirstResponseP90BH   *float64           `json:"first_response_p90_bh_s"`
	FirstResponseMeanBH  *float64           `json:"first_response_mean_bh_s"`
	ResolutionP50BH      *float64           `json:"resolution_p50_bh_s"`
	ResolutionP90BH      *float64           `json:"resolution_p90_bh_s"`
	Handled              int64              `json:"handled"` // by people: at least one agent message
	AgentMessages        int64              `json:"agent_messages"`
	TransfersOut         int64              `json:"transfers_out"`
	HandlingP50          *float64           `json:"handling_time_p50_s"`
	HandlingMean         *float64           `json:"handling_time_mean_s"`
	CSATResponseRate     *float64           `json:"csat_response_rate"`
	SLAFirstResponse     int64              `json:"sla_first_response_measured"`
	SLAFirstResponseMiss int64              `json:"sla_first_response_breached"`
	SLAFirstResponseMet  *float64           `json:"sla_first_response_met_rate"`
	SLANextResponse      int64              `json:"sla_next_response_measured"`
	SLANextResponseMiss  int64              `json:"sla_next_response_breached"`
	SLANextResponseMet   *float64           `json:"sla_next_response_met_rate"`
	SLAResolution        int64              `json:"sla_resolution_measured"`
	SLAResolutionMiss    int64              `json:"sla_resolution_breached"`
	SLAResolutionMet     *float64           `json:"sla_resolution_met_rate"`
	HandoffsByReason     map[string]int64   `json:"handoffs_by_reason"`
	HandoffRateByReason  map[string]float64 `json:"handoff_rate_by_reason"`
	FirstResponseSample  int64              `json:"-"`
}

// Report is a report's rows and its total (`kefu report --json`).
type Report struct {
	From  string    `json:"from"`
	To    string    `json:"to"`
	By    string    `json:"by"`
	TZ    string    `json:"tz"`
	Rows  []Figures `json:"rows"`
	Total Figures   `json:"total"`
}

// Report answers q from the rollups: it reads one row per day and key of
// the period, never the events. The total is the period's whole cohort (by
// agent, a conversation two agents served is in both rows and once in the
// total; conversations no agent served are in no agent's row).
func (r *Reporter) Report(ctx context.Context, db *archive.DB, q Query) (*Report, error) {
	if !slices.Contains(Bys, q.By) {
		return nil, fmt.Errorf("%w: by %q: want one of %v", ErrBadQuery, q.By, Bys)
	}
	from, err := time.ParseInLocation(time.DateOnly, q.From, r.loc)
	if err != nil {
		return nil, fmt.Errorf("%w: from %q: want YYYY-MM-DD", ErrBadQuery, q.From)
	}
	to, err := time.ParseInLocation(time.DateOnly, q.To, r.loc)
	if err != nil {
		return nil, fmt.Errorf("%w: to %q: want YYYY-MM-DD", ErrBadQuery, q.To)
	}
	if to.Before(from) {
		return nil, fmt.Errorf("%w: from %s is after to %s", ErrBadQuery, from.Format(time.DateOnly), to.Format(time.DateOnly))
	}
	if to.Sub(from) > 3*366*24*time.Hour {
		return nil, fmt.Errorf("%w: a period of at most 3 years", ErrBadQuery)
	}
	rep := &Report{From: from.Format(time.DateOnly), To: to.Format(time.DateOnly), By: q.By, TZ: r.loc.String(), Rows: []Figures{}}
	dim := q.By
	switch q.By {
	case ByDay, ByWeek, ByMonth:
		dim = "all"
	}
	groups := map[string]*metrics{}
	var keys []string
	put := func(k string) *metrics {
		m := groups[k]
		if m == nil {
			m = &metrics{}
			groups[k] = m
			keys = append(keys, k)
		}
		return m
	}
	// Each row is added to its key's sum as it is read.
	var into func(day, key string) *metrics
	switch q.By {
	case ByDay, ByWeek, ByMonth:
		// Every day, week or month of the period, with data or not.
		period := map[string]string{} // day -> its period's key
		for t := from; !t.After(to); t = t.AddDate(0, 0, 1) {
			k := periodKey(t, q.By)
			put(k)
			period[t.Format(time.DateOnly)] = k
		}
		into = func(day, _ string) *metrics {
			if k, ok := period[day]; ok {
				return groups[k]
			}
			return nil
		}
	case ByHour:
		for h := range 24 {
			put(fmt.Sprintf("%02d", h))
		}
		into = func(_, key string) *metrics { return put(key) }
	default:
		into = func(_, key string) *metrics { return put(key) }
	}
	if err := r.read(ctx, db, dim, rep.From, rep.To, into); err != nil {
		return nil, err
	}
	total := metrics{}
	if dim == "all" { // the period's rows are the whole cohort
		for _, m := range groups {
			total.merge(*m, 1)
		}
	} else if err := r.read(ctx, db, "all", rep.From, rep.To, func(string, string) *metrics { return &total }); err != nil {
		return nil, err
	}
	total.clean()
	rep.Total = figuresOf("total", total, r.bh == nil)

	switch q.By {
	case ByHour:
		slices.Sort(keys)
	case ByDay, ByWeek, ByMonth:
	default:
		slices.SortFunc(keys, func(a, b string) int {
			if c := cmp.Compare(groups[b].C[mConversations], groups[a].C[mConversations]); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
	}
	for _, k := range keys {
		groups[k].clean()
		rep.Rows = append(rep.Rows, figuresOf(k, *groups[k], r.bh == nil))
	}
	return rep, nil
}

func periodKey(t time.Time, by string) string {
	switch by {
	case ByWeek:
		wd := (int(t.Weekday()) + 6) % 7 // Monday 0
		return t.AddDate(0, 0, -wd).Format(time.DateOnly)
	case ByMonth:
		return t.Format("2006-01")
	}
	return t.Format(time.DateOnly)
}

// read adds each rollup row of dim in [from, to] to the sum into returns
// for its day and key (none: the row is left out).
func (r *Reporter) read(ctx context.Context, db *archive.DB, dim, from, to string, into func(day, key string) *metrics) error {
	_, rd := db.SQL()
	rows, err := rd.QueryContext(ctx, archive.Rebind(db.Dialect(),
		`SELECT day, key, data FROM report_rollups WHERE dim = ? AND day >= ? AND day <= ?`), dim, from, to)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer rows.Close()
	var p rowReader
	var day, key string
	var data sql.RawBytes // read before the next row: addTo keeps none of it
	for rows.Next() {
		if err := rows.Scan(&day, &key, &data); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		m := into(day, key)
		if m == nil {
			continue
		}
		if err := p.addTo(data, m); err != nil {
			return fmt.Errorf("report: rollup %s %s %s: %w", dim, day, key, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// figuresOf computes a row's figures from its sums; calendarBH: the
// business-hours figures are the calendar-time ones (always open).
func figuresOf(key string, m metrics, calendarBH bool) Figures {
	c := func(k string) int64 { return m.C[k] }
	ratio := func(a, b int64) *float64 {
		if b <= 0 {
			return nil
		}
		v := float64(a) / float64(b)
		return &v
	}
	pct := func(h string, p float64) *float64 {
		ms, ok := m.H[h].percentile(p)
		if !ok {
			return nil
		}
		v := math.Round(ms) / 1000
		return &v
	}
	f := Figures{Key: key,
		Conversations: c(mConversations), BotOnly: c(mBotOnly), Contained: c(mContained),
		ContainmentRate: ratio(c(mContained), c(mConversations)),
		Handoffs:        c(mHandoffs), HandoffRate: ratio(c(mHandoffs), c(mConversations)),
		Abandoned:    c(mAbandoned),
		QueueWaitP50: pct(hQueueWait, 0.5), QueueWaitP90: pct(hQueueWait, 0.9),
		FirstResponseP50: pct(hFirstResp, 0.5), FirstResponseP90: pct(hFirstResp, 0.9),
		Resolved:      c(mResolved),
		ResolutionP50: pct(hResolution, 0.5), ResolutionP90: pct(hResolution, 0.9),
		Reopened:    c(mReopened),
		FCRRate:     ratio(c(mFCR), c(mClosedHandled)),
		SurveysSent: c(mSurveys), CSATResponses: c(mResponses),
		CSATScore:        ratio(c(mGood), c(mResponses)),
		CSATResponseRate: ratio(c(mResponses), c(mSurveys)),
		ComplaintRate:    ratio(c(mComplaints), c(mHandled)),
		Handled:          c(mHandled), AgentMessages: c(mAgentMessages), TransfersOut: c(mTransfersOut),
	}
	if n := m.H[hFirstResp].count(); n > 0 {
		v := float64(c(mFirstRespSum)) / float64(n) / 1000
		f.FirstResponseMean = &v
		f.FirstResponseSample = n
	}
	if n := c(mResponses); n > 0 {
		v := float64(c(mScoreSum)) / float64(n)
		f.CSATMean = &v
	}
	if calendarBH {
		f.QueueWaitP50BH, f.QueueWaitP90BH = f.QueueWaitP50, f.QueueWaitP90
		f.FirstResponseP50BH, f.FirstResponseP90BH, f.FirstResponseMeanBH = f.FirstResponseP50, f.FirstResponseP90, f.FirstResponseMean
		f.ResolutionP50BH, f.ResolutionP90BH = f.ResolutionP50, f.ResolutionP90
	} else {
		f.QueueWaitP50BH, f.QueueWaitP90BH = pct(hQueueWaitBH, 0.5), pct(hQueueWaitBH, 0.9)
		f.FirstResponseP50BH, f.FirstResponseP90BH = pct(hFirstRespBH, 0.5), pct(hFirstRespBH, 0.9)
		f.ResolutionP50BH, f.ResolutionP90BH = pct(hResolutionBH, 0.5), pct(hResolutionBH, 0.9)
		if n := m.H[hFirstRespBH].count(); n > 0 {
			v := float64(c(mFirstRespBHSum)) / float64(n) / 1000
			f.FirstResponseMeanBH = &v
		}
	}
	f.HandlingP50 = pct(hHandling, 0.5)
	if n := m.H[hHandling].count(); n > 0 {
		v := float64(c(mHandlingSum)) / float64(n) / 1000
		f.HandlingMean = &v
	}
	f.SLAFirstResponse, f.SLAFirstResponseMiss = c(mSLA(TargetFirstResponse, "m")), c(mSLA(TargetFirstResponse, "b"))
	f.SLAFirstResponseMet = ratio(f.SLAFirstResponse-f.SLAFirstResponseMiss, f.SLAFirstResponse)
	f.SLANextResponse, f.SLANextResponseMiss = c(mSLA(TargetNextResponse, "m")), c(mSLA(TargetNextResponse, "b"))
	f.SLANextResponseMet = ratio(f.SLANextResponse-f.SLANextResponseMiss, f.SLANextResponse)
	f.SLAResolution, f.SLAResolutionMiss = c(mSLA(TargetResolution, "m")), c(mSLA(TargetResolution, "b"))
	f.SLAResolutionMet = ratio(f.SLAResolution-f.SLAResolutionMiss, f.SLAResolution)
	f.HandoffsByReason = map[string]int64{}
	f.HandoffRateByReason = map[string]float64{}
	for k, n := range m.C {
		if r, ok := strings.CutPrefix(k, "reason:"); ok && n > 0 {
			f.HandoffsByReason[r] = n
			f.HandoffRateByReason[r] = float64(n) / float64(c(mConversations))
		}
	}
	return f
}
