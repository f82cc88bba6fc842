// Package config owns kefu's configuration: the YAML file, the environment
// overrides (KEFU_...), defaults, and validation that lists every problem at
// once. It holds settings only; it starts nothing.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // business hours in any zone, also without system zoneinfo

	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/channels/telegram"
	"github.com/kefu-dev/kefu/channels/wechat"
	"github.com/kefu-dev/kefu/console"
	"github.com/kefu-dev/kefu/intents"
	"github.com/kefu-dev/kefu/internal/realip"
	"github.com/kefu-dev/kefu/media"
	"github.com/kefu-dev/kefu/priority"
)

// Config is the whole configuration of a kefu process.
type Config struct {
	// FAQDir is the folder of FAQ YAML files; empty means the sample FAQ
	// embedded in the binary (no hot reload).
	FAQDir string `yaml:"faq_dir"`
	// DictDir holds gojieba's dictionaries; empty means the bundled ones,
	// written out to the user cache directory on first start.
	DictDir string `yaml:"dict_dir"`
	// Matcher: decision thresholds and word lists.
	Matcher intents.Config `yaml:"matcher"`
	Server  Server         `yaml:"server"`
	Redis   Redis          `yaml:"redis"`
	Bot     Bot            `yaml:"bot"`
	Web     Web            `yaml:"web"`
	Handoff Handoff        `yaml:"handoff"`
	// Console is the agent console; its agents may also come from the file
	// named by KEFU_AGENTS_FILE (id:bcrypt-hash:groups:role:max_chats:name).
	Console    console.Config `yaml:"console"`
	AgentsFile string         `yaml:"-"`
	// WeChat is the official account channel, enabled when KEFU_WECHAT_APP_ID
	// is set (with KEFU_WECHAT_APP_SECRET, KEFU_WECHAT_TOKEN and, for safe
	// mode, KEFU_WECHAT_AES_KEY); its server URL is /wechat.
	WeChat wechat.Config `yaml:"wechat"`
	// Telegram is the Telegram bot channel, enabled when KEFU_TELEGRAM_TOKEN
	// is set (webhook mode also needs KEFU_TELEGRAM_WEBHOOK_SECRET).
	Telegram telegram.Config `yaml:"telegram"`
	// DataDir holds what the process keeps on disk (the embedded archive,
	// archive.db). Empty: $XDG_DATA_HOME/kefu, else ~/.local/share/kefu.
	// Also KEFU_DATA_DIR, or serve's --data.
	DataDir   string    `yaml:"data_dir"`
	Archive   Archive   `yaml:"archive"`
	Retention Retention `yaml:"retention"`
	Priority  Priority  `yaml:"priority"`
	Notify    Notify    `yaml:"notify"`
	Report    Report    `yaml:"report"`
	Tickets   Tickets   `yaml:"tickets"`
	// Media is the store of images customers and agents send (package
	// media): a folder under data_dir by default, or an S3-compatible
	// object store; KEFU_MEDIA_SECRET signs links, KEFU_MEDIA_S3_ACCESS_KEY
	// and KEFU_MEDIA_S3_SECRET_KEY are the store's keys.
	Media media.Config `yaml:"media"`
}

// Tickets is who gets the tickets created without an agent (package
// tickets).
type Tickets struct {
	// LowRatingOwner owns the second-contact ticket opened when a
	// conversation is rated LowRatingMax or less (default "supervisors").
	LowRatingOwner string `yaml:"low_rating_owner"`
	// LowRatingMax: ratings at or below it open a ticket (default 2; 1–5).
	LowRatingMax int `yaml:"low_rating_max"`
	// LowRatingDue: that ticket is due this long after the rating (default 24h).
	LowRatingDue time.Duration `yaml:"low_rating_due"`
	// MessageDepartment is the department of a left message's ticket
	// (default: handoff.default_group).
	MessageDepartment string `yaml:"message_department"`
	// MessageDue: a left message's ticket is due this long after it was
	// left (default 24h; the customer is told when they will hear back).
	MessageDue time.Duration `yaml:"message_due"`
	// RemindLead: an open ticket is announced "due soon" this long before
	// its due time (default 1h); an overdue one when it passes. Each once
	// per ticket and due time, across instances and restarts; in the
	// ticket's events and to the notify hooks of its department.
	RemindLead time.Duration `yaml:"remind_lead"`
	// RemindEvery: how often each instance looks for tickets to remind of
	// and new tickets to announce (default 30s).
	RemindEvery time.Duration `yaml:"remind_every"`
	// ReopenWindow: a solved ticket is reopened when its customer writes
	// again within this long of the solve (default: report.reopen_window).
	ReopenWindow time.Duration `yaml:"reopen_window"`
	// Notes are the internal notes written on a solved ticket whose
	// customer the solve notice cannot reach ({contact}: the phone number
	// they left, or NoContact).
	Notes TicketNotes `yaml:"notes"`
}

// TicketNotes are what the agents read on a ticket whose customer could not
// be told it is solved.
type TicketNotes struct {
	WeChatWindow string `yaml:"wechat_window"` // WeChat's 48-hour window is closed
	Blocked      string `yaml:"blocked"`       // the customer blocked the Telegram bot
	Unreachable  string `yaml:"unreachable"`   // the conversation is gone, or the channel refused
	NoContact    string `yaml:"no_contact"`    // {contact} when the customer left no phone number
}

// DefaultTicketNotes is the Chinese wording of TicketNotes.
func DefaultTicketNotes() TicketNotes {
	return TicketNotes{
		WeChatWindow: "微信无法联系到客户：客户最后一条消息已超过 48 小时，微信不允许再发客服消息，工单已解决的通知未能发出。请电话联系客户：{contact}",
		Blocked:      "客户已屏蔽 Telegram 机器人，工单已解决的通知未能发出。请电话联系客户：{contact}",
		Unreachable:  "无法在客户的渠道上通知工单已解决。请电话联系客户：{contact}",
		NoContact:    "（客户未留电话）",
	}
}

// Report is how the reports count (package report).
type Report struct {
	// Timezone: the zone whose days the reports count in (IANA). Empty:
	// handoff.hours.timezone (default Asia/Shanghai).
	Timezone string `yaml:"timezone"`
	// ReopenWindow: a closed conversation counts as reopened when its
	// customer writes again within this long. Default 24h.
	ReopenWindow time.Duration `yaml:"reopen_window"`
}

// Location is the reports' zone.
func (r Report) Location(c Config) (*time.Location, error) {
	tz := r.Timezone
	if tz == "" {
		tz = c.Handoff.Hours.Timezone
	}
	if tz == "" {
		tz = "Asia/Shanghai"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("report.timezone %q: unknown", tz)
	}
	return loc, nil
}

// Archive is where every conversation is kept after Redis (package archive).
type Archive struct {
	// DSN: postgres://… (production: every instance shares it) or an SQLite
	// file path (sqlite://PATH or a plain path). Empty: archive.db in the
	// data directory. It may hold a password: KEFU_ARCHIVE_DSN overrides it,
	// and it is never logged whole.
	DSN string `yaml:"dsn"`
}

// Priority is how a hand-off's priority is decided (package priority): the
// intent's `priority` in the FAQ, the customer's words read by a lexicon, and
// their history.
type Priority struct {
	// Lexicon is a lexicon file replacing the default one
	// (priority/lexicon.yaml in the source). Empty: the default.
	Lexicon string `yaml:"lexicon"`
	// Members maps the shop's member level (as signed in the identity) to
	// the least priority its customers get, e.g. {gold: high}.
	Members map[string]string `yaml:"members"`
	// A customer back about the same thing (the same FAQ category) within
	// report.reopen_window after a close is raised to high.
	// LowRating: a customer whose last rating was at or under it is raised to
	// high. 0: off.
	LowRating int `yaml:"low_rating"`
}

// Notify are the team's group bots that hear of service-level breaches
// (package notify): 企业微信, 飞书 or 钉钉 incoming webhooks. A hook's
// address and signing secret are secrets: they come only from the
// environment, KEFU_NOTIFY_<NAME>_URL and KEFU_NOTIFY_<NAME>_SECRET (NAME
// upper-cased, "-" as "_").
type Notify struct {
	Hooks map[string]NotifyHook `yaml:"hooks"`
}

// NotifyHook is one group bot.
type NotifyHook struct {
	Kind   string   `yaml:"kind"`   // wecom, feishu or dingtalk
	Groups []string `yaml:"groups"` // the agents' groups (departments) it hears of; empty: all
	URL    string   `yaml:"-"`
	Secret string   `yaml:"-"`
}

// NotifyEnv is the environment variable of a hook's setting (URL, SECRET).
func NotifyEnv(name, what string) string {
	return "KEFU_NOTIFY_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_" + what
}

// Retention bounds what Redis keeps.
type Retention struct {
	// Idle: a conversation with the bot and no message for this long is
	// closed (closed{by: idle}). Default 24h.
	Idle time.Duration `yaml:"idle"`
	// Redis: once a conversation's close is archived, its Redis keys
	// (conversation and transcript) expire after this long; the archive
	// keeps it. Default 168h (7 days).
	Redis time.Duration `yaml:"redis"`
}

// Handoff is the agents' queue: skill groups, which FAQ categories go to
// which group, leases, auto-assignment and business hours.
type Handoff struct {
	Groups       []string          `yaml:"groups"`
	Categories   map[string]string `yaml:"categories"`    // FAQ category -> group
	DefaultGroup string            `yaml:"default_group"` // everything else
	// Lease: a claim the console stops heartbeating goes back to the queue
	// after this long.
	Lease        time.Duration `yaml:"lease"`
	AutoAssign   bool          `yaml:"auto_assign"`   // offer conversations to the least-busy agent
	OfferTimeout time.Duration `yaml:"offer_timeout"` // an offer not accepted goes to the next agent
	Hours        Hours         `yaml:"hours"`
	// SLA are the service-level targets per priority.
	SLA SLA `yaml:"sla"`
	// Dispatch are auto-assignment's options beyond least-busy.
	Dispatch Dispatch `yaml:"dispatch"`
}

// Dispatch are auto-assignment's options (they need auto_assign): a
// returning customer to the agent who served them last, and agents'
// recent performance weighed in. The zero value is the plain least-busy
// rule.
type Dispatch struct {
	// ReturningWindow: a customer whose conversation an agent closed or
	// handed back within this long is offered first to that agent, when
	// online with a free slot. 0: off.
	ReturningWindow time.Duration `yaml:"returning_window"`
	// Weights of CSAT, first response and resolution, in chats: an agent
	// counts Σ weight × score (each 0-1) fewer conversations when the least
	// busy is chosen. All 0 (the default): exactly least-busy.
	Weights DispatchWeights `yaml:"weights"`
	// Refresh: how often each instance recomputes the agents' performance
	// from the archive's rollups (default 10m); Period: over how many recent
	// days (default 720h, 30 days).
	Refresh time.Duration `yaml:"refresh"`
	Period  time.Duration `yaml:"period"`
}

// DispatchWeights weigh an agent's recent performance (0-100 each).
type DispatchWeights struct {
	CSAT          float64 `yaml:"csat"`
	FirstResponse float64 `yaml:"first_response"`
	Resolution    float64 `yaml:"resolution"`
}

// Weighted reports whether any weight is set.
func (w DispatchWeights) Weighted() bool {
	return w.CSAT > 0 || w.FirstResponse > 0 || w.Resolution > 0
}

// SLA are the service-level targets per priority (low, normal, high,
// urgent). The queue is ordered by first-response deadline: hand-off time +
// its priority's target.
type SLA struct {
	FirstResponse map[string]time.Duration `yaml:"first_response"` // default urgent 1m, high 3m, normal 10m, low 30m
	NextResponse  map[string]time.Duration `yaml:"next_response"`  // held: a customer message to the agent's reply; default 1m, 2m, 3m, 10m
	Resolution    map[string]time.Duration `yaml:"resolution"`     // hand-off to close; default 30m, 1h, 2h, 8h
	// BusinessHours: the targets count handoff.hours only (nights, closed
	// days and holidays stop the clock); false: calendar time.
	BusinessHours bool `yaml:"business_hours"`
}

// Targets are a target map's durations by level (validated).
func Targets(m map[string]time.Duration) map[priority.Level]time.Duration {
	out := make(map[priority.Level]time.Duration, len(m))
	for k, d := range m {
		if l, err := priority.Parse(k); err == nil && l != priority.Unset {
			out[l] = d
		}
	}
	return out
}

// Hours are the agents' business hours. Empty open/close: all day.
type Hours struct {
	Timezone string   `yaml:"timezone"` // IANA, e.g. Asia/Shanghai
	Days     []string `yaml:"days"`     // mon … sun; empty: every day
	Open     string   `yaml:"open"`     // "09:00"
	Close    string   `yaml:"close"`    // "22:00"
	Holidays []string `yaml:"holidays"` // "2026-10-01"
}

// Weekdays parses Days.
func (h Hours) Weekdays() ([]time.Weekday, error) {
	names := map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
		"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}
	var out []time.Weekday
	var errs []error
	for _, d := range h.Days {
		w, ok := names[strings.ToLower(d)]
		if !ok {
			errs = append(errs, fmt.Errorf("handoff.hours.days: %q is not mon … sun", d))
			continue
		}
		out = append(out, w)
	}
	return out, errors.Join(errs...)
}

// Server is the HTTP server and the process around it.
type Server struct {
	Addr            string        `yaml:"addr"`             // default 127.0.0.1:8080
	LogFormat       string        `yaml:"log_format"`       // text (default) or json
	LogLevel        string        `yaml:"log_level"`        // debug, info (default), warn, error
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"` // in-flight requests get this long on SIGTERM
	// ReadTimeout bounds reading one request, headers and body: a client
	// that trickles its body is cut off after it (default 10 s). WebSockets
	// and the console's event stream lift it once they are open and bound
	// themselves (pings, write deadlines).
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// TrustedProxies are the reverse proxies (CIDRs or addresses) whose
	// X-Forwarded-For / X-Real-IP name the client; every limit per client
	// address counts that address. Empty: the connection's peer is the
	// client, and the headers are ignored.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// Redis selects the Redis that holds conversations and the queue.
type Redis struct {
	// URL (redis://…, rediss://…) comes from the environment REDIS_URL (or
	// KEFU_REDIS_URL) because it may hold a password. Empty: an in-process
	// Redis that keeps nothing across restarts (the embedded default).
	URL    string `yaml:"-"`
	Prefix string `yaml:"prefix"` // key prefix with a hash tag, default "{kefu}:"
}

// Bot is the conversation policy and the customer-facing wording.
type Bot struct {
	// LowTurns: this many messages in a row the bot cannot answer hand the
	// conversation to a person. Default 2.
	LowTurns int `yaml:"low_turns"`
	// RecoverEvery: how often each instance looks for messages whose
	// delivery vanished (an instance died mid-answer) and finishes them.
	// Default (0): half the message lease (bot.DefaultLease).
	RecoverEvery time.Duration `yaml:"recover_every"`
	// Texts by language ("zh", "en"): any sentence left out keeps its default.
	Texts map[string]bot.Texts `yaml:"texts"`
}

// Web is the web chat channel.
type Web struct {
	Title         string `yaml:"title"`           // the chat page's title
	MaxMessageLen int    `yaml:"max_message_len"` // characters per message
	// RatePerSecond and Burst limit each customer's messages (counted in
	// Redis, shared by every instance).
	RatePerSecond  float64  `yaml:"rate_per_second"`
	Burst          int      `yaml:"burst"`           // messages a customer may send at once
	MaxBodyBytes   int64    `yaml:"max_body_bytes"`  // request body limit
	AllowedOrigins []string `yaml:"allowed_origins"` // pages on other sites that may embed the chat
	// Limits per client address, and on WebSockets.
	Limits WebLimits `yaml:"limits"`
	// TokenTTL: a visitor token not used for this long is refused (the page
	// starts a new visitor). TokenRefresh: a token older than this is
	// replaced by a fresh one when used, so a customer who keeps coming back
	// keeps their conversation.
	TokenTTL     time.Duration `yaml:"token_ttl"`
	TokenRefresh time.Duration `yaml:"token_refresh"`
	// V1TokensUntil ("2027-01-31", UTC): until this day, the old tokens
	// without an issue time are exchanged for new ones of the same visitor
	// by the page's session call. Empty: they are refused (the customer
	// starts a new visitor and no longer sees the old conversation).
	V1TokensUntil string `yaml:"v1_tokens_until"`
	// Secret signs visitor ids; from KEFU_WEB_SECRET only. Empty: a random
	// secret kept in Redis and shared by every instance.
	Secret string `yaml:"-"`
	// IdentitySecret is shared with the shop's server, which signs its
	// signed-in users with it (HMAC-SHA256; README "Who the customer is");
	// from KEFU_WEB_IDENTITY_SECRET only, like every secret. Empty: signed
	// identities are refused and every web customer is an anonymous visitor.
	IdentitySecret string `yaml:"-"`
	// IdentityRequired: only signed-in customers of the shop may chat.
	IdentityRequired bool `yaml:"identity_required"`
	// IdentityMaxAge: a signed identity made longer ago than this is
	// refused, so a leaked one does not work forever (default 24h).
	IdentityMaxAge time.Duration `yaml:"identity_max_age"`
}

// WebLimits are the web chat's limits per client address (the address
// server.trusted_proxies resolves) and on WebSockets, counted in Redis and
// shared by every instance. An office or a mobile carrier's NAT puts many
// real customers behind one address, so the per-address limits are
// generous: they stop a script, not a busy office. 0 turns a limit off.
type WebLimits struct {
	// SessionsPerMinutePerAddr: new visitors (tokens minted) per minute; a
	// returning customer with a valid token does not count.
	SessionsPerMinutePerAddr int `yaml:"sessions_per_minute_per_addr"`
	// MessagesPerSecondPerAddr and MessageBurstPerAddr: messages from every
	// customer behind one address.
	MessagesPerSecondPerAddr float64 `yaml:"messages_per_second_per_addr"`
	MessageBurstPerAddr      int     `yaml:"message_burst_per_addr"`
	// HandoffsPerHourPerAddr: conversations handed to the agents per hour
	// (all at once up to this many, then one every hour/N); beyond it the
	// customer is told the agents are busy and stays with the bot.
	HandoffsPerHourPerAddr int `yaml:"handoffs_per_hour_per_addr"`
	// WSPerVisitor and WSPerAddr: open WebSockets (one per open page).
	WSPerVisitor int `yaml:"ws_per_visitor"`
	WSPerAddr    int `yaml:"ws_per_addr"`
}

// Default returns the configuration used when no file is given.
func Default() Config {
	return Config{
		Matcher:   intents.DefaultConfig(),
		Server:    Server{Addr: "127.0.0.1:8080", LogFormat: "text", LogLevel: "info", ShutdownTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second},
		Redis:     Redis{Prefix: "{kefu}:"},
		Bot:       Bot{LowTurns: 2},
		Retention: Retention{Idle: 24 * time.Hour, Redis: 7 * 24 * time.Hour},
		Priority:  Priority{LowRating: 2},
		Report:    Report{ReopenWindow: 24 * time.Hour},
		Media:     media.Config{}.WithDefaults(),
		Tickets: Tickets{LowRatingOwner: "supervisors", LowRatingMax: 2, LowRatingDue: 24 * time.Hour, MessageDue: 24 * time.Hour,
			RemindLead: time.Hour, RemindEvery: 30 * time.Second, Notes: DefaultTicketNotes()},
		Web: Web{Title: "在线客服", MaxMessageLen: 1000, RatePerSecond: 2, Burst: 5, MaxBodyBytes: 16 << 10,
			Limits: WebLimits{SessionsPerMinutePerAddr: 30, MessagesPerSecondPerAddr: 20, MessageBurstPerAddr: 40,
				HandoffsPerHourPerAddr: 20, WSPerVisitor: 5, WSPerAddr: 200},
			TokenTTL: 30 * 24 * time.Hour, TokenRefresh: 24 * time.Hour, IdentityMaxAge: 24 * time.Hour},
		Handoff: Handoff{
			Groups: []string{"pre_sales", "after_sales", "payments"},
			Categories: map[string]string{"product": "pre_sales", "promotion": "pre_sales",
				"payment": "payments", "invoice": "payments", "account": "payments"},
			DefaultGroup: "after_sales", Lease: 30 * time.Second, OfferTimeout: 30 * time.Second,
			Hours:    Hours{Timezone: "Asia/Shanghai"},
			Dispatch: Dispatch{Refresh: 10 * time.Minute, Period: 30 * 24 * time.Hour},
		},
	}
}

// TextsFor returns the wording by language: the defaults with the
// configured sentences laid over them.
func (c Config) TextsFor() map[string]bot.Texts {
	out := bot.DefaultTexts()
	for lang, t := range c.Bot.Texts {
		base := out[lang]
		// Every sentence is a string field: a configured one replaces the default.
		b, o := reflect.ValueOf(&base).Elem(), reflect.ValueOf(t)
		for f := range o.NumField() {
			if v := o.Field(f).String(); v != "" {
				b.Field(f).SetString(v)
			}
		}
		out[lang] = base
	}
	return out
}

// Load reads a YAML file over the defaults (unknown keys are an error), then
// applies environment overrides, then validates. path "" means defaults plus
// environment.
func Load(path string) (Config, error) {
	c := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("load config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		// A map in the file replaces the default one (yaml.v3 would merge).
		defCats := c.Handoff.Categories
		c.Handoff.Categories = nil
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return c, fmt.Errorf("load config %s: %w", path, err)
		}
		if c.Handoff.Categories == nil && slices.Equal(c.Handoff.Groups, Default().Handoff.Groups) {
			c.Handoff.Categories = defCats
		}
	}
	if err := c.applyEnv(os.LookupEnv); err != nil {
		return c, err
	}
	if c.AgentsFile != "" {
		as, err := console.LoadAgentsFile(c.AgentsFile)
		if err != nil {
			return c, err
		}
		c.Console.Agents = append(c.Console.Agents, as...)
	}
	return c, c.Validate()
}

// applyEnv overrides settings from the environment.
func (c *Config) applyEnv(lookup func(string) (string, bool)) error {
	var errs []error
	str := func(name string, dst *string) {
		if v, ok := lookup(name); ok {
			*dst = v
		}
	}
	num := func(name string, dst *float64) {
		if v, ok := lookup(name); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: not a number", name, v))
				return
			}
			*dst = f
		}
	}
	integer := func(name string, dst *int) {
		if v, ok := lookup(name); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: not an integer", name, v))
				return
			}
			*dst = n
		}
	}
	str("REDIS_URL", &c.Redis.URL)
	str("KEFU_REDIS_URL", &c.Redis.URL)
	str("KEFU_REDIS_PREFIX", &c.Redis.Prefix)
	str("KEFU_ADDR", &c.Server.Addr)
	str("KEFU_LOG_FORMAT", &c.Server.LogFormat)
	str("KEFU_LOG_LEVEL", &c.Server.LogLevel)
	str("KEFU_WEB_SECRET", &c.Web.Secret)
	str("KEFU_WEB_IDENTITY_SECRET", &c.Web.IdentitySecret)
	str("KEFU_AGENTS_FILE", &c.AgentsFile)
	integer("KEFU_LOW_TURNS", &c.Bot.LowTurns)
	str("KEFU_FAQ_DIR", &c.FAQDir)
	str("KEFU_DICT_DIR", &c.DictDir)
	str("KEFU_DATA_DIR", &c.DataDir)
	str("KEFU_ARCHIVE_DSN", &c.Archive.DSN)
	str("KEFU_MEDIA_SECRET", &c.Media.Secret)
	str("KEFU_MEDIA_S3_ACCESS_KEY", &c.Media.S3.AccessKey)
	str("KEFU_MEDIA_S3_SECRET_KEY", &c.Media.S3.SecretKey)
	num("KEFU_ANSWER_THRESHOLD", &c.Matcher.AnswerThreshold)
	num("KEFU_CLARIFY_THRESHOLD", &c.Matcher.ClarifyThreshold)
	for name, h := range c.Notify.Hooks {
		h.URL, h.Secret = os.Getenv(NotifyEnv(name, "URL")), os.Getenv(NotifyEnv(name, "SECRET"))
		c.Notify.Hooks[name] = h
	}
	return errors.Join(errs...)
}

// Validate reports every problem in the configuration at once.
func (c Config) Validate() error {
	var errs []error
	m := c.Matcher
	if m.AnswerThreshold <= 0 || m.AnswerThreshold > 1 {
		errs = append(errs, fmt.Errorf("matcher.answer_threshold %v: must be in (0, 1]", m.AnswerThreshold))
	}
	if m.ClarifyThreshold <= 0 || m.ClarifyThreshold > 1 {
		errs = append(errs, fmt.Errorf("matcher.clarify_threshold %v: must be in (0, 1]", m.ClarifyThreshold))
	}
	if m.ClarifySpan < 0 || m.ClarifySpan > 1 {
		errs = append(errs, fmt.Errorf("matcher.clarify_span %v: must be in [0, 1]", m.ClarifySpan))
	}
	if m.MaxChoices < 0 || m.MaxChoices > 5 {
		errs = append(errs, fmt.Errorf("matcher.max_choices %d: must be 1 to 5", m.MaxChoices))
	}
	if c.Server.Addr == "" {
		errs = append(errs, errors.New("server.addr: empty"))
	}
	switch c.Server.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("server.log_format %q: must be text or json", c.Server.LogFormat))
	}
	switch c.Server.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("server.log_level %q: must be debug, info, warn or error", c.Server.LogLevel))
	}
	if c.Server.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("server.shutdown_timeout %v: must be positive", c.Server.ShutdownTimeout))
	}
	if c.Server.ReadTimeout <= 0 {
		errs = append(errs, fmt.Errorf("server.read_timeout %v: must be positive", c.Server.ReadTimeout))
	}
	for _, p := range c.Server.TrustedProxies {
		if _, err := realip.ParseCIDR(p); err != nil {
			errs = append(errs, fmt.Errorf("server.trusted_proxies: %w", err))
		}
	}
	if c.Redis.URL != "" {
		if _, err := redis.ParseURL(c.Redis.URL); err != nil {
			// The URL may hold a password: name the problem, not the URL.
			errs = append(errs, errors.New("REDIS_URL: not a valid redis:// or rediss:// URL"))
		}
	}
	if c.Redis.Prefix == "" {
		errs = append(errs, errors.New("redis.prefix: empty"))
	}
	if c.Bot.LowTurns < 1 {
		errs = append(errs, fmt.Errorf("bot.low_turns %d: must be at least 1", c.Bot.LowTurns))
	}
	for lang := range c.Bot.Texts {
		if lang != "zh" && lang != "en" {
			errs = append(errs, fmt.Errorf("bot.texts.%s: languages are zh and en", lang))
		}
	}
	if c.Web.MaxMessageLen < 1 {
		errs = append(errs, fmt.Errorf("web.max_message_len %d: must be positive", c.Web.MaxMessageLen))
	}
	if c.Web.RatePerSecond <= 0 || c.Web.Burst < 1 {
		errs = append(errs, fmt.Errorf("web.rate_per_second %v / web.burst %d: must be positive", c.Web.RatePerSecond, c.Web.Burst))
	}
	if l := c.Web.Limits; l.SessionsPerMinutePerAddr < 0 || l.MessagesPerSecondPerAddr < 0 || l.MessageBurstPerAddr < 0 ||
		l.HandoffsPerHourPerAddr < 0 || l.WSPerVisitor < 0 || l.WSPerAddr < 0 {
		errs = append(errs, fmt.Errorf("web.limits %+v: must not be negative (0 turns a limit off)", l))
	}
	if c.Web.TokenTTL < time.Hour || c.Web.TokenRefresh <= 0 || c.Web.TokenRefresh >= c.Web.TokenTTL {
		errs = append(errs, fmt.Errorf("web.token_ttl %v / web.token_refresh %v: the ttl at least 1h, the refresh positive and shorter", c.Web.TokenTTL, c.Web.TokenRefresh))
	}
	if c.Web.V1TokensUntil != "" {
		if _, err := time.Parse(time.DateOnly, c.Web.V1TokensUntil); err != nil {
			errs = append(errs, fmt.Errorf("web.v1_tokens_until %q: not a date (2027-01-31)", c.Web.V1TokensUntil))
		}
	}
	if c.Web.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("web.max_body_bytes %d: must be at least 1024", c.Web.MaxBodyBytes))
	}
	if c.Web.Secret != "" && len(c.Web.Secret) < 16 {
		errs = append(errs, errors.New("KEFU_WEB_SECRET: must be at least 16 characters"))
	}
	if c.Web.IdentitySecret != "" && len(c.Web.IdentitySecret) < 16 {
		errs = append(errs, errors.New("KEFU_WEB_IDENTITY_SECRET: must be at least 16 characters"))
	}
	if c.Web.IdentityRequired && c.Web.IdentitySecret == "" {
		errs = append(errs, errors.New("web.identity_required: needs KEFU_WEB_IDENTITY_SECRET (the secret the shop signs its users with)"))
	}
	if c.Web.IdentityMaxAge < time.Minute || c.Web.IdentityMaxAge > c.Web.TokenTTL {
		errs = append(errs, fmt.Errorf("web.identity_max_age %v: at least 1m and at most web.token_ttl", c.Web.IdentityMaxAge))
	}
	h := c.Handoff
	if len(h.Groups) == 0 {
		errs = append(errs, errors.New("handoff.groups: at least one group"))
	}
	for cat, g := range h.Categories {
		if !slices.Contains(h.Groups, g) {
			errs = append(errs, fmt.Errorf("handoff.categories.%s: group %q is not in handoff.groups", cat, g))
		}
	}
	if h.DefaultGroup != "" && !slices.Contains(h.Groups, h.DefaultGroup) {
		errs = append(errs, fmt.Errorf("handoff.default_group %q is not in handoff.groups", h.DefaultGroup))
	}
	if h.Lease < time.Second {
		errs = append(errs, fmt.Errorf("handoff.lease %v: at least 1s", h.Lease))
	}
	if h.OfferTimeout < time.Second {
		errs = append(errs, fmt.Errorf("handoff.offer_timeout %v: at least 1s", h.OfferTimeout))
	}
	if d := h.Dispatch; d.ReturningWindow != 0 || d.Weights.Weighted() || d.Weights != (DispatchWeights{}) {
		if d.ReturningWindow < 0 {
			errs = append(errs, fmt.Errorf("handoff.dispatch.returning_window %v: 0 (off) or more", d.ReturningWindow))
		}
		for name, w := range map[string]float64{"csat": d.Weights.CSAT, "first_response": d.Weights.FirstResponse,
			"resolution": d.Weights.Resolution} {
			if w < 0 || w > 100 {
				errs = append(errs, fmt.Errorf("handoff.dispatch.weights.%s %v: from 0 to 100", name, w))
			}
		}
		if !h.AutoAssign {
			errs = append(errs, errors.New("handoff.dispatch: needs handoff.auto_assign: true (it chooses whom conversations are offered to)"))
		}
	}
	if h.Dispatch.Refresh < time.Minute {
		errs = append(errs, fmt.Errorf("handoff.dispatch.refresh %v: at least 1m", h.Dispatch.Refresh))
	}
	if h.Dispatch.Period < 24*time.Hour {
		errs = append(errs, fmt.Errorf("handoff.dispatch.period %v: at least 24h", h.Dispatch.Period))
	}
	if _, err := h.Hours.Weekdays(); err != nil {
		errs = append(errs, err)
	}
	if h.Hours.Timezone != "" {
		if _, err := time.LoadLocation(h.Hours.Timezone); err != nil {
			errs = append(errs, fmt.Errorf("handoff.hours.timezone %q: unknown", h.Hours.Timezone))
		}
	}
	for name, m := range map[string]map[string]time.Duration{"first_response": h.SLA.FirstResponse,
		"next_response": h.SLA.NextResponse, "resolution": h.SLA.Resolution} {
		for k, d := range m {
			if l, err := priority.Parse(k); err != nil || l == priority.Unset {
				errs = append(errs, fmt.Errorf("handoff.sla.%s.%s: use low, normal, high or urgent", name, k))
			} else if d < time.Second {
				errs = append(errs, fmt.Errorf("handoff.sla.%s.%s %v: at least 1s", name, k, d))
			}
		}
	}
	for m, v := range c.Priority.Members {
		if l, err := priority.Parse(v); err != nil || l == priority.Unset {
			errs = append(errs, fmt.Errorf("priority.members.%s %q: use low, normal, high or urgent", m, v))
		}
	}
	if c.Priority.Lexicon != "" {
		if _, err := priority.LoadLexicon(c.Priority.Lexicon); err != nil {
			errs = append(errs, err)
		}
	}
	for name, nh := range c.Notify.Hooks {
		switch nh.Kind {
		case "wecom", "feishu", "dingtalk":
		default:
			errs = append(errs, fmt.Errorf("notify.hooks.%s.kind %q: use wecom, feishu or dingtalk", name, nh.Kind))
		}
		if nh.URL == "" {
			errs = append(errs, fmt.Errorf("notify.hooks.%s: set its webhook address in %s", name, NotifyEnv(name, "URL")))
		}
		for _, g := range nh.Groups {
			if !slices.Contains(h.Groups, g) {
				errs = append(errs, fmt.Errorf("notify.hooks.%s: group %q is not in handoff.groups", name, g))
			}
		}
	}
	if c.Priority.LowRating < 0 || c.Priority.LowRating > 5 {
		errs = append(errs, fmt.Errorf("priority.low_rating %d: want a rating 0..5 (0: off)", c.Priority.LowRating))
	}
	if c.Report.Timezone != "" {
		if _, err := time.LoadLocation(c.Report.Timezone); err != nil {
			errs = append(errs, fmt.Errorf("report.timezone %q: unknown", c.Report.Timezone))
		}
	}
	if c.Tickets.LowRatingMax < 0 || c.Tickets.LowRatingMax > 5 {
		errs = append(errs, fmt.Errorf("tickets.low_rating_max %d: want 0 (none) to 5", c.Tickets.LowRatingMax))
	}
	if c.Tickets.RemindLead < 0 || c.Tickets.RemindEvery < 0 {
		errs = append(errs, fmt.Errorf("tickets.remind_lead and tickets.remind_every may not be negative"))
	}
	if c.Tickets.LowRatingDue < 0 || c.Tickets.MessageDue < 0 {
		errs = append(errs, fmt.Errorf("tickets.low_rating_due and tickets.message_due may not be negative"))
	}
	if d := c.Tickets.MessageDepartment; d != "" && !slices.Contains(c.Handoff.Groups, d) {
		errs = append(errs, fmt.Errorf("tickets.message_department %q: not one of handoff.groups", d))
	}
	if c.Report.ReopenWindow < 0 {
		errs = append(errs, fmt.Errorf("report.reopen_window %v: may not be negative", c.Report.ReopenWindow))
	}
	if err := c.Console.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("console: %w", err))
	}
	if err := c.WeChat.Validate(); err != nil {
		errs = append(errs, err)
	}
	for _, a := range c.Console.Agents {
		for _, g := range a.Groups {
			if !slices.Contains(h.Groups, g) {
				errs = append(errs, fmt.Errorf("console.agents %s: group %q is not in handoff.groups", a.ID, g))
			}
		}
	}
	if c.FAQDir != "" {
		if st, err := os.Stat(c.FAQDir); err != nil || !st.IsDir() {
			errs = append(errs, fmt.Errorf("faq_dir %q: not a folder", c.FAQDir))
		}
	}
	if c.DictDir != "" {
		if err := intents.CheckDictDir(c.DictDir); err != nil {
			errs = append(errs, fmt.Errorf("dict_dir: %w", err))
		}
	}
	if d := c.Archive.DSN; strings.Contains(d, "://") && !strings.HasPrefix(d, "postgres://") &&
		!strings.HasPrefix(d, "postgresql://") && !strings.HasPrefix(d, "sqlite://") {
		// The DSN may hold a password: name the problem, not the DSN.
		errs = append(errs, errors.New("archive.dsn: want postgres://… or an SQLite file path (sqlite://PATH or a plain path)"))
	}
	errs = append(errs, c.Media.Validate()...)
	if r := c.Retention; r.Idle < time.Minute || r.Redis < time.Minute {
		errs = append(errs, fmt.Errorf("retention.idle %v / retention.redis %v: each at least 1m", r.Idle, r.Redis))
	}
	return errors.Join(errs...)
}
