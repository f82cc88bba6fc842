// Package notify pushes what a team must see at once to the group bots it
// already talks in: 企业微信 (WeCom), 飞书 (Feishu/Lark) and 钉钉
// (DingTalk) incoming webhooks, each in its documented message format,
// signed where the platform signs (飞书, 钉钉). It pushes service-level
// breaches (sla_breached) and, through Ticket, new tickets and tickets due
// soon or overdue (the tickets' reminders, claimed once in the archive).
//
// A Notifier is an archiver.Writer: it runs as an archiver.Archiver with a
// consumer group of its own on the lifecycle stream, so it never blocks a
// conversation, every instance may run one, and an instance that dies
// mid-batch leaves its entries to another. It owns one thing in Redis: the
// marks (notify:sent:<hook>:<event id>) that keep one event from being pushed
// twice to one hook.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/tickets"
)

// Group is the notifier's consumer group on the lifecycle stream.
const Group = "notify"

// The platforms.
const (
	WeCom    = "wecom"    // 企业微信群机器人: POST {"msgtype":"text","text":{"content"}}
	Feishu   = "feishu"   // 飞书自定义机器人: {"timestamp","sign","msg_type":"text","content":{"text"}}
	DingTalk = "dingtalk" // 钉钉自定义机器人: ?timestamp=&sign= and {"msgtype":"text","text":{"content"}}
)

// Hook is one group bot.
type Hook struct {
	Name   string   // for logs (the URL holds a token: never logged)
	Kind   string   // WeCom, Feishu or DingTalk
	URL    string   // the webhook address (a secret)
	Secret string   // the signing secret (飞书, 钉钉), "" when unsigned
	Groups []string // the agents' groups (departments) it hears of; empty: all
}

// Config sets a Notifier up.
type Config struct {
	Prefix string // the deployment's key prefix
	Hooks  []Hook
	// Texts: the message per event type; {conv}, {target}, {priority},
	// {group}, {agent} are replaced. Default: Chinese texts.
	Texts map[string]string
	// Names: display names of targets, priorities and groups (default the
	// Chinese ones for targets and priorities).
	Names map[string]string
	// Tries per push (default 5), with a back-off from MinBackoff (200 ms)
	// doubling; a push still failing after them is logged and dropped.
	Tries      int
	MinBackoff time.Duration
	Client     *http.Client // default: 10 s timeout
	Log        *slog.Logger
	Now        func() time.Time
	// Location: the zone tickets' due times are written in (default
	// Asia/Shanghai).
	Location *time.Location
}

// DefaultTexts are the pushes' texts.
var DefaultTexts = map[string]string{
	conv.SLABreached: "【服务超时】会话 {conv} 的{target}已超时（优先级：{priority}，技能组：{group}{agent}）",
}

// Texts of the tickets' pushes (Config.Texts keys): {id}, {department},
// {owner}, {priority}, {due}, {reason}, {text} are replaced.
const (
	TicketNew     = "ticket_new"
	TicketDueSoon = "ticket_due_soon"
	TicketOverdue = "ticket_overdue"
)

func init() {
	DefaultTexts[TicketNew] = "【新工单】#{id} {reason}（优先级：{priority}，部门：{department}{owner}，到期：{due}）{text}"
	DefaultTexts[TicketDueSoon] = "【工单即将到期】#{id} 将于 {due} 到期（优先级：{priority}，部门：{department}{owner}）"
	DefaultTexts[TicketOverdue] = "【工单已超时】#{id} 已于 {due} 到期，仍未解决（优先级：{priority}，部门：{department}{owner}）"
}

var defaultNames = map[string]string{
	"leave_message": "客户留言", "agent": "客服转工单", "low_rating": "差评回访",
	"first_response": "首次响应", "next_response": "回复客户", "resolution": "解决",
	"urgent": "紧急", "high": "高", "normal": "中", "low": "低",
}

// Notifier pushes events to the hooks.
type Notifier struct {
	cfg Config
	rdb redis.UniversalClient
}

// New makes a Notifier; it does no I/O.
func New(rdb redis.UniversalClient, cfg Config) (*Notifier, error) {
	for i, h := range cfg.Hooks {
		switch h.Kind {
		case WeCom, Feishu, DingTalk:
		default:
			return nil, fmt.Errorf("notify: hook %s: kind %q: use wecom, feishu or dingtalk", h.Name, h.Kind)
		}
		if u, err := url.Parse(h.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("notify: hook %s: the webhook address is not an http(s) URL", h.Name)
		}
		if h.Name == "" {
			cfg.Hooks[i].Name = strconv.Itoa(i)
		}
	}
	if cfg.Texts == nil {
		cfg.Texts = DefaultTexts
	}
	names := map[string]string{}
	for k, v := range defaultNames {
		names[k] = v
	}
	for k, v := range cfg.Names {
		names[k] = v
	}
	cfg.Names = names
	if cfg.Tries <= 0 {
		cfg.Tries = 5
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 200 * time.Millisecond
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Location == nil {
		cfg.Location, _ = time.LoadLocation("Asia/Shanghai")
		if cfg.Location == nil {
			cfg.Location = time.FixedZone("CST", 8*3600)
		}
	}
	return &Notifier{cfg: cfg, rdb: rdb}, nil
}

// Write pushes the events of a batch that a hook hears of (archiver.Writer).
// It returns an error only when Redis fails (the batch is then read again);
// a hook that keeps failing is logged and skipped.
func (n *Notifier) Write(ctx context.Context, batch []archive.Event) error {
	for _, e := range batch {
		tmpl, ok := n.cfg.Texts[e.Type]
		if !ok {
			continue
		}
		text := n.text(tmpl, e)
		for _, h := range n.cfg.Hooks {
			if len(h.Groups) > 0 && !slices.Contains(h.Groups, e.Fields[conv.EvGroup]) {
				continue
			}
			if err := n.pushOnce(ctx, h, e.ID, text); err != nil {
				return err
			}
		}
	}
	return nil
}

func (n *Notifier) text(tmpl string, e archive.Event) string {
	name := func(k string) string {
		if v, ok := n.cfg.Names[k]; ok {
			return v
		}
		return k
	}
	agent := ""
	if a := e.Fields[conv.EvAgent]; a != "" {
		agent = "，客服：" + a
	}
	return strings.NewReplacer("{conv}", e.Conv, "{target}", name(e.Fields[conv.EvTarget]),
		"{priority}", name(e.Fields[conv.EvPriority]), "{group}", name(e.Fields[conv.EvGroup]),
		"{agent}", agent).Replace(tmpl)
}

// pushOnce pushes text to h unless it was pushed for this event already: a
// mark taken before the push (held 30 s, the longest a push takes) and kept
// a week after it succeeds.
func (n *Notifier) pushOnce(ctx context.Context, h Hook, id, text string) error {
	key := n.cfg.Prefix + "notify:sent:" + h.Name + ":" + id
	ok, err := n.rdb.SetNX(ctx, key, "sending", 30*time.Second).Result()
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	if !ok {
		return nil // pushed, or being pushed, by another instance
	}
	wait := n.cfg.MinBackoff
	for try := 1; ; try++ {
		err = n.push(ctx, h, text)
		if err == nil {
			return n.rdb.Set(ctx, key, "sent", 7*24*time.Hour).Err()
		}
		if try >= n.cfg.Tries || ctx.Err() != nil {
			n.cfg.Log.WarnContext(ctx, "notify: push failed, dropped", "hook", h.Name, "kind", h.Kind, "event", id,
				"tries", try, "err", err)
			n.rdb.Del(context.WithoutCancel(ctx), key)
			return nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// push sends one text message to a hook in its platform's format.
func (n *Notifier) push(ctx context.Context, h Hook, text string) error {
	addr := h.URL
	var body any
	switch h.Kind {
	case WeCom:
		body = map[string]any{"msgtype": "text", "text": map[string]string{"content": text}}
	case DingTalk:
		body = map[string]any{"msgtype": "text", "text": map[string]string{"content": text}}
		if h.Secret != "" {
			ts := strconv.FormatInt(n.cfg.Now().UnixMilli(), 10)
			sep := "?"
			if strings.Contains(addr, "?") {
				sep = "&"
			}
			addr += sep + "timestamp=" + ts + "&sign=" + url.QueryEscape(DingTalkSign(h.Secret, ts))
		}
	case Feishu:
		m := map[string]any{"msg_type": "text", "content": map[string]string{"text": text}}
		if h.Secret != "" {
			ts := strconv.FormatInt(n.cfg.Now().Unix(), 10)
			m["timestamp"], m["sign"] = ts, FeishuSign(h.Secret, ts)
		}
		body = m
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, addr, bytes.NewReader(b))
	if err != nil {
		return errors.New("bad webhook address") // the address is a secret: not in the error
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	res, err := n.cfg.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the address
		}
		return err
	}
	defer res.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", res.StatusCode)
	}
	// Each answers 200 with a code of its own: errcode (企业微信, 钉钉), code (飞书).
	var r struct {
		ErrCode *int   `json:"errcode"`
		Code    *int   `json:"code"`
		Msg     string `json:"errmsg"`
		Msg2    string `json:"msg"`
	}
	if json.Unmarshal(rb, &r) == nil {
		if r.ErrCode != nil && *r.ErrCode != 0 {
			return fmt.Errorf("errcode %d: %s", *r.ErrCode, r.Msg)
		}
		if r.Code != nil && *r.Code != 0 {
			return fmt.Errorf("code %d: %s", *r.Code, r.Msg2)
		}
	}
	return nil
}

// FeishuSign is 飞书's signature of a push at timestamp ts (seconds):
// base64(HMAC-SHA256 with key ts + "\n" + secret over an empty message).
func FeishuSign(secret, ts string) string {
	m := hmac.New(sha256.New, []byte(ts+"\n"+secret))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// DingTalkSign is 钉钉's signature of a push at timestamp ts (ms):
// base64(HMAC-SHA256 with key secret over ts + "\n" + secret).
func DingTalkSign(secret, ts string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "\n" + secret))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Ticket pushes a ticket reminder to the hooks that hear of its department
// (every hook with no groups). It is called from the tickets' reminder
// sweep, never from a conversation's path; the reminder was claimed once in
// the archive, and the marks keep a hook from hearing it twice. Failures are
// logged.
func (n *Notifier) Ticket(ctx context.Context, r tickets.Reminder) {
	key := map[string]string{tickets.KindNew: TicketNew, tickets.KindDueSoon: TicketDueSoon, tickets.KindOverdue: TicketOverdue}[r.Kind]
	tmpl, ok := n.cfg.Texts[key]
	if !ok {
		return
	}
	t := r.Ticket
	name := func(k string) string {
		if v, ok := n.cfg.Names[k]; ok {
			return v
		}
		return k
	}
	due, owner, text := "—", "", ""
	if d := r.Due; !d.IsZero() {
		due = d.In(n.cfg.Location).Format("01-02 15:04")
	} else if !t.Due.IsZero() {
		due = t.Due.In(n.cfg.Location).Format("01-02 15:04")
	}
	if t.Owner != "" {
		owner = "，负责人：" + name(t.Owner)
	}
	if t.Text != "" {
		text = "：" + t.Text
		if rs := []rune(text); len(rs) > 200 {
			text = string(rs[:200]) + "…"
		}
	}
	msg := strings.NewReplacer("{id}", strconv.FormatInt(t.ID, 10), "{department}", name(t.Department), "{owner}", owner,
		"{priority}", name(t.Priority.String()), "{due}", due, "{reason}", name(t.Reason), "{text}", text).Replace(tmpl)
	for _, h := range n.cfg.Hooks {
		if len(h.Groups) > 0 && !slices.Contains(h.Groups, t.Department) {
			continue
		}
		if err := n.pushOnce(ctx, h, r.Key(), msg); err != nil {
			n.cfg.Log.WarnContext(ctx, "notify: ticket", "hook", h.Name, "ticket", t.ID, "kind", r.Kind, "err", err)
		}
	}
}
