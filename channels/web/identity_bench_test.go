package web

import (
	"context"
	"testing"
	"time"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/internal/testkit"
)

// BenchmarkVerifyIdentity: the session call's check of a shop's signature.
func BenchmarkVerifyIdentity(b *testing.B) {
	now := time.Date(2026, 11, 11, 10, 0, 0, 0, time.UTC)
	a := &Adapter{cfg: Config{IdentitySecret: testIdentitySecret}, now: func() time.Time { return now }}
	id := Identity{ID: "10086", Name: "张三", Phone: "13800138000", Level: "gold", TS: now.Unix()}
	id.Hash = IdentityHash([]byte(testIdentitySecret), id.ID, id.Name, id.Phone, id.Level, id.TS)
	for b.Loop() {
		if _, err := a.verifyIdentity(id); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteProfile: what an identified customer's message adds, on a
// real Redis: one script that finds the details unchanged.
func BenchmarkWriteProfile(b *testing.B) {
	a, thread, p := benchProfile(b)
	for b.Loop() {
		if _, err := a.writeProfile(context.Background(), thread, p, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendAndProfile: the wake-up of an identified customer's pages
// with the check of their details (unchanged), against BenchmarkSend, the
// anonymous visitor's wake-up alone.
func BenchmarkSendAndProfile(b *testing.B) {
	a, thread, p := benchProfile(b)
	out := bot.Outbound{Channel: Name, User: "u:10086", Conv: thread, Kind: "in"}
	for b.Loop() {
		if err := a.sendAndProfile(context.Background(), out, p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSend(b *testing.B) {
	a, thread, _ := benchProfile(b)
	out := bot.Outbound{Channel: Name, User: "u:10086", Conv: thread, Kind: "in"}
	for b.Loop() {
		if err := a.Send(context.Background(), out); err != nil {
			b.Fatal(err)
		}
	}
}

func benchProfile(b *testing.B) (*Adapter, string, profile) {
	rdb := testkit.Redis(b, 0)
	prefix := testkit.PrefixOn(b, rdb)
	a := New(Config{}, nil, nil, rdb, prefix, nil)
	thread := bot.ConvID(Name, "u:10086")
	rdb.HSet(context.Background(), prefix+"conv:"+thread, "mode", "bot")
	p := profile{ID: "10086", Name: "张三", Phone: "13800138000", Level: "gold"}
	if _, err := a.writeProfile(context.Background(), thread, p, ""); err != nil {
		b.Fatal(err)
	}
	return a, thread, p
}

// BenchmarkPing is the round trip the figures above compare with.
func BenchmarkPing(b *testing.B) {
	rdb := testkit.Redis(b, 0)
	ctx := context.Background()
	for b.Loop() {
		if err := rdb.Ping(ctx).Err(); err != nil {
			b.Fatal(err)
		}
	}
}
