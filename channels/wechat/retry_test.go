package wechat

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/internal/testkit"
	"github.com/kefu-dev/kefu/internal/testkit/sampletest"
)

// isReplyWrite matches the engine's script that records a reply and marks
// the message done (bot/lua/finish.lua: ARGV[3] = "done", after its keys).
func isReplyWrite(cmd redis.Cmder) bool {
	args := cmd.Args()
	name, _ := args[0].(string)
	name = strings.ToLower(name)
	if (name != "evalsha" && name != "eval") || len(args) < 3 {
		return false
	}
	keys, _ := args[2].(int)
	return len(args) > 5+keys && args[5+keys] == "done"
}

// engineClient is a Redis client of the engine's own (so that a hook on it
// does not touch the adapters').
func engineClient(t *testing.T) *redis.Client {
	t.Helper()
	return testkit.Redis(t, 0)
}

// mustAnsweredPassivelyOnce fails unless user's message was answered once,
// in the passive reply: no customer-service API call, and a transcript of the
// message and one answer.
func mustAnsweredPassivelyOnce(t *testing.T, api *fakeAPI, eng *bot.Engine, user string) {
	t.Helper()
	if api.calls() != 0 {
		t.Errorf("%d customer-service calls, want 0", api.calls())
	}
	if diff := cmp.Diff([]string{"in:", "out:answer"}, transcriptKinds(t, eng, user)); diff != "" {
		t.Errorf("transcript (-want +got):\n%s", diff)
	}
}

func transcriptKinds(t *testing.T, eng *bot.Engine, user string) []string {
	t.Helper()
	tx, err := eng.Store.Transcript(context.Background(), bot.ConvID(Name, user), "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, x := range tx {
		out = append(out, x.Dir+":"+x.Kind)
	}
	return out
}

// TestReplyWriteFailsThenRetried: the engine stores the message but cannot
// write its answer; WeChat gets 500 and retries on another instance, which
// answers (before, the retry was a duplicate and got "success": no answer
// ever). The third try gets the same passive answer; nothing goes through
// the API; one message and one answer in the transcript.
func TestReplyWriteFailsThenRetried(t *testing.T) {
	rdb, prefix := mustRedis(t)
	api := newFakeAPI(t)
	erdb := engineClient(t)
	hook := &testkit.FailHook{Match: isReplyWrite}
	hook.FailNext(1)
	erdb.AddHook(hook)
	eng, _ := mustEngine(t, erdb, prefix)
	a := mustAdapter(t, Config{}, eng, rdb, prefix)
	b := mustAdapter(t, Config{}, eng, rdb, prefix)
	user := "oUser_rwfail"
	msg := textXML(user, nextMsgID(), "快递到哪了")
	if st, _ := (&wx{tb: t, url: a.srv.URL}).post(msg); st != http.StatusInternalServerError {
		t.Fatalf("first try: status %d, want 500 so that WeChat retries", st)
	}
	want := answerText(sampletest.Live(t).Matcher(), "logistics_track")
	for i, url := range []string{b.srv.URL, a.srv.URL} {
		st, got := (&wx{tb: t, url: url, safe: i == 0}).post(msg)
		if st != 200 || got != want {
			t.Errorf("try %d: %d %q, want the answer", i+2, st, got)
		}
	}
	a.Close()
	b.Close()
	mustAnsweredPassivelyOnce(t, api, eng, user)
}

// TestTakeoverAfterCrash: the instance that took the first try died after
// storing the message. A retry within the engine's lease gets "success" and
// nothing (the message is not abandoned yet); the next retry, after the
// lease, takes it over and answers passively, once.
func TestTakeoverAfterCrash(t *testing.T) {
	rdb, prefix := mustRedis(t)
	api := newFakeAPI(t)
	clk := testkit.NewClock(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	eng, _ := mustEngine(t, rdb, prefix)
	eng.Store = bot.NewStore(rdb, prefix, bot.WithClock(clk.Now), bot.WithLease(8*time.Second))
	a := mustAdapter(t, Config{}, eng, rdb, prefix)
	b := mustAdapter(t, Config{}, eng, rdb, prefix)
	user := "oUser_crash"
	id := nextMsgID()
	msg := textXML(user, id, "快递到哪了")
	// The dead instance's delivery: claimed, never finished.
	if _, err := eng.Store.Claim(context.Background(), bot.Message{Channel: Name, User: user, ID: formatID(id), Text: "快递到哪了"}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(5 * time.Second) // WeChat's first retry
	if st, got := (&wx{tb: t, url: a.srv.URL}).post(msg); st != 200 || got != "success" {
		t.Fatalf("retry within the lease: %d %q, want success", st, got)
	}
	clk.Advance(5 * time.Second) // the second retry, after the lease
	want := answerText(sampletest.Live(t).Matcher(), "logistics_track")
	if st, got := (&wx{tb: t, url: b.srv.URL}).post(msg); st != 200 || got != want {
		t.Errorf("retry after the lease: %d %q, want the answer", st, got)
	}
	a.Close()
	b.Close()
	mustAnsweredPassivelyOnce(t, api, eng, user)
}

// TestRetryAfterAsyncSend: an answer that missed the budget went through
// the API; WeChat's retry (its "success" was lost) gets "success" and the
// answer is not sent again, on either instance.
func TestRetryAfterAsyncSend(t *testing.T) {
	rdb, prefix := mustRedis(t)
	api := newFakeAPI(t)
	eng, _ := mustEngine(t, rdb, prefix)
	g := newGated(eng)
	a := mustAdapter(t, Config{ReplyBudget: 20 * time.Millisecond}, g, rdb, prefix)
	b := mustAdapter(t, Config{}, eng, rdb, prefix)
	user := "oUser_async"
	msg := textXML(user, nextMsgID(), "快递到哪了")
	if st, got := (&wx{tb: t, url: a.srv.URL}).post(msg); st != 200 || got != "success" {
		t.Fatalf("first try: %d %q, want success", st, got)
	}
	g.open()
	want := answerText(sampletest.Live(t).Matcher(), "logistics_track")
	if s := api.next(t); s.Text != want {
		t.Fatalf("async answer %q, want %q", s.Text, want)
	}
	for _, url := range []string{b.srv.URL, a.srv.URL} {
		if st, got := (&wx{tb: t, url: url}).post(msg); st != 200 || got != "success" {
			t.Errorf("retry: %d %q, want success", st, got)
		}
	}
	a.Close()
	b.Close()
	if n := len(api.sentMessages()); n != 1 {
		t.Errorf("%d customer-service messages, want 1", n)
	}
}

// TestLostReplyReplayedOnceThroughAPI: the passive answer was lost and the
// retries themselves missed the budget (answered "success"): the remembered
// answer goes through the API, once for two retries on two instances.
func TestLostReplyReplayedOnceThroughAPI(t *testing.T) {
	rdb, prefix := mustRedis(t)
	api := newFakeAPI(t)
	eng, _ := mustEngine(t, rdb, prefix)
	a := mustAdapter(t, Config{}, eng, rdb, prefix)
	g := newGated(eng)
	slow := Config{ReplyBudget: 20 * time.Millisecond}
	b := mustAdapter(t, slow, g, rdb, prefix)
	c := mustAdapter(t, slow, g, rdb, prefix)
	user := "oUser_lost"
	id := nextMsgID()
	msg := textXML(user, id, "快递到哪了")
	want := answerText(sampletest.Live(t).Matcher(), "logistics_track")
	if _, got := (&wx{tb: t, url: a.srv.URL}).post(msg); got != want {
		t.Fatalf("first try %q, want the answer (lost on the way)", got)
	}
	for _, x := range []*testAdapter{b, c} {
		if st, got := (&wx{tb: t, url: x.srv.URL}).post(msg); st != 200 || got != "success" {
			t.Fatalf("slow retry: %d %q, want success", st, got)
		}
	}
	g.open()
	if s := api.next(t); s.Text != want || s.To != user {
		t.Errorf("replayed %+v, want the answer", s)
	}
	a.Close()
	b.Close()
	c.Close()
	if n := len(api.sentMessages()); n != 1 {
		t.Errorf("%d customer-service messages, want 1", n)
	}
	if n, _ := rdb.Exists(context.Background(), prefix+"wechat:reply:"+formatID(id)).Result(); n != 0 {
		t.Errorf("the replayed answer is still remembered: a later retry would give it again")
	}
	if diff := cmp.Diff([]string{"in:", "out:answer"}, transcriptKinds(t, eng, user)); diff != "" {
		t.Errorf("transcript (-want +got):\n%s", diff)
	}
}

// TestHangUpAnswersThroughAPI: WeChat hung up before the answer: no passive
// reply is written into the closed connection nor remembered; the answer
// goes through the API, and the retry gets "success". The request may see
// the hang-up before the answer is ready (async) or after (the hang-up
// check in receive); either way the outcome is this one. Which of the two
// a run takes is up to the scheduler: the second is not forced here.
func TestHangUpAnswersThroughAPI(t *testing.T) {
	rdb, prefix := mustRedis(t)
	api := newFakeAPI(t)
	eng, _ := mustEngine(t, rdb, prefix)
	a := mustAdapter(t, Config{}, eng, rdb, prefix)
	user := "oUser_hangup"
	id := nextMsgID()
	msg := textXML(user, id, "快递到哪了")
	q := signedQuery(time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // gone before the answer
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/wechat?"+q.Encode(), strings.NewReader(msg))
	w := httptest.NewRecorder()
	a.ServeHTTP(w, r)
	if strings.Contains(w.Body.String(), "<xml>") {
		t.Errorf("a passive reply was written to a closed connection: %s", w.Body)
	}
	want := answerText(sampletest.Live(t).Matcher(), "logistics_track")
	if s := api.next(t); s.Text != want {
		t.Errorf("sent %q, want the answer", s.Text)
	}
	if st, got := (&wx{tb: t, url: a.srv.URL}).post(msg); st != 200 || got != "success" {
		t.Errorf("retry: %d %q, want success", st, got)
	}
	a.Close()
	if n := len(api.sentMessages()); n != 1 {
		t.Errorf("%d customer-service messages, want 1", n)
	}
}

func formatID(id int64) string { return strconv.FormatInt(id, 10) }
