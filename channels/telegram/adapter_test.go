package telegram

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/intents"
	"github.com/kefu-dev/kefu/internal/testkit"
	"github.com/kefu-dev/kefu/internal/testkit/sampletest"
)

// clarifyText finds a message the sample FAQ answers with a clarify prompt.
func clarifyText(t *testing.T) string {
	t.Helper()
	m := sampletest.Live(t).Matcher()
	for _, in := range m.FAQ().Intents {
		for _, q := range in.Questions {
			if r := []rune(q); len(r) >= 3 {
				// The first choice must be one the bot answers: the
				// conversation below expects its answer, not a hand-off.
				res := m.Match(string(r[:2]))
				if res.Action != intents.ActionClarify || len(res.Choices) < 2 {
					continue
				}
				if a, _ := m.PickChoice(res.Choices[0]); a == intents.ActionAnswer {
					return string(r[:2])
				}
			}
		}
	}
	t.Fatal("no clarify case in the sample FAQ")
	return ""
}

// The whole private conversation: greeting, FAQ answer, clarify by button,
// hand-off by button, an agent's reply, the survey by button.
func TestPrivateConversation(t *testing.T) {
	h := newHarness(t, ModeWebhook)
	h.start()
	ctx := context.Background()
	const uid = 777001
	zh := bot.DefaultTexts()["zh"]
	faqOf := sampletest.Live(t).Matcher().FAQ()

	// Start registered the webhook with the secret and the update types.
	sw := h.f.callsOf("setWebhook")
	if len(sw) != 1 {
		t.Fatalf("setWebhook calls %d, want 1", len(sw))
	}
	if got := sw[0].Params; got["url"] != "https://kefu.example.com/telegram/webhook" || got["secret_token"] != testSecret ||
		got["allowed_updates"] != `["message","edited_message","callback_query","my_chat_member"]` {
		t.Errorf("setWebhook params %v", got)
	}

	last := func() apiCall {
		t.Helper()
		s := h.sentTo(uid)
		if len(s) == 0 {
			t.Fatal("nothing sent")
		}
		return s[len(s)-1]
	}

	// 1. /start → the welcome.
	h.mustPost(textUpdate(uid, 1, "/start", "zh-hans"))
	if got := last().Params["text"]; got != zh.Welcome {
		t.Errorf("welcome = %q", got)
	}

	// 2. An FAQ question → its answer.
	h.mustPost(textUpdate(uid, 2, "快递到哪了", "zh-hans"))
	want := faqOf.Intent("logistics_track").Answer.For("telegram", "zh")
	if got := last().Params["text"]; got != want {
		t.Errorf("answer = %q, want logistics_track's %q", got, want)
	}

	// 3. A vague question → clarify with an inline keyboard, the last button 转人工.
	h.mustPost(textUpdate(uid, 3, clarifyText(t), "zh-hans"))
	clar := last()
	if clar.Params["text"] != zh.ClarifyPrompt {
		t.Fatalf("clarify text %q", clar.Params["text"])
	}
	data := keyboardData(t, clar)
	if len(data) < 2 || data[len(data)-1] != "h" || !strings.HasPrefix(data[0], "c:") {
		t.Fatalf("clarify keyboard %v", data)
	}
	pick := strings.TrimPrefix(data[0], "c:")

	// 4. The customer taps the first choice → the callback is answered, the
	// keyboard removed, and the chosen intent answered.
	h.mustPost(callbackUpdate(newUpdateID(), uid, "cbq-1", privateChat(uid), clar.Result, data[0]))
	if got := last().Params["text"]; got != faqOf.Intent(pick).Answer.For("telegram", "zh") {
		t.Errorf("after choosing %s: %q", pick, got)
	}
	if acq := h.f.callsOf("answerCallbackQuery"); len(acq) != 1 || acq[0].Params["callback_query_id"] != "cbq-1" {
		t.Errorf("answerCallbackQuery calls %+v", acq)
	}
	if ed := h.f.callsOf("editMessageReplyMarkup"); len(ed) != 1 || ed[0].Params["message_id"] != fmt.Sprint(clar.Result) {
		t.Errorf("editMessageReplyMarkup calls %+v", ed)
	}

	// 5. The 转人工 button (on the clarify keyboard) → the hand-off notice.
	h.mustPost(callbackUpdate(newUpdateID(), uid, "cbq-2", privateChat(uid), clar.Result+100, "h"))
	if got := last().Params["text"]; got != zh.HandoffNotice {
		t.Errorf("hand-off notice = %q", got)
	}
	if h.hand.count() != 1 {
		t.Fatalf("hand-offs %d, want 1", h.hand.count())
	}

	// While waiting for a person the message is stored and acknowledged
	// once; then the bot is silent.
	n := len(h.sentTo(uid))
	h.mustPost(textUpdate(uid, 4, "人呢？", "zh-hans"))
	if s := h.sentTo(uid); len(s) != n+1 || s[len(s)-1].Params["text"] != zh.WaitingAck {
		t.Error("the first message while waiting was not acknowledged")
	}
	h.mustPost(textUpdate(uid, 5, "人呢人呢", "zh-hans"))
	if len(h.sentTo(uid)) != n+1 {
		t.Error("the bot answered while the conversation waits for a person")
	}

	// 6. The agent's reply goes out with sendMessage.
	if err := h.a.Send(ctx, bot.Outbound{Channel: "telegram", User: fmt.Sprint(uid), Conv: "telegram:777001",
		Kind: bot.OutAgent, Agent: "wang", Text: "您好，我是客服小王，您的包裹明天送达。"}); err != nil {
		t.Fatal(err)
	}
	if got := last(); got.Params["text"] != "您好，我是客服小王，您的包裹明天送达。" || got.Params["reply_markup"] != "" {
		t.Errorf("agent reply %+v", got)
	}

	// 7. The survey: five buttons; the customer taps 5 → rating stored, thanks.
	survey := bot.Outbound{Channel: "telegram", User: fmt.Sprint(uid), Kind: bot.OutSurvey, Text: zh.SurveyPrompt}
	for i := 1; i <= 5; i++ {
		survey.Choices = append(survey.Choices, bot.Choice{ID: fmt.Sprint(i), Label: strings.Repeat("★", i)})
	}
	if err := h.a.Send(ctx, survey); err != nil {
		t.Fatal(err)
	}
	sv := last()
	if diff := cmp.Diff([]string{"r:1", "r:2", "r:3", "r:4", "r:5"}, keyboardData(t, sv)); diff != "" {
		t.Fatalf("survey keyboard (-want +got):\n%s", diff)
	}
	h.mustPost(callbackUpdate(newUpdateID(), uid, "cbq-3", privateChat(uid), sv.Result, "r:5"))
	if got := last().Params["text"]; got != zh.RatingThanks {
		t.Errorf("after rating: %q", got)
	}
	rating, err := h.rdb.HGet(ctx, h.prefix+"conv:telegram:777001", "rating").Result()
	if err != nil || rating != "5" {
		t.Errorf("stored rating %q %v, want 5", rating, err)
	}

	// The transcript holds every inbound message once, in order.
	var in []string
	for _, e := range h.transcript(fmt.Sprint(uid)) {
		if e.Dir == "in" {
			in = append(in, e.Kind+"|"+e.Text+"|"+e.Choice)
		}
	}
	wantIn := []string{"start||", "|快递到哪了|", "|" + clarifyText(t) + "|", "|" + "|" + pick, "human||", "|人呢？|", "|人呢人呢|", "rating||5"}
	if diff := cmp.Diff(wantIn, in); diff != "" {
		t.Errorf("inbound transcript (-want +got):\n%s", diff)
	}
}

func TestEnglishCustomer(t *testing.T) {
	h := newHarness(t, ModeWebhook)
	const uid = 777002
	h.mustPost(textUpdate(uid, 1, "/start", "en-GB"))
	s := h.sentTo(uid)
	if len(s) != 1 || s[0].Params["text"] != bot.DefaultTexts()["en"].Welcome {
		t.Errorf("English welcome: %+v", s)
	}
}

func TestWebhookRejects(t *testing.T) {
	h := newHarness(t, ModeWebhook, func(c *Config) { c.MaxBody = 4096 })
	const uid = 777003
	body := textUpdate(uid, 1, "快递到哪了", "")
	for _, tc := range []struct {
		name   string
		body   []byte
		secret string
		want   int
	}{
		{"no secret", body, "", http.StatusUnauthorized},
		{"wrong secret", body, "wh-secret_43", http.StatusUnauthorized},
		{"secret prefix", body, "wh-secret", http.StatusUnauthorized},
		{"too large", messageUpdate(newUpdateID(), user(uid, ""), privateChat(uid), 2, strings.Repeat("长", 2000), nil), testSecret, http.StatusRequestEntityTooLarge},
		{"malformed json", []byte(`{"update_id": 5, "message": {`), testSecret, http.StatusBadRequest},
		{"not an update", []byte(`{"hello": "world"}`), testSecret, http.StatusBadRequest},
		{"json array", []byte(`[1,2,3]`), testSecret, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := h.post(tc.body, tc.secret); got != tc.want {
				t.Errorf("status %d, want %d", got, tc.want)
			}
		})
	}
	if tx := h.transcript(fmt.Sprint(uid)); len(tx) != 0 {
		t.Errorf("rejected requests were stored: %+v", tx)
	}
	if s := h.f.callsOf("sendMessage"); len(s) != 0 {
		t.Errorf("rejected requests were answered: %+v", s)
	}
	// A GET (a browser, a scanner) is refused too.
	resp, err := http.Get(h.ingress.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}
	// The right secret and a good body: processed.
	if got := h.post(body, testSecret); got != http.StatusOK || len(h.sentTo(uid)) != 1 {
		t.Errorf("good request: %d, sent %d", got, len(h.sentTo(uid)))
	}
}

// A text over the limit (counted in characters, not bytes) is neither
// stored nor given to the engine: the customer is asked to split it and the
// log names who and how long, never the text. A text at exactly the limit
// passes, and so does the default limit (the web chat's 1000).
func TestTextTooLong(t *testing.T) {
	h := newHarness(t, ModeWebhook) // the default body limit (1 MiB) lets a 600 KB text through to this check
	if h.a.cfg.MaxMessageLen != DefaultMaxMessageLen || DefaultMaxMessageLen != 1000 {
		t.Fatalf("default limit %d", h.a.cfg.MaxMessageLen)
	}
	const uid, enUID = 777011, 777012
	huge := strings.Repeat("长", 200000)
	hugeUpdate := textUpdate(uid, 1, huge, "")
	h.mustPost(hugeUpdate)
	if tx := h.transcript(fmt.Sprint(uid)); len(tx) != 0 {
		t.Errorf("a 200,000-character text was stored: %d entries", len(tx))
	}
	s := h.sentTo(uid)
	if len(s) != 1 || s[0].Params["text"] != DefaultTexts()["zh"].TooLong {
		t.Fatalf("customer not told: %+v", s)
	}
	// Telegram redelivers the update: the customer is not told twice.
	h.mustPost(hugeUpdate)
	if s := h.sentTo(uid); len(s) != 1 {
		t.Errorf("redelivered too-long update: %d messages sent, want the first notice only", len(s))
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "telegram text too long") || !strings.Contains(logs, "user=777011") ||
		!strings.Contains(logs, "chars=200000") || strings.Contains(logs, "长长长") {
		t.Errorf("log line missing or carries the text:\n%.2000s", logs)
	}
	// An edited message is a text too.
	edit := mustJSON(map[string]any{"update_id": newUpdateID(), "edited_message": map[string]any{
		"message_id": 1, "from": user(uid, ""), "chat": privateChat(uid), "date": 1700000000, "edit_date": 1700000100,
		"text": strings.Repeat("x", 1001)}})
	h.mustPost(edit)
	if tx := h.transcript(fmt.Sprint(uid)); len(tx) != 0 || len(h.sentTo(uid)) != 2 {
		t.Errorf("edited too-long text: %d entries, %d sent", len(tx), len(h.sentTo(uid)))
	}
	// English wording for an English customer.
	h.mustPost(textUpdate(enUID, 1, strings.Repeat("a", 1001), "en"))
	if s := h.sentTo(enUID); len(s) != 1 || s[0].Params["text"] != DefaultTexts()["en"].TooLong {
		t.Errorf("English customer: %+v", s)
	}
	// Exactly the limit, in multi-byte characters: stored and answered.
	at := strings.Repeat("长", 1000)
	h.mustPost(textUpdate(uid, 2, at, ""))
	tx := h.transcript(fmt.Sprint(uid))
	if len(tx) == 0 || tx[0].Text != at {
		t.Fatalf("a text of exactly 1000 characters was not stored: %d entries", len(tx))
	}
	if s := h.sentTo(uid); len(s) < 3 || s[2].Params["text"] == DefaultTexts()["zh"].TooLong {
		t.Errorf("the text at the limit got no answer, or the too-long one: %+v", s)
	}
}

// The limit is configurable.
func TestTextLimitConfigured(t *testing.T) {
	h := newHarness(t, ModeWebhook, func(c *Config) { c.MaxMessageLen = 5 })
	const uid = 777013
	h.mustPost(textUpdate(uid, 1, "快递到哪了吗", ""))
	if tx := h.transcript(fmt.Sprint(uid)); len(tx) != 0 {
		t.Errorf("6 characters stored over a limit of 5: %+v", tx)
	}
	h.mustPost(textUpdate(uid, 2, "快递到哪了", ""))
	if tx := h.transcript(fmt.Sprint(uid)); len(tx) != 2 {
		t.Errorf("5 characters: %d entries, want 2", len(tx))
	}
}

func TestDuplicateUpdateAnsweredOnce(t *testing.T) {
	h := newHarness(t, ModeWebhook)
	const uid = 777004
	body := textUpdate(uid, 1, "快递到哪了", "")
	h.mustPost(body)
	h.mustPost(body) // Telegram redelivers (our 200 was lost)
	if s := h.sentTo(uid); len(s) != 1 {
		t.Errorf("answers %d, want 1", len(s))
	}
	if tx := h.transcript(fmt.Sprint(uid)); len(tx) != 2 {
		t.Errorf("transcript %d entries, want 2 (one in, one out)", len(tx))
	}
}

func TestCallbackActedOnce(t *testing.T) {
	h := newHarness(t, ModeWebhook)
	const uid = 777005
	h.mustPost(textUpdate(uid, 1, clarifyText(t), ""))
	clar := h.sentTo(uid)[0]
	data := keyboardData(t, clar)[0]
	cb := callbackUpdate(newUpdateID(), uid, "cbq-a", privateChat(uid), clar.Result, data)
	h.mustPost(cb)
	h.mustPost(cb) // the same update delivered twice
	// A second tap on the same keyboard (a new callback query and update).
	h.mustPost(callbackUpdate(newUpdateID(), uid, "cbq-b", privateChat(uid), clar.Result, data))
	if s := h.sentTo(uid); len(s) != 2 {
		t.Errorf("messages %d, want 2 (the clarify prompt and one answer)", len(s))
	}
	var answered []string
	for _, c := range h.f.callsOf("answerCallbackQuery") {
		answered = append(answered, c.Params["callback_query_id"])
	}
	if diff := cmp.Diff([]string{"cbq-a", "cbq-a", "cbq-b"}, answered); diff != "" {
		t.Errorf("every delivery is answered (-want +got):\n%s", diff)
	}
	choices := 0
	for _, e := range h.transcript(fmt.Sprint(uid)) {
		if e.Dir == "in" && e.Choice != "" {
			choices++
		}
	}
	if choices != 1 {
		t.Errorf("choices stored %d, want 1", choices)
	}
}

// failingHandler fails to store: the webhook must not acknowledge.
type failingHandler struct{ calls int }

func (f *failingHandler) Handle(context.Context, bot.Message) ([]bot.Outbound, error) {
	f.calls++
	return nil, errors.New("redis: connection refused")
}

func TestWebhookNotStoredIs500(t *testing.T) {
	h := newHarness(t, ModeWebhook)
	fh := &failingHandler{}
	h.a = h.newAdapter(h.a.cfg, fh)
	h.ingress = httptest.NewServer(h.a)
	t.Cleanup(h.ingress.Close)
	if got := h.post(textUpdate(777006, 1, "快递到哪了", ""), testSecret); got != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", got)
	}
	if fh.calls != 1 || len(h.f.callsOf("sendMessage")) != 0 {
		t.Errorf("handler calls %d, sends %d", fh.calls, len(h.f.callsOf("sendMessage")))
	}
	// An update kefu ignores is acknowledged without the handler.
	ignored := mustJSON(map[string]any{"update_id": newUpdateID(), "poll": map[string]any{"id": "1"}})
	if got := h.post(ignored, testSecret); got != http.StatusOK || fh.calls != 1 {
		t.Errorf("ignored update: %d, handler calls %d", got, fh.calls)
	}
}

func TestEditedAndMedia(t *testing.T) {
	h := newHarness(t, ModeWebhook)
	const uid = 777007
	zh := bot.DefaultTexts()["zh"]
	// A photo with the bot → the polite reply with the 转人工 button.
	photo := messageUpdate(newUpdateID(), user(uid, ""), privateChat(uid), 1, "", map[string]any{
		"photo":   []any{map[string]any{"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90}, map[string]any{"file_id": "BIG", "file_unique_id": "b", "width": 800, "height": 600}},
		"caption": "这个坏了",
	})
	h.mustPost(photo)
	s := h.sentTo(uid)
	if len(s) != 1 || s[0].Params["text"] != zh.MediaReply || cmp.Diff([]string{"h"}, keyboardData(t, s[0])) != "" {
		t.Fatalf("media reply %+v", s)
	}
	// An edited text is answered as the corrected question.
	h.mustPost(textUpdate(uid, 2, "快地", ""))
	edit := mustJSON(map[string]any{"update_id": newUpdateID(), "edited_message": map[string]any{
		"message_id": 2, "from": user(uid, ""), "chat": privateChat(uid), "date": 1700000000, "edit_date": 1700000050, "text": "快递到哪了"}})
	h.mustPost(edit)
	h.mustPost(edit)
	want := sampletest.Live(t).Matcher().FAQ().Intent("logistics_track").Answer.For("telegram", "zh")
	s = h.sentTo(uid)
	if got := s[len(s)-1].Params["text"]; got != want {
		t.Errorf("after the edit: %q", got)
	}
	// With an agent: a location reaches the transcript as a description, no reply.
	h.mustPost(textUpdate(uid, 3, "/human", ""))
	n := len(h.sentTo(uid))
	h.mustPost(messageUpdate(newUpdateID(), user(uid, ""), privateChat(uid), 4, "", map[string]any{
		"location": map[string]any{"latitude": 31.2304, "longitude": 121.4737}}))
	if s := h.sentTo(uid); len(s) != n+1 || s[len(s)-1].Params["text"] == want {
		t.Error("media while waiting for a person: want the acknowledgement only, not an answer")
	}
	var got []string
	for _, e := range h.transcript(fmt.Sprint(uid)) {
		if e.Dir == "in" {
			got = append(got, e.MsgID[:min(5, len(e.MsgID))]+" "+e.Kind+" "+e.Text)
		}
	}
	for i := range got { // update ids vary: keep only whether it was an edit
		if !strings.HasPrefix(got[i], "edit:") {
			_, rest, _ := strings.Cut(got[i], " ")
			got[i] = "upd " + rest
		}
	}
	wantTx := []string{
		"upd media [图片] file_id=BIG 说明：这个坏了",
		"upd  快地",
		"edit:  快递到哪了",
		"upd human ",
		"upd media [位置] 纬度=31.230400 经度=121.473700",
	}
	if diff := cmp.Diff(wantTx, got); diff != "" {
		t.Errorf("transcript (-want +got):\n%s", diff)
	}
}

func TestGroupChat(t *testing.T) {
	h := newHarness(t, ModeWebhook, func(c *Config) { c.BotUsername = "Kefu_Test_Bot" })
	const uid, gid = 777008, -100777008
	group := map[string]any{"id": gid, "type": "supergroup", "title": "买家群"}
	groupUser := fmt.Sprintf("g%d:%d", gid, uid)
	post := func(msgID int, text string, extra map[string]any) {
		t.Helper()
		h.mustPost(messageUpdate(newUpdateID(), user(uid, ""), group, msgID, text, extra))
	}
	// Not addressed: ignored, nothing stored.
	post(1, "大家好，快递到哪了", nil)
	post(2, "/start@other_bot", nil)
	if len(h.f.callsOf("sendMessage")) != 0 || len(h.transcript(groupUser)) != 0 {
		t.Fatal("answered a group message not addressed to the bot")
	}
	// Mentioned: answered in the group, as a reply to the message.
	post(3, "@kefu_test_bot 快递到哪了", nil)
	s := h.sentTo(gid)
	if len(s) != 1 || !strings.Contains(s[0].Params["reply_parameters"], `"message_id":3`) {
		t.Fatalf("group answer %+v", s)
	}
	if tx := h.transcript(groupUser); len(tx) != 2 || tx[0].Text != "快递到哪了" {
		t.Errorf("group transcript %+v", tx)
	}
	// A reply to the bot's message is addressed too.
	post(4, "谢谢", map[string]any{"reply_to_message": map[string]any{"message_id": s[0].Result, "date": 1, "chat": group,
		"from": map[string]any{"id": testBotID, "is_bot": true, "first_name": "kefu"}, "text": "…"}})
	if len(h.sentTo(gid)) != 2 {
		t.Errorf("reply to the bot not answered: %d", len(h.sentTo(gid)))
	}
	// /human in the group: an invitation to the private chat, no agent in the group.
	post(5, "/human", nil)
	s = h.sentTo(gid)
	inv := s[len(s)-1]
	if inv.Params["text"] != DefaultTexts()["zh"].GroupHandoff ||
		cmp.Diff([]string{"https://t.me/kefu_test_bot?start=human"}, keyboardData(t, inv)) != "" {
		t.Errorf("group hand-off %+v", inv)
	}
	conv, err := h.e.Store.Load(context.Background(), bot.ConvID("telegram", groupUser))
	if err != nil || conv.Mode != bot.ModeClosed {
		t.Errorf("group conversation after hand-off: %+v %v (want closed)", conv, err)
	}
	// An agent's reply or a survey never goes to the group.
	for _, kind := range []string{bot.OutAgent, bot.OutSurvey} {
		err := h.a.Send(context.Background(), bot.Outbound{User: groupUser, Kind: kind, Text: "您的订单号是…"})
		if !errors.Is(err, ErrGroupChat) {
			t.Errorf("Send %s to a group user: %v, want ErrGroupChat", kind, err)
		}
	}
	// The bot answers in the group again after the hand-off was declined.
	n := len(h.sentTo(gid))
	post(6, "@kefu_test_bot 快递到哪了", nil)
	if len(h.sentTo(gid)) != n+1 {
		t.Error("bot silent in the group after the invitation")
	}
	// The deep link opens the private chat: /start human → a hand-off there.
	h.mustPost(textUpdate(uid, 1, "/start human", ""))
	if p := h.sentTo(uid); len(p) != 1 || p[0].Params["text"] != bot.DefaultTexts()["zh"].HandoffNotice {
		t.Errorf("private /start human: %+v", p)
	}
	// Nothing of the group conversation is in the private one.
	for _, e := range h.transcript(fmt.Sprint(uid)) {
		if strings.Contains(e.Text, "快递") {
			t.Errorf("group message in the private transcript: %+v", e)
		}
	}
}

func TestStartWithGetMe(t *testing.T) {
	h := newHarness(t, ModePolling)
	h.start()
	if len(h.f.callsOf("getMe")) != 1 || len(h.f.callsOf("deleteWebhook")) != 1 {
		t.Errorf("getMe %d deleteWebhook %d, want 1 and 1", len(h.f.callsOf("getMe")), len(h.f.callsOf("deleteWebhook")))
	}
	if got := h.a.identity(); got.username != "kefu_test_bot" || got.id != testBotID {
		t.Errorf("identity %+v", got)
	}
	if err := h.a.Start(context.Background()); err == nil {
		t.Error("second Start succeeded")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	rdb := testkit.Redis(t, 0)
	for _, tc := range []struct {
		name string
		cfg  Config
		s    Secrets
	}{
		{"no token", Config{Mode: ModePolling}, Secrets{}},
		{"no mode", Config{}, Secrets{Token: testToken}},
		{"webhook without url", Config{Mode: ModeWebhook}, Secrets{Token: testToken, WebhookSecret: testSecret}},
		{"webhook without secret", Config{Mode: ModeWebhook, WebhookURL: "https://x"}, Secrets{Token: testToken}},
		{"secret with bad chars", Config{Mode: ModeWebhook, WebhookURL: "https://x"}, Secrets{Token: testToken, WebhookSecret: "a b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg, tc.s, &failingHandler{}, rdb, nil)
			if !errors.Is(err, ErrConfig) {
				t.Errorf("err %v, want ErrConfig", err)
			}
			if err != nil && strings.Contains(err.Error(), testToken) {
				t.Errorf("token in error %q", err)
			}
		})
	}
}
