package console

import (
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/canned"
	"github.com/kefu-dev/kefu/faq"
	"github.com/kefu-dev/kefu/intents"
)

// cannedLimit is how many texts the picker shows for one query.
const cannedLimit = 8

// cannedJSON is one text of the reply box's / picker.
type cannedJSON struct {
	Kind   string   `json:"kind"` // "canned" (快捷回复) or "faq" (客服知识库)
	Title  string   `json:"title"`
	Text   string   `json:"text"` // variables filled for the conversation
	Groups []string `json:"groups,omitempty"`
	Intent string   `json:"intent,omitempty"`
}

// cannedSearch answers GET api/canned?q=…&conv=…: the canned replies the
// agent's groups see and the FAQ answers that match q (Chinese, pinyin or
// its initials), best first, at most cannedLimit. With conv (a conversation
// the agent holds, or any for a supervisor) the variables are filled for it
// and an FAQ answer is its channel's variant; without, only {{agent.name}}
// is known and the others take their fallbacks.
func (c *Console) cannedSearch(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	q := r.URL.Query().Get("q")
	if utf8.RuneCountInString(q) > 64 {
		c.fail(w, r, fmt.Errorf("%w: q is longer than 64 characters", ErrBadRequest))
		return
	}
	values := map[string]string{faq.VarAgentName: s.agent.Name}
	var cv bot.Conversation
	if cid := r.URL.Query().Get("conv"); cid != "" {
		var err error
		cv, err = c.deps.Conversations.Load(ctx, cid)
		if errors.Is(err, redis.Nil) {
			err = fmt.Errorf("%s: %w", cid, ErrNotHolder)
		}
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if !(cv.Agent == s.agent.ID && cv.Mode == bot.ModeAgent) && !s.supervisor() {
			c.fail(w, r, fmt.Errorf("%s: %w", cid, ErrNotHolder))
			return
		}
		for _, e := range cv.Entities {
			if e.Type == intents.EntityOrder {
				values[faq.VarOrder] = e.Value // the last one the customer gave
			}
		}
		if c.deps.Customer != nil {
			cu, err := c.deps.Customer(ctx, cid)
			if err != nil {
				c.log.WarnContext(ctx, "console: customer", "conv", cid, "err", err) // the fallback serves
			} else {
				values[faq.VarCustomerName] = cu.Name
			}
		}
	}
	items := []cannedJSON{}
	if c.deps.Canned != nil {
		if x := c.deps.Canned(); x != nil {
			for _, it := range x.Search(q, s.agent.Groups, s.supervisor(), cannedLimit) {
				j := cannedJSON{Kind: it.Kind, Title: it.Title, Groups: it.Groups, Intent: it.Intent}
				if it.Kind == canned.KindFAQ {
					j.Text = it.Answer.For(cv.Channel, cv.Lang)
				} else {
					j.Text = faq.FillVars(it.Text, values)
				}
				items = append(items, j)
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}
