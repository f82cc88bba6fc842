package priority

import (
	"slices"
	"testing"
	"time"
)

func TestPolicyDecide(t *testing.T) {
	p := Policy{Lexicon: Default(), Members: map[string]Level{"gold": High, "vip": Urgent}, Reopen: 72 * time.Hour, LowRating: 2}
	none := -time.Duration(1)
	cases := []struct {
		name    string
		s       Signals
		want    Level
		reasons []string
		words   []string
	}{
		{"calm", Signals{Text: "发票怎么开", SinceClose: none}, Normal, nil, nil},
		{"low intent", Signals{Intent: Low, Text: "这个有红色吗", SinceClose: none}, Low, nil, nil},
		{"low intent raised by words", Signals{Intent: Low, Text: "这个有红色吗？急用", SinceClose: none}, High, []string{ReasonWords}, []string{"急用"}},
		{"urgent intent", Signals{Intent: Urgent, Text: "账号被盗了", SinceClose: none}, Urgent, []string{ReasonIntent}, nil},
		{"words", Signals{Text: "太垃圾了", SinceClose: none}, High, []string{ReasonWords}, []string{"垃圾"}},
		{"threat", Signals{Text: "再不退款我就报警", SinceClose: none}, Urgent, []string{ReasonWords}, []string{"报警"}},
		{"returning about the same thing", Signals{Text: "还是上次那个问题", SinceClose: time.Hour, SameThing: true}, High, []string{ReasonReturning}, nil},
		{"returning about something else", Signals{Text: "想问下发票", SinceClose: time.Hour}, Normal, nil, nil},
		{"returning after the window", Signals{Text: "还是上次那个问题", SinceClose: 73 * time.Hour, SameThing: true}, Normal, nil, nil},
		{"low last rating", Signals{Text: "你好", LastRating: 2, SinceClose: 100 * time.Hour}, High, []string{ReasonLowRating}, nil},
		{"good last rating", Signals{Text: "你好", LastRating: 4, SinceClose: time.Hour}, Normal, nil, nil},
		{"member", Signals{Text: "你好", Member: "vip", SinceClose: none}, Urgent, []string{ReasonMember}, nil},
		{"unknown member level", Signals{Text: "你好", Member: "silver", SinceClose: none}, Normal, nil, nil},
		{"all at once", Signals{Intent: High, Text: "气死了", Member: "gold", LastRating: 1, SinceClose: time.Minute, SameThing: true}, High,
			[]string{ReasonIntent, ReasonWords, ReasonReturning, ReasonLowRating, ReasonMember}, []string{"气死"}},
	}
	for _, c := range cases {
		d := p.Decide(c.s)
		if d.Level != c.want || !slices.Equal(d.Reasons, c.reasons) || !slices.Equal(d.Words, c.words) {
			t.Errorf("%s: Decide = %s %v %v; want %s %v %v", c.name, d.Level, d.Reasons, d.Words, c.want, c.reasons, c.words)
		}
	}
	// Without a lexicon, words do nothing.
	if d := (Policy{}).Decide(Signals{Text: "我要报警", SinceClose: none}); d.Level != Normal {
		t.Errorf("no lexicon: %s", d.Level)
	}
}
