package conv_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/internal/testkit"
)

// TestPrelude runs a script made with Script on a real Redis: the tables
// give the constants, emit writes one entry with the episode read from the
// hash, and a name the tables lack fails the script instead of writing nil.
func TestPrelude(t *testing.T) {
	rdb := testkit.Redis(t, 2)
	ctx := context.Background()
	p := testkit.Prefix(t)
	rdb.HSet(ctx, conv.Key(p, "web:v1"), conv.FieldEpisode, "3")
	s := conv.Script(`return {MODE.waiting, F.ep, EV.claimed, emit(ARGV[1], 'web:v1', EV.claimed, 42, EF.agent, 'a1')}`)
	res, err := s.Run(ctx, rdb, []string{conv.Key(p, "web:v1")}, p).Slice()
	if err != nil {
		t.Fatal(err)
	}
	if res[0] != conv.ModeWaiting || res[1] != conv.FieldEpisode || res[2] != conv.Claimed {
		t.Fatalf("tables: %v", res[:3])
	}
	xs, err := rdb.XRange(ctx, conv.LifecycleKey(p), "-", "+").Result()
	if err != nil || len(xs) != 1 {
		t.Fatalf("lifecycle: %v %v", xs, err)
	}
	want := map[string]any{conv.EvType: conv.Claimed, conv.EvConv: "web:v1", conv.EvEpisode: "3", conv.EvAt: "42", conv.EvAgent: "a1"}
	for k, v := range want {
		if xs[0].Values[k] != v {
			t.Errorf("%s = %v, want %v", k, xs[0].Values[k], v)
		}
	}
	if xs[0].ID != res[3] {
		t.Errorf("emit returned %v, the entry is %s", res[3], xs[0].ID)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), `F has no "nosuch"`) {
			t.Fatalf("unknown field: %v", r)
		}
	}()
	conv.Script(`return F.nosuch`)
	t.Fatal("a script with an unknown name was made")
}

func TestArchiveID(t *testing.T) {
	id := conv.ArchiveID(conv.ThreadID("web", "v#1"), "12")
	th, ep, ok := conv.SplitArchiveID(id)
	if !ok || th != "web:v#1" || ep != "12" {
		t.Fatalf("%q -> %q %q %v", id, th, ep, ok)
	}
	if _, _, ok := conv.SplitArchiveID("web:v1"); ok {
		t.Fatal("an id without an episode split")
	}
}

// TestHandoffFieldsInPrelude: every field handoff or bot writes is one of F's
// names, and a longer identifier that ends like one is left alone.
func TestHandoffFieldsInPrelude(t *testing.T) {
	for _, f := range append(append([]string(nil), conv.HandoffFields...), conv.BotFields...) {
		if got, want := conv.Compile("return F."+f), conv.Prelude+"return "+strconv.Quote(f); got != want {
			t.Errorf("F.%s: %q", f, got)
		}
	}
	if got := conv.Compile("return REF.mode"); got != conv.Prelude+"return REF.mode" {
		t.Errorf("a longer name was replaced: %q", got)
	}
}
