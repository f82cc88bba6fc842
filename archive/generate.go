package archive

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/kefu-dev/kefu/conv"
)

// GenerateConfig describes a synthetic archive for benchmarks: Generate
// fills an archive with conversations shaped like a shop's (customers
// writing several times, the bot answering most, agents taking a third,
// some customers leaving while they wait, a survey after every agent's
// close and ratings on half of them, order, tracking and phone numbers in the texts), spread
// over Span before End.
type GenerateConfig struct {
	Conversations int
	// Texts are the customers' messages to draw from (real phrasing; the
	// benchmark reads them from files, never from the product).
	// "[订单x]" and "[数字x]" placeholders become order numbers and digits.
	Texts []string
	// Customers (default Conversations/3), Agents (default 60).
	Customers, Agents int
	// Groups the agents work in (default pre_sales, after_sales, logistics,
	// vip).
	Groups []string
	// End and Span place the conversations' starts (default: now, 2 years).
	End  time.Time
	Span time.Duration
	// Batch is how many conversations one transaction writes (default
	// 5000).
	Batch int
	// Seed makes the archive reproducible.
	Seed uint64
	// EventsOnly writes the conversations and their events but not the
	// messages and entities (nor their full-text index): what reports
	// read, at a fraction of the time.
	EventsOnly bool
	// Progress, when set, is told how many conversations are written, after
	// each batch.
	Progress func(done int)
}

// Words the generated conversations use beside the customers' texts.
var (
	genBotAnswers = []string{
		"您好，订单发货后一般1到3天送达，您可以在我的订单里查看物流",
		"亲，发票会在订单完成后开具，电子发票发送到您的邮箱",
		"退款会在审核通过后3到7个工作日原路退回",
		"您可以在个人中心修改收货地址，已发货的订单无法修改",
		"七天无理由退货请在订单详情页申请售后",
		"会员积分可以在下单时抵扣现金",
		"抱歉，这个问题我还不会回答，正在为您转接人工客服",
		"您的还款日可以在账户设置中查看，逾期会产生罚息",
		"额度审批一般需要1个工作日，请耐心等待",
		"Sorry, I did not understand. Let me find a colleague for you.",
	}
	genAgentReplies = []string{
		"您好，我是客服%s，已经收到您的问题，马上为您查询",
		"亲，订单 %s 已经为您加急处理，请留意物流信息",
		"快递单号是 %s，预计明天送达",
		"已经为您登记退款，金额会原路退回，请注意查收",
		"发票已经重新开具，请查看邮箱",
		"非常抱歉给您带来不便，我们会补偿您一张优惠券",
		"请问还有其他可以帮您的吗？",
		"已经联系仓库核实，稍后给您回电 %s",
	}
	genNotes = []string{
		"customer asked for a refund twice",
		"已升级给主管处理",
		"物流异常，已提交工单",
		"VIP customer, handle with care",
	}
	genChannels = []string{"web", "web", "web", "web", "wechat", "wechat", "wechat", "telegram"}
)

// genConv is one generated conversation with its rows.
type genConv struct {
	id, customer, channel, group, agent, outcome string
	started, ended                               int64
	rating                                       int // 0: none
	msgs                                         []genMsg
	events                                       []genEvent
}

type genMsg struct {
	eventID, dir, kind, text, agent, intent, words string
	at                                             int64
	ents                                           []string
}

type genEvent struct {
	id, typ string
	at      int64
	fields  string
}

// generator makes the conversations; words of repeated texts are cut once.
type generator struct {
	d      *DB
	cfg    GenerateConfig
	rnd    *rand.Rand
	cache  map[string]string
	eps    map[int]int // customer -> episodes so far
	seq    int64
	agents []genAgent
}

type genAgent struct{ id, group string }

// Generate writes cfg.Conversations synthetic conversations into d, in
// transactions of cfg.Batch conversations (COPY on PostgreSQL, prepared
// inserts on SQLite): the same rows Write would store for their events.
// It is for benchmarks: it does not merge with what is stored, so run it
// on an empty archive.
func (d *DB) Generate(ctx context.Context, cfg GenerateConfig) error {
	if cfg.Conversations <= 0 {
		return errors.New("generate: no conversations asked for")
	}
	if len(cfg.Texts) == 0 {
		return errors.New("generate: no customer texts")
	}
	if cfg.Customers <= 0 {
		cfg.Customers = max(1, cfg.Conversations/3)
	}
	if cfg.Agents <= 0 {
		cfg.Agents = 60
	}
	if len(cfg.Groups) == 0 {
		cfg.Groups = []string{"pre_sales", "after_sales", "logistics", "vip"}
	}
	if cfg.End.IsZero() {
		cfg.End = time.Now()
	}
	if cfg.Span <= 0 {
		cfg.Span = 2 * 365 * 24 * time.Hour
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 5000
	}
	d.genEventsOnly = cfg.EventsOnly
	g := &generator{d: d, cfg: cfg, rnd: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x6b656675)),
		cache: map[string]string{}, eps: map[int]int{}}
	for i := range cfg.Agents {
		g.agents = append(g.agents, genAgent{id: fmt.Sprintf("agent%02d", i+1), group: cfg.Groups[i%len(cfg.Groups)]})
	}
	start := cfg.End.Add(-cfg.Span).UnixMilli()
	step := float64(cfg.Span.Milliseconds()) / float64(cfg.Conversations)

	// One goroutine makes batches (segmenting is the slow part of it)
	// while the other writes the previous one.
	batches := make(chan []genConv, 1)
	var genErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(batches)
		for done := 0; done < cfg.Conversations; {
			n := min(cfg.Batch, cfg.Conversations-done)
			batch := make([]genConv, n)
			for i := range batch {
				batch[i] = g.conv(start + int64(float64(done+i)*step))
			}
			select {
			case batches <- batch:
			case <-ctx.Done():
				genErr = ctx.Err()
				return
			}
			done += n
		}
	}()
	written := 0
	var err error
	for batch := range batches {
		if err == nil {
			if d.dialect == Postgres {
				err = d.copyBatch(ctx, batch)
			} else {
				err = d.insertBatch(ctx, batch)
			}
			written += len(batch)
			if err == nil && cfg.Progress != nil {
				cfg.Progress(written)
			}
		}
	}
	wg.Wait()
	if err == nil {
		err = genErr
	}
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	return nil
}

func (g *generator) pick(s []string) string { return s[g.rnd.IntN(len(s))] }

func (g *generator) digits(n int) string {
	b := make([]byte, n)
	b[0] = byte('1' + g.rnd.IntN(9))
	for i := 1; i < n; i++ {
		b[i] = byte('0' + g.rnd.IntN(10))
	}
	return string(b)
}

// words is the index's words of text, cut once per distinct text.
func (g *generator) words(text string) string {
	if w, ok := g.cache[text]; ok {
		return w
	}
	w := strings.Join(g.d.indexWords(text), " ")
	if len(g.cache) < 200000 {
		g.cache[text] = w
	}
	return w
}

// join is the words of base and of extra numbers: numbers are words of
// their own to the segmenter, so the words of base + numbers need no cut.
func join(words string, extra ...string) string {
	for _, x := range extra {
		words += " " + strings.ToLower(x)
	}
	return strings.TrimSpace(words)
}

func (g *generator) conv(started int64) genConv {
	cust := g.rnd.IntN(g.cfg.Customers)
	g.eps[cust]++
	channel := genChannels[cust%len(genChannels)]
	thread := fmt.Sprintf("%s:u%07d", channel, cust)
	c := genConv{id: thread + "#" + strconv.Itoa(g.eps[cust]), customer: thread, channel: channel, started: started}
	at := started
	ev := func(typ string, fields map[string]string) string {
		g.seq++
		id := fmt.Sprintf("%d-%d", at, g.seq)
		js, _ := json.Marshal(fields)
		c.events = append(c.events, genEvent{id: id, typ: typ, at: at, fields: string(js)})
		return id
	}
	msg := func(typ, dir, kind, text, words, agent, intent string, ents []string, fields map[string]string) {
		fields[conv.EvText] = text
		if len(ents) > 0 {
			fields[conv.EvEntities] = strings.Join(ents, " ")
		}
		id := ev(typ, fields)
		c.msgs = append(c.msgs, genMsg{eventID: id, dir: dir, kind: kind, text: text, agent: agent, intent: intent,
			words: words, at: at, ents: ents})
	}
	tick := func(maxSec int) { at += int64(1000 + g.rnd.IntN(maxSec*1000)) }
	order := ""
	customerSays := func() {
		base := g.pick(g.cfg.Texts)
		var ents []string
		text := base
		if strings.Contains(text, "[订单x]") {
			order = g.digits(12)
			text = strings.ReplaceAll(text, "[订单x]", order)
			ents = append(ents, order)
		}
		text = strings.ReplaceAll(text, "[数字x]", g.digits(4))
		words := g.words(text)
		switch r := g.rnd.IntN(10); {
		case r < 3 && order == "": // an order number, as customers paste it
			order = g.digits(12)
			text += " 订单号" + order
			words = join(words, "订单", "订单号", order)
			ents = append(ents, order)
		case r == 3: // a phone number
			phone := "1" + strconv.Itoa(3+g.rnd.IntN(7)) + g.digits(9)
			text += " 电话" + phone
			words = join(words, "电话", phone)
			ents = append(ents, phone)
		}
		msg(conv.CustomerMessage, DirIn, "text", text, words, "", "", ents, map[string]string{})
	}
	botSays := func(text, intent string) {
		msg(conv.BotReply, DirOut, "text", text, g.words(text), "", intent, nil, map[string]string{conv.EvIntent: intent})
	}

	ev(conv.Started, map[string]string{conv.EvCustomer: thread, conv.EvChannel: channel})
	customerSays()
	tick(5)
	botSays(g.pick(genBotAnswers[:6]), "faq")
	switch r := g.rnd.IntN(100); {
	case r < 55: // the bot alone
		if g.rnd.IntN(2) == 0 {
			tick(60)
			customerSays()
			tick(5)
			botSays(g.pick(genBotAnswers), "faq")
		}
		tick(600)
		ev(conv.Closed, map[string]string{conv.EvBy: "idle"})
	case r < 65: // handed off, left while waiting
		c.group = g.pick(g.cfg.Groups)
		tick(5)
		ev(conv.Handoff, map[string]string{conv.EvGroup: c.group, conv.EvReason: "asked"})
		tick(300)
		ev(conv.Abandoned, map[string]string{conv.EvBy: "customer"})
		c.outcome = OutcomeAbandoned
	default: // an agent
		ag := g.agents[g.rnd.IntN(len(g.agents))]
		c.group, c.agent = ag.group, ag.id
		tick(5)
		ev(conv.Handoff, map[string]string{conv.EvGroup: c.group, conv.EvReason: "asked"})
		tick(120)
		ev(conv.Claimed, map[string]string{conv.EvAgent: ag.id, conv.EvGroup: c.group})
		for i, n := 0, 1+g.rnd.IntN(3); i < n; i++ {
			tick(60)
			tpl := g.pick(genAgentReplies)
			text, words, ents := tpl, "", []string(nil)
			if strings.Contains(tpl, "%s") {
				var x string
				switch {
				case strings.Contains(tpl, "订单") && order != "":
					x = order
				case strings.Contains(tpl, "快递单号"):
					x = "SF" + g.digits(12)
					ents = []string{x}
				case strings.Contains(tpl, "回电"):
					x = "1" + strconv.Itoa(3+g.rnd.IntN(7)) + g.digits(9)
					ents = []string{x}
				default:
					x = ag.id
				}
				text = fmt.Sprintf(tpl, x)
				words = join(g.words(strings.ReplaceAll(tpl, "%s", " ")), x)
			} else {
				words = g.words(text)
			}
			msg(conv.AgentMessage, DirOut, "agent", text, words, ag.id, "", ents, map[string]string{conv.EvAgent: ag.id})
			if i+1 < n {
				tick(120)
				customerSays()
			}
		}
		if g.rnd.IntN(8) == 0 {
			tick(30)
			note := g.pick(genNotes)
			msg(conv.Note, DirNote, "text", note, g.words(note), ag.id, "", nil, map[string]string{conv.EvAgent: ag.id})
		}
		tick(300)
		ev(conv.Closed, map[string]string{conv.EvBy: ag.id})
		ev(conv.SurveySent, map[string]string{})
		if g.rnd.IntN(2) == 0 {
			tick(60)
			// Mostly content, some angry.
			scores := []int{5, 5, 5, 5, 4, 4, 3, 2, 1}
			c.rating = scores[g.rnd.IntN(len(scores))]
			ev(conv.Rated, map[string]string{conv.EvScore: strconv.Itoa(c.rating)})
		}
	}
	c.ended = at
	return c
}

// words is the conversation's words, as addWords would make them.
func (c *genConv) words() string {
	var add []string
	for _, m := range c.msgs {
		add = append(add, strings.Fields(m.words)...)
	}
	ws, _ := mergeWords("", add)
	return ws
}

// nullable turns the zero value into NULL.
func nullable[T comparable](v T) any {
	var zero T
	if v == zero {
		return nil
	}
	return v
}

// insertBatch writes a batch on SQLite with prepared statements in one
// transaction.
func (d *DB) insertBatch(ctx context.Context, batch []genConv) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	prep := func(s string) (*stmt, error) {
		p, err := tx.PrepareContext(ctx, s)
		return &stmt{p: p}, err
	}
	cs, err := prep(`INSERT INTO conversations (id, customer, channel, group_name, started, ended, agent, rating, outcome, seq, words) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	ms, err := prep(`INSERT INTO messages (event_id, conv, at, dir, kind, text, agent, intent, words, entities) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	es, err := prep(`INSERT INTO events (id, conv, at, type, fields) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	ns, err := prep(`INSERT INTO entities (value, conv, event_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`)
	if err != nil {
		return err
	}
	for _, c := range batch {
		if d.genEventsOnly {
			c.msgs = nil
		}
		// Starts come in order: the next seq of the millisecond, or its
		// first.
		lo, _ := seqRange(c.started)
		d.genSeq = max(d.genSeq+1, lo)
		cs.exec(ctx, c.id, c.customer, c.channel, c.group, c.started, c.ended, c.agent, nullable(c.rating), c.outcome, d.genSeq, c.words())
		for _, m := range c.msgs {
			ms.exec(ctx, m.eventID, c.id, m.at, m.dir, m.kind, m.text, m.agent, m.intent, m.words, strings.Join(m.ents, " "))
			for _, v := range m.ents {
				ns.exec(ctx, v, c.id, m.eventID)
			}
		}
		for _, e := range c.events {
			es.exec(ctx, e.id, c.id, e.at, e.typ, e.fields)
		}
	}
	for _, s := range []*stmt{cs, ms, es, ns} {
		if s.err != nil {
			return s.err
		}
	}
	return tx.Commit()
}

// stmt keeps a prepared statement's first error.
type stmt struct {
	p   *sql.Stmt
	err error
}

func (s *stmt) exec(ctx context.Context, args ...any) {
	if s.err != nil {
		return
	}
	_, s.err = s.p.ExecContext(ctx, args...)
}

// copyBatch writes a batch on PostgreSQL with COPY, in one transaction.
func (d *DB) copyBatch(ctx context.Context, batch []genConv) error {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		var convs, msgs, evs, ents [][]any
		seen := map[[2]string]bool{}
		for _, c := range batch {
			if d.genEventsOnly {
				c.msgs = nil
			}
			convs = append(convs, []any{c.id, c.customer, c.channel, c.group, c.started, nullable(c.ended), c.agent, nullable(c.rating), c.outcome, c.words()})
			for _, m := range c.msgs {
				msgs = append(msgs, []any{m.eventID, c.id, m.at, m.dir, m.kind, m.text, m.agent, m.intent, m.words, strings.Join(m.ents, " ")})
				for _, v := range m.ents {
					if k := [2]string{v, c.id}; !seen[k] {
						seen[k] = true
						ents = append(ents, []any{v, c.id, m.eventID})
					}
				}
			}
			for _, e := range c.events {
				evs = append(evs, []any{e.id, c.id, e.at, e.typ, e.fields})
			}
		}
		for _, t := range []struct {
			name string
			cols []string
			rows [][]any
		}{
			{"conversations", []string{"id", "customer", "channel", "group_name", "started", "ended", "agent", "rating", "outcome", "words"}, convs},
			{"messages", []string{"event_id", "conv", "at", "dir", "kind", "text", "agent", "intent", "words", "entities"}, msgs},
			{"events", []string{"id", "conv", "at", "type", "fields"}, evs},
			{"entities", []string{"value", "conv", "event_id"}, ents},
		} {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, t.cols, pgx.CopyFromRows(t.rows)); err != nil {
				return fmt.Errorf("copy %s: %w", t.name, err)
			}
		}
		return tx.Commit(ctx)
	})
}
