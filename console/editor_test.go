package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"

	"github.com/kefu-dev/kefu/gaps"
)

func TestWrapUpConfig(t *testing.T) {
	h, _ := bcrypt.GenerateFromPassword([]byte("x"), bcrypt.MinCost)
	ok := Config{Agents: []Agent{{ID: "erin", PasswordHash: string(h), Role: RoleEditor}}} // an editor needs no group
	if err := ok.Validate(); err != nil {
		t.Errorf("editor without groups: %v", err)
	}
	bad := Config{WrapUpLabels: []WrapUpLabel{{ID: "物流纠纷"}, {ID: "other"}, {ID: "other", Name: strings.Repeat("长", 33)}}}
	err := bad.Validate()
	for _, want := range []string{`id "物流纠纷": use lower-case letters`, `id "other" repeated`, "name longer than 32"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("labels error %v lacks %q", err, want)
		}
	}
	var c Config
	c.withDefaults()
	if diff := cmp.Diff(DefaultWrapUpLabels, c.WrapUpLabels); diff != "" {
		t.Errorf("default labels (-want +got):\n%s", diff)
	}
}

// The close call's wrap-up: listed options, an unknown label refused
// without closing, a known one accepted; the editors' API is the editors'
// and supervisors'; an editor is not put online.
func TestWrapUpAndGapsAPI(t *testing.T) {
	e := MustEnvDeps(t, func(c *Config) {
		h, _ := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
		c.Agents = append(c.Agents, Agent{ID: "erin", PasswordHash: string(h), Role: RoleEditor})
		c.WrapUpLabels = []WrapUpLabel{{ID: "other", Name: "其他"}}
	}, func(d *Deps) {
		d.Intents = func() []WrapUpOption { return []WrapUpOption{{ID: "return_policy", Name: "退货政策是什么"}} }
		d.Gaps = func(context.Context) ([]gaps.Cluster, error) {
			return []gaps.Cluster{{ID: "g1", Size: 2, Examples: []string{"a", "b"}, Suggestion: gaps.SuggestNewIntent, Keys: []string{"k1", "k2"}}}, nil
		}
		d.DismissGaps = func(_ context.Context, by string, keys []string) error {
			if by != "erin" || !cmp.Equal(keys, []string{"k1", "k2"}) {
				t.Errorf("dismissed %s %v", by, keys)
			}
			return nil
		}
	})
	cid := e.customer(t, "v1", "退货", "pre_sales", false)
	alice := e.signedIn(t, "alice")
	var opts struct{ Labels, Intents []WrapUpOption }
	alice.must("GET", "wrapup", nil, &opts)
	if !cmp.Equal(opts.Labels, []WrapUpOption{{"other", "其他"}}) || !cmp.Equal(opts.Intents, []WrapUpOption{{"return_policy", "退货政策是什么"}}) {
		t.Errorf("wrap-up options %+v", opts)
	}
	alice.must("POST", "claim", map[string]string{"conv": cid}, nil)
	alice.refused("POST", "convs/"+url.PathEscape(cid)+"/close", map[string]any{"label": "logistics_dispute"}, http.StatusBadRequest, "bad_request")
	alice.must("POST", "convs/"+url.PathEscape(cid)+"/close", map[string]any{"label": "return_policy", "resolved": true}, nil)
	alice.refused("GET", "gaps", nil, http.StatusForbidden, "forbidden")
	alice.refused("POST", "gaps/g1/dismiss", nil, http.StatusForbidden, "forbidden")

	erin := e.signedIn(t, "erin")
	var g struct{ Clusters []gapJSON }
	erin.must("GET", "gaps", nil, &g)
	if len(g.Clusters) != 1 || g.Clusters[0].ID != "g1" || g.Clusters[0].Size != 2 {
		t.Errorf("gaps %+v", g)
	}
	erin.refused("POST", "gaps/nope/dismiss", nil, http.StatusNotFound, "not_found")
	erin.must("POST", "gaps/g1/dismiss", nil, nil)
	e.signedIn(t, "sup").must("GET", "gaps", nil, nil)
	ov, err := e.q.Overview(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range ov.Agents {
		if a.ID == "erin" {
			t.Errorf("the editor is in the queue's agents: %+v", a)
		}
	}
}
