package tickets

import (
	"context"
	"strconv"
	"time"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/priority"
)

// Writer stores a batch of archive events (archiver.Writer).
type Writer interface {
	Write(ctx context.Context, batch []archive.Event) error
}

// LowRating says who gets the second-contact tickets of low ratings.
type LowRating struct {
	MaxScore int           // a rating at or below it opens a ticket (default 2)
	Owner    string        // the supervisors' group (default "supervisors")
	Due      time.Duration // due this long after the rating (default 24 h)
}

// RatingWriter writes batches through Next and then opens a second-contact
// ticket for each rated event scored MaxScore or less. The ticket's source
// is the rated event's id (the lifecycle stream's entry id), so a replayed
// batch (at-least-once delivery, another instance that claimed it) opens it
// once. When the ticket cannot be stored, Write fails and the archiver
// writes the batch again (idempotent on the event ids) until it can.
type RatingWriter struct {
	Next  Writer
	Store *Store
	Rule  LowRating
}

// Write implements archiver.Writer.
func (w RatingWriter) Write(ctx context.Context, batch []archive.Event) error {
	if err := w.Next.Write(ctx, batch); err != nil {
		return err
	}
	rule := w.Rule
	if rule.MaxScore == 0 {
		rule.MaxScore = 2
	}
	if rule.Owner == "" {
		rule.Owner = "supervisors"
	}
	if rule.Due == 0 {
		rule.Due = 24 * time.Hour
	}
	for _, e := range batch {
		if e.Type != conv.Rated {
			continue
		}
		score, err := strconv.Atoi(e.Fields[conv.EvScore])
		if err != nil || score < 1 || score > rule.MaxScore {
			continue
		}
		thread, _, _ := conv.SplitArchiveID(e.Conv)
		if _, _, err := w.Store.Create(ctx, NewTicket{
			Source:   "rated:" + e.ID,
			Priority: priority.High,
			Owner:    rule.Owner,
			Due:      e.At.Add(rule.Due),
			Reason:   ReasonLowRating,
			Text:     e.Fields[conv.EvComment],
			Customer: thread,
			Convs:    []string{e.Conv},
			By:       "system",
		}); err != nil {
			return err
		}
	}
	return nil
}
