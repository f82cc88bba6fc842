package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/kefu-dev/kefu/faq"
	"github.com/kefu-dev/kefu/intents"
	"github.com/kefu-dev/kefu/internal/testkit"
)

// gateway is a `kefu serve` running in-process on a free loopback port.
type gateway struct {
	URL string
	// Demo is the demo agent's "id / password" the embedded default prints
	// ("" otherwise).
	Demo   string
	cancel context.CancelFunc
	done   chan int
	logs   *testkit.LogBuffer
}

// mustRedisEnv points the gateway at the test redis-server with a key prefix
// of its own, or skips.
func mustRedisEnv(t *testing.T) string {
	t.Helper()
	url := testkit.RedisURL(t)
	prefix := testkit.Prefix(t)
	t.Setenv("REDIS_URL", url)
	t.Setenv("KEFU_REDIS_PREFIX", prefix)
	return prefix
}

// mustServe starts `kefu serve --addr 127.0.0.1:0 args...` and waits until it
// prints its address. Stop it with g.stop().
func mustServe(t *testing.T, args ...string) *gateway {
	t.Helper()
	return mustServeWith(t, nil, args...)
}

// mustServeWith is mustServe with built called on the server before it
// starts (nil: none).
func mustServeWith(t *testing.T, built func(*server), args ...string) *gateway {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if built != nil {
		ctx = context.WithValue(ctx, builtHookKey{}, built)
	}
	pr, pw := io.Pipe()
	g := &gateway{cancel: cancel, done: make(chan int, 1), logs: &testkit.LogBuffer{}}
	go func() {
		code := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), pw, g.logs)
		pw.Close()
		g.done <- code
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "demo agent for the console at "); ok {
			if i := strings.LastIndex(rest, ": "); i >= 0 {
				g.Demo = rest[i+2:]
			}
			continue
		}
		if _, url, ok := strings.Cut(sc.Text(), " at "); ok {
			g.URL = strings.TrimSuffix(url, "/")
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if g.URL == "" {
		cancel()
		t.Fatalf("serve did not start (exit %d):\n%s", <-g.done, g.logs.String())
	}
	t.Cleanup(func() { g.stop(t) })
	return g
}

// stop shuts the gateway down as SIGTERM would and checks it exits 0.
func (g *gateway) stop(t *testing.T) {
	t.Helper()
	if g.cancel == nil {
		return
	}
	g.cancel()
	g.cancel = nil
	if code := <-g.done; code != 0 {
		t.Errorf("serve exited %d:\n%s", code, g.logs.String())
	}
}

// customer talks to the gateway's JSON API.
type customer struct {
	t     *testing.T
	base  string
	token string
}

func mustCustomer(t *testing.T, g *gateway) *customer {
	t.Helper()
	var s struct{ Token, User string }
	code := doJSON(t, "POST", g.URL+"/api/session", "", nil, &s)
	if code != 200 || s.Token == "" {
		t.Fatalf("session: %d %+v", code, s)
	}
	return &customer{t: t, base: g.URL, token: s.Token}
}

type replyJSON struct {
	Duplicate bool   `json:"duplicate"`
	Status    string `json:"status"`
	Replies   []struct {
		Kind    string `json:"kind"`
		Intent  string `json:"intent"`
		Text    string `json:"text"`
		Choices []struct{ ID, Label string }
	} `json:"replies"`
	Error string `json:"error"`
}

func (c *customer) say(id string, body map[string]any) (int, replyJSON) {
	c.t.Helper()
	body["id"] = id
	var r replyJSON
	code := doJSON(c.t, "POST", c.base+"/api/messages", c.token, body, &r)
	return code, r
}

type entryJSON struct {
	ID, Dir, Kind, Text string
	MsgID               string `json:"msg_id"`
}

func (c *customer) history(after string) []entryJSON {
	c.t.Helper()
	var r struct{ Entries []entryJSON }
	if code := doJSON(c.t, "GET", c.base+"/api/messages?after="+after, c.token, nil, &r); code != 200 {
		c.t.Fatalf("history: %d", code)
	}
	return r.Entries
}

func doJSON(t *testing.T, method, url, token string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %q: %v", method, url, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

var (
	clarifyOnce sync.Once
	clarifyText string
)

// aClarifyText finds a message the sample FAQ's matcher answers with clarify,
// its first choice one the bot answers.
func aClarifyText(t *testing.T) string {
	t.Helper()
	clarifyOnce.Do(func() {
		f, err := faq.LoadSample()
		if err != nil {
			t.Fatal(err)
		}
		l, err := intents.NewLive(f, "", intents.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		m := l.Matcher()
		for _, in := range f.Intents {
			for _, q := range in.Questions {
				if r := []rune(q); len(r) >= 3 {
					// Its first choice must be one the bot answers (a topic's
					// first choice can be an urgent intent, which hands off).
					res := m.Match(string(r[:2]))
					if res.Action != intents.ActionClarify || len(res.Choices) < 2 {
						continue
					}
					if a, _ := m.PickChoice(res.Choices[0]); a == intents.ActionAnswer {
						clarifyText = string(r[:2])
						return
					}
				}
			}
		}
	})
	if clarifyText == "" {
		t.Fatal("no clarify case in the sample FAQ")
	}
	return clarifyText
}

// TestServeConversation holds a conversation through the JSON API against a
// real redis-server: answer, clarify then choose, duplicate, low confidence
// twice then hand-off, a restart in the middle.
func TestServeConversation(t *testing.T) {
	mustRedisEnv(t)
	clarify := aClarifyText(t)
	// The per-visitor message limit is in Redis and outlives the restart
	// below: room for this test's eight messages.
	cfg := filepath.Join(t.TempDir(), "kefu.yaml")
	if err := os.WriteFile(cfg, []byte("web:\n  rate_per_second: 100\n  burst: 100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g := mustServe(t, "--config", cfg)
	c := mustCustomer(t, g)

	code, r := c.say("m1", map[string]any{"text": "快递到哪了"})
	if code != 200 || len(r.Replies) != 1 || r.Replies[0].Kind != "answer" || r.Replies[0].Intent != "logistics_track" {
		t.Fatalf("answer: %d %+v", code, r)
	}
	// The same message id again: answered once, and given that answer.
	code, r = c.say("m1", map[string]any{"text": "快递到哪了"})
	if code != 200 || !r.Duplicate || r.Status != "answered" || len(r.Replies) != 1 || r.Replies[0].Intent != "logistics_track" {
		t.Fatalf("duplicate: %d %+v", code, r)
	}
	code, r = c.say("m2", map[string]any{"text": clarify})
	if code != 200 || len(r.Replies) != 1 || r.Replies[0].Kind != "clarify" || len(r.Replies[0].Choices) < 2 {
		t.Fatalf("clarify %q: %d %+v", clarify, code, r)
	}
	pick := r.Replies[0].Choices[0]
	code, r = c.say("m3", map[string]any{"text": pick.Label, "choice": pick.ID})
	if code != 200 || len(r.Replies) != 1 || r.Replies[0].Intent != pick.ID {
		t.Fatalf("choose %s: %d %+v", pick.ID, code, r)
	}

	// Restart the gateway in the middle: the conversation is in Redis.
	before := c.history("")
	g.stop(t)
	g = mustServe(t, "--config", cfg)
	c.base = g.URL
	if after := c.history(""); len(after) != len(before) || after[len(after)-1].ID != before[len(before)-1].ID {
		t.Fatalf("history after restart: %d entries, want %d", len(after), len(before))
	}

	code, r = c.say("m4", map[string]any{"text": "asdfgh qwerty"})
	if code != 200 || len(r.Replies) != 1 || r.Replies[0].Kind != "fallback" {
		t.Fatalf("low confidence 1: %d %+v", code, r)
	}
	code, r = c.say("m5", map[string]any{"text": "zxcvb"})
	if code != 200 || len(r.Replies) < 1 || r.Replies[0].Kind != "handoff" {
		t.Fatalf("low confidence 2: %d %+v", code, r)
	}
	// Waiting for a person: the message is kept and acknowledged, once
	// (the next message after it would get no reply).
	code, r = c.say("m6", map[string]any{"text": "快递到哪了"})
	if code != 200 || len(r.Replies) != 1 || r.Replies[0].Kind != "notice" {
		t.Fatalf("while waiting: %d %+v", code, r)
	}
	h := c.history("")
	var ins []string
	for _, e := range h {
		if e.Dir == "in" {
			ins = append(ins, e.MsgID)
		}
	}
	if want := "m1 m2 m3 m4 m5 m6"; strings.Join(ins, " ") != want {
		t.Errorf("inbound transcript %q, want %q (each once)", strings.Join(ins, " "), want)
	}
	// Resume: only what came after an id.
	if tail := c.history(h[len(h)-2].ID); len(tail) != 1 || tail[0].ID != h[len(h)-1].ID {
		t.Errorf("history after %s: %+v", h[len(h)-2].ID, tail)
	}

	var metrics bytes.Buffer
	resp, err := http.Get(g.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(&metrics, resp.Body)
	resp.Body.Close()
	for _, want := range []string{`kefu_handoffs_total{channel="web",reason="low_confidence"} 1`, `kefu_messages_total{action="fallback",channel="web"} 1`, "kefu_match_seconds_count"} {
		if !strings.Contains(metrics.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestServeLimits: every refusal is a clear error and stores nothing.
func TestServeLimits(t *testing.T) {
	mustRedisEnv(t)
	cfg := filepath.Join(t.TempDir(), "kefu.yaml")
	os.WriteFile(cfg, []byte("web:\n  max_message_len: 20\n  rate_per_second: 0.001\n  burst: 3\n  max_body_bytes: 2048\n"), 0o644)
	g := mustServe(t, "--config", cfg)
	c := mustCustomer(t, g)
	cases := []struct {
		name  string
		token string
		body  any
		code  int
		err   string
	}{
		{"no token", "", map[string]any{"id": "a", "text": "你好"}, 401, "no_visitor"},
		{"forged token", "v1.AAAAAAAAAAAAAAAAAAAAAA.xxxxxxxxxxxxxxxxxxxxxxxx", map[string]any{"id": "a", "text": "你好"}, 401, "no_visitor"},
		{"too long", c.token, map[string]any{"id": "b", "text": strings.Repeat("长", 21)}, 400, "too_long"},
		{"empty", c.token, map[string]any{"id": "c", "text": "   "}, 400, "empty"},
		{"body too big", c.token, map[string]any{"id": "d", "text": strings.Repeat("x", 4096)}, 413, "too_large"},
		{"bad kind", c.token, map[string]any{"id": "e", "text": "hi", "kind": "admin"}, 400, "bad_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r replyJSON
			if code := doJSON(t, "POST", g.URL+"/api/messages", tc.token, tc.body, &r); code != tc.code || r.Error != tc.err {
				t.Errorf("got %d %q, want %d %q", code, r.Error, tc.code, tc.err)
			}
		})
	}
	if h := c.history(""); len(h) != 0 {
		t.Errorf("refused messages were stored: %+v", h)
	}
	// Burst 3, then 429 (the bucket refills once in 1000 s).
	var codes []int
	for i := range 4 {
		code, _ := c.say(fmt.Sprint("r", i), map[string]any{"text": "你好"})
		codes = append(codes, code)
	}
	if fmt.Sprint(codes) != "[200 200 200 429]" {
		t.Errorf("rate limit: codes %v, want [200 200 200 429]", codes)
	}
	if h := c.history(""); len(h) != 6 {
		t.Errorf("%d transcript entries, want 3 messages + 3 replies", len(h))
	}
	// A malformed resume point is refused, not read as "from the start".
	var bad replyJSON
	if code := doJSON(t, "GET", g.URL+"/api/messages?after=not-an-id", c.token, nil, &bad); code != 400 || bad.Error != "bad_request" {
		t.Errorf("malformed after: %d %q, want 400 bad_request", code, bad.Error)
	}
	// Another customer cannot read this one's conversation with a malformed
	// or foreign token, and gets their own empty one.
	other := mustCustomer(t, g)
	if h := other.history(""); len(h) != 0 {
		t.Errorf("a new customer sees %d entries", len(h))
	}
}

// TestServeWebSocket: the page's socket gets the history, its own message
// and the answer, and resumes after a reconnect from the last id.
func TestServeWebSocket(t *testing.T) {
	mustRedisEnv(t)
	g := mustServe(t)
	c := mustCustomer(t, g)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dial := func(after string) *websocket.Conn {
		conn, _, err := websocket.Dial(ctx, strings.Replace(g.URL, "http", "ws", 1)+"/ws?token="+c.token+"&after="+after, nil)
		if err != nil {
			t.Fatal(err)
		}
		return conn
	}
	type frame struct {
		Type    string
		On      *bool
		Error   string
		Entries []entryJSON
	}
	// next returns the next entries frame, skipping typing frames.
	next := func(conn *websocket.Conn) frame {
		for {
			var f frame
			if err := wsjson.Read(ctx, conn, &f); err != nil {
				t.Fatal(err)
			}
			if f.Type != "typing" {
				return f
			}
		}
	}
	conn := dial("")
	if f := next(conn); f.Type != "entries" || len(f.Entries) != 0 {
		t.Fatalf("first frame %+v, want empty entries", f)
	}
	wsjson.Write(ctx, conn, map[string]any{"type": "message", "id": "w1", "text": "怎么退货"})
	var got []entryJSON
	for len(got) < 2 {
		f := next(conn)
		if f.Type != "entries" {
			t.Fatalf("frame %+v", f)
		}
		got = append(got, f.Entries...)
	}
	if got[0].Dir != "in" || got[0].MsgID != "w1" || got[1].Dir != "out" {
		t.Fatalf("entries %+v", got)
	}
	conn.Close(websocket.StatusNormalClosure, "")

	// Meanwhile a message through the API (another tab); the reconnected
	// socket receives only what it has not seen.
	c.say("w2", map[string]any{"text": "快递到哪了"})
	conn = dial(got[len(got)-1].ID)
	defer conn.Close(websocket.StatusNormalClosure, "")
	f := next(conn)
	if len(f.Entries) != 2 || f.Entries[0].MsgID != "w2" {
		t.Fatalf("after reconnect %+v", f)
	}
	// A refused message comes back as an error frame.
	wsjson.Write(ctx, conn, map[string]any{"type": "message", "id": "w3", "text": strings.Repeat("长", 2000)})
	if f := next(conn); f.Type != "error" || f.Error != "too_long" {
		t.Fatalf("too long: %+v", f)
	}
	// A socket with a malformed resume point is refused.
	if _, resp, err := websocket.Dial(ctx, strings.Replace(g.URL, "http", "ws", 1)+"/ws?token="+c.token+"&after=1-2-3", nil); err == nil || resp == nil || resp.StatusCode != 400 {
		t.Errorf("malformed after: err %v", err)
	}
	// A socket without a valid token is refused.
	if _, resp, err := websocket.Dial(ctx, strings.Replace(g.URL, "http", "ws", 1)+"/ws?token=v1.bad.bad", nil); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Errorf("forged token: err %v", err)
	}
}

// TestServeHotReload: an FAQ edit changes answers without a restart; a
// broken edit keeps the old FAQ and shows in the log and the metric.
func TestServeHotReload(t *testing.T) {
	mustRedisEnv(t)
	dir := t.TempDir()
	src, _ := filepath.Glob("../../faq/sample/*.yaml")
	for _, f := range src {
		b, _ := os.ReadFile(f)
		os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644)
	}
	cfg := filepath.Join(t.TempDir(), "kefu.yaml")
	os.WriteFile(cfg, []byte("web:\n  rate_per_second: 1000\n  burst: 1000\n"), 0o644)
	g := mustServe(t, "--faq", dir, "--config", cfg)
	c := mustCustomer(t, g)
	ask := func(id string) string {
		_, r := c.say(id, map[string]any{"text": "快递到哪了"})
		if len(r.Replies) != 1 {
			t.Fatalf("replies %+v", r)
		}
		return r.Replies[0].Text
	}
	old := ask("h0")
	file := ""
	for _, f := range src {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), old[:30]) {
			file = filepath.Join(dir, filepath.Base(f))
		}
	}
	if file == "" {
		t.Fatal("answer not found in the sample files")
	}
	b, _ := os.ReadFile(file)
	os.WriteFile(file, bytes.Replace(b, []byte(old[:30]), []byte("【热更新】"+old[:30]), 1), 0o644)
	waitFor(t, func() bool { return strings.HasPrefix(ask(fmt.Sprint("h", time.Now().UnixNano())), "【热更新】") })

	os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("intents:\n  - id: [unclosed\n"), 0o644)
	waitFor(t, func() bool { return strings.Contains(g.logs.String(), "faq reload refused") })
	if got := ask("h-after"); !strings.HasPrefix(got, "【热更新】") {
		t.Errorf("after a broken edit the answer is %q", got)
	}
	resp, err := http.Get(g.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(m), `kefu_faq_reloads_total{result="failed"} 1`) || strings.Contains(string(m), `kefu_faq_reloads_total{result="ok"} 0`) {
		t.Errorf("reload metrics:\n%s", grep(string(m), "kefu_faq_reloads_total"))
	}
}

// TestServeHealth: /healthz and /readyz; a bad config lists every problem.
func TestServeHealth(t *testing.T) {
	mustRedisEnv(t)
	g := mustServe(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(g.URL + p)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("%s: %v %v", p, resp, err)
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
	cfg := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(cfg, []byte("server:\n  log_format: xml\nweb:\n  burst: 0\n"), 0o644)
	t.Setenv("REDIS_URL", "redis://:s3cretpw@127.0.0.1:1/0")
	code, out := runKefu(t, "serve", "--config", cfg)
	if code == 0 || !strings.Contains(out, "log_format") || !strings.Contains(out, "burst") {
		t.Errorf("bad config: exit %d\n%s", code, out)
	}
	if strings.Contains(out, "s3cretpw") {
		t.Error("the Redis password appears in the output")
	}
}

// waitFor polls cond until it holds (the FAQ watcher works in the
// background); it fails after a generous deadline, it does not time anything.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 20 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestBenchWebSmoke: the load tool runs against a real redis-server and
// prints both lines.
func TestBenchWebSmoke(t *testing.T) {
	mustRedisEnv(t)
	code, out := runKefu(t, "bench", "web", "--customers", "3", "--messages", "4")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{"matcher alone: 12 messages", "gateway (JSON API, 3 customers): 12 messages", "msg/s, p50"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestServeWeChatMounted: with the WeChat credentials in the environment the
// server URL answers WeChat's echostr check, and refuses a bad signature.
func TestServeWeChatMounted(t *testing.T) {
	mustRedisEnv(t)
	t.Setenv("KEFU_WECHAT_APP_ID", "wx0123456789abcdef")
	t.Setenv("KEFU_WECHAT_APP_SECRET", "app-secret-not-logged")
	t.Setenv("KEFU_WECHAT_TOKEN", "tok3n")
	g := mustServe(t)
	ts := fmt.Sprint(time.Now().Unix()) // within wechat.timestamp_window
	parts := []string{"tok3n", ts, "n0nce"}
	sort.Strings(parts)
	sig := fmt.Sprintf("%x", sha1.Sum([]byte(strings.Join(parts, ""))))
	get := func(sig string) (int, string) {
		resp, err := http.Get(g.URL + "/wechat?signature=" + sig + "&timestamp=" + ts + "&nonce=n0nce&echostr=hello")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(sig); code != 200 || body != "hello" {
		t.Errorf("echostr check: %d %q", code, body)
	}
	if code, _ := get("0000"); code != 403 {
		t.Errorf("bad signature: %d, want 403", code)
	}
	if strings.Contains(g.logs.String(), "app-secret-not-logged") {
		t.Error("the AppSecret is in the log")
	}
}
