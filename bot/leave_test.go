package bot

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefu-dev/kefu/handoff"
	"github.com/kefu-dev/kefu/internal/testkit"
)

// fakeTaker is a MessageTaker keeping tickets in memory, idempotent as the
// tickets store is (by source, by key).
type fakeTaker struct {
	mu      sync.Mutex
	fail    int // the next TakeMessage calls to fail
	due     time.Duration
	now     func() time.Time
	tickets map[string]*fakeTicket
	byID    map[int64]*fakeTicket
}

type fakeTicket struct {
	id      int64
	m       LeftMessage
	texts   []string
	keys    map[string]bool
	contact string
}

func (f *fakeTaker) TakeMessage(_ context.Context, m LeftMessage) (int64, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail > 0 {
		f.fail--
		return 0, time.Time{}, errors.New("archive unreachable")
	}
	if f.tickets == nil {
		f.tickets, f.byID = map[string]*fakeTicket{}, map[int64]*fakeTicket{}
	}
	t, ok := f.tickets[m.Source]
	if !ok {
		t = &fakeTicket{id: int64(len(f.tickets) + 41), m: m, keys: map[string]bool{}, contact: m.Contact}
		f.tickets[m.Source], f.byID[t.id] = t, t
	}
	return t.id, f.now().Add(f.due), nil
}

func (f *fakeTaker) AddToMessage(_ context.Context, id int64, key, text, contact string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.byID[id]
	if t == nil {
		return errors.New("no such ticket")
	}
	if !t.keys[key] {
		t.keys[key] = true
		t.texts = append(t.texts, text)
		if t.contact == "" {
			t.contact = contact
		}
	}
	return nil
}

// mustLeaveEngine is an engine on a real queue with business hours 9:00–22:00
// in Shanghai, a clock the test moves, and a fakeTaker.
func mustLeaveEngine(t *testing.T, at time.Time) (*Engine, *handoff.Queue, *fakeTaker, *testkit.Clock) {
	t.Helper()
	clk := testkit.NewClock(at)
	e, _ := mustEngine(t, WithClock(clk.Now))
	q, err := handoff.New(e.Store.rdb, handoff.Config{Prefix: e.Store.prefix, Groups: []string{"after_sales"},
		Hours: handoff.Hours{Timezone: "Asia/Shanghai", Open: "09:00", Close: "22:00"}}, clk.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.Handoff = &Queue{Q: q, Texts: DefaultTexts(), Now: clk.Now}
	f := &fakeTaker{due: 24 * time.Hour, now: clk.Now}
	e.Messages = f
	return e, q, f, clk
}

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

// Out of hours: the hand-off records a ticket with what the customer wrote,
// asks once for the order and phone numbers, and when they are given says
// when they will hear back (tomorrow after 9:00); retries make one ticket,
// later messages are added to it, and nothing is asked twice.
func TestLeaveMessageOutOfHours(t *testing.T) {
	e, _, f, _ := mustLeaveEngine(t, time.Date(2026, 12, 3, 23, 30, 0, 0, shanghai))
	ctx := context.Background()
	zh := DefaultTexts()["zh"]
	say := func(id, text, kind string) []Outbound {
		t.Helper()
		outs, err := e.Handle(ctx, Message{Channel: "web", User: "lv1", ID: id, Text: text, Kind: kind})
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		return outs
	}
	say("m1", "快递三天了还没到", "")
	f.fail = 1 // the archive fails once: the retry of the same message finishes it
	if _, err := e.Handle(ctx, Message{Channel: "web", User: "lv1", ID: "m2", Kind: KindHuman}); err == nil {
		t.Fatal("a failed ticket did not fail the message")
	}
	outs := say("m2", "", KindHuman)
	texts := func(outs []Outbound) (s []string) {
		for _, o := range outs {
			s = append(s, o.Text)
		}
		return s
	}
	want := []string{zh.OutOfHours, "为了尽快为您处理，请留下您的订单号和手机号。"}
	if got := texts(outs); len(got) < 2 || got[len(got)-2] != want[0] || got[len(got)-1] != want[1] {
		t.Fatalf("hand-off out of hours: %q", got)
	}
	if len(f.tickets) != 1 {
		t.Fatalf("%d tickets", len(f.tickets))
	}
	var tk *fakeTicket
	for _, tk = range f.tickets {
	}
	if tk.m.Text != "快递三天了还没到" || tk.m.Customer != "web:lv1" || tk.m.Conv != "web:lv1#1" || tk.m.Source != "leave:web:lv1#1" || tk.contact != "" {
		t.Fatalf("ticket %+v", tk.m)
	}
	outs = say("m3", "订单号 2026120312345678，电话 13800138000", "")
	if got := texts(outs); len(got) != 1 || got[0] != "好的，您的留言已登记（工单号 41），客服会在明天 9:00 后联系您，请留意消息。" {
		t.Fatalf("after the answer: %q", got)
	}
	if _, err := e.Handle(ctx, Message{Channel: "web", User: "lv1", ID: "m3", Text: "订单号 2026120312345678，电话 13800138000"}); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("a repeated delivery: %v", err)
	}
	outs = say("m4", "麻烦快点", "")
	if got := texts(outs); len(got) != 1 || got[0] != zh.WaitingAck {
		t.Fatalf("a later message: %q", got)
	}
	// 转人工 again: the place in line again, no new ticket, nothing asked.
	outs = say("m5", "", KindHuman)
	for _, s := range texts(outs) {
		if strings.Contains(s, "请留下") || strings.Contains(s, "已登记") {
			t.Fatalf("asked twice: %q", texts(outs))
		}
	}
	if len(f.tickets) != 1 || strings.Join(tk.texts, "|") != "订单号 2026120312345678，电话 13800138000|麻烦快点" || tk.contact != "13800138000" {
		t.Fatalf("tickets %d, texts %q, contact %q", len(f.tickets), tk.texts, tk.contact)
	}
}

// Only what is missing is asked: an order number already written means only
// the phone; everything known means the customer is told at once. In hours
// with nobody online, they hear back by the ticket's due time.
func TestLeaveMessageAsksOnlyWhatIsMissing(t *testing.T) {
	e, _, f, _ := mustLeaveEngine(t, time.Date(2026, 12, 4, 23, 0, 0, 0, shanghai))
	ctx := context.Background()
	e.Handle(ctx, Message{Channel: "telegram", User: "7", ID: "a1", Text: "订单 2026120312345678 还没发货"})
	outs, err := e.Handle(ctx, Message{Channel: "telegram", User: "7", ID: "a2", Kind: KindHuman})
	if err != nil || outs[len(outs)-1].Text != "为了尽快为您处理，请留下您的手机号。" {
		t.Fatalf("%+v %v", outs, err)
	}
	e2, _, f2, _ := mustLeaveEngine(t, time.Date(2026, 12, 4, 10, 0, 0, 0, shanghai))
	f2.due = 2 * time.Hour
	e2.Handle(ctx, Message{Channel: "wechat", User: "o1", ID: "b1", Text: "订单 2026120312345678 退款，手机 13800138000"})
	outs, err = e2.Handle(ctx, Message{Channel: "wechat", User: "o1", ID: "b2", Kind: KindHuman})
	if err != nil || outs[len(outs)-2].Text != DefaultTexts()["zh"].NoAgent ||
		outs[len(outs)-1].Text != "好的，您的留言已登记（工单号 41），客服会在今天 12:00 前联系您，请留意消息。" {
		t.Fatalf("%+v %v", outs, err)
	}
	if len(f.tickets) != 1 || len(f2.tickets) != 1 {
		t.Fatal("one ticket each")
	}
	for _, tk := range f2.tickets {
		if tk.contact != "13800138000" || tk.m.Channel != "wechat" {
			t.Fatalf("%+v", tk.m)
		}
	}
}

// whenText words today, tomorrow and later dates in either language.
func TestWhenText(t *testing.T) {
	now := time.Date(2026, 12, 31, 23, 0, 0, 0, shanghai)
	zh, en := DefaultTexts()["zh"], DefaultTexts()["en"]
	for _, c := range []struct {
		tx   Texts
		tmpl string
		at   time.Time
		want string
	}{
		{zh, zh.WhenAfter, now.Add(10 * time.Hour), "明天 9:00 后"},
		{zh, zh.WhenBy, now.Add(30 * time.Minute), "今天 23:30 前"},
		{zh, zh.WhenAfter, now.Add(58 * time.Hour), "1月3日 9:00 后"},
		{en, en.WhenAfter, now.Add(10 * time.Hour), "after 9:00 tomorrow"},
		{en, en.WhenBy, now.Add(58 * time.Hour), "by 9:00 on 1/3"},
	} {
		if got := whenText(c.tx, c.tmpl, now, c.at, shanghai); got != c.want {
			t.Errorf("%v: %q, want %q", c.at, got, c.want)
		}
	}
}
