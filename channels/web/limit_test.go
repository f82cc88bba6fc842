package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/handoff"
	"github.com/kefu-dev/kefu/internal/realip"
	"github.com/kefu-dev/kefu/internal/testkit"
	"github.com/kefu-dev/kefu/internal/testkit/sampletest"
)

// cluster is two gateway instances (two Adapters, each with its engine and
// its HTTP server) on one Redis and one key prefix, with one hand-moved clock.
type cluster struct {
	t      *testing.T
	rdb    *redis.Client
	prefix string
	clock  *testkit.Clock
	queue  *handoff.Queue
	logs   *testkit.LogBuffer
	inst   []*Adapter
	urls   []string
}

// group is the hand-off queue's only group in these tests.
const group = "general"

// mustCluster starts two instances with these limits. trusted are the
// proxies whose X-Forwarded-For names the client (the test client connects
// from 127.0.0.1).
func mustCluster(t *testing.T, lim Limits, trusted []string, opts ...func(*Config)) *cluster {
	t.Helper()
	rdb := testkit.Redis(t, 0)
	c := &cluster{t: t, rdb: rdb, prefix: testkit.PrefixOn(t, rdb), logs: &testkit.LogBuffer{},
		clock: testkit.NewClock(time.Date(2026, 11, 11, 10, 0, 0, 0, time.UTC))}
	q, err := handoff.New(rdb, handoff.Config{Prefix: c.prefix, Groups: []string{group}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.queue = q
	res, err := realip.New(trusted)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(c.logs, nil))
	for range 2 {
		c.start(lim, res, log, opts...)
	}
	return c
}

func (c *cluster) start(lim Limits, res *realip.Resolver, log *slog.Logger, opts ...func(*Config)) *Adapter {
	t := c.t
	store := bot.NewStore(c.rdb, c.prefix)
	e := &bot.Engine{Store: store, Matcher: sampletest.Live(t).Matcher, Texts: bot.DefaultTexts(),
		Handoff: &bot.Queue{Q: c.queue, Texts: bot.DefaultTexts()}}
	cfg := Config{Title: "t", MaxMessageLen: 100, Limits: lim, ClientIP: res.ClientIP, Texts: bot.DefaultTexts()}
	for _, o := range opts {
		o(&cfg)
	}
	a := New(cfg, e, store, c.rdb, c.prefix, log)
	a.now = c.clock.Now
	e.HandoffAllowed = a.HandoffAllowed
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(func() { srv.Close(); a.Close() })
	c.inst = append(c.inst, a)
	c.urls = append(c.urls, srv.URL)
	return a
}

// call is one API request to instance i from client address addr (sent as
// X-Forwarded-For; "" sends none). It returns the status, the decoded body
// and the response headers.
func (c *cluster) call(i int, method, path, addr, token string, body any) (int, map[string]any, http.Header) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.urls[i%len(c.urls)]+path, rd)
	if addr != "" {
		req.Header.Set("X-Forwarded-For", addr)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

// session mints (or renews) a visitor on instance i.
func (c *cluster) session(i int, addr, token string) (int, string, string) {
	c.t.Helper()
	code, out, _ := c.call(i, "POST", "/api/session", addr, "", map[string]string{"token": token})
	tok, _ := out["token"].(string)
	user, _ := out["user"].(string)
	return code, tok, user
}

func (c *cluster) mustSession(i int, addr string) (tok, user string) {
	c.t.Helper()
	code, tok, user := c.session(i, addr, "")
	if code != 200 {
		c.t.Fatalf("session from %s: %d", addr, code)
	}
	return tok, user
}

func (c *cluster) say(i int, addr, token, id string, msg map[string]any) (int, map[string]any, http.Header) {
	c.t.Helper()
	msg["id"] = id
	return c.call(i, "POST", "/api/messages", addr, token, msg)
}

func (c *cluster) transcript(user string) []bot.Entry {
	c.t.Helper()
	es, err := bot.NewStore(c.rdb, c.prefix).Transcript(context.Background(), bot.ConvID(Name, user), "")
	if err != nil {
		c.t.Fatal(err)
	}
	return es
}

// TestSessionsPerAddress: a script creating 400 visitors from one address,
// through both instances, gets the per-address allowance and no more; the
// refusals are 429 with Retry-After and the polite text; another address is
// not affected; the allowance refills with time.
func TestSessionsPerAddress(t *testing.T) {
	c := mustCluster(t, Limits{SessionsPerMinutePerAddr: 30}, []string{"127.0.0.1"})
	ok, refused := 0, 0
	for i := range 400 {
		code, out, h := c.call(i, "POST", "/api/session", "203.0.113.9", "", nil)
		switch code {
		case 200:
			ok++
		case 429:
			refused++
			if ra, _ := strconv.Atoi(h.Get("Retry-After")); ra < 1 || ra > 2 {
				t.Fatalf("Retry-After %q, want 1-2 s (one session every 2 s)", h.Get("Retry-After"))
			}
			if out["error"] != "rate_limited" || out["message"] != bot.DefaultTexts()["zh"].RateLimited || out["token"] != nil {
				t.Fatalf("refusal body %v", out)
			}
		default:
			t.Fatalf("session %d: %d", i, code)
		}
	}
	if ok != 30 || refused != 370 {
		t.Errorf("400 sessions from one address on two instances: %d minted, %d refused; want 30, 370", ok, refused)
	}
	if _, tok, _ := c.session(0, "198.51.100.7", ""); tok == "" {
		t.Error("another address was refused a session")
	}
	// A returning visitor (valid token) is not a new session.
	tok, _ := c.mustSession(1, "198.51.100.7")
	for range 40 {
		if code, got, _ := c.session(0, "198.51.100.7", tok); code != 200 || got != tok {
			t.Fatalf("returning visitor: %d %q", code, got)
		}
	}
	c.clock.Advance(2 * time.Second) // one more new visitor per 2 s
	if code, _, _ := c.session(1, "203.0.113.9", ""); code != 200 {
		t.Errorf("after 2 s: %d, want 200", code)
	}
	if code, _, _ := c.session(0, "203.0.113.9", ""); code != 429 {
		t.Errorf("second after 2 s: %d, want 429", code)
	}
}

// TestMessagesPerAddress: a flood spread over many visitors behind one
// address is held by the per-address limit on both instances, each visitor
// by its own; nothing refused is stored.
func TestMessagesPerAddress(t *testing.T) {
	c := mustCluster(t, Limits{MessagesPerSecond: 2, MessageBurst: 3, MessagesPerSecondPerAddr: 5, MessageBurstPerAddr: 10},
		[]string{"127.0.0.1"})
	var users, toks []string
	for range 20 {
		tok, user := c.mustSession(0, "203.0.113.9")
		users, toks = append(users, user), append(toks, tok)
	}
	var codes []int
	for i := range 20 {
		code, out, h := c.say(i, "203.0.113.9", toks[i], "m1", map[string]any{"text": "你好"})
		codes = append(codes, code)
		if code == 429 && (h.Get("Retry-After") != "1" || out["message"] != bot.DefaultTexts()["zh"].RateLimited) {
			t.Fatalf("refusal: Retry-After %q, body %v", h.Get("Retry-After"), out)
		}
	}
	if n := count(codes, 200); n != 10 || count(codes, 429) != 10 {
		t.Fatalf("20 visitors, one address, one message each: codes %v; want 10 accepted (the address's burst)", codes)
	}
	for i, code := range codes {
		if n := len(c.transcript(users[i])); (code == 200) != (n > 0) {
			t.Errorf("visitor %d: %d, %d transcript entries", i, code, n)
		}
	}
	// Another address is not held by this one's flood; its visitor has its
	// own limit (burst 3), refused on either instance.
	tok, _ := c.mustSession(1, "198.51.100.7")
	codes = codes[:0]
	for i := range 5 {
		code, _, _ := c.say(i, "198.51.100.7", tok, fmt.Sprint("o", i), map[string]any{"text": "你好"})
		codes = append(codes, code)
	}
	if fmt.Sprint(codes) != "[200 200 200 429 429]" {
		t.Errorf("one visitor, another address: %v; want its burst of 3", codes)
	}
	// Refills: 200 ms is one message for the address (5/s).
	c.clock.Advance(200 * time.Millisecond)
	if code, _, _ := c.say(1, "203.0.113.9", toks[19], "m2", map[string]any{"text": "你好"}); code != 200 {
		t.Errorf("after 200 ms: %d", code)
	}
}

func count(xs []int, v int) int {
	n := 0
	for _, x := range xs {
		if x == v {
			n++
		}
	}
	return n
}

// TestHandoffsPerAddress: hand-offs from one address stop reaching the
// agents' queue at the hourly allowance; the customers beyond it are told
// the agents are busy and stay with the bot; another address still hands
// off.
func TestHandoffsPerAddress(t *testing.T) {
	c := mustCluster(t, Limits{HandoffsPerHourPerAddr: 3}, []string{"127.0.0.1"})
	waiting := func() int {
		ws, err := c.queue.Waiting(context.Background(), group)
		if err != nil {
			t.Fatal(err)
		}
		return len(ws)
	}
	var kinds []string
	for i := range 8 {
		tok, user := c.mustSession(i, "203.0.113.9")
		code, out, _ := c.say(i, "203.0.113.9", tok, "h", map[string]any{"kind": "human", "text": "转人工"})
		if code != 200 {
			t.Fatalf("hand-off %d: %d %v", i, code, out)
		}
		rs := out["replies"].([]any)
		first := rs[0].(map[string]any)
		kinds = append(kinds, first["kind"].(string))
		if first["kind"] == bot.OutNotice && first["text"] != bot.DefaultTexts()["zh"].HandoffLimited {
			t.Errorf("refused hand-off told %q", first["text"])
		}
		if i >= 3 {
			conv, err := bot.NewStore(c.rdb, c.prefix).Load(context.Background(), bot.ConvID(Name, user))
			if err != nil || conv.Mode != bot.ModeBot {
				t.Errorf("refused hand-off %d: mode %q %v, want bot", i, conv.Mode, err)
			}
		}
	}
	if want := "[handoff handoff handoff notice notice notice notice notice]"; fmt.Sprint(kinds) != want {
		t.Errorf("8 hand-offs from one address: %v, want %s", kinds, want)
	}
	if n := waiting(); n != 3 {
		t.Errorf("%d waiting, want 3: the queue stops growing", n)
	}
	tok, _ := c.mustSession(0, "198.51.100.7")
	if _, out, _ := c.say(1, "198.51.100.7", tok, "h", map[string]any{"kind": "human"}); waiting() != 4 {
		t.Errorf("another address's hand-off: %v, %d waiting", out, waiting())
	}
	c.clock.Advance(20 * time.Minute) // 3 an hour: one more after 20 min
	tok, _ = c.mustSession(1, "203.0.113.9")
	if c.say(0, "203.0.113.9", tok, "h", map[string]any{"kind": "human"}); waiting() != 5 {
		t.Errorf("after 20 min: %d waiting, want 5", waiting())
	}
}

// TestClientAddress: X-Forwarded-For names the client only when the peer is
// a trusted proxy; from an untrusted peer a spoofed header changes nothing
// (every request counts under the peer's own address) and the operator is
// told once.
func TestClientAddress(t *testing.T) {
	t.Run("trusted proxy", func(t *testing.T) {
		c := mustCluster(t, Limits{SessionsPerMinutePerAddr: 2}, []string{"127.0.0.0/8"})
		for i, want := range []int{200, 200, 429} {
			if code, _, _ := c.session(i, "203.0.113.1", ""); code != want {
				t.Errorf("session %d from 203.0.113.1: %d, want %d", i, code, want)
			}
		}
		if code, _, _ := c.session(0, "203.0.113.2", ""); code != 200 {
			t.Errorf("another client behind the proxy: %d", code)
		}
	})
	t.Run("untrusted peer", func(t *testing.T) {
		c := mustCluster(t, Limits{SessionsPerMinutePerAddr: 2}, []string{"10.0.0.0/8"})
		var codes []int
		for i := range 3 {
			code, _, _ := c.session(i, fmt.Sprintf("203.0.113.%d", i+1), "") // a new spoofed address each time
			codes = append(codes, code)
		}
		if fmt.Sprint(codes) != "[200 200 429]" {
			t.Errorf("spoofed X-Forwarded-For from an untrusted peer: %v, want [200 200 429]", codes)
		}
		keys, _ := c.rdb.Keys(context.Background(), strings.ReplaceAll(c.prefix, "{", `\{`)+"web:rl:sess:a:*").Result()
		if len(keys) != 1 || !strings.HasSuffix(keys[0], ":127.0.0.1") {
			t.Errorf("session buckets %v, want only the peer's", keys)
		}
		if n := strings.Count(c.logs.String(), "not in server.trusted_proxies"); n != 2 { // once per instance
			t.Errorf("%d warnings about the untrusted proxy, want one per instance:\n%s", n, c.logs.String())
		}
		if strings.Contains(c.logs.String(), "203.0.113.") {
			t.Error("the log names a client-supplied address")
		}
	})
}

// dial opens a WebSocket to instance i from addr and reads its first frame;
// the HTTP status when refused.
func (c *cluster) dial(i int, addr, token string) (*websocket.Conn, int) {
	c.t.Helper()
	conn, code := c.dialRaw(i, addr, token)
	if conn == nil {
		return nil, code
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var f frame // the first frame: the page is up to date
	if err := wsjson.Read(ctx, conn, &f); err != nil {
		c.t.Fatal(err)
	}
	return conn, code
}

// dialRaw opens a WebSocket to instance i from addr ("": no header).
func (c *cluster) dialRaw(i int, addr, token string) (*websocket.Conn, int) {
	c.t.Helper()
	u := "ws" + strings.TrimPrefix(c.urls[i%len(c.urls)], "http") + "/ws?token=" + token
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	if addr != "" {
		h.Set("X-Forwarded-For", addr)
	}
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		if resp == nil {
			c.t.Fatal(err)
		}
		return nil, resp.StatusCode
	}
	c.t.Cleanup(func() { conn.CloseNow() })
	return conn, http.StatusSwitchingProtocols
}

// sockets is the number of sockets counted for a visitor.
func (c *cluster) sockets(key string) int64 {
	return c.rdb.ZCard(context.Background(), key).Val()
}

// TestSocketCaps: open WebSockets are capped per visitor and per address
// over both instances, refused with 429 before the upgrade; a closed socket
// frees its place; the sockets of an instance that died stop counting when
// their lease ends.
func TestSocketCaps(t *testing.T) {
	c := mustCluster(t, Limits{WSPerVisitor: 2, WSPerAddr: 4}, []string{"127.0.0.1"})
	a := c.inst[0]
	t1, u1 := c.mustSession(0, "203.0.113.9")
	s1, _ := c.dial(0, "203.0.113.9", t1)
	c.dial(1, "203.0.113.9", t1)
	if _, code := c.dial(0, "203.0.113.9", t1); code != 429 {
		t.Fatalf("third socket of one visitor: %d, want 429", code)
	}
	t2, _ := c.mustSession(1, "203.0.113.9")
	c.dial(1, "203.0.113.9", t2)
	c.dial(0, "203.0.113.9", t2)
	t3, _ := c.mustSession(1, "203.0.113.9")
	if _, code := c.dial(1, "203.0.113.9", t3); code != 429 {
		t.Fatalf("fifth socket of one address: %d, want 429", code)
	}
	if _, code := c.dial(1, "198.51.100.7", t3); code != 101 {
		t.Fatalf("the same visitor from another address: %d, want 101", code)
	}
	// Closing a socket frees its place (once the server has seen the close).
	s1.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(10 * time.Second)
	for c.sockets(a.wsUserKey(u1)) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("closed socket still counted: %d", c.sockets(a.wsUserKey(u1)))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, code := c.dial(0, "203.0.113.9", t3); code != 101 {
		t.Fatalf("after a close: %d, want 101", code)
	}
	// An instance dies holding two sockets of a visitor: they count until
	// their lease runs out.
	t4, u4 := c.mustSession(0, "192.0.2.1")
	for range 2 {
		if err := a.openSocket(context.Background(), &client{id: newVisitorID(), user: u4, addr: "192.0.2.1"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, code := c.dial(1, "192.0.2.1", t4); code != 429 {
		t.Fatalf("dead instance's sockets: %d, want 429", code)
	}
	c.clock.Advance(socketLease + time.Millisecond)
	if _, code := c.dial(1, "192.0.2.1", t4); code != 101 {
		t.Fatalf("after the lease: %d, want 101", code)
	}
}

// TestSocketRenew: an open socket's lease is renewed (its place kept past
// the first lease) and a renewal refreshes the keys' lifetime.
func TestSocketRenew(t *testing.T) {
	c := mustCluster(t, Limits{WSPerVisitor: 1}, nil)
	a := c.inst[0]
	ctx := context.Background()
	cl := &client{id: newVisitorID(), user: newVisitorID(), addr: "192.0.2.1"}
	if err := a.openSocket(ctx, cl); err != nil {
		t.Fatal(err)
	}
	c.clock.Advance(socketPing)
	if err := a.renewSocket(ctx, cl); err != nil {
		t.Fatal(err)
	}
	c.clock.Advance(socketLease - socketPing + time.Second) // past the first lease, within the renewed one
	if err := a.openSocket(ctx, &client{id: newVisitorID(), user: cl.user, addr: "192.0.2.2"}); !errors.Is(err, ErrRateLimited) {
		t.Errorf("a renewed socket lost its place: %v", err)
	}
	if ttl := c.rdb.PTTL(ctx, a.wsUserKey(cl.user)).Val(); ttl <= 0 || ttl > socketLease {
		t.Errorf("sockets key ttl %v", ttl)
	}
}

// TestConnected: a customer with a chat page open is connected, on any
// instance; once the page is closed (or its instance died and the lease
// ran out) they are not; without socket counting nobody can tell.
func TestConnected(t *testing.T) {
	c := mustCluster(t, Limits{WSPerVisitor: 2}, nil)
	a := c.inst[1]
	ctx := context.Background()
	tok, user := c.mustSession(0, "")
	connected := func() bool {
		t.Helper()
		ok, known, err := a.Connected(ctx, user)
		if err != nil || !known {
			t.Fatalf("connected: known %v, %v", known, err)
		}
		return ok
	}
	if connected() {
		t.Fatal("connected before any page opened")
	}
	s, _ := c.dial(0, "", tok)
	if !connected() {
		t.Fatal("not connected with a page open on the other instance")
	}
	s.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(10 * time.Second)
	for connected() {
		if time.Now().After(deadline) {
			t.Fatal("still connected after the page closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A socket whose instance died counts until its lease ends.
	if err := a.openSocket(ctx, &client{id: newVisitorID(), user: user, addr: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	if !connected() {
		t.Fatal("not connected with a socket under lease")
	}
	c.clock.Advance(socketLease + time.Millisecond)
	if connected() {
		t.Fatal("connected after the dead socket's lease")
	}
	off := mustCluster(t, Limits{}, nil)
	if _, known, err := off.inst[0].Connected(ctx, user); known || err != nil {
		t.Fatalf("without counting: known %v, %v", known, err)
	}
}
