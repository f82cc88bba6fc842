package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/archiver"
	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/canned"
	"github.com/kefu-dev/kefu/channels/telegram"
	"github.com/kefu-dev/kefu/channels/web"
	"github.com/kefu-dev/kefu/channels/wechat"
	"github.com/kefu-dev/kefu/config"
	"github.com/kefu-dev/kefu/console"
	"github.com/kefu-dev/kefu/faq"
	"github.com/kefu-dev/kefu/gaps"
	"github.com/kefu-dev/kefu/handoff"
	"github.com/kefu-dev/kefu/intents"
	"github.com/kefu-dev/kefu/internal/realip"
	"github.com/kefu-dev/kefu/media"
	"github.com/kefu-dev/kefu/priority"
	"github.com/kefu-dev/kefu/report"
	"github.com/kefu-dev/kefu/tickets"
)

// cmdServe runs the gateway until ctx ends (SIGINT/SIGTERM).
func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var c common
	c.register(fs)
	addr := fs.String("addr", "", "listen address HOST:PORT (default from config: 127.0.0.1:8080)")
	data := fs.String("data", "", "data folder: the embedded archive (default $XDG_DATA_HOME/kefu or ~/.local/share/kefu)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(c.config)
	if err != nil {
		return err
	}
	if *data != "" {
		cfg.DataDir = *data
	}
	if c.faqDir != "" {
		cfg.FAQDir = c.faqDir
	}
	if c.dictDir != "" {
		cfg.DictDir = c.dictDir
	}
	if *addr != "" {
		cfg.Server.Addr = *addr
	}
	s, err := newServer(cfg, newLogger(cfg.Server, stderr))
	if err != nil {
		return err
	}
	if built, ok := ctx.Value(builtHookKey{}).(func(*server)); ok {
		built(s) // a test running the gateway in-process (e.g. swapping s.now)
	}
	return s.run(ctx, stdout)
}

// builtHookKey carries, in the context given to cmdServe, a func(*server)
// called once the server is built and before it starts: tests use it to move
// the hand-off queue's clock and to run the queue loop's rounds themselves.
type builtHookKey struct{}

func newLogger(c config.Server, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// server is one gateway process: every component, wired.
type server struct {
	cfg     config.Config
	log     *slog.Logger
	mini    *miniredis.Miniredis // the embedded Redis, when no REDIS_URL
	rdb     redis.UniversalClient
	live    *intents.Live
	watcher *faq.Watcher
	// picker is the agents' canned replies and FAQ answers with their
	// pinyin, built with each FAQ put in service.
	picker  atomic.Pointer[canned.Index]
	store   *bot.Store
	engine  *bot.Engine
	web     *web.Adapter
	wechat  *wechat.Adapter // nil unless configured
	tg      *telegram.Adapter
	console *console.Console
	demo    string // "id / password" of the demo agent (embedded default only)
	queue   *handoff.Queue
	handoff *bot.Queue // the engine's side of the queue; also words position notices
	texts   map[string]bot.Texts
	reaper  *handoff.Reaper
	// recoverer finishes messages an instance claimed and never answered.
	recoverer *bot.Recoverer
	now       func() time.Time // the hand-off queue's clock (leases, presence)
	// channels deliver outbound messages by channel name.
	channels map[string]bot.Channel
	metrics  *metrics
	echo     *echo.Echo
	ready    atomic.Bool
	// clientIP resolves a client's address through the trusted proxies.
	clientIP *realip.Resolver
	// archive keeps every conversation (opened in run); the archiver fills
	// it from the lifecycle stream; the sweeper closes idle bot threads.
	archive *archive.DB
	tickets *tickets.Store // the tickets, in the archive
	// reminders: tickets due soon, overdue and new, once each (all instances)
	reminders *tickets.Reminders
	// ticketNotices tells customers of their solved tickets (leave.go).
	ticketNotices *tickets.Notifier
	archiver      *archiver.Archiver
	notifier      *archiver.Archiver // pushes breaches to the team's group bots (notify), when hooks are configured
	reports       *report.Reporter   // the archive's rollups, and the reports from them
	// stopPrepare stops building the rollups (if still at it) and waits.
	stopPrepare func()
	sweeper     *archiver.Sweeper
	// stopDispatch stops the refresh of the agents' performance (weighted
	// auto-assignment), when it runs.
	stopDispatch func()
	// media keeps the images customers and agents send, and serves them
	// through signed links (/media/).
	media *media.Service
}

// newServer builds the components. The only I/O is loading the FAQ and the
// dictionaries and starting the embedded Redis; connections come in run.
func newServer(cfg config.Config, log *slog.Logger) (*server, error) {
	s := &server{cfg: cfg, log: log, metrics: newMetrics(), texts: cfg.TextsFor(), now: time.Now}
	var err error
	if s.clientIP, err = realip.New(cfg.Server.TrustedProxies); err != nil {
		return nil, err
	}
	// The canned replies of an FAQ folder may name only the configured
	// groups; the embedded sample's name the default configuration's, and a
	// reply for a group not configured is simply seen by supervisors only.
	var fo faq.Options
	if cfg.FAQDir != "" {
		fo.Groups = cfg.Handoff.Groups
	}
	f, err := loadFAQWith(cfg.FAQDir, fo)
	if err != nil {
		return nil, err
	}
	s.picker.Store(canned.Build(f))
	t0 := time.Now()
	s.live, err = intents.NewLive(f, cfg.DictDir, cfg.Matcher)
	if err != nil {
		return nil, err
	}
	log.Info("faq loaded", "dir", cfg.FAQDir, "intents", len(f.Intents), "build", time.Since(t0).Round(time.Millisecond))
	if cfg.Redis.URL == "" {
		s.mini, err = miniredis.Run()
		if err != nil {
			return nil, fmt.Errorf("embedded redis: %w", err)
		}
		log.Warn("REDIS_URL is not set: using an in-process Redis; conversations are NOT kept across restarts and instances cannot share them. Set REDIS_URL=redis://host:6379/0 in production.")
		s.rdb = redis.NewClient(&redis.Options{Addr: s.mini.Addr()})
	} else {
		opt, err := redis.ParseURL(cfg.Redis.URL)
		if err != nil {
			return nil, errors.New("REDIS_URL: not a valid redis URL") // the URL may hold a password
		}
		s.rdb = redis.NewClient(opt)
	}
	// The conversation store runs on the hand-off queue's clock: one clock
	// for every event's time (tests move it).
	s.store = bot.NewStore(s.rdb, cfg.Redis.Prefix, bot.WithIdle(cfg.Retention.Idle),
		bot.WithClock(func() time.Time { return s.now() }))
	if err := s.newQueue(); err != nil {
		return nil, err
	}
	s.engine = &bot.Engine{Store: s.store, Matcher: s.live.Matcher, Texts: s.texts,
		LowTurns: cfg.Bot.LowTurns, Observe: s.metrics.observe, Handoff: s.handoff}
	if s.engine.Priority, err = priorityPolicy(cfg.Priority, cfg.Report.ReopenWindow); err != nil {
		return nil, err
	}
	if err := s.newMedia(); err != nil {
		return nil, err
	}
	s.recoverer = bot.NewRecoverer(s.engine, bot.RecovererConfig{Every: cfg.Bot.RecoverEvery,
		Deliver: s.deliver, Log: log})
	wc := webConfig(cfg.Web, s.texts, s.clientIP.ClientIP)
	wc.Media = s.media
	s.web = web.New(wc, s.engine, s.store, s.rdb, cfg.Redis.Prefix, log)
	s.engine.HandoffAllowed = s.web.HandoffAllowed
	if cfg.Redis.URL != "" && cfg.Web.Secret == "" {
		log.Warn("KEFU_WEB_SECRET is not set while REDIS_URL points at a shared Redis, so several instances are likely: " +
			"the secret that signs web visitor tokens lives only in Redis. If Redis loses its data, instances may sign " +
			"with different secrets and refuse each other's visitors (401), and every web customer loses their conversation. " +
			"Set KEFU_WEB_SECRET to the same random value (at least 16 characters, e.g. `openssl rand -base64 32`) on every instance.")
	}
	s.channels = map[string]bot.Channel{web.Name: s.web}
	if tok := os.Getenv("KEFU_TELEGRAM_TOKEN"); tok != "" {
		tc := cfg.Telegram
		if tc.KeyPrefix == "" {
			tc.KeyPrefix = cfg.Redis.Prefix
		}
		if tc.MaxMessageLen == 0 {
			tc.MaxMessageLen = cfg.Web.MaxMessageLen // one limit for every channel unless set
		}
		s.tg, err = telegram.New(tc, telegram.Secrets{Token: tok, WebhookSecret: os.Getenv("KEFU_TELEGRAM_WEBHOOK_SECRET")},
			s.engine, s.rdb, log)
		if err != nil {
			return nil, err
		}
		s.tg.SetMedia(s.media)
		s.channels[s.tg.Name()] = s.tg
	}
	if cred := wechat.CredentialsFromEnv(os.Getenv); cred.AppID != "" {
		if err := cred.Validate(); err != nil {
			return nil, err
		}
		s.wechat, err = wechat.New(cfg.WeChat, cred, s.engine, s.rdb, cfg.Redis.Prefix, log)
		if err != nil {
			return nil, err
		}
		s.wechat.SetMedia(s.media)
		s.channels[wechat.Name] = s.wechat
	}
	if err := s.newConsole(); err != nil {
		return nil, err
	}
	if cfg.FAQDir != "" {
		s.watcher = &faq.Watcher{Dir: cfg.FAQDir, Logger: log, Options: faq.Options{Groups: cfg.Handoff.Groups},
			Apply: s.applyFAQ,
			OnResult: func(err error) {
				if err != nil {
					s.metrics.reloads.WithLabelValues("failed").Inc()
				} else {
					s.metrics.reloads.WithLabelValues("ok").Inc()
				}
			}}
	}
	s.routes()
	return s, nil
}

// applyFAQ puts a reloaded FAQ in service: the matcher and the agents'
// picker swap.
func (s *server) applyFAQ(f *faq.FAQ) error {
	x := canned.Build(f)
	if err := s.live.Reload(f); err != nil {
		return err
	}
	s.picker.Store(x)
	return nil
}

// customer is who a conversation's customer is, for the console: the web
// channel knows its signed-in shop users.
func (s *server) customer(ctx context.Context, conv string) (console.Customer, error) {
	c, err := s.web.Customer(ctx, conv)
	return console.Customer(c), err
}

// webConfig is the web channel's configuration.
func webConfig(c config.Web, texts map[string]bot.Texts, clientIP func(*http.Request) string) web.Config {
	l := c.Limits
	wc := web.Config{Title: c.Title, MaxMessageLen: c.MaxMessageLen, MaxBodyBytes: c.MaxBodyBytes,
		AllowedOrigins: c.AllowedOrigins, Secret: c.Secret, Texts: texts, ClientIP: clientIP,
		TokenTTL: c.TokenTTL, TokenRefresh: c.TokenRefresh,
		IdentitySecret: c.IdentitySecret, IdentityRequired: c.IdentityRequired, IdentityMaxAge: c.IdentityMaxAge,
		Limits: web.Limits{MessagesPerSecond: c.RatePerSecond, MessageBurst: c.Burst,
			MessagesPerSecondPerAddr: l.MessagesPerSecondPerAddr, MessageBurstPerAddr: l.MessageBurstPerAddr,
			SessionsPerMinutePerAddr: l.SessionsPerMinutePerAddr, HandoffsPerHourPerAddr: l.HandoffsPerHourPerAddr,
			WSPerVisitor: l.WSPerVisitor, WSPerAddr: l.WSPerAddr}}
	if c.V1TokensUntil != "" {
		wc.V1Until, _ = time.Parse(time.DateOnly, c.V1TokensUntil) // validated
	}
	return wc
}

func (s *server) routes() {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(middleware.Recover())
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})))
	if s.wechat != nil {
		e.Any("/wechat", echo.WrapHandler(s.wechat))
	}
	if s.tg != nil && s.cfg.Telegram.Mode == "webhook" {
		path := "/telegram/webhook"
		if u, err := neturl.Parse(s.cfg.Telegram.WebhookURL); err == nil && u.Path != "" {
			path = u.Path
		}
		e.Any(path, echo.WrapHandler(s.tg))
	}
	// Stored images, through signed links only.
	e.GET(media.Prefix+"*", echo.WrapHandler(s.media.Handler()))
	e.HEAD(media.Prefix+"*", echo.WrapHandler(s.media.Handler()))
	// The agent console.
	e.Any(s.console.Path(), echo.WrapHandler(s.console))
	e.Any(s.console.Path()+"/*", echo.WrapHandler(s.console))
	// The web chat: page, assets, API and WebSocket.
	e.Any("/*", echo.WrapHandler(s.web))
	s.echo = e
}

// readyz: Redis answers and a FAQ is in service.
func (s *server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	var problems []string
	if !s.ready.Load() {
		problems = append(problems, "starting")
	}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		problems = append(problems, "redis unreachable")
	}
	if s.live.Matcher() == nil {
		problems = append(problems, "no faq")
	}
	if len(problems) > 0 {
		return c.String(http.StatusServiceUnavailable, strings.Join(problems, "; ")+"\n")
	}
	return c.String(http.StatusOK, "ready\n")
}

// run serves until ctx ends, then shuts down: stop accepting, finish
// in-flight requests, close sockets and Redis.
func (s *server) run(ctx context.Context, stdout io.Writer) error {
	defer s.closeRedis()
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	if s.mini != nil {
		// miniredis expires keys only when told that time passed.
		tick := time.NewTicker(time.Second)
		tctx, stopTick := context.WithCancel(ctx)
		tickDone := make(chan struct{})
		go func() {
			defer close(tickDone)
			defer tick.Stop()
			for {
				select {
				case <-tctx.Done():
					return
				case <-tick.C:
					s.mini.FastForward(time.Second)
				}
			}
		}()
		defer func() { stopTick(); <-tickDone }()
	}
	if err := s.mediaSecret(ctx); err != nil {
		return err
	}
	if err := s.startArchive(ctx); err != nil {
		return err
	}
	defer s.closeArchive()
	if err := s.web.Start(ctx); err != nil {
		return err
	}
	defer s.web.Close()
	if s.wechat != nil {
		if err := s.wechat.Start(ctx); err != nil {
			return err
		}
		// After the HTTP server has stopped: messages still being answered
		// in the background go out before the process ends.
		defer s.wechat.Close()
	}
	if err := s.reaper.Start(ctx); err != nil {
		return err
	}
	defer s.reaper.Close()
	// Closed before the channels (defers run last first): a recovered
	// message's replies go out through them.
	if err := s.recoverer.Start(ctx); err != nil {
		return err
	}
	defer s.recoverer.Close()
	if s.watcher != nil {
		if err := s.watcher.Start(ctx); err != nil {
			return err
		}
		defer s.watcher.Close()
	}
	ln, err := net.Listen("tcp", s.cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// ReadTimeout bounds every request's headers and body together: a
	// client trickling a body cannot hold a handler (and its goroutine).
	// Once the body is read net/http lifts the deadline, and a WebSocket's
	// hijack clears it: the console's event stream and the web chat's
	// sockets live on, bounded their own way (write deadlines, pings).
	hs := &http.Server{Handler: s.echo, ReadHeaderTimeout: min(10*time.Second, s.cfg.Server.ReadTimeout),
		ReadTimeout: s.cfg.Server.ReadTimeout, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	url := "http://" + ln.Addr().String() + "/"
	if s.tg != nil {
		// After listening: in webhook mode Telegram may call at once.
		if err := s.tg.Start(ctx); err != nil {
			hs.Close()
			<-errc
			return err
		}
		defer s.tg.Close()
	}
	s.ready.Store(true)
	s.log.Info("serving", "addr", ln.Addr().String(), "chat", url)
	if s.demo != "" {
		fmt.Fprintf(stdout, "demo agent for the console at %s%s: %s\n", strings.TrimSuffix(url, "/"), s.console.Path(), s.demo)
	}
	fmt.Fprintf(stdout, "kefu is serving the web chat at %s\n", url)
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.ready.Store(false)
	s.log.Info("shutting down", "timeout", s.cfg.Server.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.Server.ShutdownTimeout)
	defer cancel()
	s.console.Close() // ends the consoles' live streams, which Shutdown would wait for
	err = hs.Shutdown(sctx)
	<-errc
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	s.log.Info("stopped")
	return nil
}

// newQueue builds the hand-off queue and the loop every instance runs over
// it (reap expired claims, auto-assign, tell waiting customers of a new place).
func (s *server) newQueue() error {
	h := s.cfg.Handoff
	days, _ := h.Hours.Weekdays() // validated
	q, err := handoff.New(s.rdb, handoff.Config{Prefix: s.cfg.Redis.Prefix, Groups: h.Groups, Categories: h.Categories,
		DefaultGroup: h.DefaultGroup, Lease: h.Lease, OfferTimeout: h.OfferTimeout,
		FirstResponse: config.Targets(h.SLA.FirstResponse), NextResponse: config.Targets(h.SLA.NextResponse),
		Resolution: config.Targets(h.SLA.Resolution), SLABusinessHours: h.SLA.BusinessHours,
		Dispatch: handoff.Dispatch{ReturningWindow: h.Dispatch.ReturningWindow, CSAT: h.Dispatch.Weights.CSAT,
			FirstResponse: h.Dispatch.Weights.FirstResponse, Resolution: h.Dispatch.Weights.Resolution},
		Hours: handoff.Hours{Timezone: h.Hours.Timezone, Days: days, Open: h.Hours.Open, Close: h.Hours.Close, Holidays: h.Hours.Holidays}},
		func() time.Time { return s.now() }, s.log)
	if err != nil {
		return err
	}
	s.queue = q
	s.handoff = &bot.Queue{Q: q, Texts: s.texts, Now: func() time.Time { return s.now() }}
	s.reaper = handoff.NewReaper(q, handoff.ReaperConfig{AutoAssign: h.AutoAssign, SLA: true,
		Notify: func(ctx context.Context, ps []handoff.Position) {
			for _, p := range ps {
				conv, err := s.store.Load(ctx, p.Conv)
				if err != nil {
					s.log.Warn("queue notice", "conv", p.Conv, "err", err)
					continue
				}
				out := s.handoff.Notice(conv, p)
				if err := s.store.AppendOut(ctx, out); err != nil {
					s.log.Warn("queue notice", "conv", p.Conv, "err", err)
					continue
				}
				s.deliver(ctx, out)
			}
		},
		Requeued: func(_ context.Context, cids []string) {
			for _, c := range cids {
				s.log.Info("claim expired, back in the queue", "conv", c)
			}
		}})
	return nil
}

// newConsole builds the agent console. With the embedded Redis and no agent
// configured, a demo agent in every group gets a random password, printed at
// start-up: the quick start shows the whole flow.
func (s *server) newConsole() error {
	cc := s.cfg.Console
	if cc.KeyPrefix == "" {
		cc.KeyPrefix = s.cfg.Redis.Prefix + "console:"
	}
	if len(cc.Agents) == 0 && s.mini != nil {
		b := make([]byte, 9)
		_, _ = rand.Read(b)
		pw := base64.RawURLEncoding.EncodeToString(b)
		hash, err := console.HashPassword(pw)
		if err != nil {
			return err
		}
		cc.Agents = []console.Agent{{ID: "demo", Name: "演示客服", PasswordHash: hash, Groups: s.cfg.Handoff.Groups,
			MaxChats: 5, Role: console.RoleSupervisor}}
		s.demo = "demo / " + pw
	}
	if len(cc.Agents) == 0 {
		s.log.Warn("no agents configured (console.agents or KEFU_AGENTS_FILE): nobody can sign in to the console")
	}
	s.console = console.New(cc, console.Deps{Queue: s.queue, Redis: s.rdb, Conversations: s.store,
		Deliver: s.deliver, Surveyor: s.engine, Teller: s.engine, Connected: s.connected, ClientIP: s.clientIP.ClientIP, Customer: s.customer,
		Archive: consoleArchive{s}, Intents: s.wrapUpIntents, Canned: s.picker.Load, Gaps: s.gaps, DismissGaps: s.dismissGaps,
		Reports: consoleReports{s}, Media: s.media, Tickets: consoleTickets{s}, TicketLead: s.cfg.Tickets.RemindLead,
		TicketDue: s.cfg.Tickets.MessageDue}, s.log)
	return nil
}

// wrapUpIntents are the FAQ in service's intents, for the agents' wrap-up.
func (s *server) wrapUpIntents() []console.WrapUpOption {
	m := s.live.Matcher()
	if m == nil {
		return nil
	}
	out := make([]console.WrapUpOption, 0, len(m.FAQ().Intents))
	for _, in := range m.FAQ().Intents {
		out = append(out, console.WrapUpOption{ID: in.ID, Name: in.Questions[0]})
	}
	return out
}

// gapsWindow is how far back the editors' page looks.
const gapsWindow = 30 * 24 * time.Hour

// gaps is the editors' page: the last gapsWindow of the archive, with the
// FAQ in service.
func (s *server) gaps(ctx context.Context) ([]gaps.Cluster, error) {
	db, err := consoleArchive{s}.db()
	if err != nil {
		return nil, err
	}
	return gaps.Find(ctx, db, s.live.Matcher(), gaps.Options{From: time.Now().Add(-gapsWindow)})
}

func (s *server) dismissGaps(ctx context.Context, by string, keys []string) error {
	db, err := consoleArchive{s}.db()
	if err != nil {
		return err
	}
	return db.DismissGaps(ctx, by, keys, time.Now())
}

// connected says whether a customer has the chat open (the web channel
// knows; the others cannot tell).
func (s *server) connected(ctx context.Context, channel, user string) (bool, bool, error) {
	if channel != web.Name || s.web == nil {
		return false, false, nil
	}
	return s.web.Connected(ctx, user)
}

// deliver sends an outbound message on the customer's channel. A failure is
// logged and returned (the console shows it to the agent).
func (s *server) deliver(ctx context.Context, out bot.Outbound) error {
	ch, ok := s.channels[out.Channel]
	if !ok {
		err := fmt.Errorf("deliver %s: channel %q is not enabled", out.Conv, out.Channel)
		s.log.Error("deliver", "conv", out.Conv, "channel", out.Channel, "err", err)
		return err
	}
	if err := ch.Send(ctx, out); err != nil {
		s.log.Warn("deliver", "conv", out.Conv, "channel", out.Channel, "err", err)
		return err
	}
	return nil
}

func (s *server) closeRedis() {
	s.rdb.Close()
	if s.mini != nil {
		s.mini.Close()
	}
}

// metrics are the gateway's Prometheus series.
type metrics struct {
	reg      *prometheus.Registry
	messages *prometheus.CounterVec
	match    prometheus.Histogram
	handoffs *prometheus.CounterVec
	reloads  *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.messages = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kefu_messages_total",
		Help: "Bot replies by channel and action (answer, clarify, handoff, fallback, welcome, notice)."}, []string{"channel", "action"})
	m.match = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kefu_match_seconds",
		Help: "Time spent matching a message against the FAQ.", Buckets: prometheus.ExponentialBuckets(10e-6, 2, 14)})
	m.handoffs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kefu_handoffs_total",
		Help: "Conversations handed to people, by reason."}, []string{"channel", "reason"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kefu_faq_reloads_total",
		Help: "FAQ reloads by result (ok, failed: the previous FAQ stays in service)."}, []string{"result"})
	m.reg.MustRegister(m.messages, m.match, m.handoffs, m.reloads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("failed")
	return m
}

func (m *metrics) observe(o bot.Observation) {
	m.messages.WithLabelValues(o.Channel, o.Kind).Inc()
	if o.Match > 0 {
		m.match.Observe(o.Match.Seconds())
	}
	if o.Kind == bot.OutHandoff {
		m.handoffs.WithLabelValues(o.Channel, o.Reason).Inc()
	}
}

// priorityPolicy is the hand-off priority policy the configuration asks for.
func priorityPolicy(c config.Priority, reopen time.Duration) (*priority.Policy, error) {
	lex, err := priority.LoadLexicon(c.Lexicon)
	if err != nil {
		return nil, err
	}
	p := &priority.Policy{Lexicon: lex, Reopen: reopen, LowRating: c.LowRating, Members: map[string]priority.Level{}}
	for m, v := range c.Members {
		if p.Members[m], err = priority.Parse(v); err != nil {
			return nil, fmt.Errorf("priority.members.%s: %w", m, err)
		}
	}
	return p, nil
}
