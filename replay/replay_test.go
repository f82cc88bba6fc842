package replay

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/faq"
	"github.com/kefu-dev/kefu/intents"
	"github.com/kefu-dev/kefu/internal/testkit/sampletest"
)

type episodes []archive.Episode

func (e episodes) Episodes(_ context.Context, _, _ time.Time, _ []string, fn func(archive.Episode) error) error {
	for _, x := range e {
		if err := fn(x); err != nil {
			return err
		}
	}
	return nil
}

func ev(typ string, kv ...string) archive.StoredEvent {
	f := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		f[kv[i]] = kv[i+1]
	}
	return archive.StoredEvent{Type: typ, Fields: f}
}

func ep(label, text, action, intent string) archive.Episode {
	return archive.Episode{Conv: "c", Label: label, Events: []archive.StoredEvent{
		ev(conv.CustomerMessage, conv.EvKind, "start"),
		ev(conv.BotReply, conv.EvAction, "welcome"),
		ev(conv.CustomerMessage, conv.EvText, text),
		ev(conv.BotReply, conv.EvAction, action, conv.EvIntent, intent),
		ev(conv.CustomerMessage, conv.EvText, "谢谢"),
		ev(conv.BotReply, conv.EvAction, "answer", conv.EvIntent, "thanks_bye"),
	}}
}

func TestReplay(t *testing.T) {
	live := sampletest.Live(t)
	src := episodes{
		ep("logistics_track", "我的快递到哪了", "answer", "logistics_track"),                              // right then
		ep("其他", "你们卖猫粮吗", "fallback", ""),                                                         // right then (not an intent: declined)
		ep("物流纠纷", "快递被别人签收了", "answer", "logistics_track"),                                        // wrong then
		ep("", "发票怎么开", "clarify", ""),                                                             // not labelled
		{Conv: "d", Events: []archive.StoredEvent{ev(conv.CustomerMessage, conv.EvKind, "human")}}, // no text: not replayed
	}
	rep, err := Run(context.Background(), src, live.Matcher(), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	wantCur := Counts{Answer: 2, Clarify: 1, None: 1, Labelled: 3, Right: 2, Wrong: 1}
	if rep.Messages != 4 || !cmp.Equal(wantCur, rep.Current) {
		t.Errorf("messages %d, current %+v, want 4 and %+v", rep.Messages, rep.Current, wantCur)
	}
	p := rep.Proposed
	if p.Answer+p.Clarify+p.Handoff+p.None != 4 || p.Labelled != 3 {
		t.Errorf("proposed %+v", p)
	}
	// With the sample FAQ as it is, the first message is answered as then.
	if p.Right < 1 {
		t.Errorf("proposed %+v: 我的快递到哪了 not answered right", p)
	}

	// An answer threshold no message reaches: every answer then changes.
	f, err := faq.LoadSample()
	if err != nil {
		t.Fatal(err)
	}
	cfg := intents.DefaultConfig()
	cfg.AnswerThreshold = 0.9999
	lx, err := intents.LoadLexicon("")
	if err != nil {
		t.Fatal(err)
	}
	strict := intents.NewMatcher(f, live.Matcher().Tokenizer(), lx, cfg)
	rep2, err := Run(context.Background(), src, strict, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(wantCur, rep2.Current) || rep2.Proposed.Answer != 0 {
		t.Errorf("strict: current %+v, proposed %+v", rep2.Current, rep2.Proposed)
	}
	var from []string
	for _, c := range rep2.Changed {
		from = append(from, c.Text+" "+c.From)
	}
	if diff := cmp.Diff([]string{"我的快递到哪了 answer:logistics_track", "快递被别人签收了 answer:logistics_track"}, from); diff != "" {
		t.Errorf("changed (-want +got):\n%s", diff)
	}
	if rep2.ChangedTotal != len(rep2.Changed) {
		t.Errorf("changed total %d, listed %d", rep2.ChangedTotal, len(rep2.Changed))
	}
}
