package wechat

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/silenceper/wechat/v2/util"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/internal/testkit/sampletest"
)

// gatedHandler holds every message until the test opens the gate: an engine
// slower than any budget, without sleeping.
type gatedHandler struct {
	inner Handler
	gate  chan struct{}
	once  sync.Once
	fail  error // returned instead of the inner answer, when set
}

func newGated(inner Handler) *gatedHandler {
	return &gatedHandler{inner: inner, gate: make(chan struct{})}
}

func (g *gatedHandler) open() { g.once.Do(func() { close(g.gate) }) }

func (g *gatedHandler) Handle(ctx context.Context, m bot.Message) ([]bot.Outbound, error) {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if g.fail != nil {
		return nil, g.fail
	}
	return g.inner.Handle(ctx, m)
}

// TestSlowAnswerAndRetries: an engine slower than the budget gets "success"
// and its answer goes through the customer-service API, once, although
// WeChat's three tries landed on two instances.
func TestSlowAnswerAndRetries(t *testing.T) {
	rdb, prefix := mustRedis(t)
	api := newFakeAPI(t)
	eng, _ := mustEngine(t, rdb, prefix)
	g := newGated(eng)
	cfg := Config{ReplyBudget: 20 * time.Millisecond}
	a := mustAdapter(t, cfg, g, rdb, prefix)
	b := mustAdapter(t, cfg, g, rdb, prefix) // another gateway instance
	user := "oUser_slow"
	msg := textXML(user, nextMsgID(), "快递到哪了")
	for i, url := range []string{a.srv.URL, b.srv.URL, a.srv.URL} {
		c := &wx{tb: t, url: url, safe: i == 1}
		if st, got := c.post(msg); st != 200 || got != "success" {
			t.Fatalf("try %d: %d %q, want success", i+1, st, got)
		}
	}
	g.open()
	want := answerText(sampletest.Live(t).Matcher(), "logistics_track")
	if s := api.next(t); s.Text != want || s.To != user {
		t.Errorf("async answer %+v, want %q", s, want)
	}
	// Close drains the background work: nothing else can be sent after it.
	a.Close()
	b.Close()
	if n := len(api.sentMessages()); n != 1 {
		t.Errorf("%d customer-service messages, want 1", n)
	}
	tx, err := eng.Store.Transcript(context.Background(), bot.ConvID(Name, user), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(tx) != 2 || tx[0].Dir != "in" || tx[1].Dir != "out" || tx[1].Intent != "logistics_track" {
		t.Errorf("transcript %+v, want one message and one answer", tx)
	}
}

// TestRetriesAnsweredOnce: three tries of one MsgId on two instances give
// one answer: one transcript entry, nothing through the API, and each try
// the same passive reply. WeChat retries only when the answer did not reach
// it (lost, or too late), so a retry must carry it again: before, the
// retries got "success" and a lost answer was never given.
func TestRetriesAnsweredOnce(t *testing.T) {
	rdb, prefix := mustRedis(t)
	api := newFakeAPI(t)
	eng, _ := mustEngine(t, rdb, prefix)
	a := mustAdapter(t, Config{}, eng, rdb, prefix)
	b := mustAdapter(t, Config{}, eng, rdb, prefix)
	user := "oUser_retry"
	msg := textXML(user, nextMsgID(), "快递到哪了")
	var replies []string
	for i, url := range []string{a.srv.URL, b.srv.URL, a.srv.URL} {
		st, got := (&wx{tb: t, url: url, safe: i == 1}).post(msg)
		if st != 200 {
			t.Fatalf("status %d", st)
		}
		replies = append(replies, got)
	}
	want := answerText(sampletest.Live(t).Matcher(), "logistics_track")
	if diff := cmp.Diff([]string{want, want, want}, replies); diff != "" {
		t.Errorf("replies (-want +got):\n%s", diff)
	}
	a.Close()
	b.Close()
	mustAnsweredPassivelyOnce(t, api, eng, user)
}

// TestFailureAfterBudget: a message that fails after "success" was answered
// is not silently dropped: the customer hears that we are busy.
func TestFailureAfterBudget(t *testing.T) {
	rdb, prefix := mustRedis(t)
	api := newFakeAPI(t)
	g := newGated(&recordingHandler{})
	g.fail = errors.New("redis down")
	a := mustAdapter(t, Config{ReplyBudget: 10 * time.Millisecond, BusyText: "系统繁忙"}, g, rdb, prefix)
	if st, got := (&wx{tb: t, url: a.srv.URL}).post(textXML("oUser_fail", nextMsgID(), "hi")); st != 200 || got != "success" {
		t.Fatalf("%d %q", st, got)
	}
	g.open()
	if s := api.next(t); s.Text != "系统繁忙" {
		t.Errorf("sent %q, want the busy text", s.Text)
	}
}

// TestFailureWithinBudget: an engine error within the budget answers 500 so
// that WeChat retries.
func TestFailureWithinBudget(t *testing.T) {
	rdb, prefix := mustRedis(t)
	newFakeAPI(t)
	g := newGated(&recordingHandler{})
	g.fail = errors.New("redis down")
	g.open()
	a := mustAdapter(t, Config{}, g, rdb, prefix)
	if st, _ := (&wx{tb: t, url: a.srv.URL}).post(textXML("oUser_fail2", nextMsgID(), "hi")); st != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", st)
	}
}

// TestCloseDrains: Close waits for an answer still being computed and sends
// it; afterwards the server URL refuses messages.
func TestCloseDrains(t *testing.T) {
	rdb, prefix := mustRedis(t)
	api := newFakeAPI(t)
	g := newGated(&recordingHandler{})
	a := mustAdapter(t, Config{ReplyBudget: 10 * time.Millisecond}, g, rdb, prefix)
	c := &wx{tb: t, url: a.srv.URL}
	if _, got := c.post(textXML("oUser_drain", nextMsgID(), "hi")); got != "success" {
		t.Fatalf("%q", got)
	}
	closed := make(chan struct{})
	go func() { a.Close(); close(closed) }()
	g.open()
	<-closed
	if s := api.sentMessages(); len(s) != 1 || s[0].Text != "收到：hi" {
		t.Errorf("sent %+v, want the drained answer", s)
	}
	if st, _ := c.post(textXML("oUser_drain", nextMsgID(), "hi")); st != http.StatusServiceUnavailable {
		t.Errorf("after Close: %d, want 503", st)
	}
}

// TestSendErrors: the window, the quota and WeChat's error codes reach the
// caller as sentinels; transient failures are retried.
func TestSendErrors(t *testing.T) {
	rdb, prefix := mustRedis(t)
	api := newFakeAPI(t)
	a := mustAdapter(t, Config{Quota: 3, RetryBackoff: time.Millisecond}, &recordingHandler{}, rdb, prefix)
	clock := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return clock }
	c := &wx{tb: t, url: a.srv.URL, now: a.now}
	ctx := context.Background()
	user := "oUser_send"
	out := bot.Outbound{Channel: Name, User: user, Conv: bot.ConvID(Name, user), Kind: bot.OutAgent, Text: "您好"}
	write := func() { // the customer writes: the window opens
		t.Helper()
		if st, _ := c.post(textXML(user, nextMsgID(), "在吗")); st != 200 {
			t.Fatalf("status %d", st)
		}
	}
	check := func(name string, err error, want error, code int64, calls int) {
		t.Helper()
		if want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %v", name, err, want)
		}
		var apiErr *APIError
		if code != 0 && (!errors.As(err, &apiErr) || apiErr.Code != code) {
			t.Errorf("%s: err = %v, want errcode %d", name, err, code)
		}
		if got := api.calls(); got != calls {
			t.Errorf("%s: %d API calls so far, want %d", name, got, calls)
		}
	}

	check("never wrote", a.Send(ctx, out), ErrWindowClosed, 0, 0)
	if api.tokens() != 0 {
		t.Errorf("a refused message fetched a token")
	}
	write()
	check("in window", a.Send(ctx, out), nil, 0, 1)
	clock = clock.Add(47 * time.Hour)
	check("47 h later", a.Send(ctx, out), nil, 0, 2)
	clock = clock.Add(2 * time.Hour)
	check("49 h later", a.Send(ctx, out), ErrWindowClosed, 0, 2)

	write()
	api.failNext(codeWindowClosed)
	check("45015", a.Send(ctx, out), ErrWindowClosed, 45015, 3)
	check("after 45015", a.Send(ctx, out), ErrWindowClosed, 0, 3)

	write()
	check("quota 1", a.Send(ctx, out), nil, 0, 4)
	check("quota 2", a.Send(ctx, out), nil, 0, 5)
	check("quota 3", a.Send(ctx, out), nil, 0, 6)
	check("quota 4", a.Send(ctx, out), ErrQuota, 0, 6)
	write()
	api.failNext(codeQuota)
	check("45047", a.Send(ctx, out), ErrQuota, 45047, 7)
	check("after 45047", a.Send(ctx, out), ErrQuota, 0, 7)

	write()
	api.failNext(40003)
	err := a.Send(ctx, out)
	check("40003", err, ErrAPI, 40003, 8)
	if errors.Is(err, ErrWindowClosed) || errors.Is(err, ErrQuota) {
		t.Errorf("40003 matched a specific sentinel: %v", err)
	}
	api.failNext(codeNeedSubscribe)
	check("43004", a.Send(ctx, out), ErrBlocked, 43004, 9)

	api.failNext(codeBusy)
	check("busy then ok", a.Send(ctx, out), nil, 0, 11)
	api.failStatus(http.StatusBadGateway, http.StatusServiceUnavailable)
	check("5xx then ok", a.Send(ctx, out), nil, 0, 14)
	api.failNext(codeBusy, codeBusy, codeBusy, codeBusy)
	check("busy beyond the retries", a.Send(ctx, out), ErrAPI, -1, 18)
	// Failed sends gave their quota back: two messages were delivered since
	// the last write, one more fits.
	check("quota refunded", a.Send(ctx, out), nil, 0, 19)
	check("quota used", a.Send(ctx, out), ErrQuota, 0, 19)
}

// TestAccessToken: one token for every instance, in Redis with a TTL 25
// minutes short of WeChat's, fetched again when WeChat says it is invalid.
func TestAccessToken(t *testing.T) {
	rdb, prefix := mustRedis(t)
	api := newFakeAPI(t)
	h := &recordingHandler{}
	a := mustAdapter(t, Config{}, h, rdb, prefix)
	b := mustAdapter(t, Config{}, h, rdb, prefix)
	ctx := context.Background()
	user := "oUser_token"
	(&wx{tb: t, url: a.srv.URL}).post(textXML(user, nextMsgID(), "hi"))
	out := bot.Outbound{Channel: Name, User: user, Kind: bot.OutAgent, Text: "您好"}
	for _, x := range []*testAdapter{a, b, a} {
		if err := x.Send(ctx, out); err != nil {
			t.Fatal(err)
		}
	}
	if api.tokens() != 1 {
		t.Errorf("%d token fetches for two instances, want 1", api.tokens())
	}
	if c := util.DefaultHTTPClient; c != b.client || c.Timeout <= 0 {
		t.Errorf("the library's HTTP client %p has no timeout or is not the adapter's", c)
	}
	key := prefix + "wechat:cache:" + accessTokenKey(testCred.AppID)
	ttl, err := rdb.TTL(ctx, key).Result()
	if err != nil || ttl > 5700*time.Second || ttl < 5600*time.Second {
		t.Errorf("token TTL %v (%v), want expires_in-1500 s = 5700 s", ttl, err)
	}
	api.rotate() // another system fetched a token: ours is invalid
	if err := b.Send(ctx, out); err != nil {
		t.Fatalf("send after rotation: %v", err)
	}
	if api.tokens() != 3 {
		t.Errorf("token fetches %d, want 3 (1, rotated, refetched)", api.tokens())
	}
	if s := api.sentMessages(); s[len(s)-1].Token != "ACCESS_TOKEN_3" {
		t.Errorf("sent with %q", s[len(s)-1].Token)
	}
	// A token too short-lived to cache is used but not stored forever.
	api.mu.Lock()
	api.expiresIn = 1000
	api.mu.Unlock()
	rdb.Del(ctx, key)
	if err := a.Send(ctx, out); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, key).Result(); n != 0 {
		t.Errorf("a token with a negative cache TTL was stored")
	}
}

func TestCredentials(t *testing.T) {
	for _, s := range []string{fmt.Sprint(testCred), fmt.Sprintf("%+v %#v %s", testCred, testCred, testCred)} {
		mustNoSecrets(t, s)
	}
	env := map[string]string{EnvAppID: "wx1", EnvAppSecret: "s", EnvToken: "t", EnvAESKey: "short"}
	c := CredentialsFromEnv(func(k string) string { return env[k] })
	if err := c.Validate(); !errors.Is(err, ErrConfig) {
		t.Errorf("bad AES key: %v", err)
	}
	c.AESKey = ""
	if err := c.Validate(); err != nil {
		t.Errorf("plain mode: %v", err)
	}
	if err := (Credentials{}).Validate(); !errors.Is(err, ErrConfig) {
		t.Errorf("empty: %v", err)
	}
}
