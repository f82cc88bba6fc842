package handoff

import "time"

// Location is the zone of the business hours (handoff.hours.timezone).
func (q *Queue) Location() *time.Location { return q.hours.loc }

// AddOpen is t plus d counted in business hours only (nights, closed days
// and holidays stop the clock): a left message's due time.
func (q *Queue) AddOpen(t time.Time, d time.Duration) time.Time { return q.hours.addOpen(t, d) }
