package telegram

import (
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"
)

// Modes: how updates reach kefu.
const (
	ModeWebhook = "webhook" // Telegram POSTs updates to kefu's public URL
	ModePolling = "polling" // kefu long-polls getUpdates (no public address needed)
)

// Config is the Telegram channel's configuration (yaml: telegram). Secrets
// are not in it: the caller passes them in Secrets, from the environment.
type Config struct {
	// Mode is ModeWebhook or ModePolling.
	Mode string `yaml:"mode"`
	// WebhookURL is the public HTTPS URL Telegram posts to, i.e. where the
	// Adapter's http.Handler is mounted (webhook mode only).
	WebhookURL string `yaml:"webhook_url"`
	// APIURL is the Bot API server. Default https://api.telegram.org (a
	// local telegram-bot-api server or a test fake may replace it).
	APIURL string `yaml:"api_url"`
	// BotUsername (without @) recognises mentions in groups and builds the
	// link to the private chat. Empty: learned with getMe at Start.
	BotUsername string `yaml:"bot_username"`
	// MaxBody is the largest webhook body accepted (413 above). Default 1 MiB.
	MaxBody int64 `yaml:"max_body"`
	// PollTimeout is the long-poll timeout of getUpdates. Default 50s.
	PollTimeout time.Duration `yaml:"poll_timeout"`
	// SendAttempts bounds the tries of one send on 429 and 5xx. Default 5.
	SendAttempts int `yaml:"send_attempts"`
	// MaxRetryAfter is the longest 429 retry_after honoured; a longer one
	// fails the send with ErrRateLimited. Default 60s.
	MaxRetryAfter time.Duration `yaml:"max_retry_after"`
	// RatePerSecond caps API calls per second over all chats (Telegram's
	// limit is about 30 messages per second). Default 25.
	RatePerSecond float64 `yaml:"rate_per_second"`
	// MaxMessageLen is the longest text accepted from a customer, in
	// characters (runes); a longer one is not stored and the customer is
	// asked to split it (Texts.TooLong). Default 1000, the web chat's
	// default (serve passes web.max_message_len when this is unset).
	MaxMessageLen int `yaml:"max_message_len"`
	// KeyPrefix is the Redis key prefix, "{kefu}:" by default; this package
	// adds "tg:" to it.
	KeyPrefix string `yaml:"key_prefix"`
	// Texts override the Telegram-specific wording, by language ("zh", "en").
	Texts map[string]Texts `yaml:"texts"`
}

// DefaultMaxMessageLen is MaxMessageLen's default: the web chat's.
const DefaultMaxMessageLen = 1000

// Secrets are the channel's secrets, taken from the environment by the caller:
// KEFU_TELEGRAM_TOKEN and KEFU_TELEGRAM_WEBHOOK_SECRET. They print as
// "[redacted]" with fmt and slog.
type Secrets struct {
	Token         string // the bot token from @BotFather
	WebhookSecret string // secret_token for setWebhook: 1-256 of A-Z a-z 0-9 _ -
}

// String keeps the secrets out of fmt output.
func (Secrets) String() string { return "[redacted]" }

// GoString keeps the secrets out of %#v.
func (Secrets) GoString() string { return "[redacted]" }

// LogValue keeps the secrets out of slog.
func (Secrets) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Texts is the Telegram-specific customer wording in one language (the rest
// comes from the engine).
type Texts struct {
	// GroupHandoff replaces the hand-off notice in a group: a person answers
	// only in the private chat with the bot.
	GroupHandoff string `yaml:"group_handoff"`
	// PrivateButton is the label of the button that opens the private chat.
	PrivateButton string `yaml:"private_button"`
	// TooLong answers a text longer than MaxMessageLen (the web chat's
	// wording).
	TooLong string `yaml:"too_long"`
}

// DefaultTexts returns the Chinese and English wording.
func DefaultTexts() map[string]Texts {
	return map[string]Texts{
		"zh": {
			GroupHandoff:  "为保护您的隐私，人工客服只在私聊中服务。请点击下方按钮私聊我，发送「人工」即可转接。",
			PrivateButton: "私聊客服",
			TooLong:       "消息太长了，请分几条发送。",
		},
		"en": {
			GroupHandoff:  "To protect your privacy, our agents only answer in a private chat. Tap the button below to message me privately and ask for a person there.",
			PrivateButton: "Chat privately",
			TooLong:       "That message is too long; please split it.",
		},
	}
}

var secretRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// withDefaults fills the zero fields and checks the rest.
func (c Config) withDefaults(s Secrets) (Config, error) {
	var problems []string
	if strings.TrimSpace(s.Token) == "" {
		problems = append(problems, "token is empty (KEFU_TELEGRAM_TOKEN)")
	}
	switch c.Mode {
	case ModeWebhook:
		if !strings.HasPrefix(c.WebhookURL, "https://") && !strings.HasPrefix(c.WebhookURL, "http://") {
			problems = append(problems, "webhook_url must be an http(s) URL in webhook mode")
		}
		if !secretRe.MatchString(s.WebhookSecret) {
			problems = append(problems, "webhook secret must be 1-256 of A-Z a-z 0-9 _ - (KEFU_TELEGRAM_WEBHOOK_SECRET)")
		}
	case ModePolling:
	default:
		problems = append(problems, fmt.Sprintf("mode %q: want webhook or polling", c.Mode))
	}
	if len(problems) > 0 {
		return c, fmt.Errorf("%w: %s", ErrConfig, strings.Join(problems, "; "))
	}
	if c.APIURL == "" {
		c.APIURL = "https://api.telegram.org"
	}
	c.APIURL = strings.TrimRight(c.APIURL, "/")
	c.BotUsername = strings.TrimPrefix(c.BotUsername, "@")
	if c.MaxBody <= 0 {
		c.MaxBody = 1 << 20
	}
	if c.PollTimeout <= 0 {
		c.PollTimeout = 50 * time.Second
	}
	if c.SendAttempts <= 0 {
		c.SendAttempts = 5
	}
	if c.MaxRetryAfter <= 0 {
		c.MaxRetryAfter = time.Minute
	}
	if c.RatePerSecond <= 0 {
		c.RatePerSecond = 25
	}
	if c.MaxMessageLen <= 0 {
		c.MaxMessageLen = DefaultMaxMessageLen
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = "{kefu}:"
	}
	texts := DefaultTexts()
	for lang, t := range c.Texts {
		d := texts[lang]
		if t.GroupHandoff != "" {
			d.GroupHandoff = t.GroupHandoff
		}
		if t.PrivateButton != "" {
			d.PrivateButton = t.PrivateButton
		}
		if t.TooLong != "" {
			d.TooLong = t.TooLong
		}
		texts[lang] = d
	}
	c.Texts = texts
	return c, nil
}

func (c Config) texts(lang string) Texts {
	if strings.HasPrefix(strings.ToLower(lang), "en") {
		if t, ok := c.Texts["en"]; ok {
			return t
		}
	}
	return c.Texts["zh"]
}
