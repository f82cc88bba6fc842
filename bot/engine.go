package bot

import (
	"context"
	"fmt"
	"strings"

	"github.com/kefu-dev/kefu/intents"
)

// Texts is the customer-facing wording in one language. Every sentence a
// customer reads that is not an FAQ answer comes from here (configurable).
type Texts struct {
	Welcome       string `yaml:"welcome"`
	Fallback      string `yaml:"fallback"`       // not understood
	ClarifyPrompt string `yaml:"clarify_prompt"` // before the choices
	HandoffNotice string `yaml:"handoff_notice"` // handed to a person
	HumanButton   string `yaml:"human_button"`   // the 转人工 quick reply
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
		},
		"en": {
			Welcome:       "Hello, I'm the shop's assistant. How can I help? Type \"human\" at any time to reach a person.",
			Fallback:      "Sorry, I didn't quite get that. Could you put it another way? Or type \"human\" to reach a person.",
			ClarifyPrompt: "Which of these do you mean?",
			HandoffNotice: "Connecting you to a person now. They can see what you wrote, no need to repeat it.",
			HumanButton:   "Talk to a person",
		},
	}
}

// Handoff receives conversations the bot hands to people. The hand-off queue
// implements it; nil means the hand-off is only recorded.
type Handoff interface {
	Enqueue(ctx context.Context, c Conversation) error
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
// A repeated delivery returns ErrDuplicate and nothing to send; a
// conversation waiting for or with an agent gets no bot reply.
func (e *Engine) Handle(ctx context.Context, m Message) ([]Outbound, error) {
	conv, dup, err := e.Store.Ingest(ctx, m)
	if err != nil {
		return nil, err
	}
	if dup {
		return nil, ErrDuplicate
	}
	if conv.Mode == ModeWaiting || conv.Mode == ModeAgent {
		return nil, nil
	}
	mt := e.Matcher()
	out := Outbound{Channel: m.Channel, User: m.User, Conv: conv.ID}
	var action intents.Action
	var reason, intent string
	var choices []string
	var urgent bool
	if m.Choice == ChoiceHuman {
		action, reason = intents.ActionHandoff, intents.ReasonRequested
	} else if m.Choice != "" {
		intent = m.Choice
		action, reason = mt.PickChoice(m.Choice)
		urgent = reason == intents.ReasonUrgent
	} else {
		r := mt.Match(m.Text)
		action, reason, intent, choices, urgent = r.Action, r.Reason, r.Intent, r.Choices, r.Urgent
		conv.Entities = mergeEntities(conv.Entities, r.Entities)
		if conv.Lang == "" || m.Lang != "" {
			conv.Lang = r.Lang
			if m.Lang != "" {
				conv.Lang = m.Lang
			}
		}
	}
	tx := e.texts(conv.Lang)
	// A message the bot cannot answer (declined or clarified) counts toward
	// the hand-off after LowTurns in a row.
	if action == intents.ActionClarify || action == intents.ActionNone {
		conv.LowTurns++
		if conv.LowTurns >= e.lowTurns() {
			action, reason = intents.ActionHandoff, "low_confidence"
		}
	}
	switch action {
	case intents.ActionAnswer:
		in := mt.FAQ().Intent(intent)
		out.Kind, out.Intent, out.Text = "answer", intent, in.Answer.For(m.Channel, conv.Lang)
		for _, id := range in.Answer.Choices {
			if c := mt.FAQ().Intent(id); c != nil {
				out.Choices = append(out.Choices, Choice{ID: id, Label: c.Questions[0]})
			}
		}
		conv.LowTurns, conv.LastIntent = 0, intent
	case intents.ActionClarify:
		out.Kind, out.Text = "clarify", tx.ClarifyPrompt
		for _, id := range choices {
			out.Choices = append(out.Choices, Choice{ID: id, Label: mt.FAQ().Intent(id).Questions[0]})
		}
		out.Choices = append(out.Choices, Choice{ID: ChoiceHuman, Label: tx.HumanButton})
		if len(choices) > 0 {
			conv.LastIntent = choices[0]
		}
	case intents.ActionNone:
		out.Kind, out.Text = "fallback", tx.Fallback
		out.Choices = []Choice{{ID: ChoiceHuman, Label: tx.HumanButton}}
	case intents.ActionHandoff:
		conv.Mode, conv.Reason, conv.Urgent, conv.LowTurns = ModeWaiting, reason, urgent, 0
		if intent != "" {
			conv.LastIntent = intent
		}
		out.Kind, out.Intent, out.Text, out.Choices = "handoff", intent, tx.HandoffNotice, nil
		if e.Handoff != nil {
			if err := e.Handoff.Enqueue(ctx, conv); err != nil {
				return nil, fmt.Errorf("handle %s: %w", conv.ID, err)
			}
		}
	}
	if err := e.Store.Record(ctx, conv, out); err != nil {
		return nil, err
	}
	return []Outbound{out}, nil
}

func (e *Engine) lowTurns() int {
	if e.LowTurns <= 0 {
		return 2
	}
	return e.LowTurns
}
