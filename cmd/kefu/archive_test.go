package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/internal/testkit"
)

// TestMain keeps every test's embedded archive out of the real data folder.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kefu-data-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_DATA_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// emitScript writes a lifecycle entry as conv.Script's emit does.
var emitScript = conv.Script(`
redis.call('HSET', ARGV[1] .. 'conv:' .. ARGV[2], F.ep, ARGV[3], F.mode, ARGV[6])
return emit(ARGV[1], ARGV[2], ARGV[4], ARGV[5], unpack(ARGV, 7))`)

// emitConvEvents writes a whole handed-off conversation of thread, episode 1.
func emitConvEvents(t *testing.T, rdb redis.UniversalClient, p, thread string, at time.Time) {
	t.Helper()
	e := func(typ, mode string, fields ...any) {
		args := append([]any{p, thread, "1", typ, at.UnixMilli(), mode}, fields...)
		if err := emitScript.Run(context.Background(), rdb, []string{conv.LifecycleKey(p)}, args...).Err(); err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Second)
	}
	e(conv.Started, conv.ModeBot, conv.EvChannel, "web")
	e(conv.CustomerMessage, conv.ModeBot, conv.EvText, "我要开发票，订单号 2026111112345")
	e(conv.BotReply, conv.ModeBot, conv.EvAction, "handoff", conv.EvText, "正在为您转接人工客服")
	e(conv.Handoff, conv.ModeWaiting, conv.EvGroup, "payments", conv.EvReason, "asked")
	e(conv.Claimed, conv.ModeAgent, conv.EvAgent, "demo", conv.EvGroup, "payments", conv.EvWaitedMs, "3000")
	e(conv.AgentMessage, conv.ModeAgent, conv.EvAgent, "demo", conv.EvText, "发票已经开好了，请查收邮箱", conv.EvFirst, "1")
	e(conv.Closed, conv.ModeClosed, conv.EvBy, "demo")
	e(conv.Rated, conv.ModeClosed, conv.EvScore, "5")
}

type searchJSON struct {
	Total   int `json:"total"`
	Results []struct {
		Conv, Customer, Channel, Agent, Outcome, Snippet string
		Started                                          time.Time
		Ended                                            *time.Time
		Rating                                           *int
	} `json:"results"`
}

func archiveSearch(t *testing.T, args ...string) searchJSON {
	t.Helper()
	code, out := runKefu(t, append([]string{"archive", "search", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("archive search: exit %d\n%s", code, out)
	}
	var res searchJSON
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return res
}

// TestArchiveServeAndCommands: the server archives what the lifecycle stream
// says into the data folder, which outlives a restart; the command line
// finds it, shows it, exports it and purges it (Redis included).
func TestArchiveServeAndCommands(t *testing.T) {
	p := mustRedisEnv(t)
	rdb := testkit.Redis(t, 0)
	t.Cleanup(func() { testkit.Drop(rdb, p) })
	data := t.TempDir()
	g := mustServe(t, "--data", data)
	thread := conv.ThreadID("web", "v1")
	id := conv.ArchiveID(thread, "1")
	t0 := time.Date(2026, 11, 11, 10, 0, 0, 0, time.UTC)
	emitConvEvents(t, rdb, p, thread, t0)
	// An agent's labels on it (the console's labels_changed), after the close.
	if err := emitScript.Run(context.Background(), rdb, []string{conv.LifecycleKey(p)}, p, thread, "1", conv.LabelsChanged,
		t0.Add(20*time.Second).UnixMilli(), conv.ModeClosed, conv.EvLabels, "invoice vip", conv.EvAgent, "demo", conv.EvSeq, "1").Err(); err != nil {
		t.Fatal(err)
	}
	rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: conv.TxKey(p, thread), Values: []any{"dir", "in", "text", "我要开发票"}})
	waitFor(t, func() bool { // the rating is the last event: everything is archived
		r := archiveSearch(t, "--data", data, "--customer", thread).Results
		return len(r) == 1 && r[0].Rating != nil
	})
	if _, err := os.Stat(filepath.Join(data, "archive.db")); err != nil {
		t.Errorf("no archive.db in the data folder: %v", err)
	}
	g.stop(t)
	g = mustServe(t, "--data", data) // restarted: the archive is still there
	defer g.stop(t)

	res := archiveSearch(t, "--data", data, "发票")
	if res.Total != 1 || res.Results[0].Conv != id || res.Results[0].Customer != thread || res.Results[0].Agent != "demo" ||
		res.Results[0].Rating == nil || *res.Results[0].Rating != 5 || res.Results[0].Outcome != "agent" || res.Results[0].Ended == nil {
		t.Errorf("search 发票: %+v", res)
	}
	if res := archiveSearch(t, "--data", data, "--entity", "2026111112345", "--from", "2026-11-11", "--to", "2026-11-11"); res.Total != 1 {
		t.Errorf("search by order number and day: %+v", res)
	}
	waitFor(t, func() bool { return archiveSearch(t, "--data", data, "--label", "vip").Total == 1 })
	if res := archiveSearch(t, "--data", data, "--label", "invoice", "发票"); res.Total != 1 || res.Results[0].Conv != id {
		t.Errorf("search by label and words: %+v", res)
	}
	if res := archiveSearch(t, "--data", data, "--label", "refund"); res.Total != 0 {
		t.Errorf("search by a label it lacks: %+v", res)
	}
	if res := archiveSearch(t, "--data", data, "--from", "2026-11-12"); res.Total != 0 {
		t.Errorf("search from the next day: %+v", res)
	}
	code, out := runKefu(t, "archive", "show", "--data", data, "--json", id)
	if code != 0 {
		t.Fatalf("show: exit %d\n%s", code, out)
	}
	var tr struct {
		Conv, Customer, Channel string
		Entries                 []struct{ At, Dir, Kind, Text, Agent, Intent string }
		Events                  []map[string]any
	}
	if err := json.Unmarshal([]byte(out), &tr); err != nil {
		t.Fatal(err)
	}
	if tr.Conv != id || tr.Customer != thread || tr.Channel != "web" || len(tr.Entries) != 3 || tr.Entries[2].Text != "发票已经开好了，请查收邮箱" ||
		tr.Entries[2].Dir != "out" || tr.Entries[2].Agent != "demo" || len(tr.Events) != 9 || tr.Events[4]["type"] != conv.Claimed ||
		tr.Events[4]["waited_ms"] != "3000" {
		t.Errorf("show: %s", out)
	}
	if code, out := runKefu(t, "archive", "show", "--data", data, id); code != 0 || !strings.Contains(out, "agent demo: 发票已经开好了") {
		t.Errorf("show as text: exit %d\n%s", code, out)
	}
	code, out = runKefu(t, "archive", "export", "--data", data, "--customer", thread)
	var ex struct {
		Customer      string
		Conversations []struct{ Conv string }
		Redis         *struct {
			Conversation map[string]string
			Transcript   []any
		}
	}
	if err := json.Unmarshal([]byte(out), &ex); code != 0 || err != nil {
		t.Fatalf("export: exit %d, %v\n%s", code, err, out)
	}
	if ex.Customer != thread || len(ex.Conversations) != 1 || ex.Redis == nil || ex.Redis.Conversation[conv.FieldEpisode] != "1" ||
		len(ex.Redis.Transcript) != 1 {
		t.Errorf("export: %s", out)
	}
	ctx := context.Background()
	rdb.ZAdd(ctx, conv.ActiveKey(p), redis.Z{Score: 1, Member: thread})
	rdb.SAdd(ctx, p+"open", thread)
	code, out = runKefu(t, "archive", "purge", "--data", data, "--customer", thread)
	if code != 0 || !strings.Contains(out, "1 conversations, 3 messages, 9 events") || !strings.Contains(out, "2 set and queue memberships removed") {
		t.Errorf("purge: exit %d\n%s", code, out)
	}
	if res := archiveSearch(t, "--data", data, "--customer", thread); res.Total != 0 {
		t.Errorf("after the purge: %+v", res)
	}
	if n := rdb.Exists(ctx, conv.Key(p, thread), conv.TxKey(p, thread)).Val(); n != 0 {
		t.Errorf("%d Redis keys of the thread left", n)
	}
	msgs := rdb.XRange(ctx, conv.LifecycleKey(p), "-", "+").Val()
	for _, m := range msgs {
		if m.Values[conv.EvConv] == thread {
			t.Errorf("a lifecycle entry of the thread is left: %v", m)
		}
	}
	if code, out := runKefu(t, "archive", "search", "--data", data, "--from", "11/11"); code == 0 || !strings.Contains(out, "YYYY-MM-DD") {
		t.Errorf("a bad day: exit %d\n%s", code, out)
	}
}

// TestArchiveEmbeddedDefault: with nothing configured (the in-process Redis)
// the archiver runs too, and the archive lands in the data folder.
func TestArchiveEmbeddedDefault(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	t.Setenv("KEFU_REDIS_URL", "")
	data := t.TempDir()
	var s *server
	g := mustServeWith(t, func(srv *server) { s = srv }, "--data", data)
	thread := conv.ThreadID("web", "embedded")
	emitConvEvents(t, s.rdb, s.cfg.Redis.Prefix, thread, time.Date(2026, 11, 11, 10, 0, 0, 0, time.UTC))
	waitFor(t, func() bool {
		r := archiveSearch(t, "--data", data, "--customer", thread).Results
		return len(r) == 1 && r[0].Rating != nil
	})
	waitFor(t, func() bool { // trimmed once archived
		n, err := s.rdb.XLen(context.Background(), conv.LifecycleKey(s.cfg.Redis.Prefix)).Result()
		return err == nil && n == 0
	})
	// Retention: the close was archived, the thread is still closed in
	// episode 1: its keys expire.
	if d := s.rdb.PTTL(context.Background(), conv.Key(s.cfg.Redis.Prefix, thread)).Val(); d <= 0 {
		t.Errorf("the closed thread's hash has ttl %v, want retention.redis", d)
	}
	g.stop(t)
}

// TestServeArchiveDSNPasswordNotShown: an archive that cannot be opened
// stops serve with an error that does not show the DSN's password.
func TestServeArchiveDSNPasswordNotShown(t *testing.T) {
	mustRedisEnv(t)
	t.Setenv("KEFU_ARCHIVE_DSN", "postgres://kefu:hunter2pw@127.0.0.1:1/kefu?sslmode=disable&connect_timeout=2")
	code, out := runKefu(t, "serve", "--addr", "127.0.0.1:0")
	if code == 0 {
		t.Fatalf("serve started without its archive:\n%s", out)
	}
	if !strings.Contains(out, "archive") {
		t.Errorf("the error does not say what failed:\n%s", out)
	}
	if strings.Contains(out, "hunter2pw") {
		t.Errorf("the output shows the archive's password:\n%s", out)
	}
}

// TestBenchArchiveSmoke: the archive benchmarks run on a real redis-server
// and print their figures.
func TestBenchArchiveSmoke(t *testing.T) {
	url := testkit.RedisURL(t)
	code, out := runKefu(t, "bench", "archive", "--redis", url, "--events", "80", "--jieba=false")
	if code != 0 || !strings.Contains(out, "archive sqlite (1 archiver(s), batch 256, jieba false): 80 events (10 conversations)") {
		t.Errorf("bench archive: exit %d\n%s", code, out)
	}
	code, out = runKefu(t, "bench", "retention", "--redis", url, "--convs", "20", "--ttl", "1s")
	if code != 0 || !strings.Contains(out, "without retention") || !strings.Contains(out, "with retention, after retention.redis (1s here)") {
		t.Errorf("bench retention: exit %d\n%s", code, out)
	}
}
