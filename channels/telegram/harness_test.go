package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/internal/testkit"
	"github.com/kefu-dev/kefu/internal/testkit/sampletest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testToken  = "123456:AAH-secretTOKEN_value-xyz987"
	testSecret = "wh-secret_42"
	testBotID  = 123456
)

// recordingHandoff is the hand-off queue's stand-in: it records the
// conversations handed off.
type recordingHandoff struct {
	mu    sync.Mutex
	convs []bot.Conversation
}

func (r *recordingHandoff) Enqueue(_ context.Context, c bot.Conversation) ([]bot.Outbound, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.convs = append(r.convs, c)
	return nil, nil
}

func (r *recordingHandoff) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.convs)
}

// harness is an Adapter over a real engine and redis-server, a fake Bot
// API, and (webhook mode) the Adapter served on loopback.
type harness struct {
	t       *testing.T
	a       *Adapter
	f       *fakeAPI
	e       *bot.Engine
	hand    *recordingHandoff
	rdb     redis.UniversalClient
	prefix  string
	logs    *testkit.LogBuffer
	ingress *httptest.Server
	sleeps  chan time.Duration // waits the adapter asked for (it does not sleep)
}

type harnessOpt func(*Config)

func newHarness(t *testing.T, mode string, opts ...harnessOpt) *harness {
	t.Helper()
	rdb := testkit.Redis(t, 0)
	lv := sampletest.Live(t)
	h := &harness{t: t, rdb: rdb, logs: &testkit.LogBuffer{}, hand: &recordingHandoff{}, sleeps: make(chan time.Duration, 100)}
	h.prefix = testkit.Prefix(t)
	t.Cleanup(func() {
		keys, _ := rdb.Keys(context.Background(), h.prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(context.Background(), keys...)
		}
	})
	h.e = &bot.Engine{Store: bot.NewStore(rdb, h.prefix), Matcher: lv.Matcher, Texts: bot.DefaultTexts(), Handoff: h.hand}
	h.f = newFakeAPI(t, testToken)
	cfg := Config{Mode: mode, APIURL: h.f.srv.URL, WebhookURL: "https://kefu.example.com/telegram/webhook",
		KeyPrefix: h.prefix, PollTimeout: 2 * time.Second, RatePerSecond: 1000}
	for _, o := range opts {
		o(&cfg)
	}
	h.a = h.newAdapter(cfg, h.e)
	if mode == ModeWebhook {
		h.ingress = httptest.NewServer(h.a)
		t.Cleanup(h.ingress.Close)
	}
	return h
}

// newAdapter builds an adapter on the harness's fake API, Redis and log;
// its waits are recorded, not slept.
func (h *harness) newAdapter(cfg Config, hd Handler) *Adapter {
	h.t.Helper()
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := New(cfg, Secrets{Token: testToken, WebhookSecret: testSecret}, hd, h.rdb, log)
	if err != nil {
		h.t.Fatal(err)
	}
	a.sleep = func(ctx context.Context, d time.Duration) error {
		select {
		case h.sleeps <- d:
		default:
		}
		return ctx.Err()
	}
	h.t.Cleanup(func() { a.Close() })
	return a
}

func (h *harness) start() {
	h.t.Helper()
	if err := h.a.Start(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

// post delivers an update to the webhook with the given secret and waits
// for the replies it queued.
func (h *harness) post(body []byte, secret string) int {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.ingress.URL, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	h.a.waitIdle()
	return resp.StatusCode
}

// mustPost posts with the right secret and wants 200.
func (h *harness) mustPost(body []byte) {
	h.t.Helper()
	if code := h.post(body, testSecret); code != http.StatusOK {
		h.t.Fatalf("webhook answered %d for %s", code, body)
	}
}

// transcript returns a conversation's entries.
func (h *harness) transcript(user string) []bot.Entry {
	h.t.Helper()
	tx, err := h.e.Store.Transcript(context.Background(), bot.ConvID("telegram", user), "")
	if err != nil {
		h.t.Fatal(err)
	}
	return tx
}

// sentTo returns the texts of sendMessage calls to a chat.
func (h *harness) sentTo(chat int64) []apiCall {
	var out []apiCall
	for _, c := range h.f.callsOf("sendMessage") {
		if c.Params["chat_id"] == fmt.Sprint(chat) {
			out = append(out, c)
		}
	}
	return out
}

// eventually waits for cond (a condition, not a duration: the deadline is
// only there so a broken test ends).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Update builders.

var nextUpdate int64 = 500000

func newUpdateID() int64 {
	nextUpdate++
	return nextUpdate
}

func user(uid int64, lang string) map[string]any {
	u := map[string]any{"id": uid, "is_bot": false, "first_name": "顾客"}
	if lang != "" {
		u["language_code"] = lang
	}
	return u
}

func privateChat(uid int64) map[string]any {
	return map[string]any{"id": uid, "type": "private", "first_name": "顾客"}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// message builds a message update; extra fields are merged into the message.
func messageUpdate(id int64, from map[string]any, chat map[string]any, msgID int, text string, extra map[string]any) []byte {
	m := map[string]any{"message_id": msgID, "from": from, "chat": chat, "date": 1700000000}
	if text != "" {
		m["text"] = text
		if strings.HasPrefix(text, "/") {
			cmd, _, _ := strings.Cut(text, " ")
			m["entities"] = []any{map[string]any{"type": "bot_command", "offset": 0, "length": len([]rune(cmd))}}
		}
	}
	for k, v := range extra {
		m[k] = v
	}
	return mustJSON(map[string]any{"update_id": id, "message": m})
}

func textUpdate(uid int64, msgID int, text, lang string) []byte {
	return messageUpdate(newUpdateID(), user(uid, lang), privateChat(uid), msgID, text, nil)
}

func callbackUpdate(id int64, uid int64, cbID string, chat map[string]any, kbMsg int, data string) []byte {
	return mustJSON(map[string]any{"update_id": id, "callback_query": map[string]any{
		"id": cbID, "from": user(uid, ""), "chat_instance": "ci", "data": data,
		"message": map[string]any{"message_id": kbMsg, "date": 1700000001, "chat": chat,
			"from": map[string]any{"id": testBotID, "is_bot": true, "first_name": "kefu"}, "text": "…"},
	}})
}

// keyboardData returns the callback data (or url) of each button of a call.
func keyboardData(t *testing.T, c apiCall) []string {
	t.Helper()
	raw := c.Params["reply_markup"]
	if raw == "" {
		return nil
	}
	var kb struct {
		InlineKeyboard [][]struct {
			Text         string `json:"text"`
			CallbackData string `json:"callback_data"`
			URL          string `json:"url"`
		} `json:"inline_keyboard"`
	}
	if err := json.Unmarshal([]byte(raw), &kb); err != nil {
		t.Fatalf("reply_markup %s: %v", raw, err)
	}
	var out []string
	for _, row := range kb.InlineKeyboard {
		for _, b := range row {
			if b.Text == "" {
				t.Errorf("button without text in %s", raw)
			}
			out = append(out, b.CallbackData+b.URL)
		}
	}
	return out
}
