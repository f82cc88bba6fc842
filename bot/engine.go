package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kefu-dev/kefu/intents"
	"github.com/kefu-dev/kefu/priority"
)

// Texts is the customer-facing wording in one language. Every sentence a
// customer reads that is not an FAQ answer comes from here (configurable).
type Texts struct {
	Welcome       string `yaml:"welcome"`
	Fallback      string `yaml:"fallback"`       // not understood
	ClarifyPrompt string `yaml:"clarify_prompt"` // before the choices
	HandoffNotice string `yaml:"handoff_notice"` // handed to a person
	HumanButton   string `yaml:"human_button"`   // the 转人工 quick reply
	MediaReply    string `yaml:"media_reply"`    // a photo, sticker… sent to the bot
	RatingThanks  string `yaml:"rating_thanks"`  // after a satisfaction rating
	SurveyPrompt  string `yaml:"survey_prompt"`  // after an agent closes the conversation
	Busy          string `yaml:"busy"`           // a message could not be processed; try again
	// QueueNotice tells a waiting customer their place: {rank} (1 = next),
	// {ahead} (people before them) and {minutes} (estimated wait).
	QueueNotice string `yaml:"queue_notice"`
	NoAgent     string `yaml:"no_agent"`     // nobody online now; the message is kept
	OutOfHours  string `yaml:"out_of_hours"` // outside business hours; the message is kept
	Cancelled   string `yaml:"cancelled"`    // the customer left the queue, back to the bot

	// RateLimited: too many messages or new chats from the customer or their
	// network; try again shortly. HandoffLimited: a hand-off refused by
	// Engine.HandoffAllowed; the bot stays.
	RateLimited    string `yaml:"rate_limited"`
	HandoffLimited string `yaml:"handoff_limited"`

	// What happens with the people: an agent takes the conversation
	// ({agent}: their display name), it is transferred to other agents,
	// it is handed back to the bot. WaitingAck answers the first message a
	// waiting customer writes after the hand-off (once: later ones are
	// kept silently for the agent).
	AgentJoined string `yaml:"agent_joined"`
	Transferred string `yaml:"transferred"`
	BackToBot   string `yaml:"back_to_bot"`
	WaitingAck  string `yaml:"waiting_ack"`

	// Leaving a message while nobody can answer (leave.go). LeaveAsk asks
	// for what is missing ({what}: LeaveOrder and/or LeavePhone joined by
	// LeaveAnd); LeaveDone says it is recorded ({ticket}: its number) and
	// when they will hear back ({when}: WhenAfter the next opening when
	// closed, else WhenBy the ticket's due time; {day} is DayToday,
	// DayTomorrow or DayDate with {month} and {day}, {time} is 24-hour).
	LeaveAsk    string `yaml:"leave_ask"`
	LeaveOrder  string `yaml:"leave_order"`
	LeavePhone  string `yaml:"leave_phone"`
	LeaveAnd    string `yaml:"leave_and"`
	LeaveDone   string `yaml:"leave_done"`
	WhenAfter   string `yaml:"when_after"`
	WhenBy      string `yaml:"when_by"`
	DayToday    string `yaml:"day_today"`
	DayTomorrow string `yaml:"day_tomorrow"`
	DayDate     string `yaml:"day_date"`
	// TicketSolved tells the customer their ticket ({ticket}) is solved,
	// on their channel, before the survey.
	TicketSolved string `yaml:"ticket_solved"`
}

// DefaultTexts returns the Chinese and English wording.
func DefaultTexts() map[string]Texts {
	return map[string]Texts{
		"zh": {
			Welcome:       "您好，我是智能客服，请问有什么可以帮您？您可以直接描述问题，需要人工时回复「人工」。",
			Fallback:      "抱歉，我没有完全理解您的问题。可以换个说法再描述一下吗？也可以回复「人工」转接人工客服。",
			ClarifyPrompt: "您是想问以下哪个问题？",
			HandoffNotice: "正在为您转接人工客服，请稍候。您之前说的内容客服都能看到，无需重复。",
			HumanButton:   "转人工",
			MediaReply:    "抱歉，我暂时只能看懂文字消息。请用文字描述您的问题，或回复「人工」由客服为您查看。",
			RatingThanks:  "感谢您的评价，祝您购物愉快！",
			SurveyPrompt:  "本次服务已结束，请为客服的服务打分（1-5分，5分为非常满意）：",
			Busy:          "系统繁忙，请稍后再试。",
			QueueNotice:   "您前面还有 {ahead} 位客户在等待，预计约 {minutes} 分钟后为您服务。回复「取消」可返回智能客服。",
			NoAgent:       "当前暂无客服在线。您的问题已记录，客服上线后会第一时间回复您，请留意消息。",
			Cancelled:     "已为您取消排队，智能客服继续为您服务。",
			OutOfHours:    "现在是非工作时间（人工客服工作时间为每天 9:00–22:00）。您可以先留言，客服上班后会第一时间回复您。",

			// The limits (channels/web).
			RateLimited:    "您的操作太频繁了，请稍等片刻再试。",
			HandoffLimited: "人工客服繁忙，暂时无法为您转接。您可以继续向智能客服提问，或稍后再试转人工。",

			AgentJoined: "您好，我是客服{agent}，很高兴为您服务。",
			Transferred: "正在为您转接其他客服，请稍候，您的聊天记录客服都能看到。",
			BackToBot:   "人工服务已结束，智能客服继续为您服务。需要人工时可随时回复「人工」。",
			WaitingAck:  "您的消息已收到，客服接入后会一并查看，请耐心等待。",

			LeaveAsk:     "为了尽快为您处理，请留下您的{what}。",
			LeaveOrder:   "订单号",
			LeavePhone:   "手机号",
			LeaveAnd:     "和",
			LeaveDone:    "好的，您的留言已登记（工单号 {ticket}），客服会在{when}联系您，请留意消息。",
			WhenAfter:    "{day} {time} 后",
			WhenBy:       "{day} {time} 前",
			DayToday:     "今天",
			DayTomorrow:  "明天",
			DayDate:      "{month}月{day}日",
			TicketSolved: "您好，您的工单（工单号 {ticket}）已处理完毕。如还有问题，直接回复即可。",
		},
		"en": {
			Welcome:       "Hello, I'm the shop's assistant. How can I help? Type \"human\" at any time to reach a person.",
			Fallback:      "Sorry, I didn't quite get that. Could you put it another way? Or type \"human\" to reach a person.",
			ClarifyPrompt: "Which of these do you mean?",
			HandoffNotice: "Connecting you to a person now. They can see what you wrote, no need to repeat it.",
			HumanButton:   "Talk to a person",
			MediaReply:    "Sorry, I can only read text for now. Please describe your question in words, or type \"human\" to reach a person.",
			RatingThanks:  "Thank you for your rating!",
			SurveyPrompt:  "This conversation is closed. How would you rate the service? (1-5, 5 = very satisfied)",
			Busy:          "We are busy right now, please try again in a moment.",
			QueueNotice:   "There are {ahead} customers ahead of you; an agent should be with you in about {minutes} min. Type \"cancel\" to go back to the assistant.",
			NoAgent:       "No agent is online right now. Your message is saved and the first agent online will reply.",
			Cancelled:     "You have left the queue; the assistant is back with you.",
			OutOfHours:    "We are outside our service hours (9:00-22:00 daily). Leave a message and an agent will reply as soon as we open.",

			// The limits (channels/web).
			RateLimited:    "That was a lot at once; please wait a moment and try again.",
			HandoffLimited: "Our agents are very busy and cannot take your chat right now. The assistant can still help, or ask for a person again a little later.",

			AgentJoined: "Hello, this is {agent}. I'm here to help.",
			Transferred: "We are passing you to another agent, please wait a moment; they will see your conversation.",
			BackToBot:   "The agent has finished; the assistant is back with you. Type \"human\" at any time to reach a person.",
			WaitingAck:  "We have your message; the agent will read it when they join. Thank you for waiting.",

			LeaveAsk:     "So that we can help you quickly, please leave your {what}.",
			LeaveOrder:   "order number",
			LeavePhone:   "phone number",
			LeaveAnd:     " and ",
			LeaveDone:    "Thank you, your message is recorded (ticket {ticket}). An agent will get back to you {when}.",
			WhenAfter:    "after {time} {day}",
			WhenBy:       "by {time} {day}",
			DayToday:     "today",
			DayTomorrow:  "tomorrow",
			DayDate:      "on {month}/{day}",
			TicketSolved: "Hello, your request (ticket {ticket}) has been resolved. If anything is still unclear, just reply here.",
		},
	}
}

// Handoff receives conversations the bot hands to people. The hand-off queue
// implements it; nil means the hand-off is only recorded. Enqueue may return
// extra notices for the customer (queue position, closed hours).
type Handoff interface {
	Enqueue(ctx context.Context, c Conversation) ([]Outbound, error)
}

// Leaver is implemented by a Handoff that must hear when a customer leaves
// (unsubscribes) while waiting for or talking with an agent.
type Leaver interface {
	Leave(ctx context.Context, c Conversation) error
}

// Notifier is implemented by a Handoff whose consoles must hear of each
// customer message (c.LastEntry) while the conversation waits or is held.
type Notifier interface {
	CustomerMessage(ctx context.Context, c Conversation) error
}

// Rater is implemented by a Handoff that stores satisfaction ratings (with
// the agent who handled the conversation). A rating it takes it alone
// writes, with its rated event; it returns ErrNotRated for one it cannot
// credit to an agent's close, which the bot then writes itself. Without a
// Rater the bot writes every rating.
type Rater interface {
	Rate(ctx context.Context, c Conversation, score int, comment string) error
}

// Engine applies the conversation policy to inbound messages.
type Engine struct {
	Store   *Store
	Matcher func() *intents.Matcher // the matcher in service (swapped on FAQ reload)
	Texts   map[string]Texts        // by language: "zh", "en"
	// LowTurns: this many messages in a row that the bot cannot answer
	// (declined or clarified) hand the conversation off. Default 2.
	LowTurns int
	Handoff  Handoff
	// Observe, if set, hears every reply the bot decides (for metrics).
	Observe func(Observation)
	// HandoffAllowed, if set, is asked before a conversation is handed off
	// (a channel's limit per client address). Refused: the customer is told
	// HandoffLimited and the conversation stays with the bot.
	HandoffAllowed func(ctx context.Context, m Message) (bool, error)
	// Priority, if set, decides a hand-off's priority (intent, words,
	// history) and reads every message while waiting again (a Handoff that
	// is a Prioritizer raises it).
	Priority *priority.Policy
	// Messages, if set, records what a customer handed off while nobody
	// can answer leaves (a ticket), asks for what is missing and tells
	// them when they will hear back (leave.go).
	Messages MessageTaker
}

// Prioritizer is implemented by a Handoff that can raise a waiting
// conversation's priority when a customer message reads more pressing.
type Prioritizer interface {
	RaisePriority(ctx context.Context, c Conversation, l priority.Level, words []string) error
}

// Observation is what the engine reports about one bot reply.
type Observation struct {
	Channel string
	Kind    string        // the reply's Out* kind
	Reason  string        // the hand-off reason, if handed off
	Intent  string        // the answered intent, if any
	Match   time.Duration // time spent in the matcher (0 when not matched)
}

func (e *Engine) texts(lang string) Texts {
	if strings.HasPrefix(lang, "en") {
		if t, ok := e.Texts["en"]; ok {
			return t
		}
	}
	return e.Texts["zh"]
}

// Handle processes one inbound message: it is stored (and deduplicated)
// before anything else, then answered according to the conversation's mode.
// A repeated delivery returns ErrDuplicate and nothing to send: ErrInFlight
// (also ErrDuplicate) while another delivery is handling it. A conversation
// waiting for or with an agent gets no bot reply.
//
// The message counts as handled only once its reply is recorded (in the
// same script that marks it done). Handle returns an error and no replies
// when it could not get that far; the channel's retry then handles the
// message, once: at once if this delivery could release its claim, else
// after the lease (a crash). Two deliveries at the same moment never both
// answer: a delivery that was taken over writes nothing and gets ErrInFlight.
//
// A delivery that vanished without a retry (its instance died, the client
// gave up) is finished by a Recoverer after its lease.
func (e *Engine) Handle(ctx context.Context, m Message) ([]Outbound, error) {
	conv, err := e.Store.Claim(ctx, m)
	if err != nil {
		return nil, err
	}
	return e.handleClaimed(ctx, conv, m)
}

// handleClaimed answers a message the caller claimed, and releases the
// claim when it could not.
func (e *Engine) handleClaimed(ctx context.Context, conv Conversation, m Message) ([]Outbound, error) {
	outs, err := e.handle(ctx, conv, m)
	if err != nil {
		if !errors.Is(err, ErrDuplicate) {
			// Let the retry have it now; the lease ends it anyway.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
			defer cancel()
			_ = e.Store.release(rctx, conv)
		}
		return nil, err
	}
	return outs, nil
}

// recoverMessage takes over an in-flight message whose lease ran out and
// handles it, as a retry would. It returns ErrDuplicate when the message is
// done meanwhile and ErrInFlight when another delivery (a retry, another
// instance's recoverer) has it. A message that this many deliveries
// (maxTries) could not finish is finished with the Busy notice, so that the
// customer is told rather than left waiting; a bad rating (the customer's
// mistake, already refused to them) is finished with no reply.
func (e *Engine) recoverMessage(ctx context.Context, m Message, maxTries int) ([]Outbound, error) {
	conv, err := e.Store.claim(ctx, m, true)
	if err != nil {
		return nil, err
	}
	if conv.claim.epoch > int64(maxTries) {
		out := Outbound{Channel: m.Channel, User: m.User, Conv: conv.ID, Kind: OutNotice, Text: e.texts(conv.Lang).Busy}
		d := decision{conv: conv}
		d.say(out)
		if err := e.Store.commit(ctx, d, finishDone, nil); err != nil {
			return nil, err
		}
		return []Outbound{out}, nil
	}
	outs, err := e.handleClaimed(ctx, conv, m)
	if errors.Is(err, ErrBadRating) {
		return nil, e.Store.commit(ctx, decision{conv: conv}, finishDone, nil)
	}
	return outs, err
}

// releaseTimeout bounds the release of a claim after a failure.
const releaseTimeout = 2 * time.Second

// handle answers a claimed message: the decision (decide), then the hand-off
// queue's side of it, then one commit of the fields, replies and events.
func (e *Engine) handle(ctx context.Context, conv Conversation, m Message) ([]Outbound, error) {
	if len(conv.claim.stage) > 0 {
		// An earlier delivery recorded the hand-off notice but did not get
		// the conversation into the queue: finish its work.
		return e.enqueue(ctx, conv, conv.claim.stage)
	}
	p := e.policy()
	in := input{conv: conv, msg: m}
	d := decide(p, in)
	if d.err != nil {
		return nil, d.err
	}
	if d.askAllowed {
		ok, err := e.HandoffAllowed(ctx, m)
		if err != nil {
			return nil, fmt.Errorf("handle %s: %w", conv.ID, err)
		}
		if !ok {
			in.refused = true
			d = decide(p, in)
		}
	}
	if d.leave {
		if err := e.Handoff.(Leaver).Leave(ctx, d.conv); err != nil {
			return nil, fmt.Errorf("leave %s: %w", conv.ID, err)
		}
	}
	if d.notify {
		if err := e.Handoff.(Notifier).CustomerMessage(ctx, d.conv); err != nil {
			return nil, fmt.Errorf("handle %s: %w", conv.ID, err)
		}
	}
	if pr, ok := e.Handoff.(Prioritizer); ok && d.raise != nil {
		if err := pr.RaisePriority(ctx, d.conv, d.raise.Level, d.raise.Words); err != nil {
			return nil, fmt.Errorf("handle %s: %w", conv.ID, err)
		}
	}
	if d.rate != nil && p.rater {
		err := e.Handoff.(Rater).Rate(ctx, d.conv, d.rate.score, d.rate.comment)
		switch {
		case errors.Is(err, ErrNotRated):
			d.selfRate()
		case err != nil:
			return nil, fmt.Errorf("rate %s: %w", conv.ID, err)
		}
	}
	if d.leaveMore {
		if err := e.continueLeave(ctx, &d, m); err != nil {
			return nil, err
		}
	}
	if d.observe {
		for _, r := range d.replies {
			e.observe(r.Outbound, d.reason, d.match)
		}
	}
	if d.enqueue {
		// The mode is written before the queue is asked (an agent may claim
		// at once and the queue then owns the mode); the claim is kept until
		// the queue has the conversation, so that a retry finishes the job.
		outs := d.outbounds()
		if err := e.Store.commit(ctx, d, finishStage, outs); err != nil {
			return nil, err
		}
		return e.enqueue(ctx, d.conv, outs)
	}
	if err := e.Store.commit(ctx, d, finishDone, nil); err != nil {
		return nil, err
	}
	return d.outbounds(), nil
}

// policy is the engine's configuration, for decide.
func (e *Engine) policy() policy {
	p := policy{texts: e.Texts, lowTurns: e.lowTurns(), queue: e.Handoff != nil, limited: e.HandoffAllowed != nil,
		prio: e.Priority, messages: e.Messages != nil}
	if e.Matcher != nil {
		p.matcher = e.Matcher()
	}
	_, p.leaver = e.Handoff.(Leaver)
	_, p.notifier = e.Handoff.(Notifier)
	_, p.rater = e.Handoff.(Rater)
	return p
}

// enqueue hands a conversation whose hand-off notice is recorded to the
// queue (Enqueue is idempotent), then records the queue's notices and marks
// the message done. outs are the replies recorded so far.
func (e *Engine) enqueue(ctx context.Context, conv Conversation, outs []Outbound) ([]Outbound, error) {
	var more []Outbound
	if e.Handoff != nil {
		var err error
		if more, err = e.Handoff.Enqueue(ctx, conv); err != nil {
			return nil, fmt.Errorf("handle %s: %w", conv.ID, err)
		}
	}
	d := decision{conv: conv}
	for _, o := range more {
		d.say(o)
	}
	if a := e.awayOf(conv, more); a != nil && e.Messages != nil && conv.leave.ticket == 0 {
		if err := e.startLeave(ctx, &d, conv, a); err != nil {
			return nil, err
		}
	}
	if err := e.Store.commit(ctx, d, finishDone, nil); err != nil {
		return nil, err
	}
	return append(append([]Outbound(nil), outs...), d.outbounds()...), nil
}

func (e *Engine) observe(out Outbound, reason string, match time.Duration) {
	if e.Observe != nil {
		e.Observe(Observation{Channel: out.Channel, Kind: out.Kind, Reason: reason, Intent: out.Intent, Match: match})
	}
}

// What Tell tells a customer.
const (
	TellJoined      = "joined"      // an agent took the conversation (agent: their display name)
	TellTransferred = "transferred" // it goes to other agents
	TellBackToBot   = "back_to_bot" // the agent handed it back to the bot
)

// Tell records a notice about the people handling the conversation in its
// transcript (a bot_reply event, kind notice) and returns it for the
// customer's channel: an agent joined (agent: the display name the
// customer reads), a transfer, or the hand-back to the bot. The agent
// console calls it after the change.
func (e *Engine) Tell(ctx context.Context, convID, what, agent string) (Outbound, error) {
	c, err := e.Store.Load(ctx, convID)
	if err != nil {
		return Outbound{}, err
	}
	tx := e.texts(c.Lang)
	var text string
	switch what {
	case TellJoined:
		text = strings.ReplaceAll(tx.AgentJoined, "{agent}", agent)
	case TellTransferred:
		text = tx.Transferred
	case TellBackToBot:
		text = tx.BackToBot
	default:
		return Outbound{}, fmt.Errorf("tell %s: unknown notice %q", convID, what)
	}
	out := Outbound{Channel: c.Channel, User: c.User, Conv: convID, Kind: OutNotice, Text: text}
	if err := e.Store.AppendOut(ctx, out); err != nil {
		return Outbound{}, err
	}
	return out, nil
}

// Survey records the satisfaction survey in a closed conversation's
// transcript, marks it pending and emits survey_sent (one script), and
// returns it for the customer's channel. The agent console calls it after
// an agent closes a conversation.
func (e *Engine) Survey(ctx context.Context, convID string) (Outbound, error) {
	conv, err := e.Store.Load(ctx, convID)
	if err != nil {
		return Outbound{}, err
	}
	tx := e.texts(conv.Lang)
	out := Outbound{Channel: conv.Channel, User: conv.User, Conv: conv.ID, Kind: OutSurvey, Text: tx.SurveyPrompt}
	for _, n := range []string{"1", "2", "3", "4", "5"} {
		out.Choices = append(out.Choices, Choice{ID: n, Label: n})
	}
	if err := e.Store.survey(ctx, out); err != nil {
		return Outbound{}, err
	}
	return out, nil
}

// badRating is the error of a survey answer that is not a score.
func badRating(conv, score string) error {
	return fmt.Errorf("rate %s: %w: %q", conv, ErrBadRating, score)
}

func (e *Engine) lowTurns() int {
	if e.LowTurns <= 0 {
		return 2
	}
	return e.LowTurns
}

// isRating reports whether a text answers the survey: a digit 1-5, maybe
// followed by a comment.
func isRating(text string) bool {
	t := strings.TrimSpace(text)
	if t == "" || t[0] < '1' || t[0] > '5' {
		return false
	}
	return len(t) == 1 || t[1] == ' '
}

// isCancel reports whether a waiting customer asks to leave the queue.
func isCancel(text string) bool {
	switch strings.ToLower(strings.Trim(strings.TrimSpace(text), "。.!！")) {
	case "取消", "取消排队", "不用了", "cancel":
		return true
	}
	return false
}
