package console

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/conv"
)

// fakeTeller words each notice as "what:agent" for the customer.
type fakeTeller struct{ store *bot.Store }

func (f fakeTeller) Tell(ctx context.Context, cid, what, agent string) (bot.Outbound, error) {
	c, err := f.store.Load(ctx, cid)
	if err != nil {
		return bot.Outbound{}, err
	}
	return bot.Outbound{Channel: c.Channel, User: c.User, Conv: cid, Kind: bot.OutNotice, Text: what + ":" + agent}, nil
}

// TestCustomerIsTold: the customer hears that an agent joined (by display
// name), of a transfer (and who took it, for an agent), and of the
// hand-back to the bot.
func TestCustomerIsTold(t *testing.T) {
	e := MustEnvDeps(t, nil, func(d *Deps) { d.Teller = fakeTeller{store: d.Conversations.(*bot.Store)} })
	cid := e.customer(t, "v1", "我要退货", "pre_sales", false)
	alice, bob := e.signedIn(t, "alice"), e.signedIn(t, "bob")
	bob.must("POST", "online", nil, nil)
	alice.must("POST", "claim", map[string]string{"conv": cid}, nil)
	alice.must("POST", "convs/"+cid+"/transfer", map[string]string{"agent": "bob", "note": "VIP"}, nil)
	bob.must("POST", "convs/"+cid+"/bot", nil, nil)
	var got []string
	for _, o := range e.deliver.sent() {
		if o.User != "v1" || o.Kind != bot.OutNotice {
			t.Fatalf("delivered %+v", o)
		}
		got = append(got, o.Text)
	}
	want := []string{"joined:Alice", "transferred:", "joined:Bob", "back_to_bot:"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("told (-want +got):\n%s", diff)
	}
}

// TestReach: the conversation view says when a reply cannot reach the
// customer now: a web customer with no chat page open, a WeChat customer
// whose last message is older than the 48-hour window.
func TestReach(t *testing.T) {
	open := map[string]bool{"here": true}
	e := MustEnvDeps(t, nil, func(d *Deps) {
		d.Connected = func(_ context.Context, channel, user string) (bool, bool, error) {
			return open[user], channel == "web", nil
		}
	})
	ctx := context.Background()
	sup := e.signedIn(t, "sup")
	reach := func(cid string) string {
		t.Helper()
		var out struct {
			Reach string `json:"reach"`
		}
		sup.must("GET", "convs/"+cid, nil, &out)
		return out.Reach
	}
	here := e.customer(t, "here", "在吗", "pre_sales", false)
	gone := e.customer(t, "gone", "在吗", "pre_sales", false)
	if got := reach(here); got != "" {
		t.Errorf("page open: reach %q", got)
	}
	if got := reach(gone); got != ReachOffline {
		t.Errorf("page closed: reach %q, want %q", got, ReachOffline)
	}
	cv, _, err := e.store.Ingest(ctx, bot.Message{Channel: "wechat", User: "o1", ID: "w1", Text: "你好"})
	if err != nil {
		t.Fatal(err)
	}
	last := func(d time.Duration) {
		e.rdb.HSet(ctx, conv.Key(e.prefix, cv.ID), conv.FieldLastInAt, strconv.FormatInt(e.clk.Now().Add(-d).UnixMilli(), 10))
	}
	last(47 * time.Hour)
	if got := reach(cv.ID); got != "" {
		t.Errorf("WeChat 47 h after the last message: reach %q", got)
	}
	last(49 * time.Hour)
	if got := reach(cv.ID); got != ReachWindowClosed {
		t.Errorf("WeChat 49 h after: reach %q, want %q", got, ReachWindowClosed)
	}
}
