package console

import (
	"context"
	_ "embed"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/kefu-dev/kefu/conv"
)

// MaxLabels is the most labels one conversation may have.
const MaxLabels = 10

var (
	//go:embed lua/labels.lua
	labelsLua    string
	labelsScript = conv.Script(labelsLua)
)

// labelsReq adds and removes labels of a conversation.
type labelsReq struct {
	Add    []string `json:"add"`
	Remove []string `json:"remove"`
}

// isLabel: id is one of the configured conversation labels.
func (c *Console) isLabel(id string) bool {
	return slices.ContainsFunc(c.cfg.Labels, func(l WrapUpLabel) bool { return l.ID == id })
}

// setLabels adds and removes labels (tags) of a conversation at any time
// while it is open: its holder, an agent of the group it waits in, or a
// supervisor (also once it is closed, until the customer's next episode).
// Body {"add": [...], "remove": [...]}; answers {"conv", "labels",
// "changed"}. Each change is a labels_changed lifecycle event, written in
// the same script, which the archive keeps.
func (c *Console) setLabels(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	cid := r.PathValue("id")
	var req labelsReq
	if err := decode(r, &req); err != nil {
		c.fail(w, r, err)
		return
	}
	if len(req.Add)+len(req.Remove) == 0 {
		c.fail(w, r, fmt.Errorf("%w: nothing to add or remove", ErrBadRequest))
		return
	}
	for _, l := range req.Add {
		if !c.isLabel(l) {
			c.fail(w, r, fmt.Errorf("%w: label %q is not one of console.labels", ErrBadRequest, l))
			return
		}
	}
	for _, l := range req.Remove {
		if strings.TrimSpace(l) != l || l == "" || strings.ContainsAny(l, " \t\n") {
			c.fail(w, r, fmt.Errorf("%w: label %q", ErrBadRequest, l))
			return
		}
	}
	if err := c.mayChange(ctx, s, cid); err != nil {
		c.fail(w, r, err)
		return
	}
	p := c.deps.Queue.Config().Prefix
	res, err := labelsScript.Run(ctx, c.deps.Redis, []string{conv.Key(p, cid)}, p, cid, c.deps.Now().UnixMilli(),
		s.agent.ID, strings.Join(req.Add, " "), strings.Join(req.Remove, " "), MaxLabels).Slice()
	if err != nil {
		switch {
		case strings.Contains(err.Error(), "TOO_MANY"):
			err = fmt.Errorf("%w: a conversation has at most %d labels", ErrBadRequest, MaxLabels)
		case strings.Contains(err.Error(), "NOT_FOUND"):
			err = fmt.Errorf("%s: %w", cid, ErrNotFound)
		}
		c.fail(w, r, err)
		return
	}
	changed, _ := res[0].(int64)
	joined, _ := res[1].(string)
	writeJSON(w, http.StatusOK, map[string]any{"conv": cid, "labels": splitLabels(joined), "changed": changed == 1})
}

// labelsOf is the labels of a conversation's current episode.
func (c *Console) labelsOf(ctx context.Context, cid string) ([]string, error) {
	v, err := c.deps.Redis.HMGet(ctx, conv.Key(c.deps.Queue.Config().Prefix, cid), conv.FieldLabels, conv.FieldLabelsEp, conv.FieldEpisode).Result()
	if err != nil {
		return nil, err
	}
	ls, _ := v[0].(string)
	lep, _ := v[1].(string)
	ep, _ := v[2].(string)
	if ep == "" {
		ep = "0"
	}
	if lep != ep {
		return []string{}, nil
	}
	return splitLabels(ls), nil
}

func splitLabels(s string) []string {
	out := strings.Fields(s)
	if out == nil {
		out = []string{}
	}
	return out
}
