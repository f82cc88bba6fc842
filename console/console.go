package console

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/canned"
	"github.com/kefu-dev/kefu/gaps"
	"github.com/kefu-dev/kefu/handoff"
	"github.com/kefu-dev/kefu/internal/realip"
	"github.com/kefu-dev/kefu/media"
)

//go:embed static
var staticFS embed.FS

// Conversations reads what the bot knows of a conversation and its
// transcript (*bot.Store satisfies it).
type Conversations interface {
	Load(ctx context.Context, id string) (bot.Conversation, error)
	Transcript(ctx context.Context, conv, after string) ([]bot.Entry, error)
}

// Surveyor prepares the satisfaction survey after an agent closes a
// conversation: it records the prompt and marks the survey pending, and
// returns the message to deliver (*bot.Engine satisfies it).
type Surveyor interface {
	Survey(ctx context.Context, conv string) (bot.Outbound, error)
}

// Teller tells the customer what happens with the people on their
// conversation: an agent joined (by display name), a transfer, the hand-back
// to the bot. It records the notice and returns the message to deliver
// (*bot.Engine satisfies it; what is bot.Tell*).
type Teller interface {
	Tell(ctx context.Context, conv, what, agent string) (bot.Outbound, error)
}

var (
	_ Conversations = (*bot.Store)(nil)
	_ Surveyor      = (*bot.Engine)(nil)
	_ Teller        = (*bot.Engine)(nil)
)

// Deps are what the console works with.
type Deps struct {
	// Queue is the hand-off queue (required).
	Queue *handoff.Queue
	// Redis holds sessions, sign-in counters and the console's own claim
	// records and events (required; the queue's client).
	Redis redis.UniversalClient
	// Conversations reads conversations and transcripts (required).
	Conversations Conversations
	// Deliver sends a message to the customer on their channel (required).
	Deliver func(ctx context.Context, out bot.Outbound) error
	// Archive, when set, is where closed conversations are read: the
	// customer's history, the search page, and the transcript of a
	// conversation whose Redis keys have expired (*archive.DB).
	Archive Archive
	// Reports: the supervisors' Reports page (nil: none).
	Reports Reports
	// Tickets, when set, is the Tickets view's store (*tickets.Store), and
	// lets agents make a ticket of a conversation (转工单).
	Tickets Tickets
	// TicketLead: an open ticket is shown "due soon" this long before its
	// due time (default 1h; the reminders' tickets.remind_lead).
	TicketLead time.Duration
	// TicketDue: a ticket made from a conversation is due this long after,
	// unless the agent says when (default 24h).
	TicketDue time.Duration
	// Surveyor, when set, provides the survey delivered after a close.
	Surveyor Surveyor
	// Connected, when set, says whether a customer can see a message now
	// (the web channel: a chat page open); known false when the channel
	// cannot tell. The conversation view warns the agent when not.
	Connected func(ctx context.Context, channel, user string) (connected, known bool, err error)
	// Teller, when set, tells customers that an agent joined, that they
	// are transferred, or handed back to the bot.
	Teller Teller
	// Customer, when set, says who a conversation's customer is (the web
	// channel's signed-in shop users); the conversation view shows it.
	Customer func(ctx context.Context, conv string) (Customer, error)
	// Intents, when set, lists the FAQ in service's intents (id and standard
	// question): an agent closing a conversation may say it was about one
	// of them (the wrap-up), besides Config.WrapUpLabels.
	Intents func() []WrapUpOption
	// Canned, when set, returns the canned replies and FAQ answers in
	// service, for the reply box's / picker (GET api/canned).
	Canned func() *canned.Index
	// Gaps, when set, finds what the bot did not answer well (package
	// gaps), for the editors' page; DismissGaps keeps a cluster dismissed
	// (the archive.GapKey of each of its messages).
	Gaps        func(ctx context.Context) ([]gaps.Cluster, error)
	DismissGaps func(ctx context.Context, by string, keys []string) error
	// ClientIP returns the client address the sign-in limit counts under.
	// Default: the host of r.RemoteAddr. Behind a reverse proxy, pass
	// (*realip.Resolver).ClientIP, which reads X-Forwarded-For / X-Real-IP
	// from trusted proxies only (cmd/kefu does, from server.trusted_proxies).
	ClientIP func(r *http.Request) string
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Media, when set, keeps the images agents send and makes the signed
	// links the page shows images by (package media).
	Media *media.Service
}

// Console is the agent console: an http.Handler serving the page, its JSON
// API and its live event stream under Config.Path.
type Console struct {
	cfg    Config
	deps   Deps
	log    *slog.Logger
	agents map[string]Agent
	mux    *http.ServeMux
	cop    *http.CrossOriginProtection
	dummy  []byte // a bcrypt hash compared against for unknown agents

	heads      heads      // the queue heads shared by the queue views
	groupReads groupReads // the group streams' reads shared by the live streams

	closeOnce sync.Once
	done      chan struct{} // closed by Close: live streams end
}

// New returns a console. It does no I/O and starts no goroutine; cfg should
// have passed Validate (an agent with a bad hash simply cannot sign in).
func New(cfg Config, deps Deps, log *slog.Logger) *Console {
	cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.ClientIP == nil {
		deps.ClientIP = (*realip.Resolver)(nil).ClientIP
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 10 * time.Second
		if deps.Queue != nil {
			cfg.Heartbeat = deps.Queue.Config().Lease / 3
		}
	}
	c := &Console{cfg: cfg, deps: deps, log: log, agents: map[string]Agent{}, done: make(chan struct{}),
		cop: http.NewCrossOriginProtection(),
		// bcrypt of a random string nobody knows, cost 10: an unknown agent
		// costs as much time as a wrong password.
		dummy: []byte("$2a$10$JnqXf6NI5YcNStrKbuuWGugGQiGRrgfxa64vkMO8tS57ujKoQqSgu"),
	}
	for _, o := range cfg.TrustedOrigins {
		if err := c.cop.AddTrustedOrigin(o); err != nil {
			log.Warn("console: trusted origin ignored", "origin", o, "err", err)
		}
	}
	c.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, ErrOrigin)
	}))
	for _, a := range cfg.Agents {
		if a.Name == "" {
			a.Name = a.ID
		}
		if a.MaxChats <= 0 {
			a.MaxChats = 3
		}
		if a.Role == "" {
			a.Role = RoleAgent
		}
		c.agents[a.ID] = a
	}
	c.routes()
	return c
}

// Path is the URL prefix the console serves under (Config.Path with defaults).
func (c *Console) Path() string { return c.cfg.Path }

// Close ends every live event stream (call it before shutting the HTTP
// server down, whose Shutdown would otherwise wait for them). The console
// runs no goroutine of its own.
func (c *Console) Close() error {
	c.closeOnce.Do(func() { close(c.done) })
	return nil
}

func (c *Console) routes() {
	p := c.cfg.Path
	m := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix(p+"/static/", http.FileServerFS(static))
	m.HandleFunc("GET "+p, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, p+"/", http.StatusFound)
	})
	m.HandleFunc("GET "+p+"/{$}", c.page)
	m.HandleFunc("GET "+p+"/reports", c.reportsPage)
	m.Handle("GET "+p+"/static/", files)

	a := p + "/api/"
	m.HandleFunc("POST "+a+"signin", c.signIn)
	m.HandleFunc("POST "+a+"signout", c.authed(c.signOut))
	m.HandleFunc("GET "+a+"me", c.authed(c.me))
	m.HandleFunc("POST "+a+"online", c.authed(c.online))
	m.HandleFunc("POST "+a+"heartbeat", c.authed(c.heartbeat))
	m.HandleFunc("POST "+a+"status", c.authed(c.status))
	m.HandleFunc("POST "+a+"convs/{id}/note", c.authed(c.note))
	m.HandleFunc("GET "+a+"queue", c.authed(c.queue))
	m.HandleFunc("GET "+a+"convs", c.authed(c.myConvs))
	m.HandleFunc("POST "+a+"claim", c.authed(c.claim))
	m.HandleFunc("GET "+a+"convs/{id}", c.authed(c.conversation))
	m.HandleFunc("POST "+a+"convs/{id}/reply", c.authed(c.reply))
	m.HandleFunc("POST "+a+"convs/{id}/image", c.authed(c.sendImage))
	m.HandleFunc("POST "+a+"convs/{id}/transfer", c.authed(c.transfer))
	m.HandleFunc("POST "+a+"convs/{id}/close", c.authed(c.closeConv))
	m.HandleFunc("GET "+a+"wrapup", c.authed(c.wrapUpOptions))
	m.HandleFunc("GET "+a+"canned", c.authed(c.cannedSearch))
	m.HandleFunc("GET "+a+"gaps", c.authed(c.editor(c.listGaps)))
	m.HandleFunc("POST "+a+"gaps/{id}/dismiss", c.authed(c.editor(c.dismissGap)))
	m.HandleFunc("POST "+a+"convs/{id}/bot", c.authed(c.toBot))
	m.HandleFunc("POST "+a+"convs/{id}/dismiss", c.authed(c.dismiss))
	m.HandleFunc("POST "+a+"convs/{id}/reassign", c.authed(c.supervisor(c.reassign)))
	m.HandleFunc("POST "+a+"convs/{id}/priority", c.authed(c.setPriority))
	m.HandleFunc("POST "+a+"convs/{id}/labels", c.authed(c.setLabels))
	m.HandleFunc("GET "+a+"overview", c.authed(c.supervisor(c.overview)))
	m.HandleFunc("GET "+a+"reports", c.authed(c.supervisor(c.reports)))
	m.HandleFunc("GET "+a+"events", c.authed(c.events))
	m.HandleFunc("GET "+a+"convs/{id}/history", c.authed(c.history))
	m.HandleFunc("GET "+a+"archive/search", c.authed(c.searchArchive))
	m.HandleFunc("GET "+a+"archive/convs/{id}", c.authed(c.archived))
	m.HandleFunc("GET "+a+"tickets", c.authed(c.listTickets))
	m.HandleFunc("POST "+a+"tickets", c.authed(c.createTicket))
	m.HandleFunc("GET "+a+"tickets/agents", c.authed(c.ticketAgents))
	m.HandleFunc("GET "+a+"tickets/{id}", c.authed(c.getTicket))
	m.HandleFunc("POST "+a+"tickets/{id}/state", c.authed(c.moveTicket))
	m.HandleFunc("POST "+a+"tickets/{id}/assign", c.authed(c.assignTicket))
	m.HandleFunc("POST "+a+"tickets/{id}/note", c.authed(c.noteTicket))
	m.HandleFunc(a, func(w http.ResponseWriter, r *http.Request) { c.fail(w, r, ErrNotFound) })
	c.mux = m
}

// ServeHTTP serves the console under Config.Path.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; "+
		"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	c.mux.ServeHTTP(w, r)
}

func (c *Console) page(w http.ResponseWriter, r *http.Request) {
	b, err := staticFS.ReadFile("static/index.html")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

// apiError is the body of every error answer.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// fail answers with the error's status and code. Internal errors are logged
// and their text is not shown.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code := codeOf(err)
	var body apiError
	body.Error.Code = code
	body.Error.Message = err.Error()
	if status == http.StatusInternalServerError {
		c.log.ErrorContext(r.Context(), "console", "path", r.URL.Path, "err", err)
		body.Error.Message = "internal error"
	}
	if le := (*lockedError)(nil); errors.As(err, &le) {
		w.Header().Set("Retry-After", fmt.Sprint(le.retryAfter()))
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a JSON body of at most 64 KiB into v; an empty body leaves v
// as it is.
func decode(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 64<<10+1))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if len(b) > 64<<10 {
		return fmt.Errorf("%w: body too large", ErrBadRequest)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return nil
}

// notFound turns the store's "no such key" into ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}
