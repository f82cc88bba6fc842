package notify

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/archiver"
	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/internal/testkit"
	"github.com/kefu-dev/kefu/priority"
	"github.com/kefu-dev/kefu/tickets"
)

// bot is a fake group bot: it checks the platform's format and signature
// as the platform documents them and keeps the texts it accepted. It fails
// the first failFirst pushes with HTTP 500.
type bot struct {
	t         *testing.T
	kind      string
	secret    string
	failFirst int
	mu        sync.Mutex
	calls     int
	texts     []string
}

func (b *bot) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	if b.calls <= b.failFirst {
		http.Error(w, "busy", http.StatusInternalServerError)
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		b.t.Errorf("%s: body %s: %v", b.kind, raw, err)
	}
	var text string
	switch b.kind {
	case WeCom, DingTalk:
		if m["msgtype"] != "text" {
			b.t.Errorf("%s: msgtype %v", b.kind, m["msgtype"])
		}
		text, _ = m["text"].(map[string]any)["content"].(string)
		if b.kind == DingTalk {
			ts, sign := r.URL.Query().Get("timestamp"), r.URL.Query().Get("sign")
			if sign != DingTalkSign(b.secret, ts) || ts == "" {
				b.t.Errorf("dingtalk: sign %q for timestamp %q", sign, ts)
				_ = json.NewEncoder(w).Encode(map[string]any{"errcode": 310000, "errmsg": "sign not match"})
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"errcode": 0, "errmsg": "ok"})
			b.texts = append(b.texts, text)
			return
		}
	case Feishu:
		if m["msg_type"] != "text" {
			b.t.Errorf("feishu: msg_type %v", m["msg_type"])
		}
		text, _ = m["content"].(map[string]any)["text"].(string)
		ts, _ := m["timestamp"].(string)
		if sign, _ := m["sign"].(string); sign != FeishuSign(b.secret, ts) || ts == "" {
			b.t.Errorf("feishu: sign %q for timestamp %q", sign, ts)
			_ = json.NewEncoder(w).Encode(map[string]any{"code": 19021, "msg": "sign match fail"})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"code": 0, "msg": "success"})
		b.texts = append(b.texts, text)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"errcode": 0, "errmsg": "ok"})
	b.texts = append(b.texts, text)
}

func (b *bot) got() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.texts...)
}

func breach(id, cid, group string) archive.Event {
	return archive.Event{ID: id, Type: conv.SLABreached, Conv: cid, At: time.Now(), Fields: map[string]string{
		conv.EvTarget: "first_response", conv.EvPriority: "urgent", conv.EvGroup: group, conv.EvAgent: ""}}
}

// Each platform gets its own format, signed where it signs; a hook hears
// only of its groups; a push that fails is retried; an event is pushed once
// to a hook however many notifiers see it; other events are not pushed.
func TestPushFormatsRetryAndOnce(t *testing.T) {
	rdb := testkit.Redis(t, 0)
	prefix := testkit.PrefixOn(t, rdb)
	wecom := &bot{t: t, kind: WeCom, failFirst: 2}
	feishu := &bot{t: t, kind: Feishu, secret: "fs-secret"}
	ding := &bot{t: t, kind: DingTalk, secret: "SEC-ding"}
	var hooks []Hook
	for name, b := range map[string]*bot{"wecom": wecom, "feishu": feishu, "ding": ding} {
		srv := httptest.NewServer(b)
		t.Cleanup(srv.Close)
		h := Hook{Name: name, Kind: b.kind, URL: srv.URL + "/hook?access_token=TOKEN", Secret: b.secret}
		if name == "ding" {
			h.Groups = []string{"payments"}
		}
		hooks = append(hooks, h)
	}
	log := &testkit.LogBuffer{}
	mk := func() *Notifier {
		n, err := New(rdb, Config{Prefix: prefix, Hooks: hooks, MinBackoff: time.Millisecond, Log: slog.New(slog.NewTextHandler(log, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	n1, n2 := mk(), mk()
	batch := []archive.Event{breach("1-1", "web:a#1", "after_sales"), breach("1-2", "web:b#1", "payments"),
		{ID: "1-3", Type: conv.Closed, Conv: "web:a#1", Fields: map[string]string{}}}
	var wg sync.WaitGroup
	for _, n := range []*Notifier{n1, n2, n1} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.Write(context.Background(), batch); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	want := []string{"【服务超时】会话 web:a#1 的首次响应已超时（优先级：紧急，技能组：after_sales）",
		"【服务超时】会话 web:b#1 的首次响应已超时（优先级：紧急，技能组：payments）"}
	for _, b := range []*bot{wecom, feishu} {
		if got := b.got(); len(got) != 2 || !(got[0] == want[0] && got[1] == want[1] || got[0] == want[1] && got[1] == want[0]) {
			t.Errorf("%s got %q, want each breach once", b.kind, got)
		}
	}
	if got := ding.got(); len(got) != 1 || got[0] != want[1] {
		t.Errorf("dingtalk (payments only) got %q", got)
	}
	if wecom.calls != 4 {
		t.Errorf("wecom called %d times, want 2 failures then 2 pushes", wecom.calls)
	}
	if strings.Contains(log.String(), "TOKEN") || strings.Contains(log.String(), "secret") {
		t.Errorf("a log line holds the webhook's token or secret:\n%s", log.String())
	}
}

// A hook that keeps failing is given up after its tries (logged, without its
// address), and the batch is not held up.
func TestPushGivesUp(t *testing.T) {
	rdb := testkit.Redis(t, 0)
	b := &bot{t: t, kind: WeCom, failFirst: 100}
	srv := httptest.NewServer(b)
	defer srv.Close()
	log := &testkit.LogBuffer{}
	n, err := New(rdb, Config{Prefix: testkit.PrefixOn(t, rdb), Hooks: []Hook{{Name: "w", Kind: WeCom, URL: srv.URL + "/?key=TOKEN"}},
		Tries: 3, MinBackoff: time.Millisecond, Log: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Write(context.Background(), []archive.Event{breach("1-1", "web:a#1", "g")}); err != nil {
		t.Fatal(err)
	}
	if b.calls != 3 || !strings.Contains(log.String(), "push failed") || strings.Contains(log.String(), "TOKEN") {
		t.Errorf("calls %d, log:\n%s", b.calls, log.String())
	}
	if _, err := New(rdb, Config{Hooks: []Hook{{Kind: "slack", URL: "https://x"}}}); err == nil {
		t.Error("an unknown kind is accepted")
	}
}

// Through the lifecycle stream: two instances' notifiers (archivers with the
// notify group) push a breach once; the archive's group is not disturbed.
func TestNotifierOnTheLifecycleStream(t *testing.T) {
	rdb := testkit.Redis(t, 0)
	prefix := testkit.PrefixOn(t, rdb)
	b := &bot{t: t, kind: WeCom}
	srv := httptest.NewServer(b)
	defer srv.Close()
	ctx := context.Background()
	var as []*archiver.Archiver
	for i := 0; i < 2; i++ {
		n, err := New(rdb, Config{Prefix: prefix, Hooks: []Hook{{Name: "w", Kind: WeCom, URL: srv.URL}}})
		if err != nil {
			t.Fatal(err)
		}
		a := archiver.New(rdb, n, archiver.Config{Prefix: prefix, Group: Group, Block: 50 * time.Millisecond})
		if err := a.Setup(ctx); err != nil {
			t.Fatal(err)
		}
		if err := a.Start(ctx); err != nil {
			t.Fatal(err)
		}
		as = append(as, a)
	}
	defer func() {
		for _, a := range as {
			a.Close()
		}
	}()
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: conv.LifecycleKey(prefix), Values: []string{conv.EvType, conv.SLABreached,
		conv.EvConv, "web:z", conv.EvEpisode, "1", conv.EvAt, "1733150000000", conv.EvTarget, "resolution",
		conv.EvPriority, "high", conv.EvGroup, "after_sales", conv.EvAgent, "demo"}})
	deadline := time.Now().Add(20 * time.Second)
	for len(b.got()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a second push, if there were one, would have come
	if got := b.got(); len(got) != 1 || got[0] != "【服务超时】会话 web:z#1 的解决已超时（优先级：高，技能组：after_sales，客服：demo）" {
		t.Errorf("pushed %q, want the breach once", got)
	}
	if gs, _ := rdb.XInfoGroups(ctx, conv.LifecycleKey(prefix)).Result(); len(gs) != 1 || gs[0].Name != Group {
		t.Errorf("groups %+v", gs)
	}
}

// A ticket reminder reaches the hooks of its department (and those with no
// groups) once, however often it is handed over, in Chinese with the due
// time in the shop's zone.
func TestTicketPushes(t *testing.T) {
	rdb := testkit.Redis(t, 0)
	prefix := testkit.PrefixOn(t, rdb)
	all := &bot{t: t, kind: Feishu, secret: "fs"}
	pay := &bot{t: t, kind: WeCom}
	var hooks []Hook
	for name, b := range map[string]*bot{"all": all, "pay": pay} {
		srv := httptest.NewServer(b)
		t.Cleanup(srv.Close)
		h := Hook{Name: name, Kind: b.kind, URL: srv.URL, Secret: b.secret}
		if name == "pay" {
			h.Groups = []string{"payments"}
		}
		hooks = append(hooks, h)
	}
	n, err := New(rdb, Config{Prefix: prefix, Hooks: hooks, Names: map[string]string{"after_sales": "售后"}})
	if err != nil {
		t.Fatal(err)
	}
	due := time.Date(2026, 12, 3, 6, 30, 0, 0, time.UTC) // 14:30 in Shanghai
	tk := tickets.Ticket{ID: 7, Department: "after_sales", Owner: "alice", Priority: priority.High, Reason: tickets.ReasonAgent,
		Text: "退款没到账", Due: due}
	ctx := context.Background()
	for range 2 {
		n.Ticket(ctx, tickets.Reminder{Kind: tickets.KindNew, Ticket: tk})
		n.Ticket(ctx, tickets.Reminder{Kind: tickets.KindOverdue, Ticket: tk, Due: due})
	}
	tk.ID, tk.Department = 8, "payments"
	n.Ticket(ctx, tickets.Reminder{Kind: tickets.KindDueSoon, Ticket: tk, Due: due})
	want := []string{
		"【新工单】#7 客服转工单（优先级：高，部门：售后，负责人：alice，到期：12-03 14:30）：退款没到账",
		"【工单已超时】#7 已于 12-03 14:30 到期，仍未解决（优先级：高，部门：售后，负责人：alice）",
		"【工单即将到期】#8 将于 12-03 14:30 到期（优先级：高，部门：payments，负责人：alice）",
	}
	if got := all.got(); !slices.Equal(got, want) {
		t.Errorf("the hook of every department got\n%q\nwant\n%q", got, want)
	}
	if got := pay.got(); !slices.Equal(got, want[2:]) {
		t.Errorf("the payments hook got %q", got)
	}
}
