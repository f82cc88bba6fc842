package tickets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/conv"
)

// ReopenWriter writes batches through Next and then reopens the solved
// tickets whose customer wrote again within Window of the solve: off the
// conversation path (it reads the lifecycle stream, as the archiver does),
// one query per batch, and durably (a batch is written again until it
// succeeds; a ticket already reopened is left as it is). A survey answer is
// not writing again about the ticket.
type ReopenWriter struct {
	Next   Writer
	Store  *Store
	Window time.Duration // default 24 h
}

// Write implements archiver.Writer.
func (w ReopenWriter) Write(ctx context.Context, batch []archive.Event) error {
	if err := w.Next.Write(ctx, batch); err != nil {
		return err
	}
	window := w.Window
	if window <= 0 {
		window = 24 * time.Hour
	}
	type wrote struct {
		at   time.Time
		conv string
	}
	last := map[string]wrote{}
	for _, e := range batch {
		if e.Type != conv.CustomerMessage {
			continue
		}
		switch e.Fields[conv.EvKind] {
		case "", "media", "human":
		default:
			continue // a rating, a customer leaving, a page opened
		}
		if isRatingText(e.Fields[conv.EvText]) {
			continue
		}
		thread, _, _ := conv.SplitArchiveID(e.Conv)
		if l, ok := last[thread]; !ok || e.At.After(l.at) {
			last[thread] = wrote{e.At, e.Conv}
		}
	}
	if len(last) == 0 {
		return nil
	}
	ph := make([]string, 0, len(last))
	args := make([]any, 0, len(last))
	for c := range last {
		ph = append(ph, "?")
		args = append(args, c)
	}
	s := w.Store
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT id, customer, solved FROM tickets WHERE state = 'solved' AND customer IN (`+
		strings.Join(ph, ",")+`)`), args...)
	if err != nil {
		return fmt.Errorf("tickets: reopen: %w", err)
	}
	type hit struct {
		id   int64
		conv string
	}
	var hits []hit
	for rows.Next() {
		var id, solved int64
		var customer string
		if err := rows.Scan(&id, &customer, &solved); err != nil {
			rows.Close()
			return fmt.Errorf("tickets: reopen: %w", err)
		}
		l := last[customer]
		if at := time.UnixMilli(solved); l.at.After(at) && l.at.Sub(at) <= window {
			hits = append(hits, hit{id, l.conv})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("tickets: reopen: %w", err)
	}
	for _, h := range hits {
		_, err := s.Move(ctx, h.id, Open, "", "customer", "the customer wrote again")
		if errors.Is(err, ErrTransition) {
			continue // reopened (or closed) meanwhile, by a replay or an agent
		}
		if err != nil {
			return err
		}
		if _, err := s.Link(ctx, h.id, h.conv, "customer"); err != nil {
			return err
		}
	}
	return nil
}

// isRatingText is a survey answer typed as a number (WeChat): 1-5, maybe
// followed by a space and a comment.
func isRatingText(text string) bool {
	t := strings.TrimSpace(text)
	if t == "" || t[0] < '1' || t[0] > '5' {
		return false
	}
	return len(t) == 1 || t[1] == ' '
}
