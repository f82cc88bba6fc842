// Package web is the web chat channel: the chat page a shop embeds (served
// from embedded files, no CDN), its WebSocket, and a plain JSON API for shops
// that build their own front end and for load tests.
//
// A customer is a visitor id in a signed token (cookie and local storage),
// or, when the shop vouches for its signed-in user with an HMAC-signed
// identity (identity.go), that user: one customer on every device.
// Everything a customer sees is read from the conversation's transcript in
// Redis, after the last entry the page has: a reload or a lost network shows
// the whole conversation again and what was sent meanwhile, and an agent's
// reply written on another gateway instance arrives through a Redis
// publish that wakes the connections holding that customer, wherever they are.
//
// It does not decide what to answer (bot does) and keeps no conversation
// state in memory: the only per-instance state is the set of open WebSockets.
// Its limits (per visitor and per client address: new visitors, messages,
// hand-offs, open sockets) are counted in Redis, shared by every instance.
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
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/media"
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
	MaxBodyBytes   int64    // per request
	AllowedOrigins []string // host patterns of shop pages that may embed the chat
	// Limits per visitor and per client address (0: off).
	Limits Limits
	// ClientIP returns the client address of a request (through the trusted
	// proxies). Nil: the connection's peer.
	ClientIP func(*http.Request) string
	// TokenTTL: a visitor token older than this is refused (default 30
	// days); TokenRefresh: one older than this is replaced when used
	// (default 1 day).
	TokenTTL, TokenRefresh time.Duration
	// V1Until: until then the session call exchanges a token of the first
	// format (no issue time) for a new one of the same visitor. Zero: never.
	V1Until time.Time
	// Secret signs visitor tokens. Empty: a random secret kept in Redis,
	// shared by every instance (created on Start, and written back by any
	// instance that finds it gone).
	Secret string
	// IdentitySecret is shared with the shop's server, which signs its
	// signed-in users with it (identity.go). Empty: identities are refused.
	IdentitySecret string
	// IdentityRequired: only identified customers may chat (anonymous
	// visitors get no token).
	IdentityRequired bool
	// IdentityMaxAge: an identity signed longer ago than this is refused
	// (default 24 h).
	IdentityMaxAge time.Duration
	// Lang is the default language of the page's own labels ("zh" or "en").
	Lang string
	// Texts is the wording the page shows (errors, busy).
	Texts map[string]bot.Texts
	// Media keeps the images customers upload and makes the signed links
	// the page shows them by; nil: no images.
	Media *media.Service
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

	secret   atomic.Pointer[[]byte]
	mux      *http.ServeMux
	proxyLog sync.Once // the warning about an untrusted proxy, once

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
		b := []byte(a.cfg.Secret)
		a.secret.Store(&b)
	} else {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		s := []byte(base64.RawStdEncoding.EncodeToString(b))
		a.secret.Store(&s)
		if err := a.syncSecret(ctx); err != nil {
			return fmt.Errorf("web start: %w", err)
		}
	}
	sub := a.rdb.PSubscribe(ctx, a.pushChannel("*"))
	if _, err := sub.Receive(ctx); err != nil { // the subscription is confirmed
		sub.Close()
		return fmt.Errorf("web subscribe: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	a.stop, a.done = cancel, make(chan struct{})
	go a.fanOut(runCtx, sub)
	return nil
}

// signingSecret is the secret tokens are signed and verified with (nil
// before Start: nothing verifies).
func (a *Adapter) signingSecret() []byte {
	if p := a.secret.Load(); p != nil {
		return *p
	}
	return nil
}

// syncSecret shares this instance's signing secret through Redis (no
// KEFU_WEB_SECRET): the first instance's secret is every instance's. If the
// key is gone (Redis lost its data), this instance writes its secret back,
// so that an instance starting next adopts it rather than minting another
// one (two secrets would refuse each other's tokens). The key has no TTL:
// it lives as long as the visitor tokens it signs must verify.
func (a *Adapter) syncSecret(ctx context.Context) error {
	mine := a.signingSecret()
	if err := a.rdb.SetNX(ctx, a.secretKey(), mine, 0).Err(); err != nil {
		return err
	}
	s, err := a.rdb.Get(ctx, a.secretKey()).Bytes()
	if err != nil {
		return err
	}
	if string(s) != string(mine) {
		if a.stop != nil { // not at start: another instance's secret won
			a.log.Warn("the visitor token secret in Redis changed (Redis lost its data?): tokens signed before are refused; set KEFU_WEB_SECRET to keep one secret")
		}
		a.secret.Store(&s)
	}
	return nil
}

// fanOut wakes the open sockets of each customer a push names, and keeps
// the shared signing secret in Redis (syncSecret) every minute.
func (a *Adapter) fanOut(ctx context.Context, sub *redis.PubSub) {
	defer close(a.done)
	defer sub.Close()
	ch := sub.Channel(redis.WithChannelSize(1024))
	n := len(a.pushChannel(""))
	secretTick := time.NewTicker(time.Minute)
	defer secretTick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-secretTick.C:
			if a.cfg.Secret == "" {
				sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				if err := a.syncSecret(sctx); err != nil {
					a.log.Warn("visitor token secret", "err", err)
				}
				cancel()
			}
		case msg, ok := <-ch:
			if !ok {
				return
			}
			if len(msg.Channel) > n {
				if msg.Payload == pushRevoked {
					a.disconnect(msg.Channel[n:])
				} else {
					a.wake(msg.Channel[n:])
				}
			}
		}
	}
}

// pushRevoked is the push that closes a revoked visitor's sockets.
const pushRevoked = "revoked"

// disconnect closes a visitor's open sockets on this instance.
func (a *Adapter) disconnect(user string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for c := range a.clients[user] {
		c.cancel()
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
	case errors.Is(err, ErrIdentityExpired):
		return http.StatusUnauthorized, "identity_expired"
	case errors.Is(err, ErrIdentityRequired):
		return http.StatusUnauthorized, "identity_required"
	case errors.Is(err, ErrIdentity):
		return http.StatusUnauthorized, "bad_identity"
	case errors.Is(err, ErrIdentityOff):
		return http.StatusBadRequest, "identity_disabled"
	case errors.Is(err, ErrEmpty):
		return http.StatusBadRequest, "empty"
	case errors.Is(err, ErrTooLong):
		return http.StatusBadRequest, "too_long"
	case errors.Is(err, ErrNotImage):
		return http.StatusBadRequest, "not_image"
	case errors.Is(err, ErrBadRequest), errors.Is(err, bot.ErrBadRating):
		return http.StatusBadRequest, "bad_request"
	case errors.Is(err, ErrBodyTooBig):
		return http.StatusRequestEntityTooLarge, "too_large"
	case errors.Is(err, ErrRateLimited):
		return http.StatusTooManyRequests, "rate_limited"
	}
	return http.StatusServiceUnavailable, "unavailable"
}
