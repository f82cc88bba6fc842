package report

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestPrometheus: the histograms and counters count each conversation
// once as its events are archived (again after a duplicate write: not
// again), by group and channel; a rebuild observes nothing.
func TestPrometheus(t *testing.T) {
	r := mustReporter(t)
	db := mustOpen(t, "sqlite://"+filepath.Join(t.TempDir(), "a.db"), r)
	reg := prometheus.NewRegistry()
	for _, c := range r.Collectors() {
		reg.MustRegister(c)
	}
	rnd := rand.New(rand.NewPCG(3, 3))
	evs := history(rnd, 60)
	// In stream order, as one archiver reads them (events out of order
	// are labelled with what is known of the conversation when it is
	// observed).
	for i := 0; i < len(evs); i += 37 {
		if err := db.Write(context.Background(), evs[i:min(i+37, len(evs))]); err != nil {
			t.Fatal(err)
		}
	}
	raw := rawFigures(t, db)
	type gc struct{ group, channel string }
	firsts, waits, surveys := map[gc]int{}, map[gc]int{}, map[gc]int{}
	ratings := map[[3]string]int{}
	for _, c := range raw {
		k := gc{c.group, c.channel}
		if c.first >= 0 {
			firsts[k]++
		}
		if c.wait >= 0 {
			waits[k]++
		}
		if c.survey {
			surveys[k]++
		}
		if c.rating > 0 {
			ratings[[3]string{c.group, c.channel, strconv.Itoa(c.rating)}]++
		}
	}
	check := func() {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]map[gc]int{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				l := map[string]string{}
				for _, lp := range m.GetLabel() {
					l[lp.GetName()] = lp.GetValue()
				}
				k := gc{l["group"], l["channel"]}
				if got[mf.GetName()] == nil {
					got[mf.GetName()] = map[gc]int{}
				}
				if h := m.GetHistogram(); h != nil {
					got[mf.GetName()][k] += int(h.GetSampleCount())
				}
			}
		}
		for name, want := range map[string]map[gc]int{"kefu_first_response_seconds": firsts, "kefu_queue_wait_seconds": waits} {
			if len(want) == 0 {
				t.Fatalf("the history has no %s", name)
			}
			for k, n := range want {
				if got[name][k] != n {
					t.Errorf("%s%v: %d observations, want %d", name, k, got[name][k], n)
				}
			}
		}
		for k, n := range surveys {
			if v := testutil.ToFloat64(r.prom.surveys.WithLabelValues(k.group, k.channel)); int(v) != n {
				t.Errorf("kefu_surveys_total%v = %v, want %d", k, v, n)
			}
		}
		for k, n := range ratings {
			if v := testutil.ToFloat64(r.prom.ratings.WithLabelValues(k[0], k[1], k[2])); int(v) != n {
				t.Errorf("kefu_ratings_total%v = %v, want %d", k, v, n)
			}
		}
	}
	check()
	if err := db.Write(context.Background(), evs); err != nil { // again
		t.Fatal(err)
	}
	r2, _ := New(Config{Location: shanghai, ReopenWindow: 1}) // a rebuild, then back
	if _, err := r2.Prepare(context.Background(), db, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Prepare(context.Background(), db, nil); err != nil {
		t.Fatal(err)
	}
	check()
}
