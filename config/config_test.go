package config

import (
	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/channels/wechat"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadFileAndEnv(t *testing.T) {
	file := filepath.Join(t.TempDir(), "kefu.yaml")
	os.WriteFile(file, []byte("matcher:\n  answer_threshold: 0.9\n  clarify_threshold: 0.2\n"), 0o644)
	t.Setenv("KEFU_CLARIFY_THRESHOLD", "0.25")
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if c.Matcher.AnswerThreshold != 0.9 || c.Matcher.ClarifyThreshold != 0.25 {
		t.Errorf("got %+v", c.Matcher)
	}
	if c.Matcher.MaxChoices != 3 || len(c.Matcher.HandoffPhrases) == 0 {
		t.Errorf("defaults lost: %+v", c.Matcher)
	}
}

func TestLoadListsEveryProblem(t *testing.T) {
	file := filepath.Join(t.TempDir(), "kefu.yaml")
	os.WriteFile(file, []byte("faq_dir: /no/such/dir\nmatcher:\n  answer_threshold: 2\n  clarify_threshold: -1\n"), 0o644)
	_, err := Load(file)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"faq_dir", "answer_threshold", "clarify_threshold"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	os.WriteFile(file, []byte("matcher:\n  answer_treshold: 0.5\n"), 0o644)
	if _, err := Load(file); err == nil || !strings.Contains(err.Error(), "answer_treshold") {
		t.Errorf("unknown key: %v", err)
	}
	t.Setenv("KEFU_ANSWER_THRESHOLD", "high")
	if _, err := Load(""); err == nil || !strings.Contains(err.Error(), "KEFU_ANSWER_THRESHOLD") {
		t.Errorf("bad env: %v", err)
	}
}

func TestLoadServeSections(t *testing.T) {
	file := filepath.Join(t.TempDir(), "kefu.yaml")
	os.WriteFile(file, []byte(`server:
  addr: 0.0.0.0:9000
  log_format: json
  shutdown_timeout: 3s
bot:
  low_turns: 3
  texts:
    zh:
      welcome: 欢迎光临小店
web:
  burst: 9
handoff:
  groups: [a, b]
  categories: {payment: b}
  default_group: a
  hours: {timezone: Asia/Shanghai, days: [mon, tue], open: "09:00", close: "18:00"}
`), 0o644)
	t.Setenv("REDIS_URL", "redis://:pw@127.0.0.1:6379/2")
	t.Setenv("KEFU_LOW_TURNS", "4")
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Addr != "0.0.0.0:9000" || c.Server.LogFormat != "json" || c.Server.ShutdownTimeout.Seconds() != 3 {
		t.Errorf("server %+v", c.Server)
	}
	if c.Bot.LowTurns != 4 || c.Web.Burst != 9 || c.Web.MaxMessageLen != 1000 || c.Redis.URL == "" {
		t.Errorf("bot %+v web %+v", c.Bot, c.Web)
	}
	tx := c.TextsFor()
	if tx["zh"].Welcome != "欢迎光临小店" || tx["zh"].Fallback == "" || tx["en"].Welcome == "" {
		t.Errorf("texts: %+v", tx["zh"])
	}
	if d, err := c.Handoff.Hours.Weekdays(); err != nil || len(d) != 2 {
		t.Errorf("days %v %v", d, err)
	}
}

func TestValidateServeSections(t *testing.T) {
	c := Default()
	c.Server.LogFormat = "xml"
	c.Redis.URL = "http://user:topsecret@host"
	c.Bot.LowTurns = 0
	c.Bot.Texts = map[string]bot.Texts{"fr": {}}
	c.Web.Secret = "short"
	c.Handoff.Categories = map[string]string{"x": "nogroup"}
	c.Handoff.Hours.Days = []string{"someday"}
	c.Handoff.Hours.Timezone = "Mars/Olympus"
	c.Handoff.SLA.FirstResponse = map[string]time.Duration{"asap": time.Minute, "high": 0}
	c.Priority.Members = map[string]string{"gold": "platinum"}
	c.Priority.Lexicon = "/nonexistent/lexicon.yaml"
	c.Notify.Hooks = map[string]NotifyHook{"ops-bot": {Kind: "slack", Groups: []string{"nogroup2"}}}
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"log_format", "REDIS_URL", "low_turns", "bot.texts.fr", "KEFU_WEB_SECRET", "nogroup", "someday", "Mars/Olympus",
		"first_response.asap", "first_response.high 0s", `priority.members.gold "platinum"`, "/nonexistent/lexicon.yaml",
		`notify.hooks.ops-bot.kind "slack"`, "KEFU_NOTIFY_OPS_BOT_URL", `group "nogroup2"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "topsecret") {
		t.Error("the Redis password is in the error")
	}
}

// TestServerTimeoutAndProxies: read_timeout and trusted_proxies load, and a
// proxy entry that is not an address or CIDR is named in the error.
func TestServerTimeoutAndProxies(t *testing.T) {
	file := filepath.Join(t.TempDir(), "kefu.yaml")
	os.WriteFile(file, []byte("server:\n  read_timeout: 4s\n  trusted_proxies: [10.0.0.0/8, 192.0.2.7]\n"), 0o644)
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.ReadTimeout.Seconds() != 4 || len(c.Server.TrustedProxies) != 2 {
		t.Errorf("server %+v", c.Server)
	}
	if Default().Server.ReadTimeout <= 0 {
		t.Error("no default read timeout")
	}
	os.WriteFile(file, []byte("server:\n  read_timeout: 0s\n  trusted_proxies: [10.0.0.0/99, proxy.local]\n"), 0o644)
	_, err = Load(file)
	for _, want := range []string{"read_timeout", `"10.0.0.0/99"`, `"proxy.local"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s: %v", want, err)
		}
	}
}

func TestWeChatSection(t *testing.T) {
	file := filepath.Join(t.TempDir(), "kefu.yaml")
	os.WriteFile(file, []byte("wechat:\n  mode: compatible\n  timestamp_window: 2m\n"), 0o644)
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if c.WeChat.Mode != wechat.ModeCompatible || c.WeChat.TimestampWindow != 2*time.Minute {
		t.Errorf("wechat %+v", c.WeChat)
	}
	c.WeChat.Mode = "secure"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "wechat.mode") {
		t.Errorf("unknown wechat.mode: %v", err)
	}
}

// handoff.dispatch: read from the file; bad values and options without
// auto-assignment are listed.
func TestDispatchSection(t *testing.T) {
	file := filepath.Join(t.TempDir(), "kefu.yaml")
	os.WriteFile(file, []byte(`handoff:
  auto_assign: true
  dispatch:
    returning_window: 72h
    weights: {csat: 1, first_response: 0.5, resolution: 0.5}
    refresh: 5m
    period: 168h
`), 0o644)
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	d := c.Handoff.Dispatch
	if d.ReturningWindow != 72*time.Hour || d.Weights != (DispatchWeights{CSAT: 1, FirstResponse: 0.5, Resolution: 0.5}) ||
		d.Refresh != 5*time.Minute || d.Period != 168*time.Hour {
		t.Errorf("dispatch %+v", d)
	}
	if def := Default().Handoff.Dispatch; def.ReturningWindow != 0 || def.Weights.Weighted() {
		t.Errorf("default dispatch %+v: want off (least-busy)", def)
	}
	os.WriteFile(file, []byte(`handoff:
  dispatch:
    returning_window: -1h
    weights: {csat: -1, resolution: 101}
    refresh: 1s
    period: 1h
`), 0o644)
	_, err = Load(file)
	for _, want := range []string{"returning_window", "weights.csat", "weights.resolution", "auto_assign", "refresh", "period"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}
