package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/internal/testkit"
	"github.com/kefu-dev/kefu/internal/testkit/sampletest"
)

type apiReply struct {
	Duplicate bool           `json:"duplicate"`
	Status    string         `json:"status"`
	Replies   []bot.Outbound `json:"replies"`
}

// post sends a JSON body with the visitor's token and decodes the answer.
func post(t *testing.T, url, token string, body, out any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("POST %s: %d: %v", url, resp.StatusCode, err)
	}
	return resp.StatusCode
}

// TestDuplicateStatus: a retried message id is answered "in_progress" (202,
// no replies) while another instance's delivery holds it, and "answered"
// with the replies recorded for it once it is done: here by the recoverer
// after that instance died. Before, both were {"duplicate": true,
// "replies": []} and the client took the message for answered.
func TestDuplicateStatus(t *testing.T) {
	rdb := testkit.Redis(t, 0)
	prefix := testkit.PrefixOn(t, rdb)
	clk := testkit.NewClock(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	lease := 10 * time.Second
	store := bot.NewStore(rdb, prefix, bot.WithClock(clk.Now), bot.WithLease(lease))
	eng := &bot.Engine{Store: store, Matcher: sampletest.Live(t).Matcher, Texts: bot.DefaultTexts()}
	a := New(Config{MaxMessageLen: 500, Secret: "0123456789abcdef0123456789abcdef",
		Texts: bot.DefaultTexts()}, eng, store, rdb, prefix, nil)
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	var s struct{ Token, User string }
	if code := post(t, srv.URL+"/api/session", "", map[string]string{}, &s); code != 200 || s.Token == "" {
		t.Fatalf("session: %d %+v", code, s)
	}
	say := func(id string) (int, apiReply) {
		t.Helper()
		var r apiReply
		code := post(t, srv.URL+"/api/messages", s.Token, map[string]string{"id": id, "text": "快递到哪了"}, &r)
		return code, r
	}

	// Answered on the first try: a retry gets the same replies.
	code, first := say("m1")
	if code != 200 || first.Duplicate || len(first.Replies) != 1 || first.Replies[0].Intent != "logistics_track" {
		t.Fatalf("first try: %d %+v", code, first)
	}
	code, again := say("m1")
	if code != 200 || !again.Duplicate || again.Status != statusAnswered {
		t.Fatalf("retry of an answered message: %d %+v, want 200 answered", code, again)
	}
	if diff := cmp.Diff(first.Replies, again.Replies); diff != "" {
		t.Errorf("retry's replies (-first +retry):\n%s", diff)
	}

	// Another instance claimed m2 and died before answering.
	dead := bot.NewStore(rdb, prefix, bot.WithClock(clk.Now), bot.WithLease(lease))
	if _, err := dead.Claim(ctx, bot.Message{Channel: Name, User: s.User, ID: messageID(s.User, "m2"), Text: "快递到哪了"}); err != nil {
		t.Fatal(err)
	}
	code, r := say("m2")
	if code != http.StatusAccepted || !r.Duplicate || r.Status != statusInProgress || r.Replies == nil || len(r.Replies) != 0 {
		t.Fatalf("retry within the dead instance's lease: %d %+v, want 202 in_progress, replies []", code, r)
	}
	// After the lease this instance's recoverer answers it, with no retry.
	var (
		mu        sync.Mutex
		delivered []bot.Outbound
	)
	rec := bot.NewRecoverer(eng, bot.RecovererConfig{Deliver: func(ctx context.Context, o bot.Outbound) error {
		mu.Lock()
		delivered = append(delivered, o)
		mu.Unlock()
		return a.Send(ctx, o)
	}})
	clk.Advance(lease)
	if n, err := rec.Tick(ctx); n != 1 || err != nil {
		t.Fatalf("recoverer: %d %v, want the message finished", n, err)
	}
	code, r = say("m2")
	if code != 200 || !r.Duplicate || r.Status != statusAnswered || len(r.Replies) != 1 || r.Replies[0].Intent != "logistics_track" {
		t.Fatalf("retry after the recovery: %d %+v, want 200 answered with the answer", code, r)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(delivered, r.Replies); diff != "" {
		t.Errorf("replies (-delivered +retry):\n%s", diff)
	}
	es, err := a.entries(ctx, s.User, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Dir+":"+e.MsgID)
	}
	if diff := cmp.Diff([]string{"in:m1", "out:", "in:m2", "out:"}, got); diff != "" {
		t.Errorf("transcript (-want +got):\n%s", diff)
	}
}
