package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/internal/testkit"
)

// TestServeRecoversOrphan: a message claimed by an instance that died
// before answering (its lease long over) is answered by a running gateway's
// recoverer with no retry from the customer, and pushed to the page's
// transcript; a retry of it then gets that answer.
func TestServeRecoversOrphan(t *testing.T) {
	prefix := mustRedisEnv(t)
	cfg := filepath.Join(t.TempDir(), "kefu.yaml")
	os.WriteFile(cfg, []byte("bot:\n  recover_every: 20ms\n"), 0o644)
	g := mustServe(t, "--config", cfg)
	var s struct{ Token, User string }
	if code := doJSON(t, "POST", g.URL+"/api/session", "", nil, &s); code != 200 || s.User == "" {
		t.Fatalf("session: %d %+v", code, s)
	}
	c := &customer{t: t, base: g.URL, token: s.Token}
	// The dead instance's clock: its claim's lease ended an hour ago.
	dead := bot.NewStore(testkit.Redis(t, 0), prefix, bot.WithClock(func() time.Time { return time.Now().Add(-time.Hour) }))
	if _, err := dead.Claim(context.Background(), bot.Message{Channel: "web", User: s.User, ID: s.User + ":o1", Text: "快递到哪了"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second) // a bound against hanging, not a timed assertion
	var kinds []string
	for {
		kinds = kinds[:0]
		for _, e := range c.history("") {
			kinds = append(kinds, e.Dir+":"+e.Kind+":"+e.MsgID)
		}
		if len(kinds) > 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got, want := strings.Join(kinds, " "), "in::o1 out:answer:"; got != want {
		t.Fatalf("transcript %q, want %q (answered by the recoverer)\n%s", got, want, g.logs.String())
	}
	code, r := c.say("o1", map[string]any{"text": "快递到哪了"})
	if code != 200 || !r.Duplicate || r.Status != "answered" || len(r.Replies) != 1 || r.Replies[0].Intent != "logistics_track" {
		t.Errorf("retry after the recovery: %d %+v, want the recorded answer", code, r)
	}
	if !strings.Contains(g.logs.String(), "orphaned message finished") {
		t.Errorf("no log line for the recovery:\n%s", g.logs.String())
	}
}
