package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kefu-dev/kefu/internal/testkit"
)

// TestBenchPeakSmoke: a tiny peak runs to the end on the test redis-server
// and prints every figure, with claims and queue views made; without -redis
// it refuses (it starts no Redis of its own).
func TestBenchPeakSmoke(t *testing.T) {
	url := testkit.RedisURL(t)
	if code, out := runKefu(t, "bench", "peak"); code != 2 || !strings.Contains(out, "-redis is required") {
		t.Fatalf("without -redis: exit %d:\n%s", code, out)
	}
	code, out := runKefu(t, "bench", "peak", "-redis", url, "-customers", "40", "-waiting", "10", "-agents", "3",
		"-rate", "20", "-duration", "2s", "-hold", "1s")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{"set-up: 40 sessions", "message path alone", "customer reply  p50", "queue view      p50",
		"claim           p50", "Redis commands per customer message", "Redis used_memory"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	m := regexp.MustCompile(`(\d+) claims .*, (\d+) queue views`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no run line:\n%s", out)
	}
	if claims, _ := strconv.Atoi(m[1]); claims == 0 {
		t.Errorf("no claim made:\n%s", out)
	}
	if views, _ := strconv.Atoi(m[2]); views == 0 {
		t.Errorf("no queue view made:\n%s", out)
	}
}
