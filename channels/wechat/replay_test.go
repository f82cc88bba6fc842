package wechat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/internal/testkit"
	"github.com/kefu-dev/kefu/internal/testkit/sampletest"
)

// rawPost posts body with the query and returns the status and the answer.
func rawPost(tb testing.TB, srvURL, query string, body []byte) (int, string) {
	tb.Helper()
	resp, err := http.Post(srvURL+"?"+query, "text/xml", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// mustLog fails unless the adapter logged want.
func mustLog(tb testing.TB, a *testAdapter, want string) {
	tb.Helper()
	if !strings.Contains(a.logs.String(), want) {
		tb.Errorf("no %q in the log:\n%s", want, a.logs.String())
	}
}

// TestVectorReplayRefused: an official safe-mode request (the samples'
// msg_signature and Encrypt, the clock at their timestamp) is accepted once
// in the default mode; the same request after WeChat's retries is refused,
// on this instance and on another sharing the Redis, and the engine saw one
// message. Before, every replay reached the engine.
func TestVectorReplayRefused(t *testing.T) {
	var n int
	for _, v := range loadVectors(t) {
		if v.Kind != "decrypt_msg" || v.Product != "official_account" {
			continue
		}
		n++
		t.Run(v.ID, func(t *testing.T) {
			rdb, prefix := mustRedis(t)
			cred := Credentials{AppID: v.AppID, AppSecret: "unused", Token: v.Token, AESKey: v.AESKey}
			h := &recordingHandler{}
			clk := testkit.NewClock(vectorClock(t, v)())
			var ads [2]*testAdapter
			for i := range ads {
				ads[i] = mustAdapterFor(t, Config{Mode: ModeSafe}, cred, h, rdb, prefix)
				ads[i].now = clk.Now
			}
			body := v.PostBody
			if body == "" {
				body = "<xml><ToUserName><![CDATA[x]]></ToUserName><Encrypt><![CDATA[" + v.Encrypt + "]]></Encrypt></xml>"
			}
			q := url.Values{"timestamp": {v.Timestamp}, "nonce": {v.Nonce}, "signature": {sign(v.Token, v.Timestamp, v.Nonce)},
				"encrypt_type": {"aes"}, "msg_signature": {v.MsgSignature}}.Encode()
			if st, out := rawPost(t, ads[0].srv.URL, q, []byte(body)); st != 200 {
				t.Fatalf("the vector: %d %s", st, out)
			}
			clk.Advance(retrySpan + time.Second) // WeChat's retries are over; the window is not
			for i, a := range ads {
				if st, _ := rawPost(t, a.srv.URL, q, []byte(body)); st != http.StatusForbidden {
					t.Errorf("replay on instance %d: status %d, want 403", i, st)
				}
				mustLog(t, a, "wechat request refused: replayed")
			}
			if got := h.got(); len(got) != 1 {
				t.Errorf("the engine saw %d messages, want 1: %+v", len(got), got)
			}
		})
	}
	if n != 3 {
		t.Fatalf("%d official-account decrypt vectors, want 3", n)
	}
}

// TestForgedBodyRefused is the reported attack: in plain mode WeChat signs
// only the query, and one captured callback URL let a tester post messages
// as another openid. The pair now carries one message: another body under
// it is refused at once, on any instance; only the genuine message reached
// the engine.
func TestForgedBodyRefused(t *testing.T) {
	rdb, prefix := mustRedis(t)
	h := &recordingHandler{}
	cred := testCred
	cred.AESKey = ""
	a := mustAdapterFor(t, Config{Mode: ModePlain}, cred, h, rdb, prefix)
	b := mustAdapterFor(t, Config{Mode: ModePlain}, cred, h, rdb, prefix)
	c := &wx{tb: t, url: a.srv.URL}
	if st, got := c.post(textXML("oUser_real", nextMsgID(), "你好")); st != 200 || got != "收到：你好" {
		t.Fatalf("genuine message: %d %q", st, got)
	}
	for i, x := range []*testAdapter{a, b} {
		forged := []byte(textXML("oUser_victim", nextMsgID(), fmt.Sprintf("投诉 %d", i)))
		if st, _ := rawPost(t, x.srv.URL, c.last.query, forged); st != http.StatusForbidden {
			t.Errorf("forged body on instance %d: status %d, want 403", i, st)
		}
		mustLog(t, x, "by another message")
	}
	if got := h.got(); len(got) != 1 || got[0].User != "oUser_real" {
		t.Errorf("the engine saw %+v, want the genuine message only", got)
	}
}

// TestEchostrURLCarriesNoMessage: the echostr check is signed like a
// message (token, timestamp, nonce); a POST under a captured echostr URL
// (access logs keep GET queries) is refused like any other reuse, on every
// instance.
func TestEchostrURLCarriesNoMessage(t *testing.T) {
	rdb, prefix := mustRedis(t)
	h := &recordingHandler{}
	cred := testCred
	cred.AESKey = ""
	a := mustAdapterFor(t, Config{Mode: ModePlain}, cred, h, rdb, prefix)
	b := mustAdapterFor(t, Config{Mode: ModePlain}, cred, h, rdb, prefix)
	q := signedQuery(time.Now())
	q.Set("echostr", "e-check")
	resp, err := http.Get(a.srv.URL + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("echostr check: %d", resp.StatusCode)
	}
	q.Del("echostr")
	forged := []byte(textXML("oUser_victim", nextMsgID(), "投诉"))
	if st, _ := rawPost(t, b.srv.URL, q.Encode(), forged); st != http.StatusForbidden {
		t.Errorf("message under the echostr check's signature: %d, want 403", st)
	}
	if got := h.got(); len(got) != 0 {
		t.Errorf("the engine saw %+v", got)
	}
}

// TestRetrySameNonce: WeChat's retries repeat the first try's query and body
// (same timestamp, nonce and signature). The first try fails (500), the
// retry on another instance, byte for byte the same request, is answered;
// WeChat's third try gets the same passive reply; one answer in the
// transcript. A fourth repeat, or one after the retry span, is refused.
func TestRetrySameNonce(t *testing.T) {
	rdb, prefix := mustRedis(t)
	api := newFakeAPI(t)
	erdb := engineClient(t)
	hook := &testkit.FailHook{Match: isReplyWrite}
	hook.FailNext(1)
	erdb.AddHook(hook)
	eng, _ := mustEngine(t, erdb, prefix)
	clk := testkit.NewClock(time.Now())
	a := mustAdapter(t, Config{Mode: ModeSafe}, eng, rdb, prefix)
	b := mustAdapter(t, Config{Mode: ModeSafe}, eng, rdb, prefix)
	a.now, b.now = clk.Now, clk.Now
	user := "oUser_samenonce"
	c := &wx{tb: t, url: a.srv.URL, safe: true, now: clk.Now}
	if st, _ := c.post(textXML(user, nextMsgID(), "快递到哪了")); st != http.StatusInternalServerError {
		t.Fatalf("first try: status %d, want 500", st)
	}
	want := answerText(sampletest.Live(t).Matcher(), "logistics_track")
	for i, url := range []string{b.srv.URL, a.srv.URL} {
		clk.Advance(5 * time.Second)
		c.url = url
		if st, got := c.resend(); st != 200 || got != want {
			t.Errorf("retry %d: %d %q, want the answer", i+1, st, got)
		}
	}
	mustLog(t, b, "wechat retry of a request")
	clk.Advance(5 * time.Second)
	if st, _ := c.resend(); st != 200 {
		t.Errorf("WeChat's third retry: status %d, want 200", st)
	}
	if st, _ := c.resend(); st != http.StatusForbidden {
		t.Errorf("a fourth repeat: status %d, want 403", st)
	}
	a.Close()
	b.Close()
	mustAnsweredPassivelyOnce(t, api, eng, user)

	// After the retry span, even the first repeat is a replay.
	other := mustAdapter(t, Config{Mode: ModeSafe}, &recordingHandler{}, rdb, prefix)
	other.now = clk.Now
	d := &wx{tb: t, url: other.srv.URL, safe: true, now: clk.Now}
	if st, _ := d.post(textXML(user, nextMsgID(), "在吗")); st != 200 {
		t.Fatalf("status %d", st)
	}
	clk.Advance(retrySpan + time.Second)
	if st, _ := d.resend(); st != http.StatusForbidden {
		t.Errorf("repeat after the retry span: status %d, want 403", st)
	}
}

// TestTimestampWindow: a request whose signed timestamp is missing, not a
// number, or outside the window (2020, 2100, one second beyond the window
// either way) is refused with a log line naming the skew, for messages and
// for the echostr check; the edges of the window are accepted. Before, any
// timestamp was accepted.
func TestTimestampWindow(t *testing.T) {
	rdb, prefix := mustRedis(t)
	h := &recordingHandler{}
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	a := mustAdapter(t, Config{}, h, rdb, prefix)
	a.now = func() time.Time { return now }
	short := mustAdapter(t, Config{TimestampWindow: time.Minute}, h, rdb, prefix)
	short.now = a.now
	unix := func(tm time.Time) string { return fmt.Sprint(tm.Unix()) }
	for _, tc := range []struct {
		name string
		a    *testAdapter
		ts   string // "-": no timestamp parameter
		ok   bool
		skew string // in the log line
	}{
		{"2020", a, unix(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)), false, "skew=60660h0m0s"},
		{"2100", a, unix(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)), false, "skew=-640620h0m0s"},
		{"window+1s ago", a, unix(now.Add(-5*time.Minute - time.Second)), false, "skew=5m1s"},
		{"window+1s ahead", a, unix(now.Add(5*time.Minute + time.Second)), false, "skew=-5m1s"},
		{"window ago", a, unix(now.Add(-5 * time.Minute)), true, ""},
		{"window ahead", a, unix(now.Add(5 * time.Minute)), true, ""},
		{"now", a, unix(now), true, ""},
		{"configured window", short, unix(now.Add(-2 * time.Minute)), false, "skew=2m0s"},
		{"missing", a, "-", false, ""},
		{"empty", a, "", false, ""},
		{"not a number", a, "17e8", false, ""},
		{"huge", a, "99999999999999999999", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nonce := fmt.Sprint(nonceSeq.Add(1))
			q := url.Values{"nonce": {nonce}, "signature": {sign(testCred.Token, strings.TrimPrefix(tc.ts, "-"), nonce)}}
			if tc.ts != "-" {
				q.Set("timestamp", tc.ts)
			}
			before := len(h.got())
			st, _ := rawPost(t, tc.a.srv.URL, q.Encode(), []byte(textXML("oUser_ts", nextMsgID(), "hi")))
			// The echostr check under a nonce of its own: a pair carries
			// one request (TestEchostrURLCarriesNoMessage).
			nonce = fmt.Sprint(nonceSeq.Add(1))
			q.Set("nonce", nonce)
			q.Set("signature", sign(testCred.Token, strings.TrimPrefix(tc.ts, "-"), nonce))
			q.Set("echostr", "e"+nonce)
			resp, err := http.Get(tc.a.srv.URL + "?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			reached := len(h.got()) - before
			if tc.ok {
				if st != 200 || resp.StatusCode != 200 || reached != 1 {
					t.Errorf("POST %d, GET %d, %d messages reached the engine; want 200, 200, 1", st, resp.StatusCode, reached)
				}
				return
			}
			if st != http.StatusForbidden || resp.StatusCode != http.StatusForbidden || reached != 0 {
				t.Errorf("POST %d, GET %d, %d messages reached the engine; want 403, 403, 0", st, resp.StatusCode, reached)
			}
			logs := tc.a.logs.String()
			line := ""
			for _, l := range strings.Split(logs, "\n") {
				if strings.Contains(l, "timestamp outside the window") && strings.Contains(l, "timestamp="+tc.ts) {
					line = l
				}
			}
			if tc.ts == "-" || tc.ts == "" {
				line = lastLine(logs, "timestamp outside the window")
			}
			if line == "" || !strings.Contains(line, tc.skew) || !strings.Contains(line, "remote=") {
				t.Errorf("log line %q, want the refusal with %q and the remote address", line, tc.skew)
			}
			if strings.Contains(logs, q.Get("signature")) {
				t.Errorf("the signature was logged:\n%s", logs)
			}
		})
	}
}

func lastLine(logs, substr string) string {
	var found string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, substr) {
			found = l
		}
	}
	return found
}

// TestModes: what each mode accepts. Safe mode refuses the downgrades (a
// plaintext body with a valid query signature and no encrypt_type; an
// encrypted one without or with a wrong msg_signature); compatible mode
// accepts both kinds; plain mode refuses encrypted messages. Before, a
// plaintext body was accepted whatever the configuration.
func TestModes(t *testing.T) {
	rdb, prefix := mustRedis(t)
	noKey := testCred
	noKey.AESKey = ""
	msg := func() []byte { return []byte(textXML("oUser_mode", nextMsgID(), "hi")) }
	type request func() (query string, body []byte)
	plain := func() (string, []byte) { return signedQuery(time.Now()).Encode(), msg() }
	encrypted := func() (string, []byte) {
		q := signedQuery(time.Now())
		body := seal(t, q, msg())
		return q.Encode(), body
	}
	noMsgSig := func() (string, []byte) {
		q := signedQuery(time.Now())
		body := seal(t, q, msg())
		q.Del("msg_signature")
		return q.Encode(), body
	}
	badMsgSig := func() (string, []byte) {
		q := signedQuery(time.Now())
		body := seal(t, q, msg())
		q.Set("msg_signature", sign(testCred.Token, q.Get("timestamp"), q.Get("nonce"), "other"))
		return q.Encode(), body
	}
	encryptTypeOnPlain := func() (string, []byte) { // encrypt_type=aes over a plaintext body
		q := signedQuery(time.Now())
		q.Set("encrypt_type", "aes")
		return q.Encode(), msg()
	}
	for _, tc := range []struct {
		name   string
		mode   Mode
		cred   Credentials
		req    request
		status int
		log    string
	}{
		{"safe: encrypted", ModeSafe, testCred, encrypted, 200, ""},
		{"safe: plaintext without encrypt_type", ModeSafe, testCred, plain, 403, "plaintext message in safe mode"},
		{"safe: no msg_signature", ModeSafe, testCred, noMsgSig, 403, "msg_signature"},
		{"safe: wrong msg_signature", ModeSafe, testCred, badMsgSig, 403, "msg_signature"},
		{"safe: encrypt_type over plaintext", ModeSafe, testCred, encryptTypeOnPlain, 400, "no Encrypt element"},
		{"compatible: encrypted", ModeCompatible, testCred, encrypted, 200, ""},
		{"compatible: plaintext", ModeCompatible, testCred, plain, 200, ""},
		{"compatible: wrong msg_signature", ModeCompatible, testCred, badMsgSig, 403, "msg_signature"},
		{"plain: plaintext", ModePlain, noKey, plain, 200, ""},
		{"plain: encrypted, no key", ModePlain, noKey, encrypted, 403, "encrypted message in plain mode"},
		{"plain: encrypted, key configured", ModePlain, testCred, encrypted, 403, "encrypted message in plain mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &recordingHandler{}
			a := mustAdapterFor(t, Config{Mode: tc.mode}, tc.cred, h, rdb, prefix)
			q, body := tc.req()
			st, out := rawPost(t, a.srv.URL, q, body)
			if st != tc.status {
				t.Errorf("status %d (%s), want %d", st, out, tc.status)
			}
			if want := map[bool]int{true: 1, false: 0}[tc.status == 200]; len(h.got()) != want {
				t.Errorf("%d messages reached the engine, want %d", len(h.got()), want)
			}
			if tc.log != "" {
				mustLog(t, a, tc.log)
			}
		})
	}
}

// TestModeConfig: the default mode follows the credentials; a mode that
// needs the EncodingAESKey without one, an unknown mode or a negative window
// is a configuration error.
func TestModeConfig(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never used
	t.Cleanup(func() { rdb.Close() })
	noKey := testCred
	noKey.AESKey = ""
	for _, tc := range []struct {
		name string
		cfg  Config
		cred Credentials
		want Mode // "": ErrConfig
	}{
		{"default with key", Config{}, testCred, ModeSafe},
		{"default without key", Config{}, noKey, ModePlain},
		{"safe", Config{Mode: ModeSafe}, testCred, ModeSafe},
		{"compatible", Config{Mode: ModeCompatible}, testCred, ModeCompatible},
		{"plain with key", Config{Mode: ModePlain}, testCred, ModePlain},
		{"safe without key", Config{Mode: ModeSafe}, noKey, ""},
		{"compatible without key", Config{Mode: ModeCompatible}, noKey, ""},
		{"unknown", Config{Mode: "secure"}, testCred, ""},
		{"negative window", Config{TimestampWindow: -time.Second}, testCred, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := New(tc.cfg, tc.cred, &recordingHandler{}, rdb, "", nil)
			if tc.want == "" {
				if !errors.Is(err, ErrConfig) {
					t.Errorf("err = %v, want ErrConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.cfg.Mode != tc.want || a.cfg.TimestampWindow != 5*time.Minute {
				t.Errorf("mode %q window %v, want %q 5m0s", a.cfg.Mode, a.cfg.TimestampWindow, tc.want)
			}
		})
	}
	if err := (Config{Mode: "Safe"}).Validate(); !errors.Is(err, ErrConfig) {
		t.Errorf("Validate of an unknown mode: %v", err)
	}
	if err := (Config{Mode: ModeCompatible, TimestampWindow: time.Minute}).Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// TestNonceUnavailable: when Redis cannot record the nonce the message is
// refused with 503 (fail closed: WeChat retries) and a log line; the retry,
// once Redis answers, is accepted. The nonce lives twice the window.
func TestNonceUnavailable(t *testing.T) {
	_, prefix := mustRedis(t)
	rdb := testkit.Redis(t, 0)
	hook := &testkit.FailHook{Match: func(cmd redis.Cmder) bool {
		return strings.Contains(fmt.Sprint(cmd.Args()), ":wechat:nonce:")
	}}
	rdb.AddHook(hook)
	h := &recordingHandler{}
	a := mustAdapter(t, Config{TimestampWindow: 2 * time.Minute}, h, rdb, prefix)
	c := &wx{tb: t, url: a.srv.URL}
	hook.FailNext(1)
	if st, _ := c.post(textXML("oUser_nonce503", nextMsgID(), "hi")); st != http.StatusServiceUnavailable {
		t.Errorf("redis down: status %d, want 503", st)
	}
	mustLog(t, a, "replay check unavailable")
	if len(h.got()) != 0 {
		t.Errorf("the message reached the engine unchecked")
	}
	if st, got := c.resend(); st != 200 || got != "收到：hi" {
		t.Errorf("WeChat's retry: %d %q", st, got)
	}
	q, _ := url.ParseQuery(c.last.query)
	ttl, err := rdb.PTTL(context.Background(), a.nonceKey(q.Get("timestamp"), q.Get("nonce"))).Result()
	if err != nil || ttl <= 2*time.Minute || ttl > 4*time.Minute {
		t.Errorf("nonce TTL %v %v, want more than the window, at most twice it", ttl, err)
	}
}
