package handoff

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestCalendarBetween: business time between two moments equals the
// minutes a minute-by-minute walk finds open, for day windows, overnight
// windows, all-day hours, weekdays only and holidays; and the parts of a
// minute at either end count by the second.
func TestCalendarBetween(t *testing.T) {
	cases := []Hours{
		{Timezone: "Asia/Shanghai", Open: "09:00", Close: "18:00", Days: []time.Weekday{1, 2, 3, 4, 5},
			Holidays: []string{"2026-10-01", "2026-10-02"}},
		{Timezone: "Asia/Shanghai", Open: "20:00", Close: "02:30", Holidays: []string{"2026-10-03"}},
		{Timezone: "Asia/Shanghai", Days: []time.Weekday{0, 6}},
		{Timezone: "Europe/Berlin", Open: "08:15", Close: "17:45"}, // a DST change on 2026-10-25
		{},
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2026, 9, 28, 0, 0, 0, 0, time.UTC)
	for i, h := range cases {
		c, err := NewCalendar(h)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := c.AlwaysOpen(), i == 4; got != want {
			t.Errorf("case %d: always open %v, want %v", i, got, want)
		}
		for range 60 {
			a := base.Add(time.Duration(rnd.IntN(40*24*60)) * time.Minute)
			b := a.Add(time.Duration(rnd.IntN(5*24*60)) * time.Minute)
			var want time.Duration
			for m := a; m.Before(b); m = m.Add(time.Minute) {
				if c.Open(m) {
					want += time.Minute
				}
			}
			if got := c.Between(a, b); got != want {
				t.Fatalf("case %d %s: between %s and %s: %v, want %v", i, c, a, b, got, want)
			}
			// Seconds at the ends: within the same open or closed minutes.
			a2, b2 := a.Add(20*time.Second), b.Add(10*time.Second)
			if b2.After(a2) {
				w2 := want
				if c.Open(a) {
					w2 -= 20 * time.Second
				}
				if c.Open(b) {
					w2 += 10 * time.Second
				}
				if got := c.Between(a2, b2); got != w2 {
					t.Fatalf("case %d: between %s and %s: %v, want %v", i, a2, b2, got, w2)
				}
			}
		}
		if c.Between(base, base) != 0 || c.Between(base.Add(time.Hour), base) != 0 {
			t.Errorf("case %d: an empty or reversed span has business time", i)
		}
	}
	a, _ := NewCalendar(cases[0])
	b, _ := NewCalendar(Hours{Timezone: "Asia/Shanghai", Open: "09:00", Close: "18:00", Days: []time.Weekday{5, 4, 3, 2, 1},
		Holidays: []string{"2026-10-02", "2026-10-01"}})
	if a.String() != b.String() {
		t.Errorf("the same hours named differently: %q %q", a, b)
	}
	if _, err := NewCalendar(Hours{Open: "9"}); err == nil {
		t.Error("bad hours accepted")
	}
}
