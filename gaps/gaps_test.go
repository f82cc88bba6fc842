package gaps

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/faq"
	"github.com/kefu-dev/kefu/intents"
	"github.com/kefu-dev/kefu/internal/testkit/sampletest"
)

func ev(typ string, kv ...string) archive.StoredEvent {
	f := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		f[kv[i]] = kv[i+1]
	}
	return archive.StoredEvent{Type: typ, Fields: f}
}

func in(text string) archive.StoredEvent { return ev(conv.CustomerMessage, conv.EvText, text) }
func reply(action, intent string) archive.StoredEvent {
	return ev(conv.BotReply, conv.EvAction, action, conv.EvIntent, intent,
		conv.EvGuesses, `[{"intent":"return_policy","score":0.4},{"intent":"exchange_policy","score":0.3}]`)
}

// Each way of failing is picked, once per message; what went well is not;
// a typed 转人工 is not taken for a question.
func TestEpisodeGaps(t *testing.T) {
	tests := []struct {
		name  string
		label string
		evs   []archive.StoredEvent
		want  []Message
	}{
		{"answered well", "", []archive.StoredEvent{in("怎么退货"), reply("answer", "return_policy")}, nil},
		{"declined", "", []archive.StoredEvent{in("你们卖猫粮吗"), reply("fallback", "")},
			[]Message{{Text: "你们卖猫粮吗", Reasons: []string{ReasonDeclined}}}},
		{"clarify taken", "", []archive.StoredEvent{in("退换"), reply("clarify", ""), in("退货政策是什么"), reply("answer", "return_policy")}, nil},
		{"clarify not taken, then low confidence", "", []archive.StoredEvent{in("退换"), reply("clarify", ""), in("算了"),
			ev(conv.Handoff, conv.EvReason, "low_confidence"), reply("handoff", "")},
			[]Message{{Text: "退换", Reasons: []string{ReasonClarifyNotTaken}}, {Text: "算了", Reasons: []string{ReasonLowConfidence}}}},
		{"clarify then left", "", []archive.StoredEvent{in("退换"), reply("clarify", "")},
			[]Message{{Text: "退换", Reasons: []string{ReasonClarifyNotTaken}}}},
		{"转人工 button after an answer", "", []archive.StoredEvent{in("运费谁出"), reply("answer", "shipping_fee"),
			ev(conv.CustomerMessage, conv.EvKind, "human", conv.EvText, "转人工"), ev(conv.Handoff, conv.EvReason, "requested")},
			[]Message{{Text: "运费谁出", Reasons: []string{ReasonHumanAfterAnswer}}}},
		{"typed 转人工 after an answer", "", []archive.StoredEvent{in("运费谁出"), reply("answer", "shipping_fee"),
			in("转人工"), ev(conv.Handoff, conv.EvReason, "requested"), reply("handoff", "")},
			[]Message{{Text: "运费谁出", Reasons: []string{ReasonHumanAfterAnswer}}}},
		{"转人工 later is not right after", "", []archive.StoredEvent{in("运费谁出"), reply("answer", "shipping_fee"),
			in("好的"), reply("fallback", ""), in("转人工"), ev(conv.Handoff, conv.EvReason, "requested")},
			[]Message{{Text: "好的", Reasons: []string{ReasonDeclined}}}},
		{"low rating after an answer", "", []archive.StoredEvent{in("发票抬头能改吗"), reply("answer", "invoice_request"),
			ev(conv.Rated, conv.EvScore, "1")},
			[]Message{{Text: "发票抬头能改吗", Reasons: []string{ReasonLowRating}}}},
		{"low rating for an agent", "", []archive.StoredEvent{in("发票抬头能改吗"), reply("answer", "invoice_request"),
			ev(conv.CustomerMessage, conv.EvKind, "human"), ev(conv.Claimed), ev(conv.AgentMessage), ev(conv.Rated, conv.EvScore, "2")},
			[]Message{{Text: "发票抬头能改吗", Reasons: []string{ReasonHumanAfterAnswer}}}},
		{"wrap-up differs", "invoice_change", []archive.StoredEvent{in("发票抬头能改吗"), reply("answer", "invoice_request")},
			[]Message{{Text: "发票抬头能改吗", Reasons: []string{ReasonLabelDiffers}, Label: "invoice_change"}}},
		{"wrap-up agrees", "invoice_request", []archive.StoredEvent{in("发票怎么开"), reply("answer", "invoice_request")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := episodeGaps(archive.Episode{Conv: "c", Label: tt.label, Events: tt.evs})
			for i := range tt.want {
				tt.want[i].Conv = "c"
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// Clusters: largest first, the same question in other words together, the
// nearest intent and a suggestion with YAML that the FAQ loader reads;
// a dismissed cluster stays out until new messages outnumber it.
func TestClusters(t *testing.T) {
	m := sampleMatcher(t)
	msg := func(text string, n int) []Message {
		var out []Message
		for range n {
			out = append(out, Message{Text: text, Conv: "web:x#1", Reasons: []string{ReasonDeclined}})
		}
		return out
	}
	var msgs []Message
	msgs = append(msgs, msg("你们有没有实体店", 2)...)
	msgs = append(msgs, msg("运费险怎么买", 3)...)
	msgs = append(msgs, msg("运费险在哪里买", 1)...)
	msgs = append(msgs, msg("怎么购买运费险", 1)...)
	got := Clusters(msgs, m, nil, 0)
	if len(got) != 2 {
		t.Fatalf("%d clusters, want 2: %+v", len(got), got)
	}
	if got[0].Size != 5 || got[0].Examples[0] != "运费险怎么买" || len(got[0].Examples) != 3 || got[1].Size != 2 {
		t.Errorf("clusters %+v", got)
	}
	for _, c := range got {
		if c.NearestIntent == "" || c.Score <= 0 || (c.Suggestion != SuggestParaphrase && c.Suggestion != SuggestNewIntent) {
			t.Errorf("cluster %+v: no nearest intent, score or suggestion", c)
		}
		checkYAML(t, c, m.FAQ())
	}

	dismissed := map[string]bool{}
	for _, k := range got[0].Keys {
		dismissed[k] = true
	}
	if again := Clusters(msgs, m, dismissed, 0); len(again) != 1 || again[0].Examples[0] != "你们有没有实体店" {
		t.Errorf("after dismissing: %+v", again)
	}
	more := append(msgs, msg("运费险去哪买", 6)...)
	if again := Clusters(more, m, dismissed, 0); len(again) != 2 || again[0].Size != 11 {
		t.Errorf("dismissed question asked 6 more times: %+v", again)
	}
}

// checkYAML pastes a cluster's YAML where it says and loads the FAQ.
func checkYAML(t *testing.T, c Cluster, f *faq.FAQ) {
	t.Helper()
	if c.Suggestion == SuggestNewIntent {
		doc := "intents:\n" + strings.Replace(c.YAML, "new_intent\n    category: \"\"", "new_intent\n    category: misc", 1)
		doc = strings.Replace(doc, `answer: ""`, "answer: 请到门店咨询", 1)
		nf, err := faq.ParseFile("new.yaml", []byte(doc))
		if err != nil && !strings.Contains(err.Error(), "needs at least 3") {
			t.Errorf("new intent YAML does not load: %v\n%s", err, doc)
		}
		if err == nil && len(nf.Intent("new_intent").Questions) != len(c.Examples) {
			t.Errorf("new intent: %+v", nf.Intent("new_intent"))
		}
		return
	}
	if !strings.HasPrefix(c.YAML, "# add under questions: of intent "+c.NearestIntent) {
		t.Errorf("paraphrase YAML %q", c.YAML)
	}
	lines := strings.Split(strings.TrimSpace(c.YAML), "\n")[1:]
	if len(lines) != len(c.Examples) {
		t.Errorf("paraphrase YAML %q: want one line per example", c.YAML)
	}
}

func sampleMatcher(tb testing.TB) *intents.Matcher { return sampletest.Live(tb).Matcher() }
