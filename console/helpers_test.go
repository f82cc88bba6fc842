package console

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/handoff"
	"github.com/kefu-dev/kefu/internal/testkit"
)

// MustRedis connects to the test redis-server (KEFU_TEST_REDIS_URL) or skips.
func MustRedis(tb testing.TB) *redis.Client {
	tb.Helper()
	return testkit.Redis(tb, 0)
}

// fakeDeliver records every message sent to customers; err, when set, is
// returned (the channel refused).
type fakeDeliver struct {
	mu  sync.Mutex
	got []bot.Outbound
	err error
}

func (f *fakeDeliver) Deliver(_ context.Context, out bot.Outbound) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, out)
	return f.err
}

func (f *fakeDeliver) sent() []bot.Outbound {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]bot.Outbound(nil), f.got...)
}

func (f *fakeDeliver) fail(err error) { f.mu.Lock(); f.err = err; f.mu.Unlock() }

// fakeSurveyor records the conversations surveyed, reading the customer
// from the store as the engine would.
type fakeSurveyor struct {
	store *bot.Store
	mu    sync.Mutex
	convs []string
}

func (f *fakeSurveyor) Survey(ctx context.Context, conv string) (bot.Outbound, error) {
	f.mu.Lock()
	f.convs = append(f.convs, conv)
	f.mu.Unlock()
	c, err := f.store.Load(ctx, conv)
	if err != nil {
		return bot.Outbound{}, err
	}
	return bot.Outbound{Channel: c.Channel, User: c.User, Conv: conv, Kind: bot.OutSurvey, Text: "请为本次服务打分",
		Choices: []bot.Choice{{ID: "1", Label: "1"}, {ID: "5", Label: "5"}}}, nil
}

func (f *fakeSurveyor) surveyed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.convs...)
}

// env is a console on a real redis-server behind a loopback HTTP server.
type env struct {
	rdb     *redis.Client
	q       *handoff.Queue
	clk     *testkit.Clock // the queue's clock, moved by the test
	store   *bot.Store
	deliver *fakeDeliver
	survey  *fakeSurveyor
	con     *Console
	srv     *httptest.Server
	prefix  string
}

// testPassword is every test agent's password.
const testPassword = "s3cret-密码"

func testAgents(tb testing.TB) []Agent {
	tb.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		tb.Fatal(err)
	}
	return []Agent{
		{ID: "alice", Name: "Alice", PasswordHash: string(h), Groups: []string{"pre_sales"}, MaxChats: 2},
		{ID: "bob", Name: "Bob", PasswordHash: string(h), Groups: []string{"pre_sales", "after_sales"}, MaxChats: 2},
		{ID: "carol", Name: "Carol", PasswordHash: string(h), Groups: []string{"after_sales"}, MaxChats: 2},
		{ID: "sup", Name: "Sup", PasswordHash: string(h), Role: RoleSupervisor, MaxChats: 2},
	}
}

// MustEnv starts a console; change cfg before it is used with edit.
func MustEnv(tb testing.TB, edit func(*Config)) *env {
	tb.Helper()
	return MustEnvDeps(tb, edit, nil)
}

// MustEnvDeps is MustEnv that also lets the test change the console's Deps
// with editDeps (their clock is the queue's, e.clk, unless changed).
func MustEnvDeps(tb testing.TB, edit func(*Config), editDeps func(*Deps)) *env {
	tb.Helper()
	rdb := MustRedis(tb)
	prefix := testkit.PrefixOn(tb, rdb)
	clk := testkit.NewClock(time.Date(2025, 3, 3, 10, 0, 0, 0, time.UTC))
	q, err := handoff.New(rdb, handoff.Config{Prefix: prefix, Groups: []string{"pre_sales", "after_sales"},
		Lease: 30 * time.Second}, clk.Now, nil)
	if err != nil {
		tb.Fatal(err)
	}
	e := &env{rdb: rdb, q: q, clk: clk, store: bot.NewStore(rdb, prefix), deliver: &fakeDeliver{}, prefix: prefix}
	e.survey = &fakeSurveyor{store: e.store}
	cfg := Config{Agents: testAgents(tb), KeyPrefix: prefix + "console:", Poll: 20 * time.Millisecond}
	if edit != nil {
		edit(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	deps := Deps{Queue: q, Redis: rdb, Conversations: e.store, Deliver: e.deliver.Deliver, Surveyor: e.survey, Now: clk.Now}
	if editDeps != nil {
		editDeps(&deps)
	}
	e.con = New(cfg, deps, log)
	mux := http.NewServeMux()
	mux.Handle(e.con.Path()+"/", e.con)
	mux.Handle(e.con.Path(), e.con)
	e.srv = httptest.NewServer(mux)
	tb.Cleanup(func() {
		e.con.Close()
		e.srv.Close()
	})
	return e
}

// customer writes a message as a customer on the web channel and hands the
// conversation off to group; it returns the conversation id.
func (e *env) customer(tb testing.TB, user, text, group string, urgent bool) string {
	tb.Helper()
	ctx := context.Background()
	cv, _, err := e.store.Ingest(ctx, bot.Message{Channel: "web", User: user, ID: "m-" + user + "-" + fmt.Sprint(time.Now().UnixNano()), Text: text})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := e.q.Enqueue(ctx, handoff.Ticket{Conv: cv.ID, Channel: "web", User: user, Group: group,
		Reason: "requested", Urgent: urgent}); err != nil {
		tb.Fatal(err)
	}
	return cv.ID
}

// says adds a customer message to a conversation and tells the consoles.
func (e *env) says(tb testing.TB, user, text string) {
	tb.Helper()
	ctx := context.Background()
	cv, _, err := e.store.Ingest(ctx, bot.Message{Channel: "web", User: user, ID: "m-" + fmt.Sprint(time.Now().UnixNano()), Text: text})
	if err != nil {
		tb.Fatal(err)
	}
	es, err := e.store.Transcript(ctx, cv.ID, "")
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := e.q.CustomerMessage(ctx, cv.ID, es[len(es)-1].ID); err != nil {
		tb.Fatal(err)
	}
}

// client is an API client with its own cookie jar.
type client struct {
	tb   testing.TB
	e    *env
	http *http.Client
	csrf string
}

func (e *env) client(tb testing.TB) *client {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &client{tb: tb, e: e, http: &http.Client{Jar: jar}}
}

// signedIn returns a client signed in as agent id.
func (e *env) signedIn(tb testing.TB, id string) *client {
	tb.Helper()
	c := e.client(tb)
	var me meBody
	if st := c.do("POST", "signin", map[string]string{"id": id, "password": testPassword}, &me); st != 200 {
		tb.Fatalf("sign in %s: status %d", id, st)
	}
	c.csrf = me.CSRF
	return c
}

// req is do with extra headers; out, when not nil, receives the JSON body.
func (c *client) req(method, path string, body any, out any, hdr map[string]string) (int, apiError) {
	c.tb.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.tb.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	// A hang guard, not a timed assertion: a call that never answers fails
	// the test instead of blocking it until go test's own timeout.
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, method, c.e.srv.URL+c.e.con.Path()+"/api/"+path, rd)
	if err != nil {
		c.tb.Fatal(err)
	}
	if method != "GET" && c.csrf != "" {
		r.Header.Set(csrfHeader, c.csrf)
	}
	for k, v := range hdr {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	res, err := c.http.Do(r)
	if err != nil {
		c.tb.Fatalf("%s %s: no answer (hang guard %s): %v", method, path, hangGuard, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.tb.Fatalf("%s %s: reading the answer (hang guard %s): %v", method, path, hangGuard, err)
	}
	var ae apiError
	if res.StatusCode >= 400 {
		if err := json.Unmarshal(b, &ae); err != nil {
			c.tb.Fatalf("%s %s: status %d, body %q is not an API error", method, path, res.StatusCode, b)
		}
		return res.StatusCode, ae
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.tb.Fatalf("%s %s: %v in %q", method, path, err, b)
		}
	}
	return res.StatusCode, ae
}

func (c *client) do(method, path string, body, out any) int {
	c.tb.Helper()
	st, _ := c.req(method, path, body, out, nil)
	return st
}

// must calls the API and fails the test unless it answers 200.
func (c *client) must(method, path string, body, out any) {
	c.tb.Helper()
	st, ae := c.req(method, path, body, out, nil)
	if st != 200 {
		c.tb.Fatalf("%s %s: status %d %s: %s", method, path, st, ae.Error.Code, ae.Error.Message)
	}
}

// refused calls the API and fails unless it answers status with code.
func (c *client) refused(method, path string, body any, status int, code string) {
	c.tb.Helper()
	st, ae := c.req(method, path, body, nil, nil)
	if st != status || ae.Error.Code != code {
		c.tb.Fatalf("%s %s: got %d %q (%s), want %d %q", method, path, st, ae.Error.Code, ae.Error.Message, status, code)
	}
}

// sseEvent is one event read from the live stream.
type sseEvent struct {
	id   string
	data eventJSON
}

// stream opens the live stream after cursor (none: from now) and returns
// its events on a channel until the test or cancel ends it.
func (c *client) stream(after string) (<-chan sseEvent, context.CancelFunc) {
	c.tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r, err := http.NewRequestWithContext(ctx, "GET", c.e.srv.URL+c.e.con.Path()+"/api/events", nil)
	if err != nil {
		c.tb.Fatal(err)
	}
	if after != "" {
		r.Header.Set("Last-Event-ID", after)
	}
	// Hang guard until the stream's headers arrive; the stream itself then
	// lives until stop, and every read from it goes through next (bounded).
	guard := time.AfterFunc(hangGuard, cancel)
	res, err := c.http.Do(r)
	if !guard.Stop() || err != nil {
		cancel()
		c.tb.Fatalf("events: no answer (hang guard %s): %v", hangGuard, err)
	}
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		c.tb.Fatalf("events: status %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	ch := make(chan sseEvent, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(line[6:]), &ev.data)
			case line == "" && ev.data.Type != "":
				select {
				case ch <- ev:
				case <-ctx.Done():
					return
				}
				ev = sseEvent{}
			}
		}
	}()
	stop := func() { cancel(); <-done }
	c.tb.Cleanup(stop)
	return ch, stop
}

// hangGuard bounds every wait of the tests on the console (an answer, an
// event, the end of a stream): generous, so that it never decides a result
// on a slow machine; it only turns a hang into a failure that says what was
// awaited.
const hangGuard = 30 * time.Second

// next waits for the next event matching ok (others are skipped), failing
// after hangGuard.
func next(tb testing.TB, ch <-chan sseEvent, ok func(sseEvent) bool) sseEvent {
	tb.Helper()
	deadline := time.NewTimer(hangGuard)
	defer deadline.Stop()
	for {
		select {
		case ev, open := <-ch:
			if !open {
				tb.Fatal("event stream ended")
			}
			if ok(ev) {
				return ev
			}
		case <-deadline.C:
			tb.Fatalf("no matching event within %s (hang guard)", hangGuard)
		}
	}
}

// drained waits for the event stream to end (events are skipped), failing
// after hangGuard.
func drained(tb testing.TB, ch <-chan sseEvent) {
	tb.Helper()
	deadline := time.NewTimer(hangGuard)
	defer deadline.Stop()
	for {
		select {
		case _, open := <-ch:
			if !open {
				return
			}
		case <-deadline.C:
			tb.Fatalf("event stream still open after %s (hang guard)", hangGuard)
		}
	}
}

func isType(t string) func(sseEvent) bool {
	return func(e sseEvent) bool { return e.data.Type == t }
}

var errRefused = errors.New("channel refused: 45015 response out of time limit")
