package rediskeys_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/kefu-dev/kefu/internal/rediskeys"
	"github.com/kefu-dev/kefu/internal/testkit"
)

// TestDrop: every key under the prefix goes (more than one batch), glob
// characters in the prefix are taken literally, other keys stay.
func TestDrop(t *testing.T) {
	rdb := testkit.Redis(t, 0)
	ctx := context.Background()
	base := testkit.Prefix(t)
	prefix := base + "a*[b]?:"
	for i := range 1200 {
		rdb.Set(ctx, fmt.Sprintf("%s%d", prefix, i), "x", 0)
	}
	// Keys the prefix matches as a glob, not as text.
	kept := []string{base + "aZZbQ:1", base + "ab?:1"}
	for _, k := range kept {
		rdb.Set(ctx, k, "x", 0)
	}
	n, err := rediskeys.Drop(ctx, rdb, prefix)
	if err != nil || n != 1200 {
		t.Fatalf("Drop = %d, %v; want 1200", n, err)
	}
	if left := rdb.Keys(ctx, rediskeys.Pattern(prefix)).Val(); len(left) != 0 {
		t.Errorf("left under the prefix: %v", left)
	}
	if got := rdb.Exists(ctx, kept...).Val(); got != int64(len(kept)) {
		t.Errorf("%d of the other keys left, want %d", got, len(kept))
	}
}
