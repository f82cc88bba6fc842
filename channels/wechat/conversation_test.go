package wechat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/intents"
	"github.com/kefu-dev/kefu/internal/testkit/sampletest"
)

// vagueText finds a message the matcher answers with choices (the sample
// FAQ may change, so it is searched rather than hard-coded).
func vagueText(tb testing.TB, mt *intents.Matcher) (string, []string) {
	tb.Helper()
	try := []string{"包装", "退货还是换货"}
	for _, in := range mt.FAQ().Intents {
		for _, q := range in.Questions {
			if r := []rune(q); len(r) >= 3 {
				try = append(try, string(r[:2]))
			}
		}
	}
	for _, t := range try {
		if r := mt.Match(t); r.Action == intents.ActionClarify && len(r.Choices) >= 2 {
			if a, _ := mt.PickChoice(r.Choices[0]); a == intents.ActionAnswer {
				return t, r.Choices
			}
		}
	}
	tb.Fatal("no clarify case found in the sample FAQ")
	return "", nil
}

// answerText is an FAQ answer as the customer reads it on WeChat: the
// related questions numbered below it.
func answerText(mt *intents.Matcher, id string) string {
	in := mt.FAQ().Intent(id)
	text := in.Answer.For(Name, "zh")
	n := 0
	for _, c := range in.Answer.Choices {
		if ci := mt.FAQ().Intent(c); ci != nil {
			if n == 0 {
				text += "\n相关问题，回复数字查看："
			}
			n++
			text += fmt.Sprintf("\n%d. %s", n, ci.Questions[0])
		}
	}
	return text
}

// TestConversation runs a whole conversation in plain and in safe mode:
// subscribe, an FAQ answer, a clarify answered with its number, 转人工, an
// agent's reply and the survey through the customer-service API, a typed
// rating.
func TestConversation(t *testing.T) {
	for _, safe := range []bool{false, true} {
		t.Run(fmt.Sprintf("safe=%v", safe), func(t *testing.T) {
			rdb, prefix := mustRedis(t)
			api := newFakeAPI(t)
			eng, queue := mustEngine(t, rdb, prefix)
			a := mustAdapter(t, Config{}, eng, rdb, prefix)
			c := &wx{tb: t, url: a.srv.URL, safe: safe}
			user := fmt.Sprintf("oUser_conv_%v", safe)
			zh := bot.DefaultTexts()["zh"]
			mt := sampletest.Live(t).Matcher()
			ctx := context.Background()
			conv := bot.ConvID(Name, user)

			reply := func(step, xml string) string {
				t.Helper()
				st, text := c.post(xml)
				if st != 200 {
					t.Fatalf("%s: status %d %q", step, st, text)
				}
				return text
			}
			if got := reply("subscribe", eventXML(user, 1700000001, "subscribe", "")); got != zh.Welcome {
				t.Errorf("subscribe: %q, want the welcome", got)
			}
			want := answerText(mt, "logistics_track")
			if got := reply("faq", textXML(user, nextMsgID(), "快递到哪了")); got != want {
				t.Errorf("快递到哪了: %q, want %q", got, want)
			}

			vague, choices := vagueText(t, mt)
			list := zh.ClarifyPrompt + "\n回复数字："
			for i, id := range choices {
				list += fmt.Sprintf("\n%d. %s", i+1, mt.FAQ().Intent(id).Questions[0])
			}
			list += fmt.Sprintf("\n%d. %s", len(choices)+1, zh.HumanButton)
			if got := reply("clarify", textXML(user, nextMsgID(), vague)); got != list {
				t.Errorf("clarify %q:\n got %q\nwant %q", vague, got, list)
			}
			want = answerText(mt, choices[0])
			if got := reply("pick 1", textXML(user, nextMsgID(), "1")); got != want {
				t.Errorf("reply 1: %q, want the answer of %s %q", got, choices[0], want)
			}

			if got := reply("human", textXML(user, nextMsgID(), "转人工")); got != zh.HandoffNotice+"\n\n"+queueNotice {
				t.Errorf("转人工: %q, want the hand-off notice and the queue notice in one message", got)
			}
			if len(queue.convs) != 1 || queue.convs[0].Reason != intents.ReasonRequested {
				t.Fatalf("hand-offs %+v", queue.convs)
			}
			if got := api.sentMessages(); len(got) != 0 {
				t.Fatalf("the bot's replies used the customer-service API: %+v", got)
			}

			// The agent answers (from the console, possibly on another instance).
			agentText := "您好，我是客服小王，您的包裹已在派送中。"
			if err := a.Send(ctx, bot.Outbound{Channel: Name, User: user, Conv: conv, Kind: bot.OutAgent, Agent: "a1", Text: agentText}); err != nil {
				t.Fatalf("agent reply: %v", err)
			}
			s := api.next(t)
			wantJSON := map[string]any{"touser": user, "msgtype": "text", "text": map[string]any{"content": agentText}}
			if diff := cmp.Diff(wantJSON, s.Raw); diff != "" {
				t.Errorf("customer-service JSON (-want +got):\n%s", diff)
			}
			if s.Token != "ACCESS_TOKEN_1" {
				t.Errorf("access token %q", s.Token)
			}

			// The agent closes (the queue sets the mode); the console asks the
			// engine for the survey and sends it; the customer types 5.
			if err := rdb.HSet(ctx, prefix+"conv:"+conv, "mode", bot.ModeClosed).Err(); err != nil {
				t.Fatal(err)
			}
			survey, err := eng.Survey(ctx, conv)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Send(ctx, survey); err != nil {
				t.Fatalf("survey: %v", err)
			}
			if s := api.next(t); s.Text != zh.SurveyPrompt+"\n回复 1-5 评价" {
				t.Errorf("survey text %q", s.Text)
			}
			if got := reply("rating", textXML(user, nextMsgID(), "5")); got != zh.RatingThanks {
				t.Errorf("rating: %q, want the thanks", got)
			}
			h, err := rdb.HGetAll(ctx, prefix+"conv:"+conv).Result()
			if err != nil || h["rating"] != "5" {
				t.Errorf("stored rating %q (%v)", h["rating"], err)
			}

			tx, err := eng.Store.Transcript(ctx, conv, "")
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, e := range tx {
				kinds = append(kinds, e.Dir+":"+e.Kind+":"+e.Choice)
			}
			wantKinds := []string{"in:start:", "out:welcome:", "in::", "out:answer:", "in::", "out:clarify:",
				"in::" + choices[0], "out:answer:", "in::", "out:handoff:", "out:notice:", "out:survey:", "in:rating:5", "out:notice:"}
			if diff := cmp.Diff(wantKinds, kinds); diff != "" {
				t.Errorf("transcript (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNumbersMapBack: a number picks from the last list only, 转人工 by its
// number, out-of-range and stale numbers are plain text.
func TestNumbersMapBack(t *testing.T) {
	rdb, prefix := mustRedis(t)
	newFakeAPI(t)
	h := &recordingHandler{}
	a := mustAdapter(t, Config{}, h, rdb, prefix)
	c := &wx{tb: t, url: a.srv.URL}
	ctx := context.Background()
	user := "oUser_numbers"
	if _, got := c.post(textXML(user, nextMsgID(), "hi")); got != "收到：hi" {
		t.Fatalf("first message: %q", got)
	}
	clar := bot.Outbound{Channel: Name, User: user, Kind: bot.OutClarify, Text: "您是想问？",
		Choices: []bot.Choice{{ID: "a_intent", Label: "A"}, {ID: "b_intent", Label: "B"}, {ID: bot.ChoiceHuman, Label: "转人工"}}}
	if err := a.Send(ctx, clar); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"4", "０", "2", "2", "3"} {
		if text == "3" { // offer again, then pick 转人工 by number
			if err := a.Send(ctx, clar); err != nil {
				t.Fatal(err)
			}
		}
		c.post(textXML(user, nextMsgID(), text))
	}
	var got []string
	for _, m := range h.got()[1:] {
		got = append(got, m.Kind+"|"+m.Choice+"|"+m.Text)
	}
	want := []string{"||4", "||０", "|b_intent|2", "||2" /* used once */, "human||3"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	// A survey score with a comment.
	if err := a.Send(ctx, bot.Outbound{Channel: Name, User: user, Kind: bot.OutSurvey, Text: "请评价"}); err != nil {
		t.Fatal(err)
	}
	c.post(textXML(user, nextMsgID(), "４分 很满意"))
	last := h.got()[len(h.got())-1]
	if last.Kind != bot.KindRating || last.Choice != "4" || last.Text != "很满意" {
		t.Errorf("survey answer %+v", last)
	}
}

func TestLeadingNumber(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		rest string
		ok   bool
	}{
		{"1", 1, "", true}, {" 2 ", 2, "", true}, {"３", 3, "", true}, {"3。", 3, "", true},
		{"5 很好", 5, "很好", true}, {"5分", 5, "", true}, {"12", 12, "", true},
		{"abc", 0, "", false}, {"", 0, "", false}, {"12345", 0, "", false}, {"第1个", 0, "", false},
	} {
		n, rest, ok := leadingNumber(tc.in)
		if n != tc.n || rest != tc.rest || ok != tc.ok {
			t.Errorf("leadingNumber(%q) = %d %q %v, want %d %q %v", tc.in, n, rest, ok, tc.n, tc.rest, tc.ok)
		}
	}
}

func TestSplitText(t *testing.T) {
	long := strings.Repeat("一二三四五", 10) + "\n" + strings.Repeat("六七八九十", 10)
	parts := splitText(long, 100)
	if strings.Join(parts, "") != strings.ReplaceAll(long, "\n", "") {
		t.Errorf("split lost text: %q", parts)
	}
	for _, p := range parts {
		if len(p) > 100 || !utf8Valid(p) {
			t.Errorf("part %q: %d bytes", p, len(p))
		}
	}
	if got := splitText("short", 100); len(got) != 1 || got[0] != "short" {
		t.Errorf("short: %q", got)
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

var errBoom = errors.New("boom")

// TestConfigYAML: the settings as an operator writes them.
func TestConfigYAML(t *testing.T) {
	var cfg Config
	err := yaml.Unmarshal([]byte(`
reply_budget: 2s
quota: 10
choice_ttl: 10m
menu:
  MENU_TRACK: logistics_track
  MENU_HUMAN: "@human"
`), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{ReplyBudget: 2 * time.Second, Quota: 10, ChoiceTTL: 10 * time.Minute,
		Menu: map[string]string{"MENU_TRACK": "logistics_track", "MENU_HUMAN": bot.ChoiceHuman}}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	d := cfg.withDefaults()
	if d.ReplyBudget != 2*time.Second || d.Window != 48*time.Hour || d.MaxBodyBytes != 64<<10 || d.HTTPTimeout != 10*time.Second {
		t.Errorf("defaults %+v", d)
	}
}
