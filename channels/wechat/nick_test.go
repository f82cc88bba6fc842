package wechat

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/conv"
)

// TestNicknameFetchedOnceOffTheHotPath: the customer's nickname comes from
// WeChat's user-info API after the answer, never before it (the answer is
// given while the API call is held), lands on the conversation for the
// agents, and is asked for once per customer across instances; an account's
// remark stands in for an empty nickname; an unknown user gets none and no
// error reaches the customer.
func TestNicknameFetchedOnceOffTheHotPath(t *testing.T) {
	rdb, prefix := mustRedis(t)
	api := newFakeAPI(t)
	api.infos = map[string][2]string{"oNick1": {"小红", ""}, "oNick2": {"", "VIP王先生"}}
	gate := make(chan struct{})
	api.infoGate = gate
	eng, _ := mustEngine(t, rdb, prefix)
	a := mustAdapter(t, Config{}, eng, rdb, prefix)
	c := &wx{tb: t, url: a.srv.URL}
	nick := func(user string) string {
		v, _ := rdb.HGet(context.Background(), conv.Key(prefix, bot.ConvID(Name, user)), conv.FieldCustomerNick).Result()
		return v
	}
	waitNick := func(user, want string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a hang guard, not a verdict on speed
		defer cancel()
		for nick(user) != want {
			if ctx.Err() != nil {
				t.Fatalf("nickname of %s: %q, want %q", user, nick(user), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// The answer comes while the user-info call waits at the gate.
	if st, got := c.post(textXML("oNick1", nextMsgID(), "快递到哪了")); st != 200 || got == "" || got == "success" {
		t.Fatalf("answer while the user-info API hangs: %d %q", st, got)
	}
	if got := nick("oNick1"); got != "" {
		t.Fatalf("nickname %q before the API answered", got)
	}
	close(gate)
	waitNick("oNick1", "小红")

	// Again, on this instance and on another one: WeChat is not asked again.
	c.post(textXML("oNick1", nextMsgID(), "在吗"))
	b := mustAdapter(t, Config{}, eng, rdb, prefix)
	(&wx{tb: t, url: b.srv.URL}).post(textXML("oNick1", nextMsgID(), "还在吗"))

	// The remark when the nickname is empty; an unknown openid: none.
	c.post(textXML("oNick2", nextMsgID(), "快递到哪了"))
	waitNick("oNick2", "VIP王先生")
	c.post(textXML("oNick3", nextMsgID(), "快递到哪了"))
	a.Close() // waits for its background work
	b.Close()
	if got := nick("oNick3"); got != "" {
		t.Errorf("nickname of an unknown user: %q", got)
	}
	api.mu.Lock()
	calls := append([]string(nil), api.infoCalls...)
	api.mu.Unlock()
	n1 := 0
	for _, u := range calls {
		if u == "oNick1" {
			n1++
		}
	}
	if n1 != 1 || len(calls) != 3 {
		t.Errorf("user-info calls %v: want oNick1 once, then oNick2 and oNick3", calls)
	}
	if !strings.Contains(a.logs.String(), "wechat user info") {
		t.Errorf("the failed user-info call was not logged:\n%s", a.logs.String())
	}
}
