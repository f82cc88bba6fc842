package console

import (
	"context"
	"net/url"
	"testing"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/canned"
	"github.com/kefu-dev/kefu/faq"
	"github.com/kefu-dev/kefu/intents"
)

// cannedFAQ is the FAQ of the picker's tests: one intent with a wechat
// variant, a greeting for everyone and a reply for after_sales only.
const cannedFAQ = `intents:
  - id: refund_time
    category: refund
    questions: [退款多久到账, 钱什么时候退回来, 退款几天能到]
    answer:
      text: 退款会在 1–3 个工作日内原路退回。
      channels:
        wechat: 微信支付的退款会在 1–3 个工作日内退回零钱。
canned:
  - title: 问候
    text: 您好{{customer.name|}}，我是客服{{agent.name}}。
  - title: 退款进度
    groups: [after_sales]
    text: "{{customer.name|亲}}，{{order|您的订单}}的退款已提交。"
`

func cannedIndex(tb testing.TB) *canned.Index {
	tb.Helper()
	f, err := faq.ParseFile("canned.yaml", []byte(cannedFAQ))
	if err != nil {
		tb.Fatal(err)
	}
	return canned.Build(f)
}

type cannedBody struct {
	Items []cannedJSON `json:"items"`
}

func cannedPath(q, conv string) string {
	v := url.Values{"q": {q}}
	if conv != "" {
		v.Set("conv", conv)
	}
	return "canned?" + v.Encode()
}

// TestCannedAPI: a reply scoped to a group is found only by agents of that
// group (and supervisors); its variables are filled for the conversation
// asked about (the customer's name, the order from its entities, the agent's
// name) with the fallback for what is not known; an FAQ answer is marked as
// such; a conversation the agent does not hold is refused.
func TestCannedAPI(t *testing.T) {
	var e *env
	e = MustEnvDeps(t, nil, func(d *Deps) {
		x := cannedIndex(t)
		d.Canned = func() *canned.Index { return x }
		d.Customer = func(ctx context.Context, cid string) (Customer, error) {
			name, _ := e.rdb.HGet(ctx, e.prefix+"conv:"+cid, "customer_name").Result()
			return Customer{Name: name}, nil
		}
	})
	ctx := context.Background()
	withOrder := e.customer(t, "u1", "订单 2023112312345678 退款了吗", "after_sales", false)
	cv, _ := e.store.Load(ctx, withOrder)
	cv.Entities = []intents.Entity{{Type: intents.EntityPhone, Value: "13800000000"}, {Type: intents.EntityOrder, Value: "2023112312345678"}}
	if err := e.store.Record(ctx, cv, bot.Outbound{Conv: withOrder, Kind: bot.OutHandoff, Text: "正在转接"}); err != nil {
		t.Fatal(err)
	}
	e.rdb.HSet(ctx, e.prefix+"conv:"+withOrder, "customer_name", "王芳")
	bare := e.customer(t, "u2", "退款", "after_sales", false)

	carol := e.signedIn(t, "carol") // after_sales
	carol.must("POST", "claim", map[string]string{"conv": withOrder}, nil)
	carol.must("POST", "claim", map[string]string{"conv": bare}, nil)

	var b cannedBody
	carol.must("GET", cannedPath("tkjd", withOrder), nil, &b)
	if len(b.Items) == 0 || b.Items[0].Kind != "canned" || b.Items[0].Title != "退款进度" || b.Items[0].Text != "王芳，2023112312345678的退款已提交。" {
		t.Fatalf("carol, tkjd, with an order: %+v", b.Items)
	}
	carol.must("GET", cannedPath("tkjd", bare), nil, &b)
	if len(b.Items) == 0 || b.Items[0].Text != "亲，您的订单的退款已提交。" {
		t.Fatalf("carol, tkjd, nothing known: %+v", b.Items)
	}
	carol.must("GET", cannedPath("wh", bare), nil, &b)
	if len(b.Items) == 0 || b.Items[0].Text != "您好，我是客服Carol。" {
		t.Fatalf("carol, wh: %+v", b.Items)
	}
	// An FAQ answer, by a Chinese word of its questions, marked as such.
	carol.must("GET", cannedPath("到账", bare), nil, &b)
	if len(b.Items) != 1 || b.Items[0].Kind != "faq" || b.Items[0].Intent != "refund_time" || b.Items[0].Text != "退款会在 1–3 个工作日内原路退回。" {
		t.Fatalf("carol, 到账: %+v", b.Items)
	}

	// alice is pre_sales only: the after_sales reply is not hers.
	alice := e.signedIn(t, "alice")
	alice.must("GET", cannedPath("tkjd", ""), nil, &b)
	for _, it := range b.Items {
		if it.Kind == "canned" {
			t.Fatalf("alice (pre_sales) sees %+v", it)
		}
	}
	alice.must("GET", cannedPath("", ""), nil, &b)
	if len(b.Items) != 1 || b.Items[0].Title != "问候" || b.Items[0].Text != "您好，我是客服Alice。" {
		t.Fatalf("alice, every reply she sees: %+v", b.Items)
	}
	alice.refused("GET", cannedPath("tk", withOrder), nil, 403, "not_holder")
	alice.refused("GET", cannedPath("tk", "web:nobody"), nil, 403, "not_holder")

	// A supervisor sees every reply, filled for any conversation.
	sup := e.signedIn(t, "sup")
	sup.must("GET", cannedPath("退款进度", withOrder), nil, &b)
	if len(b.Items) == 0 || b.Items[0].Text != "王芳，2023112312345678的退款已提交。" {
		t.Fatalf("supervisor: %+v", b.Items)
	}
}
