// Package web is the web chat channel: the chat page a shop embeds (served
// from embedded files, no CDN), its WebSocket, and a plain JSON API for shops
// that build their own front end and for load tests.
//
// A customer is a visitor id in a signed token (cookie and local storage).
// Everything a customer sees is read from the conversation's transcript in
// Redis, after the last entry the page has: a reload or a lost network shows
// the whole conversation again and what was sent meanwhile, and an agent's
// reply written on another gateway instance arrives through a Redis
// publish that wakes the connections holding that customer, wherever they are.
//
// It does not decide what to answer (bot does) and keeps no conversation
// state in memory: the only per-instance state is the set of open WebSockets
// and the rate limiters.
package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/bot"
)

// Name is the channel's name on messages and conversations.
const Name = "web"

// Handler is what the channel needs from the conversation engine
// (*bot.Engine satisfies it).
type Handler interface {
	Handle(ctx context.Context, m bot.Message) ([]bot.Outbound, error)
}

// History reads a conversation's transcript (*bot.Store satisfies it).
type History interface {
	Transcript(ctx context.Context, conv, after string) ([]bot.Entry, error)
}

// Config is the web channel's settings.
type Config struct {
	Title          string   // page title
	MaxMessageLen  int      // characters
	RatePerSecond  float64  // per customer
	Burst          int      // per customer
	MaxBodyBytes   int64    // per request
	AllowedOrigins []string // host patterns of shop pages that may embed the chat
	// Secret signs visitor tokens. Empty: a random secret kept in Redis,
	// shared by every instance (created on Start).
	Secret string
	// Lang is the default language of the page's own labels ("zh" or "en").
	Lang string
	// Texts is the wording the page shows (errors, busy).
	Texts map[string]bot.Texts
}

// Adapter is the web channel: an http.Handler for the page and its API, and
// the bot.Channel that delivers replies to open pages.
type Adapter struct {
	cfg     Config
	handler Handler
	history History
	rdb     redis.UniversalClient
	prefix  string
	log     *slog.Logger
	now     func() time.Time

	secret []byte
	mux    *http.ServeMux
	limits *limiter

	mu      sync.Mutex
	clients map[string]map[*client]struct{} // visitor id -> open sockets
	stop    context.CancelFunc
	done    chan struct{}
	conns   sync.WaitGroup
}

var _ bot.Channel = (*Adapter)(nil)

// New returns the web channel. It does no I/O; Start does.
func New(cfg Config, h Handler, hist History, rdb redis.UniversalClient, prefix string, log *slog.Logger) *Adapter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Lang == "" {
		cfg.Lang = "zh"
	}
	a := &Adapter{cfg: cfg, handler: h, history: hist, rdb: rdb, prefix: prefix,
		log: log.With("channel", Name), now: time.Now, clients: map[string]map[*client]struct{}{}}
	a.limits = newLimiter(cfg.RatePerSecond, cfg.Burst)
	a.routes()
	return a
}

// Name implements bot.Channel.
func (a *Adapter) Name() string { return Name }

func (a *Adapter) pushChannel(user string) string { return a.prefix + "web:push:" + user }

// Send implements bot.Channel. The reply is already in the transcript (the
// engine or the hand-off queue wrote it); Send wakes every page of that
// customer, on any instance, to read it.
func (a *Adapter) Send(ctx context.Context, out bot.Outbound) error {
	if err := a.rdb.Publish(ctx, a.pushChannel(out.User), out.Kind).Err(); err != nil {
		return fmt.Errorf("send %s: %w", out.Conv, err)
	}
	return nil
}

// Start loads or creates the signing secret and subscribes to pushes. The
// subscription runs until Close.
func (a *Adapter) Start(ctx context.Context) error {
	if a.cfg.Secret != "" {
		a.secret = []byte(a.cfg.Secret)
	} else {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		key := a.prefix + "web:secret"
		if err := a.rdb.SetNX(ctx, key, base64.RawStdEncoding.EncodeToString(b), 0).Err(); err != nil {
			return fmt.Errorf("web start: %w", err)
		}
		s, err := a.rdb.Get(ctx, key).Result()
		if err != nil {
			return fmt.Errorf("web start: %w", err)
		}
		a.secret = []byte(s)
	}
	sub := a.rdb.PSubscribe(ctx, a.pushChannel("*"))
	if _, err := sub.Receive(ctx); err != nil { // the subscription is confirmed
		sub.Close()
		return fmt.Errorf("web subscribe: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	a.stop, a.done = cancel, make(chan struct{})
	go a.fanOut(runCtx, sub)
	go a.limits.sweep(runCtx, time.Minute)
	return nil
}

// fanOut wakes the open sockets of each customer a push names.
func (a *Adapter) fanOut(ctx context.Context, sub *redis.PubSub) {
	defer close(a.done)
	defer sub.Close()
	ch := sub.Channel(redis.WithChannelSize(1024))
	n := len(a.pushChannel(""))
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			if len(msg.Channel) > n {
				a.wake(msg.Channel[n:])
			}
		}
	}
}

func (a *Adapter) wake(user string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for c := range a.clients[user] {
		c.poke()
	}
}

// Close stops the subscription and closes every open socket (the pages
// reconnect, to this instance's successor or another one).
func (a *Adapter) Close() error {
	if a.stop == nil {
		return nil
	}
	a.stop()
	<-a.done
	a.mu.Lock()
	for _, cs := range a.clients {
		for c := range cs {
			c.cancel()
		}
	}
	a.mu.Unlock()
	a.conns.Wait()
	return nil
}

func (a *Adapter) addClient(c *client) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.clients[c.user] == nil {
		a.clients[c.user] = map[*client]struct{}{}
	}
	a.clients[c.user][c] = struct{}{}
}

func (a *Adapter) removeClient(c *client) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.clients[c.user], c)
	if len(a.clients[c.user]) == 0 {
		delete(a.clients, c.user)
	}
}

// Sockets returns the number of open WebSockets on this instance.
func (a *Adapter) Sockets() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, cs := range a.clients {
		n += len(cs)
	}
	return n
}

// texts returns the wording for a language.
func (a *Adapter) texts(lang string) bot.Texts {
	if t, ok := a.cfg.Texts[lang]; ok {
		return t
	}
	return a.cfg.Texts["zh"]
}

// status maps an error to its HTTP status and the code the page shows.
func status(err error) (int, string) {
	switch {
	case errors.Is(err, ErrNoVisitor):
		return http.StatusUnauthorized, "no_visitor"
	case errors.Is(err, ErrEmpty):
		return http.StatusBadRequest, "empty"
	case errors.Is(err, ErrTooLong):
		return http.StatusBadRequest, "too_long"
	case errors.Is(err, ErrBadRequest), errors.Is(err, bot.ErrBadRating):
		return http.StatusBadRequest, "bad_request"
	case errors.Is(err, ErrBodyTooBig):
		return http.StatusRequestEntityTooLarge, "too_large"
	case errors.Is(err, ErrRateLimited):
		return http.StatusTooManyRequests, "rate_limited"
	}
	return http.StatusServiceUnavailable, "unavailable"
}
