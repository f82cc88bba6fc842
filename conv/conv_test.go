package conv_test

import (
	"context"
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
	if err := conv.Script(`return F.nosuch`).Run(ctx, rdb, []string{conv.Key(p, "x")}).Err(); err == nil ||
		!strings.Contains(err.Error(), "conv: no field nosuch") {
		t.Fatalf("unknown field: %v", err)
	}
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

// TestSourceInlines: the names a script uses are inlined as quoted values,
// so a script that uses only known names declares no tables; one that
// indexes a table, or names what it lacks, gets the strict tables.
func TestSourceInlines(t *testing.T) {
	src := conv.Source(`return {MODE.closed, F.ep, EV.rated, EF.by}`)
	if strings.Contains(src, "local F ") || strings.Contains(src, "setmetatable") ||
		!strings.Contains(src, `return {"closed", "ep", "rated", "by"}`) || !strings.Contains(src, "local function emit(") {
		t.Errorf("known names: %s", src)
	}
	for _, s := range []string{`return F.nosuch`, `return F[ARGV[1]]`} {
		if got := conv.Source(s); !strings.HasPrefix(got, conv.Prelude) {
			t.Errorf("%s: the tables are not declared", s)
		}
	}
}
