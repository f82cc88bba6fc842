package web

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/coder/websocket/wsjson"

	"github.com/kefu-dev/kefu/internal/realip"
)

// TestTokenLifetime: a token carries its issue time; one due for refresh is
// replaced when used (API header, session, WebSocket), on either instance;
// one older than the ttl is refused and the page starts a new visitor.
func TestTokenLifetime(t *testing.T) {
	c := mustCluster(t, Limits{}, nil, func(cfg *Config) { cfg.TokenTTL, cfg.TokenRefresh = 30*24*time.Hour, 24*time.Hour })
	t0, user := c.mustSession(0, "")
	// Young: used as is, nothing new.
	if code, _, h := c.say(1, "", t0, "a", map[string]any{"text": "你好"}); code != 200 || h.Get(tokenHeader) != "" {
		t.Fatalf("young token: %d, refreshed %q", code, h.Get(tokenHeader))
	}
	if _, got, _ := c.session(1, "", t0); got != t0 {
		t.Errorf("session with a young token returned another token")
	}
	// Older than the refresh age: the answer carries a fresh token.
	c.clock.Advance(25 * time.Hour)
	code, _, h := c.say(0, "", t0, "b", map[string]any{"text": "你好"})
	t1 := h.Get(tokenHeader)
	if code != 200 || t1 == "" || t1 == t0 {
		t.Fatalf("old token: %d, refreshed %q", code, t1)
	}
	if tk, ok := verify(c.inst[1].signingSecret(), t1); !ok || tk.id != user || !tk.iat.Equal(c.clock.Now().Truncate(time.Second)) {
		t.Fatalf("refreshed token %+v %v: want the same visitor issued now", tk, ok)
	}
	if _, got, u := c.session(1, "", t0); got == t0 || u != user {
		t.Errorf("session with an old token: %q for %s, want a fresh one for %s", got, u, user)
	}
	// The socket's first frame replaces a token due for refresh.
	conn, f := c.dialFirst(0, t0)
	if conn == nil || f.Type != "token" || f.Token == "" {
		t.Errorf("socket with an old token: first frame %+v", f)
	}
	// Past the ttl: refused everywhere, and the session starts a new visitor.
	c.clock.Advance(30*24*time.Hour - 25*time.Hour + time.Second) // t0 is 30 days + 1 s old
	if code, out, _ := c.say(1, "", t0, "c", map[string]any{"text": "你好"}); code != 401 || out["error"] != "no_visitor" {
		t.Errorf("expired token: %d %v, want 401", code, out)
	}
	if code, _, _ := c.call(0, "GET", "/api/messages", "", t0, nil); code != 401 {
		t.Errorf("expired token reads the transcript: %d", code)
	}
	if _, code := c.dial(0, "", t0); code != 401 {
		t.Errorf("expired token opens a socket: %d", code)
	}
	if _, got, u := c.session(0, "", t0); got == "" || u == user {
		t.Errorf("session with an expired token kept visitor %s", u)
	}
	// t1 (issued 25 h after t0) is still good: a customer who keeps coming
	// back keeps their conversation.
	if code, _, _ := c.call(1, "GET", "/api/messages", "", t1, nil); code != 200 {
		t.Errorf("refreshed token: %d", code)
	}
}

// dialFirst opens a socket and returns its first frame.
func (c *cluster) dialFirst(i int, token string) (any, frame) {
	conn, code := c.dialRaw(i, "", token)
	if conn == nil {
		c.t.Fatalf("dial: %d", code)
	}
	var f frame
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := wsjson.Read(ctx, conn, &f); err != nil {
		c.t.Fatal(err)
	}
	return conn, f
}

// TestRevoke: a revoked visitor's tokens are refused on every instance and
// never refreshed; the page starts a new visitor; others are not affected.
func TestRevoke(t *testing.T) {
	c := mustCluster(t, Limits{}, nil)
	tok, user := c.mustSession(0, "")
	other, _ := c.mustSession(1, "")
	if code, _, _ := c.say(1, "", tok, "a", map[string]any{"text": "你好"}); code != 200 {
		t.Fatalf("before: %d", code)
	}
	open, _ := c.dial(1, "", tok) // on the other instance
	if err := c.inst[0].Revoke(context.Background(), user); err != nil {
		t.Fatal(err)
	}
	// The open socket is closed: reading ends (a frame may come first).
	rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		var f frame
		if err := wsjson.Read(rctx, open, &f); err != nil {
			if rctx.Err() != nil {
				t.Fatal("the revoked visitor's socket stays open")
			}
			break
		}
	}
	c.clock.Advance(48 * time.Hour) // due for refresh too: never refreshed
	code, out, h := c.say(1, "", tok, "b", map[string]any{"text": "你好"})
	if code != 401 || out["error"] != "no_visitor" || h.Get(tokenHeader) != "" {
		t.Errorf("revoked: %d %v, refreshed %q", code, out, h.Get(tokenHeader))
	}
	// A message refused before the revocation check (empty) must not hand
	// the revoked visitor a fresh token either.
	if _, _, h := c.say(1, "", tok, "c", map[string]any{"text": ""}); h.Get(tokenHeader) != "" {
		t.Errorf("an empty message refreshed a revoked token: %q", h.Get(tokenHeader))
	}
	if code, _, _ := c.call(0, "GET", "/api/messages", "", tok, nil); code != 401 {
		t.Errorf("revoked reads the transcript: %d", code)
	}
	if _, code := c.dial(1, "", tok); code != 401 {
		t.Errorf("revoked opens a socket: %d", code)
	}
	if _, got, u := c.session(1, "", tok); got == tok || u == user {
		t.Errorf("session with a revoked token kept visitor %s", u)
	}
	if n := len(c.transcript(user)); n != 2 {
		t.Errorf("revoked visitor's transcript: %d entries, want the 2 before", n)
	}
	if code, _, _ := c.say(0, "", other, "a", map[string]any{"text": "你好"}); code != 200 {
		t.Errorf("another visitor: %d", code)
	}
	if ttl := c.rdb.PTTL(context.Background(), c.inst[0].revokedKey(user)).Val(); ttl <= 0 || ttl > 31*24*time.Hour {
		t.Errorf("revocation mark ttl %v: it lives as long as a token", ttl)
	}
}

// TestV1Tokens: a token of the first format (no issue time) is exchanged by
// the session call for a new one of the same visitor until the configured
// day, refused after it, and never accepted by the message API.
func TestV1Tokens(t *testing.T) {
	until := time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC) // the cluster's clock shows 2026-11-11
	c := mustCluster(t, Limits{}, nil, func(cfg *Config) { cfg.V1Until = until })
	c.mustSession(0, "") // the secret exists
	id := newVisitorID()
	v1 := signV1(c.inst[0].signingSecret(), id)
	if code, _, _ := c.say(0, "", v1, "a", map[string]any{"text": "你好"}); code != 401 {
		t.Errorf("v1 token on the message API: %d, want 401", code)
	}
	_, got, u := c.session(1, "", v1)
	if u != id {
		t.Fatalf("v1 exchange: visitor %s, want %s", u, id)
	}
	if tk, ok := verify(c.inst[0].signingSecret(), got); !ok || tk.iat.IsZero() {
		t.Errorf("v1 exchanged for %q, want a v2 token", got)
	}
	// A revoked v1 visitor is not exchanged.
	rid := newVisitorID()
	if err := c.inst[0].Revoke(context.Background(), rid); err != nil {
		t.Fatal(err)
	}
	if _, _, u := c.session(0, "", signV1(c.inst[0].signingSecret(), rid)); u == rid {
		t.Error("a revoked v1 visitor was exchanged")
	}
	if ttl := c.rdb.PTTL(context.Background(), c.inst[0].revokedKey(rid)).Val(); ttl < until.Sub(c.clock.Now()) {
		t.Errorf("revocation mark ttl %v ends before v1 tokens do (%v): the revoked v1 visitor would come back", ttl, until.Sub(c.clock.Now()))
	}
	c.clock.Advance(until.Sub(c.clock.Now()))
	if _, _, u := c.session(0, "", v1); u == id {
		t.Error("v1 exchanged after the transition's end")
	}
}

// TestSecretSurvivesRedisLoss: without KEFU_WEB_SECRET every instance signs
// with the secret kept in Redis; when Redis loses it, a running instance
// writes its own back, so an instance starting afterwards adopts it instead
// of minting another (which would refuse every visitor of the others).
func TestSecretSurvivesRedisLoss(t *testing.T) {
	c := mustCluster(t, Limits{}, nil)
	tok, _ := c.mustSession(0, "")
	if code, _, _ := c.say(1, "", tok, "a", map[string]any{"text": "你好"}); code != 200 {
		t.Fatalf("token of instance 0 on instance 1: %d", code)
	}
	ctx := context.Background()
	c.rdb.Del(ctx, c.inst[0].secretKey()) // Redis lost its data
	if err := c.inst[1].syncSecret(ctx); err != nil {
		t.Fatal(err)
	}
	res, _ := realip.New(nil)
	c.start(Limits{}, res, slog.New(slog.DiscardHandler)) // a third instance starts
	if code, _, _ := c.say(2, "", tok, "b", map[string]any{"text": "你好"}); code != 200 {
		t.Errorf("an instance started after the loss refuses the others' visitors: %d", code)
	}
}
