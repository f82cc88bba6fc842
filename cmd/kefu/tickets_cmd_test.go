package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/priority"
	"github.com/kefu-dev/kefu/tickets"
)

// `kefu tickets list --json` prints the contract, exactly these
// keys, and --state filters.
func TestTicketsListJSON(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db, err := archive.Open(ctx, filepath.Join(dir, "archive.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 3, 23, 0, 0, 0, time.UTC)
	s := tickets.New(db, func() time.Time { return at })
	a, _, err := s.Create(ctx, tickets.NewTicket{Reason: tickets.ReasonLeaveMessage, Department: "after_sales", Priority: priority.High,
		Due: at.Add(10 * time.Hour), Text: "订单 2026120312345 没收到，电话 13800138000", Customer: "telegram:42", Convs: []string{"telegram:42#1"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := s.Create(ctx, tickets.NewTicket{Reason: tickets.ReasonAgent, Owner: "alice"})
	if _, err := s.Move(ctx, b.ID, tickets.Solved, "", "alice", ""); err != nil {
		t.Fatal(err)
	}
	db.Close()

	code, out := runKefu(t, "tickets", "list", "--data", dir, "--state", "open", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	var raw struct {
		Tickets []map[string]any `json:"tickets"`
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(raw.Tickets) != 1 {
		t.Fatalf("open tickets: %s", out)
	}
	var keys []string
	for k := range raw.Tickets[0] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"conv", "created", "customer", "department", "due", "id", "owner", "priority", "reason", "state", "text"}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	got := raw.Tickets[0]
	if got["id"] != float64(a.ID) || got["state"] != "open" || got["priority"] != "high" || got["department"] != "after_sales" ||
		got["due"] != "2026-12-04T09:00:00Z" || got["conv"] != "telegram:42#1" || got["customer"] != "telegram:42" ||
		got["created"] != "2026-12-03T23:00:00Z" || got["reason"] != "leave_message" || got["text"] != a.Text {
		t.Fatalf("ticket %v", got)
	}
	code, out = runKefu(t, "tickets", "list", "--data", dir, "--state", "solved")
	if code != 0 || !strings.Contains(out, "solved") || strings.Contains(out, "leave_message") {
		t.Fatalf("solved table: exit %d\n%s", code, out)
	}
	if code, out = runKefu(t, "tickets", "list", "--data", dir, "--state", "lost"); code == 0 || !strings.Contains(out, "--state") {
		t.Fatalf("bad state: exit %d %s", code, out)
	}
}
