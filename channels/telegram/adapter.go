package telegram

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/media"
)

// Handler processes one inbound message: *bot.Engine satisfies it. It stores
// (and dedupes) the message before anything else and returns
// bot.ErrDuplicate for a repeated delivery, an error when it could not store
// the message, or the replies to send.
type Handler interface {
	Handle(ctx context.Context, m bot.Message) ([]bot.Outbound, error)
}

var _ bot.Channel = (*Adapter)(nil)

// allowedUpdates are the update types kefu subscribes to.
var allowedUpdates = []string{"message", "edited_message", "callback_query", "my_chat_member"}

const (
	handleTimeout = 15 * time.Second // one Handle call, even when the request is gone
	callTimeout   = 30 * time.Second // one Bot API call
)

// Adapter is the Telegram channel: the webhook ingress (ServeHTTP), the
// polling loop (Start/Close) and delivery (Send).
type Adapter struct {
	cfg    Config
	token  string
	secret string
	h      Handler
	rdb    redis.UniversalClient
	log    *slog.Logger
	api    *tgbot.Bot
	client *http.Client
	limit  *rate.Limiter
	lease  string // this instance's polling lease token

	now     func() time.Time
	sleep   func(ctx context.Context, d time.Duration) error
	backoff func(attempt int) time.Duration // wait before retry attempt+1 after a 5xx
	grace   time.Duration                   // Close waits this long for queued sends

	meMu sync.RWMutex
	me   identity

	base       context.Context // sends of replies to inbound messages; cancelled by Close
	cancelBase context.CancelFunc

	mu       sync.Mutex
	idle     *sync.Cond // signalled when inflight drops to zero
	inflight int        // queued or running send jobs
	closed   bool
	started  bool
	queues   map[string]*chatQueue
	workers  sync.WaitGroup
	stopPoll context.CancelFunc
	pollDone chan struct{}

	media *media.Service // the images' store (SetMedia); nil: photos are described
}

// New returns an Adapter. It does no I/O: Start registers the webhook or
// starts polling. log may be nil (discard).
func New(cfg Config, s Secrets, h Handler, rdb redis.UniversalClient, log *slog.Logger) (*Adapter, error) {
	cfg, err := cfg.withDefaults(s)
	if err != nil {
		return nil, err
	}
	if h == nil || rdb == nil {
		return nil, fmt.Errorf("%w: handler and redis are required", ErrConfig)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("channel", "telegram")
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	a := &Adapter{
		cfg: cfg, token: s.Token, secret: s.WebhookSecret, h: h, rdb: rdb, log: log,
		client: &http.Client{},
		limit:  rate.NewLimiter(rate.Limit(cfg.RatePerSecond), int(cfg.RatePerSecond)+1),
		lease:  hex.EncodeToString(tok[:]),
		now:    time.Now, sleep: sleepCtx, backoff: expBackoff, grace: 10 * time.Second,
		queues: map[string]*chatQueue{},
	}
	a.idle = sync.NewCond(&a.mu)
	a.base, a.cancelBase = context.WithCancel(context.Background())
	id, _, _ := strings.Cut(s.Token, ":")
	a.me.id, _ = strconv.ParseInt(id, 10, 64)
	a.me.username = strings.ToLower(cfg.BotUsername)
	a.api, err = tgbot.New(s.Token,
		tgbot.WithSkipGetMe(),
		tgbot.WithServerURL(cfg.APIURL),
		tgbot.WithHTTPClient(cfg.PollTimeout, a.client),
		tgbot.WithErrorsHandler(func(err error) {
			a.log.Warn("telegram library", "err", a.redact(err.Error()))
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrConfig, a.redact(err.Error()))
	}
	return a, nil
}

// Name is the channel's name, "telegram".
func (a *Adapter) Name() string { return "telegram" }

// Start learns the bot's username (getMe) when it is not configured, then
// registers the webhook (setWebhook with the secret token and the allowed
// update types) or, in polling mode, removes any webhook and starts the
// polling loop, which runs until Close.
func (a *Adapter) Start(ctx context.Context) error {
	a.mu.Lock()
	if a.closed || a.started {
		a.mu.Unlock()
		return fmt.Errorf("start: %w", ErrClosed)
	}
	a.started = true
	a.mu.Unlock()
	sctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if a.identity().username == "" {
		me, err := a.api.GetMe(sctx)
		if err != nil {
			return a.apiError("getMe", ErrSendFailed, err)
		}
		a.meMu.Lock()
		a.me = identity{id: me.ID, username: strings.ToLower(me.Username)}
		a.meMu.Unlock()
	}
	switch a.cfg.Mode {
	case ModeWebhook:
		_, err := a.api.SetWebhook(sctx, &tgbot.SetWebhookParams{
			URL: a.cfg.WebhookURL, SecretToken: a.secret, AllowedUpdates: allowedUpdates,
		})
		if err != nil {
			return a.apiError("setWebhook", ErrSendFailed, err)
		}
		a.log.Info("telegram webhook registered", "url", a.cfg.WebhookURL)
	case ModePolling:
		if _, err := a.api.DeleteWebhook(sctx, &tgbot.DeleteWebhookParams{}); err != nil {
			return a.apiError("deleteWebhook", ErrSendFailed, err)
		}
		pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		a.mu.Lock()
		a.stopPoll, a.pollDone = cancel, make(chan struct{})
		a.mu.Unlock()
		go a.poll(pctx)
	}
	return nil
}

// Close stops the polling loop (an update being handled is finished first),
// refuses new sends, lets queued replies go out for a short grace period,
// then cancels what is left and waits for every goroutine it started.
func (a *Adapter) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	stop, done := a.stopPoll, a.pollDone
	a.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	drained := make(chan struct{})
	go func() {
		a.workers.Wait()
		close(drained)
	}()
	t := time.NewTimer(a.grace)
	select {
	case <-drained:
	case <-t.C:
	}
	t.Stop()
	a.cancelBase()
	<-drained
	return nil
}

func (a *Adapter) identity() identity {
	a.meMu.RLock()
	defer a.meMu.RUnlock()
	return a.me
}

func (a *Adapter) key(k string) string { return a.cfg.KeyPrefix + "tg:" + k }

// redact blanks the bot token (raw and URL-escaped) out of a text.
func (a *Adapter) redact(s string) string {
	if a.token == "" {
		return s
	}
	s = strings.ReplaceAll(s, a.token, "<token>")
	return strings.ReplaceAll(s, strings.ReplaceAll(a.token, ":", "%3A"), "<token>")
}

// apiError is an error with the token blanked out of its text. It unwraps
// to kind only (a sentinel or a context error), never to the library's
// error, whose text may hold the token.
type apiError struct {
	msg  string
	kind error
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.kind }

func (a *Adapter) apiError(op string, kind, err error) error {
	return &apiError{msg: op + ": " + kind.Error() + ": " + a.redact(err.Error()), kind: kind}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// expBackoff: 1s, 2s, 4s … capped at 30s.
func expBackoff(attempt int) time.Duration {
	d := time.Second << min(attempt-1, 5)
	return min(d, 30*time.Second)
}
