package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/channels/web"
	"github.com/kefu-dev/kefu/internal/testkit"
	"github.com/kefu-dev/kefu/internal/testkit/sampletest"
)

// TestServeRecoversOrphan: a message claimed by an instance that died
// before answering (its lease long over) is answered by a running gateway's
// recoverer with no retry from the customer, and pushed to the page's
// transcript; a retry of it then gets that answer.
func TestServeRecoversOrphan(t *testing.T) {
	prefix := mustRedisEnv(t)
	cfg := filepath.Join(t.TempDir(), "kefu.yaml")
	os.WriteFile(cfg, []byte("bot:\n  recover_every: 20ms\n"), 0o644)
	g := mustServe(t, "--config", cfg)
	var s struct{ Token, User string }
	if code := doJSON(t, "POST", g.URL+"/api/session", "", nil, &s); code != 200 || s.User == "" {
		t.Fatalf("session: %d %+v", code, s)
	}
	c := &customer{t: t, base: g.URL, token: s.Token}
	// The dead instance's clock: its claim's lease ended an hour ago.
	dead := bot.NewStore(testkit.Redis(t, 0), prefix, bot.WithClock(func() time.Time { return time.Now().Add(-time.Hour) }))
	if _, err := dead.Claim(context.Background(), bot.Message{Channel: "web", User: s.User, ID: s.User + ":o1", Text: "快递到哪了"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second) // a bound against hanging, not a timed assertion
	var kinds []string
	for {
		kinds = kinds[:0]
		for _, e := range c.history("") {
			kinds = append(kinds, e.Dir+":"+e.Kind+":"+e.MsgID)
		}
		if len(kinds) > 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got, want := strings.Join(kinds, " "), "in::o1 out:answer:"; got != want {
		t.Fatalf("transcript %q, want %q (answered by the recoverer)\n%s", got, want, g.logs.String())
	}
	code, r := c.say("o1", map[string]any{"text": "快递到哪了"})
	if code != 200 || !r.Duplicate || r.Status != "answered" || len(r.Replies) != 1 || r.Replies[0].Intent != "logistics_track" {
		t.Errorf("retry after the recovery: %d %+v, want the recorded answer", code, r)
	}
	if !strings.Contains(g.logs.String(), "orphaned message finished") {
		t.Errorf("no log line for the recovery:\n%s", g.logs.String())
	}
}

// TestBrowserInProgress: the page (re)sends a message that an instance
// which went away is still holding; the server answers in_progress and the
// page keeps showing the bot at work (before, it stopped, and the customer
// waited for nothing) until the answer, written by whichever instance
// finishes the message, arrives.
func TestBrowserInProgress(t *testing.T) {
	prefix := mustRedisEnv(t)
	g := mustServe(t)
	ctx := mustBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(g.URL+"/")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the welcome", `document.querySelectorAll('.msg.out[data-kind="welcome"]').length === 1`)
	token := evalJS[string](t, ctx, `localStorage.getItem("kefu_token")`)
	parts := strings.Split(token, ".")
	if len(parts) != 4 { // v2.<id>.<issued>.<mac>
		t.Fatalf("token %q", token)
	}
	user := parts[1]
	// The page's next message id is "123"; another instance holds that
	// message with a lease of an hour and went away.
	rdb := testkit.Redis(t, 0)
	m := bot.Message{Channel: web.Name, User: user, ID: user + ":123", Text: "快递到哪了"}
	if _, err := bot.NewStore(rdb, prefix, bot.WithLease(time.Hour)).Claim(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	evalJS[bool](t, ctx, `crypto.getRandomValues = function (a) { a[0] = 1; a[1] = 2; a[2] = 3; return a; };
		window.__frames = [];
		var parse = JSON.parse;
		JSON.parse = function (s) { var v = parse(s); if (v && v.type) window.__frames.push(v.type); return v; };
		true`)
	if err := chromedp.Do(ctx, chromedp.SendKeys("#input", m.Text), chromedp.Click("#send")); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the in_progress frame", `window.__frames.includes("in_progress")`)
	if hidden := evalJS[bool](t, ctx, `document.getElementById("typing").hidden`); hidden {
		t.Errorf("after in_progress the page stopped showing the bot at work (frames %v)", evalJS[[]string](t, ctx, `window.__frames`))
	}
	// Another instance (its clock past the lease) takes the message over,
	// answers, and wakes the page through its web channel.
	later := bot.NewStore(rdb, prefix, bot.WithClock(func() time.Time { return time.Now().Add(2 * time.Hour) }))
	eng := &bot.Engine{Store: later, Matcher: sampletest.Live(t).Matcher, Texts: bot.DefaultTexts()}
	outs, err := eng.Handle(context.Background(), m)
	if err != nil || len(outs) != 1 {
		t.Fatalf("takeover: %+v %v", outs, err)
	}
	if err := web.New(web.Config{}, nil, nil, rdb, prefix, nil).Send(context.Background(), outs[0]); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "the answer", `document.querySelectorAll('.msg.out[data-kind="answer"]').length === 1`)
	poll(t, ctx, "the bot no longer at work", `document.getElementById("typing").hidden`)
	if n := evalJS[int](t, ctx, `document.querySelectorAll('.msg.in.pending').length`); n != 0 {
		t.Errorf("%d messages still pending after the answer", n)
	}
}
