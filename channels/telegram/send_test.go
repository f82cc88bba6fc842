package telegram

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kefu-dev/kefu/bot"
)

func agentReply(uid int64, text string) bot.Outbound {
	return bot.Outbound{Channel: "telegram", User: fmt.Sprint(uid), Kind: bot.OutAgent, Agent: "wang", Text: text}
}

func TestSend429ThenSuccess(t *testing.T) {
	h := newHarness(t, ModeWebhook)
	const uid = 778001
	var mu sync.Mutex
	tries := 0
	h.f.setFail(func(method string, p map[string]string) (int, string, bool) {
		mu.Lock()
		defer mu.Unlock()
		if method == "sendMessage" && tries < 1 {
			tries++
			return 429, `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}`, true
		}
		return 0, "", false
	})
	if err := h.a.Send(context.Background(), agentReply(uid, "稍等")); err != nil {
		t.Fatal(err)
	}
	if got := len(h.f.callsOf("sendMessage")); got != 2 {
		t.Errorf("sendMessage calls %d, want 2 (429, then success)", got)
	}
	if d := <-h.sleeps; d != 3*time.Second {
		t.Errorf("waited %v, want retry_after 3s", d)
	}
}

func TestSend5xxBackoffAndLimit(t *testing.T) {
	h := newHarness(t, ModeWebhook, func(c *Config) { c.SendAttempts = 4 })
	const uid = 778002
	var mu sync.Mutex
	fails := 2
	h.f.setFail(func(method string, p map[string]string) (int, string, bool) {
		mu.Lock()
		defer mu.Unlock()
		if method == "sendMessage" && fails > 0 {
			fails--
			return 502, `<html>Bad Gateway</html>`, true
		}
		return 0, "", false
	})
	if err := h.a.Send(context.Background(), agentReply(uid, "稍等")); err != nil {
		t.Fatal(err)
	}
	waits := []time.Duration{<-h.sleeps, <-h.sleeps}
	if diff := cmp.Diff([]time.Duration{time.Second, 2 * time.Second}, waits); diff != "" {
		t.Errorf("backoff (-want +got):\n%s", diff)
	}
	// A failure that persists: at most SendAttempts tries, then ErrSendFailed.
	mu.Lock()
	fails = 100
	mu.Unlock()
	before := len(h.f.callsOf("sendMessage"))
	err := h.a.Send(context.Background(), agentReply(uid, "还在吗"))
	if !errors.Is(err, ErrSendFailed) {
		t.Errorf("err %v, want ErrSendFailed", err)
	}
	if got := len(h.f.callsOf("sendMessage")) - before; got != 4 {
		t.Errorf("attempts %d, want 4", got)
	}
	// A 429 asking for longer than MaxRetryAfter is not waited for.
	h.f.setFail(func(method string, p map[string]string) (int, string, bool) {
		return 429, `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3600","parameters":{"retry_after":3600}}`, true
	})
	if err := h.a.Send(context.Background(), agentReply(uid, "x")); !errors.Is(err, ErrRateLimited) {
		t.Errorf("long retry_after: %v, want ErrRateLimited", err)
	}
}

// A chat that Telegram holds back (429) does not hold up another chat.
func TestSlowChatDoesNotBlockOthers(t *testing.T) {
	h := newHarness(t, ModeWebhook)
	const slow, fast = 778003, 778004
	release := make(chan struct{})
	waiting := make(chan struct{}, 1)
	h.a.sleep = func(ctx context.Context, d time.Duration) error {
		waiting <- struct{}{}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var mu sync.Mutex
	slowTries := 0
	h.f.setFail(func(method string, p map[string]string) (int, string, bool) {
		mu.Lock()
		defer mu.Unlock()
		if method == "sendMessage" && p["chat_id"] == fmt.Sprint(slow) && slowTries == 0 {
			slowTries++
			return 429, `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}}`, true
		}
		return 0, "", false
	})
	slowDone := make(chan error, 1)
	go func() { slowDone <- h.a.Send(context.Background(), agentReply(slow, "慢")) }()
	<-waiting // the slow chat is now waiting out its retry_after
	if err := h.a.Send(context.Background(), agentReply(fast, "快")); err != nil {
		t.Fatalf("fast chat: %v", err)
	}
	select {
	case err := <-slowDone:
		t.Fatalf("slow chat finished before its retry: %v", err)
	default:
	}
	close(release)
	if err := <-slowDone; err != nil {
		t.Fatalf("slow chat: %v", err)
	}
	if len(h.sentTo(fast)) != 1 || len(h.sentTo(slow)) != 2 {
		t.Errorf("fast %d slow %d", len(h.sentTo(fast)), len(h.sentTo(slow)))
	}
}

// The caller's context bounds a send that is still retrying.
func TestSendRespectsContext(t *testing.T) {
	h := newHarness(t, ModeWebhook)
	h.a.sleep = sleepCtx
	h.f.setFail(func(method string, p map[string]string) (int, string, bool) {
		return 500, `{"ok":false,"error_code":500,"description":"Internal Server Error"}`, true
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		eventually(t, "first attempt", func() bool { return len(h.f.callsOf("sendMessage")) > 0 })
		cancel()
	}()
	err := h.a.Send(ctx, agentReply(778005, "x"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
}

func TestSend403Blocked(t *testing.T) {
	h := newHarness(t, ModeWebhook)
	const uid = 778006
	h.f.setFail(func(method string, p map[string]string) (int, string, bool) {
		if method == "sendMessage" {
			return 403, `{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}`, true
		}
		return 0, "", false
	})
	err := h.a.Send(context.Background(), agentReply(uid, "您好"))
	if !errors.Is(err, ErrBlocked) {
		t.Fatalf("err %v, want ErrBlocked", err)
	}
	if !strings.Contains(err.Error(), "bot was blocked by the user") {
		t.Errorf("the agent should see Telegram's reason: %q", err)
	}
	// Remembered: the next send fails at once, without calling Telegram.
	h.f.setFail(nil)
	err = h.a.Send(context.Background(), agentReply(uid, "在吗"))
	if !errors.Is(err, ErrBlocked) || len(h.f.callsOf("sendMessage")) != 1 {
		t.Errorf("second send: %v after %d calls, want ErrBlocked after 1", err, len(h.f.callsOf("sendMessage")))
	}
	// Another instance (sharing Redis) knows too.
	other := h.newAdapter(h.a.cfg, h.e)
	if err := other.Send(context.Background(), agentReply(uid, "在吗")); !errors.Is(err, ErrBlocked) {
		t.Errorf("other instance: %v", err)
	}
	// The customer writes again: unblocked, answered.
	h.mustPost(textUpdate(uid, 1, "快递到哪了", ""))
	if len(h.sentTo(uid)) != 2 {
		t.Errorf("after the customer wrote again: %d sends", len(h.sentTo(uid)))
	}
}

func TestBlockedByMemberUpdate(t *testing.T) {
	h := newHarness(t, ModeWebhook)
	const uid = 778007
	h.mustPost(textUpdate(uid, 1, "/human", ""))
	member := func(status string) []byte {
		return mustJSON(map[string]any{"update_id": newUpdateID(), "my_chat_member": map[string]any{
			"chat": privateChat(uid), "from": user(uid, ""), "date": 1700000000,
			"old_chat_member": map[string]any{"status": "member", "user": map[string]any{"id": testBotID, "is_bot": true, "first_name": "kefu"}},
			"new_chat_member": map[string]any{"status": status, "user": map[string]any{"id": testBotID, "is_bot": true, "first_name": "kefu"}, "until_date": 0},
		}})
	}
	h.mustPost(member("kicked"))
	conv, err := h.e.Store.Load(context.Background(), bot.ConvID("telegram", fmt.Sprint(uid)))
	if err != nil || conv.Mode != bot.ModeClosed {
		t.Errorf("after blocking: %+v %v, want closed", conv, err)
	}
	n := len(h.f.callsOf("sendMessage"))
	if err := h.a.Send(context.Background(), agentReply(uid, "x")); !errors.Is(err, ErrBlocked) || len(h.f.callsOf("sendMessage")) != n {
		t.Errorf("send to a blocked chat: %v", err)
	}
	h.mustPost(member("member"))
	if err := h.a.Send(context.Background(), agentReply(uid, "x")); err != nil {
		t.Errorf("after unblocking: %v", err)
	}
}

func TestLongTextSplit(t *testing.T) {
	h := newHarness(t, ModeWebhook)
	const uid = 778008
	long := strings.Repeat("一二三四五六七八九十\n", 900) // 9900 characters
	out := agentReply(uid, long)
	out.Kind, out.Choices = bot.OutFallback, []bot.Choice{{ID: bot.ChoiceHuman, Label: "转人工"}}
	if err := h.a.Send(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	s := h.sentTo(uid)
	var joined string
	for i, c := range s {
		joined += c.Params["text"]
		if n := len([]rune(c.Params["text"])); n > 4096 {
			t.Errorf("part %d has %d characters", i, n)
		}
		if hasKB := c.Params["reply_markup"] != ""; hasKB != (i == len(s)-1) {
			t.Errorf("part %d keyboard %v", i, hasKB)
		}
	}
	if len(s) != 3 || joined != long {
		t.Errorf("%d parts; text kept whole: %v", len(s), joined == long)
	}
}

func TestTokenNeverLeaks(t *testing.T) {
	h := newHarness(t, ModePolling, func(c *Config) { c.BotUsername = "kefu_test_bot" })
	var errs []error
	// The Bot API goes down: network errors (whose URL holds the token).
	h.start()
	h.f.srv.Close()
	errs = append(errs, h.a.Send(context.Background(), agentReply(778009, "x")))
	eventually(t, "a getUpdates failure logged", func() bool { return strings.Contains(h.logs.String(), "getUpdates") })
	h.a.Close()
	// An API that answers 401 and 404 (a revoked token).
	h2 := newHarness(t, ModeWebhook)
	h2.f.setFail(func(method string, p map[string]string) (int, string, bool) {
		return 401, `{"ok":false,"error_code":401,"description":"Unauthorized"}`, true
	})
	errs = append(errs, h2.a.Send(context.Background(), agentReply(778009, "x")), h2.a.Start(context.Background()))
	for _, err := range errs {
		if err == nil {
			t.Error("expected an error")
			continue
		}
		if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), "secretTOKEN") {
			t.Errorf("token in error: %q", err)
		}
		for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
			if strings.Contains(e.Error(), "secretTOKEN") {
				t.Errorf("token in wrapped error: %q", e)
			}
		}
	}
	for _, logs := range []string{h.logs.String(), h2.logs.String()} {
		if logs == "" {
			t.Error("no log captured")
		}
		if strings.Contains(logs, "secretTOKEN") || strings.Contains(logs, testSecret) {
			t.Errorf("token or secret in the log:\n%s", logs)
		}
	}
	s := Secrets{Token: testToken, WebhookSecret: testSecret}
	if out := fmt.Sprintf("%v %+v %#v %s", s, s, s, s); strings.Contains(out, "secretTOKEN") || strings.Contains(out, testSecret) {
		t.Errorf("Secrets printed: %s", out)
	}
}

func TestClose(t *testing.T) {
	h := newHarness(t, ModePolling, func(c *Config) { c.BotUsername = "kefu_test_bot" })
	h.start()
	eventually(t, "polling", func() bool { return len(h.f.callsOf("getUpdates")) > 0 })
	if err := h.a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := h.a.Send(context.Background(), agentReply(778010, "x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: %v, want ErrClosed", err)
	}
	// The lease was given back: another instance can poll at once.
	if n, _ := h.rdb.Exists(context.Background(), h.prefix+"tg:poller").Result(); n != 0 {
		t.Error("polling lease still held after Close")
	}
	// A polling adapter serves no webhook.
	rec := httptest.NewRecorder()
	h.a.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/telegram/webhook", strings.NewReader("{}")))
	if rec.Code != http.StatusNotFound {
		t.Errorf("webhook in polling mode: %d", rec.Code)
	}
}
