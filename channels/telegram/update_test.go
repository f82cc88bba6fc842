package telegram

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-telegram/bot/models"
	"github.com/google/go-cmp/cmp"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/conv"
)

var testMe = identity{id: testBotID, username: "kefu_test_bot"}

func TestClassifyMessages(t *testing.T) {
	group := map[string]any{"id": -1001, "type": "supergroup", "title": "群"}
	botUser := map[string]any{"id": testBotID, "is_bot": true, "first_name": "kefu"}
	for _, tc := range []struct {
		name     string
		update   []byte
		want     string // summary
		wantText string
		wantUser string
	}{
		{"private text", messageUpdate(1, user(5, "en"), privateChat(5), 1, "where is my parcel", nil), "text", "where is my parcel", "5"},
		{"start", messageUpdate(1, user(5, ""), privateChat(5), 1, "/start", nil), "start", "", "5"},
		{"start with bot name", messageUpdate(1, user(5, ""), privateChat(5), 1, "/start@kefu_test_bot", nil), "start", "", "5"},
		{"start deep link human", messageUpdate(1, user(5, ""), privateChat(5), 1, "/start human", nil), "human", "", "5"},
		{"help", messageUpdate(1, user(5, ""), privateChat(5), 1, "/help", nil), "start", "", "5"},
		{"human", messageUpdate(1, user(5, ""), privateChat(5), 1, "/human", nil), "human", "", "5"},
		{"unknown command in private is text", messageUpdate(1, user(5, ""), privateChat(5), 1, "/orders", nil), "text", "/orders", "5"},
		{"转人工 typed is text (the engine hands off)", messageUpdate(1, user(5, ""), privateChat(5), 1, "转人工", nil), "text", "转人工", "5"},
		{"from a bot", messageUpdate(1, botUser, privateChat(5), 1, "hi", nil), "ignored", "", ""},
		{"group not addressed", messageUpdate(1, user(5, ""), group, 1, "快递到哪了", nil), "ignored", "", ""},
		{"group mention", messageUpdate(1, user(5, ""), group, 1, "@Kefu_Test_Bot 快递到哪了", nil), "text", "快递到哪了", "g-1001:5"},
		{"group mention at the end", messageUpdate(1, user(5, ""), group, 1, "快递到哪了 @kefu_test_bot", nil), "text", "快递到哪了", "g-1001:5"},
		{"group mention of a longer name", messageUpdate(1, user(5, ""), group, 1, "@kefu_test_bot2 快递", nil), "ignored", "", ""},
		{"group e-mail is no mention", messageUpdate(1, user(5, ""), group, 1, "me@kefu_test_bot 快递", nil), "ignored", "", ""},
		{"group bare mention", messageUpdate(1, user(5, ""), group, 1, "@kefu_test_bot", nil), "ignored", "", ""},
		{"group text mention", messageUpdate(1, user(5, ""), group, 1, "客服 在吗", map[string]any{
			"entities": []any{map[string]any{"type": "text_mention", "offset": 0, "length": 2, "user": botUser}}}), "text", "客服 在吗", "g-1001:5"},
		{"group reply to the bot", messageUpdate(1, user(5, ""), group, 9, "谢谢", map[string]any{
			"reply_to_message": map[string]any{"message_id": 8, "date": 1, "chat": group, "from": botUser, "text": "…"}}), "text", "谢谢", "g-1001:5"},
		{"group reply to someone else", messageUpdate(1, user(5, ""), group, 9, "谢谢", map[string]any{
			"reply_to_message": map[string]any{"message_id": 8, "date": 1, "chat": group, "from": user(6, ""), "text": "…"}}), "ignored", "", ""},
		{"group our command", messageUpdate(1, user(5, ""), group, 1, "/start", nil), "start", "", "g-1001:5"},
		{"group our command for us", messageUpdate(1, user(5, ""), group, 1, "/human@kefu_test_bot", nil), "human", "", "g-1001:5"},
		{"group command for another bot", messageUpdate(1, user(5, ""), group, 1, "/start@other_bot", nil), "ignored", "", ""},
		{"group photo with mention in caption", messageUpdate(1, user(5, ""), group, 1, "", map[string]any{
			"photo": []any{map[string]any{"file_id": "P1", "file_unique_id": "u", "width": 1, "height": 1}}, "caption": "@kefu_test_bot 坏了"}),
			"media", "[图片] file_id=P1 说明：坏了", "g-1001:5"},
		{"group photo without mention", messageUpdate(1, user(5, ""), group, 1, "", map[string]any{
			"photo": []any{map[string]any{"file_id": "P1", "file_unique_id": "u", "width": 1, "height": 1}}}), "ignored", "", ""},
		{"sticker", messageUpdate(1, user(5, ""), privateChat(5), 1, "", map[string]any{
			"sticker": map[string]any{"file_id": "S1", "file_unique_id": "u", "type": "regular", "width": 1, "height": 1, "is_animated": false, "is_video": false, "emoji": "👍"}}),
			"media", "[贴纸 👍] file_id=S1", "5"},
		{"voice", messageUpdate(1, user(5, ""), privateChat(5), 1, "", map[string]any{"voice": map[string]any{"file_id": "V1", "file_unique_id": "u", "duration": 7}}),
			"media", "[语音 7秒] file_id=V1", "5"},
		{"document", messageUpdate(1, user(5, ""), privateChat(5), 1, "", map[string]any{"document": map[string]any{"file_id": "D1", "file_unique_id": "u", "file_name": "发票.pdf"}}),
			"media", "[文件 发票.pdf] file_id=D1", "5"},
		{"contact", messageUpdate(1, user(5, ""), privateChat(5), 1, "", map[string]any{"contact": map[string]any{"phone_number": "13800138000", "first_name": "张", "last_name": "三"}}),
			"media", "[联系人 张 三] 电话=13800138000", "5"},
		{"location", messageUpdate(1, user(5, ""), privateChat(5), 1, "", map[string]any{"location": map[string]any{"latitude": 39.9, "longitude": 116.4}}),
			"media", "[位置] 纬度=39.900000 经度=116.400000", "5"},
		{"service message", messageUpdate(1, user(5, ""), group, 1, "", map[string]any{"new_chat_members": []any{user(7, "")}}), "ignored", "", ""},
		{"channel post", mustJSON(map[string]any{"update_id": 1, "channel_post": map[string]any{"message_id": 1, "date": 1, "chat": map[string]any{"id": -100, "type": "channel"}, "text": "news"}}), "ignored", "", ""},
		{"edited live location", mustJSON(map[string]any{"update_id": 1, "edited_message": map[string]any{"message_id": 1, "date": 1, "edit_date": 2,
			"from": user(5, ""), "chat": privateChat(5), "location": map[string]any{"latitude": 1, "longitude": 2}}}), "ignored", "", ""},
		{"edited text", mustJSON(map[string]any{"update_id": 1, "edited_message": map[string]any{"message_id": 1, "date": 1, "edit_date": 2,
			"from": user(5, ""), "chat": privateChat(5), "text": "改好了"}}), "text", "改好了", "5"},
		{"clarify choice", callbackUpdate(1, 5, "q", privateChat(5), 10, "c:logistics_track"), "choice", "", "5"},
		{"human button", callbackUpdate(1, 5, "q", privateChat(5), 10, "h"), "human", "", "5"},
		{"rating button", callbackUpdate(1, 5, "q", privateChat(5), 10, "r:4"), "rating", "", "5"},
		{"rating out of range", callbackUpdate(1, 5, "q", privateChat(5), 10, "r:9"), "ignored", "", ""},
		{"forged callback", callbackUpdate(1, 5, "q", privateChat(5), 10, "/admin"), "ignored", "", ""},
		{"group callback", callbackUpdate(1, 5, "q", group, 10, "c:x"), "choice", "", "g-1001:5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := decodeUpdate(tc.update)
			if err != nil {
				t.Fatal(err)
			}
			a := classify(u, testMe, time.Unix(1700000000, 0))
			if got := a.summary(); got != tc.want {
				t.Fatalf("summary %q (%s), want %q", got, a.ignore, tc.want)
			}
			if !a.handle {
				return
			}
			if a.msg.Text != tc.wantText || a.msg.User != tc.wantUser {
				t.Errorf("text %q user %q, want %q %q", a.msg.Text, a.msg.User, tc.wantText, tc.wantUser)
			}
			if _, err := parseUser(a.msg.User); err != nil {
				t.Errorf("user %q does not parse back: %v", a.msg.User, err)
			}
		})
	}
}

func TestClassifyIDsAndLang(t *testing.T) {
	u, _ := decodeUpdate(messageUpdate(4711, user(5, "en-US"), privateChat(5), 1, "hi", nil))
	a := classify(u, testMe, time.Unix(1700000000, 0))
	if a.msg.ID != "4711" || a.msg.Lang != "en-US" || !a.msg.At.Equal(time.Unix(1700000000, 0)) || !a.unblock {
		t.Errorf("message %+v", a)
	}
	u, _ = decodeUpdate(mustJSON(map[string]any{"update_id": 9, "edited_message": map[string]any{"message_id": 3, "date": 1, "edit_date": 77,
		"from": user(5, ""), "chat": privateChat(5), "text": "x"}}))
	if a := classify(u, testMe, time.Time{}); a.msg.ID != "edit:5:3:77" {
		t.Errorf("edit id %q", a.msg.ID)
	}
	u, _ = decodeUpdate(callbackUpdate(10, 5, "q1", privateChat(5), 42, "r:3"))
	a = classify(u, testMe, time.Time{})
	want := action{handle: true, chatID: 5, callbackID: "q1", keyboard: 42, unblock: true,
		msg: bot.Message{Channel: "telegram", User: "5", ID: "cb:5:42:5", Kind: bot.KindRating, Choice: "3", Nick: "顾客"}}
	if diff := cmp.Diff(want, a, cmp.AllowUnexported(action{})); diff != "" {
		t.Errorf("callback (-want +got):\n%s", diff)
	}
}

// A field the library cannot decode (a newer Bot API) does not lose the
// customer's message.
func TestDecodeLenient(t *testing.T) {
	body := messageUpdate(77, user(5, ""), privateChat(5), 1, "快递到哪了", map[string]any{
		"forward_origin": map[string]any{"type": "a_future_origin", "date": 1}})
	u, err := decodeUpdate(body)
	if err != nil {
		t.Fatal(err)
	}
	if a := classify(u, testMe, time.Time{}); a.summary() != "text" || a.msg.Text != "快递到哪了" {
		t.Errorf("lenient decode: %+v", a)
	}
	for _, bad := range []string{`{`, `[]`, `{}`, `{"update_id":"x"}`, `{"update_id":-1}`, `null`} {
		if _, err := decodeUpdate([]byte(bad)); err == nil {
			t.Errorf("decodeUpdate(%s) accepted", bad)
		}
	}
}

func TestParseUser(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want target
		ok   bool
	}{
		{"12345", target{chat: 12345, user: 12345}, true},
		{"g-100123:45", target{chat: -100123, user: 45, group: true}, true},
		{"", target{}, false},
		{"-5", target{}, false},
		{"g-100123", target{}, false},
		{"web:abc", target{}, false},
	} {
		got, err := parseUser(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseUser(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

func TestSplitText(t *testing.T) {
	if got := splitText("短", 10); len(got) != 1 || got[0] != "短" {
		t.Errorf("short: %q", got)
	}
	// Emoji outside the BMP count twice (UTF-16).
	got := splitText(strings.Repeat("😀", 5), 4)
	if diff := cmp.Diff([]string{"😀😀", "😀😀", "😀"}, got); diff != "" {
		t.Errorf("emoji (-want +got):\n%s", diff)
	}
	got = splitText("第一行\n第二行很长很长", 8)
	if got[0] != "第一行\n" || strings.Join(got, "") != "第一行\n第二行很长很长" {
		t.Errorf("line break preferred: %q", got)
	}
}

func TestKeyboard(t *testing.T) {
	kb := keyboard(bot.Outbound{Kind: bot.OutClarify, Choices: []bot.Choice{
		{ID: "logistics_track", Label: "我的快递到哪了"}, {ID: strings.Repeat("x", 70), Label: "too long"}, {ID: bot.ChoiceHuman, Label: "转人工"}}})
	b, _ := json.Marshal(kb)
	want := `{"inline_keyboard":[[{"text":"我的快递到哪了","callback_data":"c:logistics_track","copy_text":{"text":""}}],[{"text":"转人工","callback_data":"h","copy_text":{"text":""}}]]}`
	if string(b) != want {
		t.Errorf("keyboard %s", b)
	}
	if keyboard(bot.Outbound{Kind: bot.OutAnswer}) != nil {
		t.Error("keyboard without choices")
	}
	if kb := keyboard(bot.Outbound{Kind: bot.OutSurvey}); kb == nil || len(kb.InlineKeyboard[0]) != 5 {
		t.Errorf("survey without choices: %+v", kb)
	}
}

// FuzzDecodeUpdate feeds arbitrary bodies to the webhook's decoding and
// classification: no panic, and whatever goes to the engine is well formed.
func FuzzDecodeUpdate(f *testing.F) {
	for _, s := range loadSamples(f) {
		f.Add([]byte(s.JSON))
	}
	f.Add(messageUpdate(1, user(5, ""), map[string]any{"id": -1, "type": "group"}, 1, "@kefu_test_bot /start", nil))
	f.Add(callbackUpdate(1, 5, "q", privateChat(5), 1, "r:5"))
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := decodeUpdate(body)
		if err != nil {
			return
		}
		a := classify(u, testMe, time.Unix(0, 0))
		if a.ignore != "" {
			if a.handle {
				t.Fatalf("ignored and handled: %+v", a)
			}
			return
		}
		if !a.handle {
			return
		}
		m := a.msg
		if m.ID == "" || m.Channel != "telegram" || !utf8.ValidString(m.ID) {
			t.Fatalf("bad message %+v", m)
		}
		tg, err := parseUser(m.User)
		if err != nil {
			t.Fatalf("user %q: %v", m.User, err)
		}
		if tg.group != a.group || (m.Kind != bot.KindLeave && tg.chat != a.chatID) {
			t.Fatalf("user %q does not address chat %d (group %v)", m.User, a.chatID, a.group)
		}
		switch m.Kind {
		case bot.KindText:
			if m.Text == "" && m.Choice == "" {
				t.Fatalf("empty text message %+v", m)
			}
		case bot.KindRating:
			if len(m.Choice) != 1 || m.Choice[0] < '1' || m.Choice[0] > '5' {
				t.Fatalf("rating %q", m.Choice)
			}
		case bot.KindStart, bot.KindHuman, bot.KindMedia, bot.KindLeave:
		default:
			t.Fatalf("kind %q", m.Kind)
		}
	})
}

// TestNickname: the customer's name on Telegram is their first and last
// name, else @username, cut to 64 characters; it reaches the conversation
// for the agents, and a later message with another name updates it.
func TestNickname(t *testing.T) {
	for _, tc := range []struct {
		u    models.User
		want string
	}{
		{models.User{FirstName: "张", LastName: "三"}, "张 三"},
		{models.User{FirstName: " 李四 "}, "李四"},
		{models.User{Username: "wang5"}, "@wang5"},
		{models.User{FirstName: "Ann", Username: "ann_x"}, "Ann"},
		{models.User{}, ""},
		{models.User{FirstName: strings.Repeat("长", 70)}, strings.Repeat("长", 64)},
	} {
		if got := nickOf(&tc.u); got != tc.want {
			t.Errorf("nickOf(%+v) = %q, want %q", tc.u, got, tc.want)
		}
	}

	h := newHarness(t, ModeWebhook)
	h.start()
	const uid = 777123
	named := func(first, last, username string) map[string]any {
		u := user(uid, "zh-hans")
		u["first_name"], u["last_name"], u["username"] = first, last, username
		return u
	}
	nick := func() string {
		t.Helper()
		v, err := h.rdb.HGet(context.Background(), conv.Key(h.prefix, conv.ThreadID("telegram", strconv.Itoa(uid))), conv.FieldCustomerNick).Result()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	h.mustPost(messageUpdate(newUpdateID(), named("小", "明", "xm"), privateChat(uid), 1, "快递到哪了", nil))
	if got := nick(); got != "小 明" {
		t.Errorf("nickname %q, want 小 明", got)
	}
	h.mustPost(messageUpdate(newUpdateID(), named("", "", "xm2"), privateChat(uid), 2, "在吗", nil))
	if got := nick(); got != "@xm2" {
		t.Errorf("nickname after a change %q, want @xm2", got)
	}
}
