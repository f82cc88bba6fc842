package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/kefu-dev/kefu/config"
	"github.com/kefu-dev/kefu/internal/testkit"
)

// TestServeWarnsWithoutWebSecret: with a shared Redis (REDIS_URL) and no
// KEFU_WEB_SECRET, start-up warns loudly (consequence and fix) and never
// prints a secret; with the secret set, it does not warn. newServer does no
// Redis I/O, so the URL need not answer.
func TestServeWarnsWithoutWebSecret(t *testing.T) {
	for _, tc := range []struct {
		name, secret string
		warn         bool
	}{
		{"no secret", "", true},
		{"secret", "s3cr3t-value-of-32-characters!!", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Redis.URL = "redis://:redis-password@127.0.0.1:1/0"
			cfg.Web.Secret = tc.secret
			var logs bytes.Buffer
			s, err := newServer(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer s.closeRedis()
			out := logs.String()
			warned := strings.Contains(out, "level=WARN") && strings.Contains(out, "KEFU_WEB_SECRET is not set")
			if warned != tc.warn {
				t.Errorf("warned %v, want %v:\n%s", warned, tc.warn, out)
			}
			if tc.warn && !strings.Contains(out, "401") {
				t.Errorf("the warning does not say what breaks:\n%s", out)
			}
			if strings.Contains(out, "redis-password") || (tc.secret != "" && strings.Contains(out, tc.secret)) {
				t.Errorf("a secret in the log:\n%s", out)
			}
		})
	}
}

// TestWebRevokeCommand: `kefu web revoke` marks the visitor revoked in the
// gateways' Redis, under their prefix (a conversation id names it too).
func TestWebRevokeCommand(t *testing.T) {
	prefix := mustRedisEnv(t)
	rdb := testkit.Redis(t, 0)
	t.Cleanup(func() { testkit.Drop(rdb, prefix) })
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"web", "revoke", "AAAAAAAAAAAAAAAAAAAAAA", "web:BBBBBBBBBBBBBBBBBBBBBB"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, id := range []string{"AAAAAAAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBBBBBBB"} {
		if ttl := rdb.PTTL(context.Background(), prefix+"web:revoked:"+id).Val(); ttl <= 0 {
			t.Errorf("%s: revocation mark ttl %v", id, ttl)
		}
	}
	if code := run(context.Background(), []string{"web", "revoke"}, &out, &errb); code == 0 {
		t.Error("no visitor named: exit 0")
	}
}
