// Package report owns the rollup tables (report_facts, report_rollups,
// report_state; their migrations are under archive/migrations, named
// report) and answers reports from them: per day in the configured time
// zone and per dimension (Dimensions: hour, channel, group, agent, intent),
// the conversations' counts, sums and histogram buckets for percentiles.
//
// The rollups are kept as the archive writes: a Reporter is the archive's
// Rollups (archive.WithRollups), so each batch's new events update them in
// the batch's own transaction. A conversation's figures are derived from
// all of its stored events each time some arrive (report_facts keeps what
// was last added for it, so the change is its new figures minus its old):
// an event written twice, events in any order or in separate batches, and
// several archivers at once (conversations and rollup rows are locked in
// one order on PostgreSQL) all give the same rollups. A purge subtracts the
// purged conversations' figures: reports always equal what the archive
// holds.
//
// Each conversation counts in one cohort, the day it started, for every
// figure (a rating given days later counts on the day its conversation
// started). It reads and writes nothing but the archive, and imports only
// archive and conv.
package report

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/conv"
)

// Config sets a Reporter up.
type Config struct {
	// Location is the zone whose days the reports count in (default
	// Asia/Shanghai).
	Location *time.Location
	// ReopenWindow: a closed conversation is reopened when its customer
	// starts the thread's next one within this long after the close
	// (default 24h).
	ReopenWindow time.Duration
	// Hours are the business hours the …_bh_s figures count in
	// (handoff.Calendar over handoff.hours); nil or always open: they equal
	// the calendar-time figures.
	Hours BusinessHours
}

// Reporter keeps the rollups and answers reports.
type Reporter struct {
	cfg  Config
	loc  *time.Location
	prom *promMetrics
	bh   BusinessHours // nil: always open
}

var _ archive.Rollups = (*Reporter)(nil)

// New makes a Reporter; it does no I/O.
func New(cfg Config) (*Reporter, error) {
	if cfg.Location == nil {
		loc, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		cfg.Location = loc
	}
	if cfg.ReopenWindow <= 0 {
		cfg.ReopenWindow = 24 * time.Hour
	}
	r := &Reporter{cfg: cfg, loc: cfg.Location, prom: newPromMetrics()}
	if cfg.Hours != nil && !cfg.Hours.AlwaysOpen() {
		r.bh = cfg.Hours
	}
	return r, nil
}

// Location is the reports' zone.
func (r *Reporter) Location() *time.Location { return r.loc }

// fingerprint names how the rollups are built: another one rebuilds them.
func (r *Reporter) fingerprint() string {
	hours := "always"
	if r.bh != nil {
		hours = r.bh.String()
	}
	return fmt.Sprintf("v%d tz=%s reopen=%s hours=%s", Version, r.loc.String(), r.cfg.ReopenWindow, hours)
}

// rkey is a rollup row's key.
type rkey struct{ dim, day, key string }

func compareRKey(a, b rkey) int {
	if c := strings.Compare(a.dim, b.dim); c != 0 {
		return c
	}
	if c := strings.Compare(a.day, b.day); c != 0 {
		return c
	}
	return strings.Compare(a.key, b.key)
}

// contribute adds sign × f's figures to the rows of its cohort.
func (r *Reporter) contribute(f *facts, into map[rkey]*metrics, sign int64) {
	if f == nil || f.Started == 0 {
		return
	}
	base := f.figures(r.cfg.ReopenWindow, r.bh)
	day := time.UnixMilli(f.Started).In(r.loc).Format(time.DateOnly)
	for _, d := range Dimensions {
		for _, k := range d.Keys(f, r.loc) {
			m := base
			if d.Adjust != nil {
				m = base.clone()
				d.Adjust(f, k, &m)
			}
			rk := rkey{d.Name, day, k}
			acc := into[rk]
			if acc == nil {
				acc = &metrics{}
				into[rk] = acc
			}
			acc.add(m, sign)
		}
	}
}

// chunk bounds the ids of one statement.
const chunk = 300

func chunks[T any](s []T) [][]T {
	var out [][]T
	for len(s) > chunk {
		out = append(out, s[:chunk])
		s = s[chunk:]
	}
	if len(s) > 0 {
		out = append(out, s)
	}
	return out
}

func placeholders(d archive.Dialect, n, per, from int) string {
	var sb strings.Builder
	for i := range n {
		if i > 0 {
			sb.WriteString(", ")
		}
		if per > 1 {
			sb.WriteString("(")
		}
		for j := range per {
			if j > 0 {
				sb.WriteString(", ")
			}
			if d == archive.Postgres {
				sb.WriteString("$" + strconv.Itoa(from+i*per+j+1))
			} else {
				sb.WriteString("?")
			}
		}
		if per > 1 {
			sb.WriteString(")")
		}
	}
	return sb.String()
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// neighbour is the thread's episode ep+delta of an archived conversation id
// ("" when there is none).
func neighbour(id string, delta int) string {
	thread, ep, ok := conv.SplitArchiveID(id)
	if !ok {
		return ""
	}
	n, err := strconv.Atoi(ep)
	if err != nil || n+delta < 1 {
		return ""
	}
	return conv.ArchiveID(thread, strconv.Itoa(n+delta))
}

// Apply brings the rollups up to date with the stored events of convs
// (archive.Rollups; Write calls it in its transaction).
func (r *Reporter) Apply(ctx context.Context, tx *sql.Tx, d archive.Dialect, convs []string) error {
	if err := r.update(ctx, tx, d, convs, nil, true); err != nil {
		return fmt.Errorf("rollups: %w", err)
	}
	return nil
}

// Forget takes convs out of the rollups before a purge deletes them
// (archive.Rollups).
func (r *Reporter) Forget(ctx context.Context, tx *sql.Tx, d archive.Dialect, convs []string) error {
	if err := r.update(ctx, tx, d, nil, convs, false); err != nil {
		return fmt.Errorf("rollups: %w", err)
	}
	return nil
}

// update recomputes the facts of recompute from their events, drops those
// of drop, and changes the rollups by the difference. The episode before
// each of them is locked and updated too: when the next episode starts
// tells whether the customer came back. observe: tell Prometheus what
// became known (not when rebuilding).
func (r *Reporter) update(ctx context.Context, tx *sql.Tx, d archive.Dialect, recompute, drop []string, observe bool) error {
	role := map[string]int{} // 1 recompute, 2 drop, 3 previous episode only
	for _, c := range recompute {
		role[c] = 1
	}
	for _, c := range drop {
		role[c] = 2
	}
	for _, c := range append(slices.Clone(recompute), drop...) {
		if p := neighbour(c, -1); p != "" && role[p] == 0 {
			role[p] = 3
		}
	}
	all := make([]string, 0, len(role))
	for c := range role {
		all = append(all, c)
	}
	slices.Sort(all)

	// Lock the conversations' facts rows, in one order for every writer.
	if d == archive.Postgres && len(recompute) > 0 {
		fresh := slices.Clone(recompute)
		slices.Sort(fresh)
		for _, ch := range chunks(fresh) {
			args := make([]any, 0, 2*len(ch))
			for _, c := range ch {
				args = append(args, c, "")
			}
			stmt := `INSERT INTO report_facts (conv, data) VALUES ` + placeholders(d, len(ch), 2, 0) +
				` ON CONFLICT (conv) DO NOTHING`
			if _, err := tx.ExecContext(ctx, stmt, args...); err != nil {
				return err
			}
		}
	}
	old := map[string]*facts{}
	lock := ""
	if d == archive.Postgres {
		lock = " FOR UPDATE"
	}
	for _, ch := range chunks(all) {
		rows, err := tx.QueryContext(ctx, `SELECT conv, data FROM report_facts WHERE conv IN (`+
			placeholders(d, len(ch), 1, 0)+`) ORDER BY conv`+lock, anys(ch)...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var c, data string
			if err := rows.Scan(&c, &data); err != nil {
				rows.Close()
				return err
			}
			if data != "" {
				var f facts
				if err := json.Unmarshal([]byte(data), &f); err != nil {
					rows.Close()
					return fmt.Errorf("facts of %s: %w", c, err)
				}
				old[c] = &f
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}

	// The recomputed conversations' facts, from all their events.
	newF := map[string]*facts{}
	if len(recompute) > 0 {
		evs := map[string][]event{}
		for _, ch := range chunks(recompute) {
			rows, err := tx.QueryContext(ctx, `SELECT conv, id, type, at, fields FROM events WHERE conv IN (`+
				placeholders(d, len(ch), 1, 0)+`)`, anys(ch)...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var c, fields string
				var e event
				if err := rows.Scan(&c, &e.id, &e.typ, &e.at, &fields); err != nil {
					rows.Close()
					return err
				}
				e.fields = eventFields(fields)
				evs[c] = append(evs[c], e)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		for _, c := range recompute {
			f := factsOf(evs[c])
			newF[c] = &f
		}
	}

	// When each one's next episode started.
	next := map[string]int64{}
	var ask []string
	for _, c := range all {
		s := neighbour(c, 1)
		if s == "" {
			continue
		}
		switch {
		case role[s] == 2:
			next[s] = 0
		case newF[s] != nil:
			next[s] = newF[s].Started
		default:
			ask = append(ask, s)
		}
	}
	for _, ch := range chunks(ask) {
		rows, err := tx.QueryContext(ctx, `SELECT conv, data FROM report_facts WHERE conv IN (`+
			placeholders(d, len(ch), 1, 0)+`)`, anys(ch)...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var c, data string
			if err := rows.Scan(&c, &data); err != nil {
				rows.Close()
				return err
			}
			var f facts
			if data != "" && json.Unmarshal([]byte(data), &f) == nil {
				next[c] = f.Started
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}

	deltas := map[rkey]*metrics{}
	var upserts [][2]string
	var deletes []string
	for _, c := range all {
		var nf *facts
		switch role[c] {
		case 1:
			nf = newF[c]
		case 3:
			if old[c] == nil {
				continue // not archived (yet): its own arrival will look at the next one
			}
			cp := *old[c]
			nf = &cp
		}
		if nf != nil {
			nf.Next = next[neighbour(c, 1)]
		}
		oldJS, newJS := "", ""
		if old[c] != nil {
			b, _ := json.Marshal(old[c])
			oldJS = string(b)
		}
		if nf != nil {
			b, _ := json.Marshal(nf)
			newJS = string(b)
		}
		if oldJS == newJS {
			continue
		}
		r.contribute(old[c], deltas, -1)
		r.contribute(nf, deltas, 1)
		if observe {
			r.prom.observe(old[c], nf)
		}
		if nf == nil {
			deletes = append(deletes, c)
		} else {
			upserts = append(upserts, [2]string{c, newJS})
		}
	}
	for _, ch := range chunks(upserts) {
		args := make([]any, 0, 2*len(ch))
		for _, u := range ch {
			args = append(args, u[0], u[1])
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO report_facts (conv, data) VALUES `+placeholders(d, len(ch), 2, 0)+
			` ON CONFLICT (conv) DO UPDATE SET data = excluded.data`, args...); err != nil {
			return err
		}
	}
	for _, ch := range chunks(deletes) {
		if _, err := tx.ExecContext(ctx, `DELETE FROM report_facts WHERE conv IN (`+placeholders(d, len(ch), 1, 0)+`)`,
			anys(ch)...); err != nil {
			return err
		}
	}
	return r.applyDeltas(ctx, tx, d, deltas)
}

// applyDeltas adds the deltas to the rollup rows, locking them in one
// order (PostgreSQL), and deletes the rows left empty.
func (r *Reporter) applyDeltas(ctx context.Context, tx *sql.Tx, d archive.Dialect, deltas map[rkey]*metrics) error {
	keys := make([]rkey, 0, len(deltas))
	for k, m := range deltas {
		if !m.empty() {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, compareRKey)
	keyArgs := func(ks []rkey) []any {
		args := make([]any, 0, 3*len(ks))
		for _, k := range ks {
			args = append(args, k.dim, k.day, k.key)
		}
		return args
	}
	for _, ch := range chunks(keys) {
		if d == archive.Postgres {
			args := make([]any, 0, 4*len(ch))
			for _, k := range ch {
				args = append(args, k.dim, k.day, k.key, "{}")
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO report_rollups (dim, day, key, data) VALUES `+
				placeholders(d, len(ch), 4, 0)+` ON CONFLICT (dim, day, key) DO NOTHING`, args...); err != nil {
				return err
			}
		}
		lock := ""
		if d == archive.Postgres {
			lock = " ORDER BY dim, day, key FOR UPDATE"
		}
		rows, err := tx.QueryContext(ctx, `SELECT dim, day, key, data FROM report_rollups WHERE (dim, day, key) IN (`+
			placeholders(d, len(ch), 3, 0)+`)`+lock, keyArgs(ch)...)
		if err != nil {
			return err
		}
		cur := map[rkey]*metrics{}
		for rows.Next() {
			var k rkey
			var data string
			if err := rows.Scan(&k.dim, &k.day, &k.key, &data); err != nil {
				rows.Close()
				return err
			}
			m := &metrics{}
			if err := json.Unmarshal([]byte(data), m); err != nil {
				rows.Close()
				return fmt.Errorf("rollup %v: %w", k, err)
			}
			cur[k] = m
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var up []any
		var del []rkey
		nUp := 0
		for _, k := range ch {
			m := cur[k]
			if m == nil {
				m = &metrics{}
			}
			m.add(*deltas[k], 1)
			if m.empty() {
				del = append(del, k)
				continue
			}
			b, err := json.Marshal(m)
			if err != nil {
				return err
			}
			up = append(up, k.dim, k.day, k.key, string(b))
			nUp++
		}
		if nUp > 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO report_rollups (dim, day, key, data) VALUES `+
				placeholders(d, nUp, 4, 0)+` ON CONFLICT (dim, day, key) DO UPDATE SET data = excluded.data`, up...); err != nil {
				return err
			}
		}
		if len(del) > 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM report_rollups WHERE (dim, day, key) IN (`+
				placeholders(d, len(del), 3, 0)+`)`, keyArgs(del)...); err != nil {
				return err
			}
		}
	}
	return nil
}

// Prepare makes the rollups match the archive: on first use, and after a
// change of Version, time zone or reopen window, it rebuilds them from
// every archived event (progress, when set, is told how many conversations
// are read) in one transaction: one pass over the events in conversation
// order, the figures summed in memory. Writers wait meanwhile (on
// PostgreSQL the facts table is locked; their batches apply after it, on
// the rebuilt rows). It reports whether it rebuilt.
func (r *Reporter) Prepare(ctx context.Context, db *archive.DB, progress func(done int)) (bool, error) {
	w, rd := db.SQL()
	d := db.Dialect()
	var have string
	err := rd.QueryRowContext(ctx, `SELECT value FROM report_state WHERE name = 'rollups'`).Scan(&have)
	if err != nil && err != sql.ErrNoRows {
		return false, fmt.Errorf("rollups: %w", err)
	}
	if have == r.fingerprint() {
		return false, nil
	}
	if err := r.rebuild(ctx, w, rd, d, progress); err != nil {
		return false, fmt.Errorf("rebuild rollups: %w", err)
	}
	return true, nil
}

func (r *Reporter) rebuild(ctx context.Context, w, rd *sql.DB, d archive.Dialect, progress func(done int)) error {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmts := []string{`DELETE FROM report_facts`, `DELETE FROM report_rollups`}
	if d == archive.Postgres {
		stmts = append([]string{`LOCK TABLE report_facts IN EXCLUSIVE MODE`}, stmts...)
	}
	for _, stmt := range stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	// Every event, a conversation's together: what writers had applied
	// before the lock, no more (the others apply after the commit).
	rows, err := rd.QueryContext(ctx, `SELECT conv, id, type, at, fields FROM events ORDER BY conv`)
	if err != nil {
		return err
	}
	all := map[string]*facts{}
	var cur string
	var evs []event
	flush := func() {
		if cur != "" {
			f := factsOf(evs)
			all[cur] = &f
			if progress != nil && len(all)%10000 == 0 {
				progress(len(all))
			}
		}
		evs = evs[:0]
	}
	for rows.Next() {
		var c, fields string
		var e event
		if err := rows.Scan(&c, &e.id, &e.typ, &e.at, &fields); err != nil {
			rows.Close()
			return err
		}
		if c != cur {
			flush()
			cur = c
		}
		e.fields = eventFields(fields)
		evs = append(evs, e)
	}
	flush()
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	ids := make([]string, 0, len(all))
	for c, f := range all {
		if n := all[neighbour(c, 1)]; n != nil {
			f.Next = n.Started
		}
		ids = append(ids, c)
	}
	slices.Sort(ids)
	deltas := map[rkey]*metrics{}
	for _, ch := range chunks(ids) {
		args := make([]any, 0, 2*len(ch))
		for _, c := range ch {
			b, err := json.Marshal(all[c])
			if err != nil {
				return err
			}
			args = append(args, c, string(b))
			r.contribute(all[c], deltas, 1)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO report_facts (conv, data) VALUES `+placeholders(d, len(ch), 2, 0), args...); err != nil {
			return err
		}
	}
	if err := r.applyDeltas(ctx, tx, d, deltas); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, archive.Rebind(d, `INSERT INTO report_state (name, value) VALUES ('rollups', ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`), r.fingerprint()); err != nil {
		return err
	}
	if progress != nil {
		progress(len(all))
	}
	return tx.Commit()
}
