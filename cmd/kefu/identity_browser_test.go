package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/channels/web"
	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/internal/testkit"
)

// TestBrowserIdentifiedCustomer: in headless Chromium, a shop's page (its
// own origin) embeds the chat with the snippet of the README and a signed
// user. The customer asks a question in the chat bubble; the conversation
// is the shop user's (web:u:<id>, with the signed name, phone and level on
// it), and the agent who takes it sees them in the console. On a second device (another browser profile) the same signed user
// sees that history. A page whose identity was tampered with gets the
// refusal and no conversation; kefu.logout() switches the open chat to an
// anonymous visitor.
func TestBrowserIdentifiedCustomer(t *testing.T) {
	prefix := mustRedisEnv(t)
	data := t.TempDir() // this test's own archive: it reads the events back from it
	t.Setenv("KEFU_DATA_DIR", data)
	const secret = "the-shop-and-kefu-share-this"
	t.Setenv("KEFU_WEB_IDENTITY_SECRET", secret)
	g := mustServe(t, "--config", agentConfig(t, ""))
	rdb := testkit.Redis(t, 0)

	sign := func(id, name, phone, level string) web.Identity {
		ts := time.Now().Unix()
		return web.Identity{ID: id, Name: name, Phone: phone, Level: level, TS: ts,
			Hash: web.IdentityHash([]byte(secret), id, name, phone, level, ts)}
	}
	// The shop: every page view signs its user afresh, as its server would.
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := sign("shop-42", "张三", "13800138000", "gold")
		if r.URL.Path == "/tampered" {
			u.Phone = "13900139000"
		}
		b, _ := json.Marshal(u)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><title>shop</title></head><body><h1>shop</h1>
<script>window.kefuSettings = {user: %s};</script>
<script src="%s/embed.js" async></script></body></html>`, b, g.URL)
	}))
	defer shop.Close()

	laptop := mustBrowser(t)
	frame := openChat(t, laptop, shop.URL+"/")
	pollFrame(t, laptop, frame, "the welcome", `document.querySelectorAll('.msg.out[data-kind="welcome"]').length === 1`)
	if err := chromedp.Do(laptop, chromedp.SendKeys(chromedp.CSS("#input"), "快递到哪了", chromedp.FromNode(frame)),
		chromedp.Click(chromedp.CSS("#send"), chromedp.FromNode(frame))); err != nil {
		t.Fatal(err)
	}
	pollFrame(t, laptop, frame, "the answer", `document.querySelectorAll('.msg.out[data-kind="answer"]').length === 1`)

	thread := conv.ThreadID(web.Name, "u:shop-42")
	h := rdb.HGetAll(context.Background(), conv.Key(prefix, thread)).Val()
	if h[conv.FieldCustomerName] != "张三" || h[conv.FieldCustomerPhone] != "13800138000" || h[conv.FieldCustomerLevel] != "gold" {
		t.Errorf("conversation %s: %v, want the signed details", thread, h)
	}

	// The customer asks for a person: the agent's conversation view says who
	// they are.
	if err := chromedp.Do(laptop, chromedp.Click(chromedp.CSS("#human"), chromedp.FromNode(frame))); err != nil {
		t.Fatal(err)
	}
	pollFrame(t, laptop, frame, "the hand-off notice", `document.querySelectorAll('.msg.out[data-kind="handoff"]').length === 1`)
	agentTab, cancelAgent := chromedp.NewContext(laptop)
	defer cancelAgent()
	if err := chromedp.Do(agentTab,
		chromedp.Navigate(g.URL+"/console/"),
		chromedp.WaitVisible(chromedp.CSS("#signin-id")),
		chromedp.SendKeys(chromedp.CSS("#signin-id"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#signin-password"), "alice-pw"),
		chromedp.Click(chromedp.CSS("#signin-btn")),
		chromedp.WaitVisible(chromedp.CSS("#queue li.waiting")),
	); err != nil {
		t.Fatalf("agent: %v", err)
	}
	// Clicked from the page: the queue may redraw between a lookup and a
	// click from outside ("Could not find node with given id").
	poll(t, agentTab, "the claim button", `(() => { const b = document.querySelector('#queue li.waiting button.claim'); if (!b) return false; b.click(); return true; })()`)
	if err := chromedp.Do(agentTab, chromedp.WaitVisible(chromedp.CSS("#transcript .entry.in"))); err != nil {
		t.Fatalf("agent: %v", err)
	}
	poll(t, agentTab, "the customer in the console", `(document.querySelector('#conv-meta .customer') || {}).textContent === '张三 · 13800138000 · gold · id shop-42'`)

	// Another device: a browser profile with no cookie and no storage.
	phone, cancel := chromedp.NewContext(laptop, chromedp.WithNewBrowserContext())
	defer cancel()
	pframe := openChat(t, phone, shop.URL+"/")
	pollFrame(t, phone, pframe, "the laptop's history", `Array.from(document.querySelectorAll('.msg.in')).some(e => e.textContent === '快递到哪了')`)
	if n := evalInFrame[int](t, phone, pframe, `document.querySelectorAll('.msg.out[data-kind="welcome"]').length`); n != 1 {
		t.Errorf("%d welcomes on the second device, want the one of the shared conversation", n)
	}

	// Signed out without a reload: the open chat becomes an anonymous
	// visitor's, without the signed-in customer's history.
	if _, err := chromedp.Run(phone, chromedp.Evaluate[any](`kefu.logout()`)); err != nil {
		t.Fatal(err)
	}
	pollFrame(t, phone, pframe, "a new visitor's welcome", `document.querySelectorAll('.msg.out[data-kind="welcome"]').length === 1 &&
		!Array.from(document.querySelectorAll('.msg.in')).some(e => e.textContent === '快递到哪了')`)

	// A tampered identity: the refusal, and no conversation.
	forged, cancel2 := chromedp.NewContext(laptop, chromedp.WithNewBrowserContext())
	defer cancel2()
	fframe := openChat(t, forged, shop.URL+"/tampered")
	pollFrame(t, forged, fframe, "the refusal", `Array.from(document.querySelectorAll('.system')).some(e => e.textContent.includes('登录身份'))`)
	if n := evalInFrame[int](t, forged, fframe, `document.querySelectorAll('.msg').length`); n != 0 {
		t.Errorf("a tampered identity shows %d messages", n)
	}
	// The archiver trims the lifecycle stream once it has archived it, so the
	// events are counted in the archive (exact: one row per event id) once
	// it has them, and any other thread's still in the stream.
	var profiles int
	waitFor(t, func() bool {
		code, out := runKefu(t, "archive", "show", "--data", data, "--json", conv.ArchiveID(thread, "1"))
		if code != 0 {
			return false
		}
		var sh struct {
			Events []struct {
				Type string `json:"type"`
			} `json:"events"`
		}
		if json.Unmarshal([]byte(out), &sh) != nil {
			return false
		}
		profiles = 0
		for _, e := range sh.Events {
			if e.Type == conv.CustomerProfile {
				profiles++
			}
		}
		return profiles > 0
	})
	if profiles != 1 {
		t.Errorf("%d customer_profile events archived on %s, want one", profiles, thread)
	}
	for _, c := range customerProfiles(t, rdb, prefix) {
		if c != thread {
			t.Errorf("a customer_profile event on %s, want none but on %s", c, thread)
		}
	}
}

// openChat opens a shop page, clicks the chat bubble and returns the chat's
// iframe.
func openChat(t *testing.T, ctx context.Context, url string) *chromedp.Node {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.Click(chromedp.CSS("#kefu-bubble"))); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	// The iframe's node names its frame once the frame is attached.
	var frame *chromedp.Node
	for deadline := time.Now().Add(30 * time.Second); frame == nil; {
		nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("#kefu-frame")))
		if err != nil || len(nodes) != 1 || time.Now().After(deadline) {
			t.Fatalf("the chat frame: %v %d", err, len(nodes))
		}
		if nodes[0].FrameID != "" {
			frame = nodes[0]
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS("#composer"), chromedp.FromNode(frame))); err != nil {
		t.Fatalf("the chat page in the frame: %v", err)
	}
	return frame
}

func pollFrame(t *testing.T, ctx context.Context, frame *chromedp.Node, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInFrame(frame), chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Poll[string](`document.body.innerText`, chromedp.WithPollingInFrame(frame), chromedp.WithPollingTimeout(5*time.Second)))
		t.Fatalf("waiting for %s (%s): %v\nchat: %s", what, expr, err, body)
	}
}

// evalInFrame evaluates an expression in the chat's frame (a poll, on an
// array so that it is done at once whatever the value).
func evalInFrame[T any](t *testing.T, ctx context.Context, frame *chromedp.Node, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Poll[[]T]("["+expr+"]", chromedp.WithPollingInFrame(frame), chromedp.WithPollingTimeout(5*time.Second)))
	if err != nil || len(v) != 1 {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v[0]
}

// customerProfiles are the threads of the lifecycle's customer_profile events.
func customerProfiles(t *testing.T, rdb *redis.Client, prefix string) []string {
	t.Helper()
	xs, err := rdb.XRange(context.Background(), conv.LifecycleKey(prefix), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, x := range xs {
		if x.Values[conv.EvType] == conv.CustomerProfile {
			out = append(out, x.Values[conv.EvConv].(string))
		}
	}
	return out
}
