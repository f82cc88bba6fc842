package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/conv"
)

const testIdentitySecret = "shop-and-kefu-share-this-secret"

// withIdentity configures the identity secret (and options).
func withIdentity(required bool) func(*Config) {
	return func(cfg *Config) { cfg.IdentitySecret, cfg.IdentityRequired = testIdentitySecret, required }
}

// signed is an identity as the shop's server makes it, now.
func (c *cluster) signed(id, name, phone, level string) Identity {
	ts := c.clock.Now().Unix()
	return Identity{ID: id, Name: name, Phone: phone, Level: level, TS: ts,
		Hash: IdentityHash([]byte(testIdentitySecret), id, name, phone, level, ts)}
}

// identify is the session call with a token and an identity.
func (c *cluster) identify(i int, token string, id *Identity) (int, map[string]any) {
	c.t.Helper()
	body := map[string]any{"token": token}
	if id != nil {
		body["identity"] = id
	}
	code, out, _ := c.call(i, "POST", "/api/session", "", "", body)
	return code, out
}

func (c *cluster) mustIdentify(i int, token string, id Identity) (tok, user string) {
	c.t.Helper()
	code, out := c.identify(i, token, &id)
	if code != 200 || out["identified"] != true {
		c.t.Fatalf("session as %s: %d %v", id.ID, code, out)
	}
	return out["token"].(string), out["user"].(string)
}

// keys is every key of the test's prefix, sorted.
func (c *cluster) keys() []string {
	c.t.Helper()
	ks, err := c.rdb.Keys(context.Background(), c.prefix+"*").Result()
	if err != nil {
		c.t.Fatal(err)
	}
	slices.Sort(ks)
	return ks
}

// profileEvents are the lifecycle's customer_profile entries of a thread.
func (c *cluster) profileEvents(thread string) []map[string]any {
	c.t.Helper()
	xs, err := c.rdb.XRange(context.Background(), conv.LifecycleKey(c.prefix), "-", "+").Result()
	if err != nil {
		c.t.Fatal(err)
	}
	var out []map[string]any
	for _, x := range xs {
		if x.Values[conv.EvType] == conv.CustomerProfile && x.Values[conv.EvConv] == thread {
			out = append(out, x.Values)
		}
	}
	return out
}

func (c *cluster) hash(thread string) map[string]string {
	c.t.Helper()
	h, err := c.rdb.HGetAll(context.Background(), conv.Key(c.prefix, thread)).Result()
	if err != nil {
		c.t.Fatal(err)
	}
	return h
}

// TestIdentityTwoDevices: a correctly signed user is accepted; their phone
// and their laptop (two sessions, on two instances, with hashes made at
// different times) are one customer with one thread and one history, and a
// message from one device reaches the other's open socket; the signed name,
// phone and level are on the conversation, written once (one
// customer_profile event) and again only when the shop signs new details.
func TestIdentityTwoDevices(t *testing.T) {
	c := mustCluster(t, Limits{}, nil, withIdentity(false))
	phone, user := c.mustIdentify(0, "", c.signed("10086", "张三", "13800138000", "gold"))
	if user != "u:10086" {
		t.Fatalf("user %q, want u:10086", user)
	}
	if code, _, _ := c.say(0, "", phone, "p1", map[string]any{"text": "你好"}); code != 200 {
		t.Fatalf("phone says: %d", code)
	}
	sock, _ := c.dial(0, "", phone) // the phone's page stays open

	c.clock.Advance(3 * time.Hour)
	laptop, user2 := c.mustIdentify(1, "", c.signed("10086", "张三", "13800138000", "gold"))
	if user2 != user {
		t.Fatalf("laptop is %q, phone %q: not one customer", user2, user)
	}
	if code, _, _ := c.say(1, "", laptop, "l1", map[string]any{"text": "快递到哪了"}); code != 200 {
		t.Fatalf("laptop says: %d", code)
	}
	var texts []string
	for _, e := range c.transcript(user) {
		if e.Dir == "in" {
			texts = append(texts, e.Text)
		}
	}
	if !slices.Equal(texts, []string{"你好", "快递到哪了"}) {
		t.Errorf("one history: customer lines %q", texts)
	}
	// The laptop's message reaches the phone's socket.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for seen := false; !seen; {
		var f frame
		if err := wsjson.Read(ctx, sock, &f); err != nil {
			t.Fatalf("the phone never saw the laptop's message: %v", err)
		}
		for _, e := range f.Entries {
			seen = seen || e.Text == "快递到哪了"
		}
	}
	// The phone's messages page (API) reads the same history.
	if _, out, _ := c.call(0, "GET", "/api/messages", "", phone, nil); len(out["entries"].([]any)) != len(c.transcript(user))-countNotes(c.transcript(user)) {
		t.Errorf("phone's history: %d entries", len(out["entries"].([]any)))
	}
	var threads []string
	for _, k := range c.keys() {
		if strings.HasPrefix(k, conv.Key(c.prefix, Name+":")) {
			threads = append(threads, k)
		}
	}
	if !slices.Equal(threads, []string{conv.Key(c.prefix, "web:u:10086")}) {
		t.Errorf("conversations %q, want only the identified customer's", threads)
	}
	thread := bot.ConvID(Name, user)
	h := c.hash(thread)
	if h[conv.FieldCustomerID] != "10086" || h[conv.FieldCustomerName] != "张三" || h[conv.FieldCustomerPhone] != "13800138000" ||
		h[conv.FieldCustomerLevel] != "gold" {
		t.Errorf("conversation hash %v: no customer details", h)
	}
	if evs := c.profileEvents(thread); len(evs) != 1 || evs[0][conv.EvName] != "张三" || evs[0][conv.EvPhone] != "13800138000" {
		t.Errorf("customer_profile events %v, want one with the details", evs)
	}
	cu, err := c.inst[1].Customer(context.Background(), thread)
	if err != nil || cu != (Customer{ID: "10086", Name: "张三", Phone: "13800138000", Level: "gold"}) {
		t.Errorf("Customer: %+v %v", cu, err)
	}
	// The shop signs a new level: a new token, and the next message writes it.
	c.clock.Advance(time.Minute)
	tok, _ := c.mustIdentify(0, laptop, c.signed("10086", "张三", "13800138000", "platinum"))
	if tok == laptop {
		t.Error("new details kept the old token")
	}
	if code, _, _ := c.say(0, "", tok, "l2", map[string]any{"text": "谢谢"}); code != 200 {
		t.Fatalf("says: %d", code)
	}
	if lv := c.hash(thread)[conv.FieldCustomerLevel]; lv != "platinum" || len(c.profileEvents(thread)) != 2 {
		t.Errorf("level %q, %d events: want platinum and a second event", lv, len(c.profileEvents(thread)))
	}
}

func countNotes(es []bot.Entry) int {
	n := 0
	for _, e := range es {
		if (e.Dir != "in" && e.Dir != "out") || (e.Dir == "in" && e.Kind == bot.KindStart && e.Text == "") {
			n++
		}
	}
	return n
}

// TestIdentityRefused: a forged hash, another user's hash, an id without a
// hash, a changed name or phone, an expired or future hash, malformed
// fields, and (with no secret configured) any identity are refused with a
// clear error, no token and nothing written to Redis.
func TestIdentityRefused(t *testing.T) {
	c := mustCluster(t, Limits{}, nil, withIdentity(false))
	good := func() Identity { return c.signed("10086", "张三", "13800138000", "gold") }
	other := c.signed("10010", "李四", "13900139000", "")
	cases := []struct {
		name string
		edit func(*Identity)
		code int
		err  string
	}{
		{"forged hash", func(i *Identity) { i.Hash = strings.Repeat("ab", 32) }, 401, "bad_identity"},
		{"another user's hash", func(i *Identity) { i.Hash = other.Hash }, 401, "bad_identity"},
		{"id for another user's hash", func(i *Identity) { i.ID = "10010" }, 401, "bad_identity"},
		{"unsigned id", func(i *Identity) { i.Hash = "" }, 401, "bad_identity"},
		{"short hash", func(i *Identity) { i.Hash = i.Hash[:32] }, 401, "bad_identity"},
		{"tampered name", func(i *Identity) { i.Name = "王五" }, 401, "bad_identity"},
		{"tampered phone", func(i *Identity) { i.Phone = "13900139000" }, 401, "bad_identity"},
		{"tampered level", func(i *Identity) { i.Level = "diamond" }, 401, "bad_identity"},
		{"phone added", func(i *Identity) { i.Level, i.Phone = "", "gold" }, 401, "bad_identity"},
		{"tampered time", func(i *Identity) { i.TS += 60 }, 401, "bad_identity"},
		{"no time", func(i *Identity) {
			i.TS = 0
			i.Hash = IdentityHash([]byte(testIdentitySecret), i.ID, i.Name, i.Phone, i.Level, 0)
		}, 401, "bad_identity"},
		{"expired", func(i *Identity) {
			i.TS -= int64((24*time.Hour + time.Second) / time.Second)
			i.Hash = IdentityHash([]byte(testIdentitySecret), i.ID, i.Name, i.Phone, i.Level, i.TS)
		}, 401, "identity_expired"},
		{"future", func(i *Identity) {
			i.TS += int64(time.Hour / time.Second)
			i.Hash = IdentityHash([]byte(testIdentitySecret), i.ID, i.Name, i.Phone, i.Level, i.TS)
		}, 401, "bad_identity"},
		{"other secret", func(i *Identity) {
			i.Hash = IdentityHash([]byte("not-the-shops-secret-at-all"), i.ID, i.Name, i.Phone, i.Level, i.TS)
		}, 401, "bad_identity"},
		{"line break in a name", func(i *Identity) {
			i.Name = "张三\n13800138000"
			i.Hash = IdentityHash([]byte(testIdentitySecret), i.ID, i.Name, i.Phone, i.Level, i.TS)
		}, 401, "bad_identity"},
		{"id with a space", func(i *Identity) {
			i.ID = "a b"
			i.Hash = IdentityHash([]byte(testIdentitySecret), i.ID, i.Name, i.Phone, i.Level, i.TS)
		}, 401, "bad_identity"},
		{"empty id", func(i *Identity) {
			i.ID = ""
			i.Hash = IdentityHash([]byte(testIdentitySecret), i.ID, i.Name, i.Phone, i.Level, i.TS)
		}, 401, "bad_identity"},
	}
	anon, _ := c.mustSession(0, "")
	before := c.keys()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := good()
			tc.edit(&id)
			for _, tok := range []string{"", anon} { // a new page, and a visitor signing in
				code, out := c.identify(0, tok, &id)
				if code != tc.code || out["error"] != tc.err || out["token"] != nil {
					t.Errorf("token %q: %d %v, want %d %s and no token", tok, code, out, tc.code, tc.err)
				}
				if msg, _ := out["message"].(string); !strings.Contains(msg, "identity") {
					t.Errorf("message %q does not say what is wrong", msg)
				}
			}
		})
	}
	if after := c.keys(); !slices.Equal(after, before) {
		t.Errorf("refusals wrote to Redis: keys %q, were %q", after, before)
	}
	if strings.Contains(c.logs.String(), testIdentitySecret) {
		t.Error("the identity secret is in the log")
	}

	// No secret configured: an identity is refused, not silently ignored.
	off := mustCluster(t, Limits{}, nil)
	id := good()
	if code, out := off.identify(0, "", &id); code != 400 || out["error"] != "identity_disabled" {
		t.Errorf("without a secret: %d %v", code, out)
	}
}

// TestIdentityTokenBinding: the token kefu gives an identified customer is
// worth that customer only. Another user's identity gets another token; an
// identified token is not resumed without its customer's identity (a signed
// out page starts a visitor); a token whose profile was swapped for another
// user's is refused; an expired hash keeps a current session of the very
// same customer only.
func TestIdentityTokenBinding(t *testing.T) {
	c := mustCluster(t, Limits{}, nil, withIdentity(false))
	ann := c.signed("ann", "安", "", "")
	tokA, userA := c.mustIdentify(0, "", ann)
	if code, _, _ := c.say(0, "", tokA, "a1", map[string]any{"text": "我是安"}); code != 200 {
		t.Fatalf("ann says: %d", code)
	}
	tokB, userB := c.mustIdentify(1, tokA, c.signed("bob", "鲍勃", "", ""))
	if userB != "u:bob" || tokB == tokA {
		t.Fatalf("bob's identity with ann's token: %s", userB)
	}
	// Signed out: no identity, ann's token → a new anonymous visitor.
	code, out := c.identify(0, tokA, nil)
	if u, _ := out["user"].(string); code != 200 || u == userA || strings.HasPrefix(u, identityPrefix) || out["identified"] == true {
		t.Errorf("no identity with ann's token: %d %v", code, out)
	}
	// Ann's token carried as a bearer (an API client) still speaks for ann
	// only, and bob's for bob.
	if code, _, _ := c.say(1, "", tokB, "b1", map[string]any{"text": "我是鲍勃"}); code != 200 {
		t.Fatal(code)
	}
	if n := len(c.transcript(userA)); n == 0 || slices.ContainsFunc(c.transcript(userA), func(e bot.Entry) bool { return e.Text == "我是鲍勃" }) {
		t.Errorf("ann's thread has bob's message or nothing: %d", n)
	}
	// A token whose profile part is bob's under ann's signature is forged.
	partsA, partsB := strings.Split(tokA, "."), strings.Split(tokB, ".")
	swapped := strings.Join([]string{partsA[0], partsB[1], partsA[2], partsA[3]}, ".")
	if code, _, _ := c.say(0, "", swapped, "x", map[string]any{"text": "hi"}); code != 401 {
		t.Errorf("swapped profile: %d", code)
	}
	made, _ := base64.RawURLEncoding.DecodeString(partsA[1])
	if !strings.Contains(string(made), `"ann"`) {
		t.Errorf("token profile %s", made)
	}

	// Due for refresh: ann's fresh token is ann's, with her details.
	c.clock.Advance(25 * time.Hour)
	_, _, h := c.say(1, "", tokA, "a2", map[string]any{"text": "还在吗"})
	if fresh, ok := verify(c.inst[0].signingSecret(), h.Get(tokenHeader)); !ok || fresh.id != userA || fresh.prof == nil || *fresh.prof != (profile{ID: "ann", Name: "安"}) {
		t.Errorf("refreshed %+v %v", fresh, ok)
	}
	// The cookie alone never opens an identified customer's chat.
	if code := c.dialCookie(0, tokA); code != 401 {
		t.Errorf("socket with ann's token in the cookie only: %d", code)
	}
	if anon, _ := c.mustSession(0, ""); c.dialCookie(0, anon) != 101 {
		t.Error("a visitor's cookie no longer opens their socket")
	}

	// Two days later ann's page re-presents its old hash with her token:
	// the session goes on. Without the token, or with other details, the
	// old hash is refused.
	c.clock.Advance(23 * time.Hour)
	if code, out := c.identify(0, tokA, &ann); code != 200 || out["user"] != userA {
		t.Errorf("old hash with ann's current token: %d %v", code, out)
	}
	if code, out := c.identify(0, "", &ann); code != 401 || out["error"] != "identity_expired" {
		t.Errorf("old hash alone: %d %v", code, out)
	}
	if code, out := c.identify(0, tokB, &ann); code != 401 || out["error"] != "identity_expired" {
		t.Errorf("old hash with bob's token: %d %v", code, out)
	}
	// Revoked, ann's token and old hash together mint nothing; a fresh
	// hash starts a new session.
	if err := c.inst[0].Revoke(context.Background(), userA); err != nil {
		t.Fatal(err)
	}
	c.clock.Advance(time.Second)
	if code, out := c.identify(1, tokA, &ann); code != 401 || out["error"] != "identity_expired" {
		t.Errorf("old hash with ann's revoked token: %d %v", code, out)
	}
	if tok, _ := c.mustIdentify(1, tokA, c.signed("ann", "安", "", "")); tok == tokA {
		t.Error("a fresh hash kept the revoked token")
	}
}

// TestIdentitySignIn: an anonymous visitor who signs in while chatting with
// the bot moves to their identified thread, and the visitor's thread says
// whom they signed in as (field and event); one who signs in while waiting
// for a person stays in that conversation, now showing who they are, until
// it is closed; then they move.
func TestIdentitySignIn(t *testing.T) {
	c := mustCluster(t, Limits{}, nil, withIdentity(false))
	// With the bot.
	anon, visitor := c.mustSession(0, "")
	if code, _, _ := c.say(0, "", anon, "v1", map[string]any{"text": "你好"}); code != 200 {
		t.Fatal(code)
	}
	tok, user := c.mustIdentify(0, anon, c.signed("10086", "张三", "", "gold"))
	if user != "u:10086" || strings.HasPrefix(visitor, identityPrefix) {
		t.Fatalf("signed in as %q (visitor %q)", user, visitor)
	}
	vthread := bot.ConvID(Name, visitor)
	if h := c.hash(vthread); h[conv.FieldSignedInAs] != "web:u:10086" || h[conv.FieldCustomerID] != "10086" {
		t.Errorf("visitor's conversation %v: not linked", h)
	}
	if evs := c.profileEvents(vthread); len(evs) != 1 || evs[0][conv.EvSignedInAs] != "web:u:10086" {
		t.Errorf("visitor's customer_profile events %v", evs)
	}
	if code, _, _ := c.say(1, "", tok, "u1", map[string]any{"text": "快递到哪了"}); code != 200 {
		t.Fatal(code)
	}

	// Waiting for a person.
	anon2, visitor2 := c.mustSession(1, "")
	if code, _, _ := c.say(1, "", anon2, "w1", map[string]any{"kind": bot.KindHuman, "text": "人工"}); code != 200 {
		t.Fatal(code)
	}
	vthread2 := bot.ConvID(Name, visitor2)
	if m := c.hash(vthread2)[conv.FieldMode]; m != conv.ModeWaiting {
		t.Fatalf("mode %q, want waiting", m)
	}
	code, out := c.identify(0, anon2, ptr(c.signed("10010", "李四", "13900139000", "")))
	if code != 200 || out["user"] != visitor2 || out["sign_in"] != "deferred" {
		t.Fatalf("sign in while waiting: %d %v, want to stay deferred", code, out)
	}
	if h := c.hash(vthread2); h[conv.FieldCustomerName] != "李四" || h[conv.FieldCustomerPhone] != "13900139000" {
		t.Errorf("the waiting conversation does not show who it is: %v", h)
	}
	if code, _, _ := c.say(0, "", out["token"].(string), "w2", map[string]any{"text": "还在吗"}); code != 200 {
		t.Errorf("deferred visitor writes on: %d", code)
	}
	if slices.ContainsFunc(c.keys(), func(k string) bool { return k == conv.Key(c.prefix, "web:u:10010") }) {
		t.Error("an identified thread was started while the visitor is served")
	}
	// The conversation is closed: the next session moves them.
	c.rdb.HSet(context.Background(), conv.Key(c.prefix, vthread2), conv.FieldMode, conv.ModeClosed)
	if _, u := c.mustIdentify(0, anon2, c.signed("10010", "李四", "13900139000", "")); u != "u:10010" {
		t.Errorf("after the close: %q", u)
	}
}

func ptr[T any](v T) *T { return &v }

// TestIdentityRequired: with identities required, a page without one gets
// no token (nothing written), an anonymous token is refused everywhere, and
// a signed user chats.
func TestIdentityRequired(t *testing.T) {
	c := mustCluster(t, Limits{}, nil, withIdentity(true))
	before := c.keys()
	if code, out := c.identify(0, "", nil); code != 401 || out["error"] != "identity_required" || out["token"] != nil {
		t.Errorf("no identity: %d %v", code, out)
	}
	if after := c.keys(); !slices.Equal(after, before) {
		t.Errorf("refusal wrote %q", after)
	}
	anon := sign(c.inst[0].signingSecret(), newVisitorID(), c.clock.Now())
	if code, _, _ := c.say(0, "", anon, "a", map[string]any{"text": "你好"}); code != 401 {
		t.Errorf("anonymous message: %d", code)
	}
	if _, code := c.dial(1, "", anon); code != 401 {
		t.Errorf("anonymous socket: %d", code)
	}
	tok, user := c.mustIdentify(1, "", c.signed("7", "", "", ""))
	if code, _, _ := c.say(0, "", tok, "a", map[string]any{"text": "你好"}); code != 200 || len(c.transcript(user)) == 0 {
		t.Errorf("identified message: %d", code)
	}
}

// TestAnonymousWithIdentityOn: with a secret but identities optional, a page
// without one chats as an anonymous visitor, as before.
func TestAnonymousWithIdentityOn(t *testing.T) {
	c := mustCluster(t, Limits{}, nil, withIdentity(false))
	tok, user := c.mustSession(0, "")
	if len(user) != 22 {
		t.Fatalf("visitor %q", user)
	}
	if code, _, _ := c.say(1, "", tok, "a", map[string]any{"text": "快递到哪了"}); code != 200 {
		t.Fatalf("anonymous message: %d", code)
	}
	if n := len(c.transcript(user)); n < 2 {
		t.Errorf("anonymous transcript: %d entries", n)
	}
	if h := c.hash(bot.ConvID(Name, user)); h[conv.FieldCustomerID] != "" {
		t.Errorf("anonymous conversation has a customer: %v", h)
	}
}

// TestIdentityHashVector: the README's test vector, which a shop checks its
// own signing code against (the README's Node example gives the same).
func TestIdentityHashVector(t *testing.T) {
	got := IdentityHash([]byte("0123456789abcdef-secret"), "10086", "张三", "13800138000", "gold", 1764700000)
	if want := "dd49bf66daea99d56395f73befcacaf38dc324a2032c7c8b6522aa7a0b6f8f39"; got != want {
		t.Errorf("hash %s, want %s", got, want)
	}
}

// dialCookie opens a WebSocket carrying a token in the cookie only; the
// HTTP status.
func (c *cluster) dialCookie(i int, token string) int {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	h.Set("Cookie", cookieName+"="+token)
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(c.urls[i], "http")+"/ws", &websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		conn.CloseNow()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode
}

// TestIdentityNumbers: a page may write a numeric user id and the time as
// JSON numbers or strings; the signature is over their decimal text.
func TestIdentityNumbers(t *testing.T) {
	c := mustCluster(t, Limits{}, nil, withIdentity(false))
	id := c.signed("10086", "", "", "")
	for _, body := range []string{
		fmt.Sprintf(`{"identity":{"id":10086,"ts":%d,"hash":%q}}`, id.TS, id.Hash),
		fmt.Sprintf(`{"identity":{"id":"10086","ts":"%d","hash":%q}}`, id.TS, id.Hash),
	} {
		resp, err := http.Post(c.urls[0]+"/api/session", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != 200 || out["user"] != "u:10086" {
			t.Errorf("%s: %d %v", body, resp.StatusCode, out)
		}
	}
	resp, err := http.Post(c.urls[0]+"/api/session", "application/json", strings.NewReader(`{"identity":{"id":{"x":1},"ts":1,"hash":""}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("an object id: %d, want 400", resp.StatusCode)
	}
}
