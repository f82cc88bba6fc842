package console

import (
	"context"
	"testing"
)

// TestConversationCustomer: the conversation view carries who the customer
// is when their channel knows it (Deps.Customer), and nothing when not.
func TestConversationCustomer(t *testing.T) {
	known := Customer{ID: "10086", Name: "张三", Phone: "13800138000", Level: "gold"}
	var e *env
	e = MustEnvDeps(t, nil, func(d *Deps) {
		d.Customer = func(_ context.Context, conv string) (Customer, error) {
			if conv == "web:u:10086" {
				return known, nil
			}
			return Customer{}, nil
		}
	})
	cid := e.customer(t, "u:10086", "我的订单", "pre_sales", false)
	other := e.customer(t, "v1", "在吗", "pre_sales", false)
	a := e.signedIn(t, "alice")
	for _, c := range []string{cid, other} {
		var cl map[string]any
		a.must("POST", "claim", map[string]string{"conv": c}, &cl)
	}
	var body struct {
		Customer *Customer `json:"customer"`
	}
	a.must("GET", convPath(cid, ""), nil, &body)
	if body.Customer == nil || *body.Customer != known {
		t.Errorf("customer %+v, want %+v", body.Customer, known)
	}
	body.Customer = nil
	a.must("GET", convPath(other, ""), nil, &body)
	if body.Customer != nil {
		t.Errorf("an unknown customer shows %+v", body.Customer)
	}
}
