// Package wechat is the WeChat official account (公众号) channel: the server
// URL WeChat posts messages and events to (signature check, plain,
// compatible and safe AES mode, a timestamp window and a nonce remembered in
// Redis against replays, passive replies within WeChat's 5-second budget),
// and Send over the customer-service message API (客服消息) for everything
// that is not a passive reply: answers that took longer than the budget,
// agent replies, queue notices and surveys. It keeps per-customer state in
// Redis (the 48-hour window and reply quota, the numbered choices last
// offered, the shared access token) so that any gateway instance can receive
// a retry or deliver a reply.
//
// It uses github.com/silenceper/wechat/v2 for the protocol primitives
// (util.Signature, util.DecryptMsg/EncryptMsg, the message types, the access
// token and util.PostJSONContext), importing officialaccount directly (the
// root package turns logrus to debug and logs every message). It does not
// use the library's server.Server: that one has no context, cannot tell a
// bad signature (403) from malformed XML (400), reads bodies without limit,
// logs through the global logrus, and in safe mode answers a nil reply with
// an encrypted empty message instead of "success".
//
// It does not decide what to answer (bot.Engine does) and does not run the
// agents' queue (handoff does).
package wechat

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/silenceper/wechat/v2/officialaccount"
	oaconfig "github.com/silenceper/wechat/v2/officialaccount/config"
	"github.com/silenceper/wechat/v2/util"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/media"
)

// Name is the channel's name on messages and conversations.
const Name = "wechat"

// Environment variables the caller reads the credentials from.
const (
	EnvAppID     = "KEFU_WECHAT_APP_ID"
	EnvAppSecret = "KEFU_WECHAT_APP_SECRET"
	EnvToken     = "KEFU_WECHAT_TOKEN"
	EnvAESKey    = "KEFU_WECHAT_AES_KEY"
)

// Handler is what the channel needs from the conversation engine
// (*bot.Engine satisfies it).
type Handler interface {
	Handle(ctx context.Context, m bot.Message) ([]bot.Outbound, error)
}

// Credentials are the official account's identity and secrets. They never
// appear in Config (YAML) and are never logged: String, GoString and
// LogValue print the AppID only.
type Credentials struct {
	AppID     string // 开发者ID(AppID)
	AppSecret string // 开发者密码(AppSecret): for the access token
	Token     string // 令牌(Token): signs every request WeChat sends
	AESKey    string // 消息加解密密钥(EncodingAESKey), 43 characters; empty: plain mode only
}

// CredentialsFromEnv reads the credentials from the environment variables
// EnvAppID, EnvAppSecret, EnvToken and EnvAESKey (getenv is os.Getenv).
func CredentialsFromEnv(getenv func(string) string) Credentials {
	return Credentials{AppID: getenv(EnvAppID), AppSecret: getenv(EnvAppSecret),
		Token: getenv(EnvToken), AESKey: getenv(EnvAESKey)}
}

// Validate reports every missing or malformed credential (never its value).
func (c Credentials) Validate() error {
	var probs []string
	if c.AppID == "" {
		probs = append(probs, EnvAppID+" is empty")
	}
	if c.AppSecret == "" {
		probs = append(probs, EnvAppSecret+" is empty")
	}
	if c.Token == "" {
		probs = append(probs, EnvToken+" is empty")
	}
	if c.AESKey != "" {
		if k, err := base64.StdEncoding.DecodeString(c.AESKey + "="); len(c.AESKey) != 43 || err != nil || len(k) != 32 {
			probs = append(probs, EnvAESKey+" must be the 43-character EncodingAESKey")
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w: %v", ErrConfig, probs)
	}
	return nil
}

// String prints the AppID only.
func (c Credentials) String() string {
	return "wechat.Credentials{AppID:" + c.AppID + " secrets:redacted}"
}

// GoString prints the AppID only (%#v).
func (c Credentials) GoString() string { return c.String() }

// LogValue prints the AppID only (slog).
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Mode is how the official account's messages are protected (the 消息加解密方式
// chosen in the account's settings).
type Mode string

// The modes. WeChat signs only the query (token, timestamp, nonce) of a
// plaintext message, never its body: whoever sees one signed URL can post any
// body with it. Only safe mode authenticates the body (msg_signature covers
// the encrypted message).
const (
	// ModePlain (明文模式): plaintext bodies only. An EncodingAESKey, if
	// configured, is not used, and encrypted messages are refused.
	ModePlain Mode = "plain"
	// ModeCompatible (兼容模式): plaintext and encrypted bodies are both
	// accepted; an encrypted one (encrypt_type=aes) needs a valid
	// msg_signature, and its decrypted content is used. For the switch to
	// safe mode only: a plaintext body is as forgeable as in plain mode.
	ModeCompatible Mode = "compatible"
	// ModeSafe (安全模式): only encrypted bodies with a valid msg_signature.
	ModeSafe Mode = "safe"
)

// Config is the channel's settings (YAML). Zero values take the defaults
// listed on each field.
type Config struct {
	// Mode: plain, compatible or safe (see the Mode constants). Default:
	// safe when an EncodingAESKey is configured, else plain. Safe and
	// compatible need the EncodingAESKey.
	Mode Mode `yaml:"mode"`
	// TimestampWindow: a request whose signed timestamp is further than this
	// from the gateway's clock is refused (403), and each signed (timestamp,
	// nonce) pair is accepted for one message only, remembered in Redis for
	// twice the window. Default 5 min.
	TimestampWindow time.Duration `yaml:"timestamp_window"`
	// ReplyBudget: how long the server URL waits for the engine before it
	// answers "success" and sends the reply through the customer-service API
	// instead. WeChat waits 5 s; default 3 s. Keep it under 5 s: WeChat's
	// retry must come after the first try has answered (or gone async).
	ReplyBudget time.Duration `yaml:"reply_budget"`
	// HandleTimeout bounds one message's handling in the background (the
	// engine plus the API sends). Default 30 s.
	HandleTimeout time.Duration `yaml:"handle_timeout"`
	// MaxBodyBytes: larger POST bodies get 413. Default 64 KiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// Menu maps a menu button's CLICK EventKey to an intent id, or to
	// "@human" (bot.ChoiceHuman) for a 转人工 button. Other keys are ignored.
	Menu map[string]string `yaml:"menu"`
	// ChoiceTTL: how long the numbered choices last offered to a customer can
	// be picked by typing their number. Default 30 min.
	ChoiceTTL time.Duration `yaml:"choice_ttl"`
	// SurveyTTL: how long a typed 1-5 answers the satisfaction survey.
	// Default 48 h.
	SurveyTTL time.Duration `yaml:"survey_ttl"`
	// Window: how long after a customer's last message the customer-service
	// API accepts messages. WeChat's rule is 48 h (the default).
	Window time.Duration `yaml:"window"`
	// Quota: customer-service messages allowed per customer message inside
	// the window (WeChat answers 45047 beyond it). Default 20; the passive
	// reply does not count.
	Quota int `yaml:"quota"`
	// HTTPTimeout: the whole of one call to the WeChat API. Default 10 s.
	HTTPTimeout time.Duration `yaml:"http_timeout"`
	// SendRetries: attempts after the first for transient failures (network,
	// HTTP 5xx, errcode -1). Default 3.
	SendRetries int `yaml:"send_retries"`
	// RetryBackoff: the first retry's delay, doubled each time. Default 500 ms.
	RetryBackoff time.Duration `yaml:"retry_backoff"`
	// MaxTextBytes: a text longer than this goes out as several messages.
	// WeChat's limit is 2048 bytes; default 2000.
	MaxTextBytes int `yaml:"max_text_bytes"`
	// ChoicesPrompt introduces the numbered choices. Default "回复数字：".
	ChoicesPrompt string `yaml:"choices_prompt"`
	// RelatedPrompt introduces the related questions listed under an FAQ
	// answer. Default "相关问题，回复数字查看：".
	RelatedPrompt string `yaml:"related_prompt"`
	// SurveyHint follows the survey question. Default "回复 1-5 评价".
	SurveyHint string `yaml:"survey_hint"`
	// BusyText is sent when a message that was already acknowledged with
	// "success" could not be handled. Default bot.DefaultTexts()["zh"].Busy.
	BusyText string `yaml:"busy_text"`
	// ReplyTTL: how long the passive reply to a message is kept for
	// WeChat's retries of it (three tries, 5 s apart): a retry of a message
	// whose passive reply was lost gets the same reply. Default 1 min.
	ReplyTTL time.Duration `yaml:"reply_ttl"`
	// DrainTimeout: how long Close waits for messages still being handled
	// before it cancels them. Default 10 s.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
}

// Validate reports the settings that cannot be right whatever the
// credentials (config.Validate calls it); New also checks that the mode
// fits the credentials.
func (c Config) Validate() error {
	var probs []string
	switch c.Mode {
	case "", ModePlain, ModeCompatible, ModeSafe:
	default:
		probs = append(probs, fmt.Sprintf("wechat.mode %q: must be plain, compatible or safe", c.Mode))
	}
	if c.TimestampWindow < 0 {
		probs = append(probs, fmt.Sprintf("wechat.timestamp_window %v: must not be negative", c.TimestampWindow))
	}
	for key, v := range c.Menu {
		if key == "" || v == "" {
			probs = append(probs, fmt.Sprintf("wechat.menu: key %q maps to %q", key, v))
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w: %s", ErrConfig, strings.Join(probs, "; "))
	}
	return nil
}

// mode is the configured mode, or the default for the credentials.
func (c Config) mode(cred Credentials) (Mode, error) {
	switch {
	case c.Mode == "" && cred.AESKey != "":
		return ModeSafe, nil
	case c.Mode == "":
		return ModePlain, nil
	case (c.Mode == ModeSafe || c.Mode == ModeCompatible) && cred.AESKey == "":
		return "", fmt.Errorf("%w: wechat.mode %s needs %s (the EncodingAESKey)", ErrConfig, c.Mode, EnvAESKey)
	}
	return c.Mode, nil
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.ReplyBudget, 3*time.Second)
	def(&c.HandleTimeout, 30*time.Second)
	def(&c.ChoiceTTL, 30*time.Minute)
	def(&c.SurveyTTL, 48*time.Hour)
	def(&c.Window, 48*time.Hour)
	def(&c.HTTPTimeout, 10*time.Second)
	def(&c.RetryBackoff, 500*time.Millisecond)
	def(&c.DrainTimeout, 10*time.Second)
	def(&c.ReplyTTL, time.Minute)
	def(&c.TimestampWindow, 5*time.Minute)
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 64 << 10
	}
	if c.Quota <= 0 {
		c.Quota = 20
	}
	if c.SendRetries <= 0 {
		c.SendRetries = 3
	}
	if c.MaxTextBytes <= 0 {
		c.MaxTextBytes = 2000
	}
	if c.ChoicesPrompt == "" {
		c.ChoicesPrompt = "回复数字："
	}
	if c.RelatedPrompt == "" {
		c.RelatedPrompt = "相关问题，回复数字查看："
	}
	if c.SurveyHint == "" {
		c.SurveyHint = "回复 1-5 评价"
	}
	if c.BusyText == "" {
		c.BusyText = bot.DefaultTexts()["zh"].Busy
	}
	return c
}

// Adapter is the WeChat official account channel: the http.Handler for the
// server URL and the bot.Channel that sends through the customer-service API.
type Adapter struct {
	cfg     Config
	cred    Credentials
	handler Handler
	rdb     redis.UniversalClient
	prefix  string
	log     *slog.Logger
	now     func() time.Time

	oa     *officialaccount.OfficialAccount
	tokens *tokenCache
	client *http.Client

	mu     sync.Mutex
	base   context.Context // the background work's context, from Start to Close
	cancel context.CancelFunc
	closed bool
	work   sync.WaitGroup // messages being handled and their sends

	media *media.Service // the images' store (SetMedia); nil: images are described

	// Nicknames asked for (nick.go): when this instance last asked about
	// each customer, and the calls running.
	nickMu   sync.Mutex
	nickSeen map[string]time.Time
	nickBusy int
}

var _ bot.Channel = (*Adapter)(nil)

// New returns the channel. Keys in Redis start with prefix ("{kefu}:" by
// default) followed by "wechat:". It does no I/O; Start installs the HTTP
// client, and ServeHTTP refuses messages (503) until Start.
func New(cfg Config, cred Credentials, h Handler, rdb redis.UniversalClient, prefix string, log *slog.Logger) (*Adapter, error) {
	if err := cred.Validate(); err != nil {
		return nil, err
	}
	if h == nil || rdb == nil {
		return nil, fmt.Errorf("%w: a handler and a redis client are required", ErrConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	mode, err := cfg.mode(cred)
	if err != nil {
		return nil, err
	}
	if prefix == "" {
		prefix = "{kefu}:"
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	cfg.Mode = mode
	a := &Adapter{cfg: cfg, cred: cred, handler: h, rdb: rdb, prefix: prefix + "wechat:",
		log: log.With("channel", Name), now: time.Now}
	if mode == ModePlain && cred.AESKey != "" {
		// Not an error: the key may be set ahead of the switch to safe mode.
		a.log.Warn("wechat.mode is plain: the EncodingAESKey is not used and encrypted messages are refused")
	}
	a.tokens = &tokenCache{rdb: rdb, prefix: a.prefix + "cache:", timeout: 2 * time.Second}
	a.oa = officialaccount.NewOfficialAccount(&oaconfig.Config{AppID: cred.AppID, AppSecret: cred.AppSecret,
		Token: cred.Token, EncodingAESKey: cred.AESKey, Cache: a.tokens})
	a.client = newHTTPClient(cfg.HTTPTimeout)
	return a, nil
}

// newHTTPClient returns a client with a deadline on every phase: the
// library's default (http.DefaultClient) has none.
func newHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: timeout,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   16,
			ForceAttemptHTTP2:     true,
		},
	}
}

// Name implements bot.Channel.
func (a *Adapter) Name() string { return Name }

// Start makes the server URL accept messages and installs the adapter's HTTP
// client (with timeouts) as the library's client. The library has one
// process-wide client (util.DefaultHTTPClient), so one WeChat adapter per
// process. Background work (slow answers, their sends) runs until Close.
func (a *Adapter) Start(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return ErrClosed
	}
	if a.base != nil {
		return nil
	}
	util.DefaultHTTPClient = a.client
	a.base, a.cancel = context.WithCancel(context.WithoutCancel(ctx))
	return nil
}

// Close stops accepting messages, waits up to DrainTimeout for the messages
// being handled (so an answer computed after the budget is still sent), then
// cancels what is left and waits for it. Shut the HTTP server down first.
func (a *Adapter) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	cancel := a.cancel
	a.mu.Unlock()
	if cancel == nil {
		return nil
	}
	done := make(chan struct{})
	go func() { a.work.Wait(); close(done) }()
	t := time.NewTimer(a.cfg.DrainTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		a.log.Warn("wechat close: cancelling messages still being handled")
		cancel()
		<-done
	}
	cancel()
	a.client.CloseIdleConnections()
	return nil
}

// goWork runs f in the background with the adapter's context; false when the
// adapter is not running.
func (a *Adapter) goWork(f func(ctx context.Context)) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || a.base == nil {
		return false
	}
	a.work.Add(1)
	base := a.base
	go func() {
		defer a.work.Done()
		ctx, cancel := context.WithTimeout(base, a.cfg.HandleTimeout)
		defer cancel()
		f(ctx)
	}()
	return true
}
