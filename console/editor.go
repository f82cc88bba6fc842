package console

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/kefu-dev/kefu/gaps"
)

// WrapUpOption is one choice of the wrap-up: an FAQ intent (Name: its
// standard question) or a configured label.
type WrapUpOption struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// wrapUpReq is the close call's optional body.
type wrapUpReq struct {
	Label    string `json:"label"`
	Resolved bool   `json:"resolved"`
}

// wrapUpLabel tells whether id is a configured label or an intent of the
// FAQ in service.
func (c *Console) wrapUpLabel(id string) bool {
	if slices.ContainsFunc(c.cfg.WrapUpLabels, func(l WrapUpLabel) bool { return l.ID == id }) {
		return true
	}
	return c.deps.Intents != nil && slices.ContainsFunc(c.deps.Intents(), func(o WrapUpOption) bool { return o.ID == id })
}

// wrapUpOptions lists what a conversation may be wrapped up as: the
// configured labels, then the FAQ's intents.
func (c *Console) wrapUpOptions(w http.ResponseWriter, r *http.Request, s *session) {
	labels := make([]WrapUpOption, 0, len(c.cfg.WrapUpLabels))
	for _, l := range c.cfg.WrapUpLabels {
		labels = append(labels, WrapUpOption{ID: l.ID, Name: l.Name})
	}
	intents := []WrapUpOption{}
	if c.deps.Intents != nil {
		intents = append(intents, c.deps.Intents()...)
	}
	writeJSON(w, http.StatusOK, map[string]any{"labels": labels, "intents": intents})
}

// gapJSON is one cluster on the editors' page.
type gapJSON struct {
	ID            string         `json:"id"`
	Size          int            `json:"size"`
	Examples      []string       `json:"examples"`
	NearestIntent string         `json:"nearest_intent"`
	Score         float64        `json:"score"`
	Suggestion    string         `json:"suggestion"`
	YAML          string         `json:"yaml"`
	Reasons       map[string]int `json:"reasons"`
	Convs         []string       `json:"convs"`
}

// listGaps is the editors' page: what the bot did not answer well,
// clustered, largest first, the dismissed ones left out.
func (c *Console) listGaps(w http.ResponseWriter, r *http.Request, s *session) {
	if c.deps.Gaps == nil {
		c.fail(w, r, fmt.Errorf("%w: no archive", ErrNotFound))
		return
	}
	cs, err := c.deps.Gaps(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	out := make([]gapJSON, 0, len(cs))
	for _, g := range cs {
		out = append(out, gapJSON{ID: g.ID, Size: g.Size, Examples: g.Examples, NearestIntent: g.NearestIntent,
			Score: g.Score, Suggestion: g.Suggestion, YAML: g.YAML, Reasons: g.Reasons, Convs: nonNil(g.Convs)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"clusters": out})
}

// dismissGap keeps the cluster named in the path dismissed (for every
// editor, across restarts: in the archive).
func (c *Console) dismissGap(w http.ResponseWriter, r *http.Request, s *session) {
	if c.deps.Gaps == nil || c.deps.DismissGaps == nil {
		c.fail(w, r, fmt.Errorf("%w: no archive", ErrNotFound))
		return
	}
	ctx := r.Context()
	id := r.PathValue("id")
	cs, err := c.deps.Gaps(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	i := slices.IndexFunc(cs, func(g gaps.Cluster) bool { return g.ID == id })
	if i < 0 {
		c.fail(w, r, fmt.Errorf("%w: cluster %s (dismissed already, or changed)", ErrNotFound, id))
		return
	}
	if err := c.deps.DismissGaps(ctx, s.agent.ID, cs[i].Keys); err != nil {
		c.fail(w, r, err)
		return
	}
	c.log.InfoContext(ctx, "console: gap dismissed", "agent", s.agent.ID, "size", cs[i].Size)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "id": id})
}
