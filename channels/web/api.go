package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/internal/realip"
)

//go:embed static
var static embed.FS

const cookieName = "kefu_visitor"

// tokenHeader carries a fresh visitor token on an API answer when the one
// used is due for replacement; the client keeps it instead.
const tokenHeader = "X-Kefu-Token"

func (a *Adapter) routes() {
	mux := http.NewServeMux()
	sub, _ := fs.Sub(static, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(sub)))
	mux.HandleFunc("GET /{$}", a.page)
	mux.HandleFunc("GET /embed.js", a.embedJS)
	mux.HandleFunc("POST /api/session", a.session)
	mux.HandleFunc("POST /api/messages", a.postMessage)
	mux.HandleFunc("GET /api/messages", a.getMessages)
	mux.HandleFunc("POST "+imagePath, a.postImage)
	mux.HandleFunc("GET /ws", a.socket)
	a.mux = mux
}

// ServeHTTP serves the chat page (/), its assets (/static/), the embed
// script (/embed.js), the JSON API (/api/…) and the WebSocket (/ws).
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	limit := a.maxBody()
	if r.URL.Path == imagePath && a.cfg.Media != nil {
		limit = a.cfg.Media.MaxBytes() + 64<<10 // the image and the form around it
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	a.mux.ServeHTTP(w, r)
}

func (a *Adapter) maxBody() int64 {
	if a.cfg.MaxBodyBytes > 0 {
		return a.cfg.MaxBodyBytes
	}
	return 16 << 10
}

var pageTmpl = template.Must(template.ParseFS(static, "static/index.html"))

func (a *Adapter) page(w http.ResponseWriter, r *http.Request) {
	t := a.texts(a.cfg.Lang)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; style-src 'self'; script-src 'self'")
	_ = pageTmpl.Execute(w, map[string]any{
		"Title": a.cfg.Title, "Lang": a.cfg.Lang, "Welcome": t.Welcome, "Busy": t.Busy,
		"Human": t.HumanButton, "MaxLen": a.cfg.MaxMessageLen, "Images": a.cfg.Media != nil,
	})
}

// embedJS is the one-line snippet a shop puts on its pages: a chat bubble
// that opens this gateway's page in an iframe.
func (a *Adapter) embedJS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	b, _ := static.ReadFile("static/embed.js")
	_, _ = w.Write(b)
}

// visitor returns the customer of a request: the bearer token, or (for the
// page's own session call and the WebSocket) the token query parameter or
// cookie; false unless it is genuine and current (a v1 token only when
// allowV1). Revocation is checked by take.
//
// An identified customer's token is never taken from the cookie: the page
// passes it itself, and only while the shop says that user is signed in, so
// the cookie left on a shared computer after a sign-out opens nothing.
func (a *Adapter) visitor(r *http.Request, allowCookie, allowV1 bool) (token, bool) {
	raw, fromCookie := rawTokenFrom(r, allowCookie)
	t, ok := a.check(raw, allowV1)
	if ok && fromCookie && t.identified() {
		return token{}, false
	}
	return t, ok
}

// rawToken is the token a request carries, unchecked.
func rawToken(r *http.Request, allowCookie bool) string {
	t, _ := rawTokenFrom(r, allowCookie)
	return t
}

// rawTokenFrom is rawToken, and whether it came from the cookie.
func rawTokenFrom(r *http.Request, allowCookie bool) (string, bool) {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimPrefix(h, "Bearer "), false
	} else if q := r.URL.Query().Get("token"); q != "" && allowCookie {
		return q, false
	} else if c, err := r.Cookie(cookieName); err == nil && allowCookie {
		return c.Value, true
	}
	return "", false
}

// check verifies a token and its age (and, when identities are required,
// that it is an identified customer's).
func (a *Adapter) check(tok string, allowV1 bool) (token, bool) {
	if tok == "" {
		return token{}, false
	}
	t, ok := verify(a.signingSecret(), tok)
	if !ok || !a.current(t, allowV1) || (a.cfg.IdentityRequired && !t.identified()) {
		return token{}, false
	}
	return t, true
}

// issued is a token's issue time for the revocation check (a v1 token's
// is the epoch: any revocation refuses it).
func (t token) issued() time.Time {
	if t.iat.IsZero() {
		return time.Unix(0, 0)
	}
	return t.iat
}

// clientAddr is the address a request's limits are counted under.
func (a *Adapter) clientAddr(r *http.Request) string {
	peer := (*realip.Resolver)(nil).ClientIP(r) // the connection's peer
	addr := peer
	if a.cfg.ClientIP != nil {
		addr = a.cfg.ClientIP(r)
	}
	if addr == peer && (r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("X-Real-IP") != "") {
		a.proxyLog.Do(func() {
			a.log.Warn("a request carries X-Forwarded-For or X-Real-IP from a peer that is not in server.trusted_proxies: " +
				"the header is ignored. If kefu runs behind a reverse proxy, add it to server.trusted_proxies, " +
				"or every customer is limited as one client address (the proxy's)")
		})
	}
	return addr
}

// sessionRequest is the session call's body; both fields are optional.
type sessionRequest struct {
	Token    string    `json:"token"`
	Identity *Identity `json:"identity"` // the shop's signed-in user (identity.go)
}

// sessionReply is the session call's answer.
type sessionReply struct {
	Token      string `json:"token"`
	User       string `json:"user"` // a visitor id, or "u:<shop user id>"
	Conv       string `json:"conv"`
	Identified bool   `json:"identified,omitempty"` // the token is an identified customer's
	// SignIn "deferred": an anonymous visitor signed in while a person is
	// serving their conversation; they stay in it (the agent now sees who
	// they are) and move to their own thread once it is closed.
	SignIn string `json:"sign_in,omitempty"`
}

// session returns the caller's token: the one the request carries
// (replaced by a fresh one when due), or a new visitor's when it carries
// none, or one forged, expired or revoked. New visitors are limited per
// client address (429, nothing minted).
//
// With an identity (the shop's signed-in user), the identity is verified
// first and a refusal writes nothing: the answer is that customer's token,
// the one carried when it is theirs with the same details, else a new one.
// An identified token is resumed only with its customer's identity, so a
// page whose user signed out (no identity) starts an anonymous visitor and
// the cookie is overwritten. An anonymous visitor who signs in moves to the
// identified thread, and their visitor thread is marked with who they turned
// out to be (conv.FieldSignedInAs); unless a person is serving it (waiting
// or with an agent): then the visitor stays in it until it closes, with the
// identity written on it (SignIn "deferred").
func (a *Adapter) session(w http.ResponseWriter, r *http.Request) {
	var body sessionRequest
	if err := decode(r, &body, true); err != nil {
		a.fail(w, r, err)
		return
	}
	tok := rawToken(r, true)
	if _, good := a.check(body.Token, true); good {
		tok = body.Token
	}
	t, ok := a.check(tok, true)
	var want *profile
	expired := false // an old hash, good only to resume the current token
	if body.Identity != nil {
		p, err := a.verifyIdentity(*body.Identity)
		// An old hash re-presented with a current token of the very same
		// customer (a page open for days) keeps its session.
		if errors.Is(err, ErrIdentityExpired) && ok && t.identified() && *t.prof == p {
			err, expired = nil, true
		}
		if err != nil {
			a.log.Info("session: identity refused", "err", err)
			a.fail(w, r, err)
			return
		}
		want = &p
	}
	if ok && t.identified() && (want == nil || want.ID != t.prof.ID) {
		ok = false // an identified token is resumed with its customer's identity only
	}
	if !ok && want == nil && a.cfg.IdentityRequired {
		a.fail(w, r, ErrIdentityRequired)
		return
	}
	if ok {
		switch err := a.take(r.Context(), t.id, t.issued()); {
		case errors.Is(err, errRevoked) && expired:
			a.fail(w, r, ErrIdentityExpired) // an old hash mints nothing
			return
		case errors.Is(err, errRevoked):
			ok = false
		case err != nil:
			a.log.Error("session", "user", t.id, "err", err)
			a.fail(w, r, ErrUnavailable)
			return
		}
	}
	signIn := ""
	switch {
	case want != nil && ok && !t.identified():
		// An anonymous visitor signs in.
		mode, err := a.writeProfile(r.Context(), bot.ConvID(Name, t.id), *want, bot.ConvID(Name, want.user()))
		if err != nil {
			a.log.Error("session: sign in", "user", t.id, "err", err)
			a.fail(w, r, ErrUnavailable)
			return
		}
		if mode == conv.ModeWaiting || mode == conv.ModeAgent {
			signIn = "deferred"
			if nt := a.refreshed(t); nt != "" {
				tok = nt
			}
			break
		}
		a.log.Info("session: visitor signed in", "user", want.user(), "visitor", t.id)
		t, tok = token{id: want.user(), iat: a.now(), prof: want}, signProfile(a.signingSecret(), *want, a.now())
	case want != nil && (!ok || *t.prof != *want):
		// A new identified session, or new details for this customer. Not
		// counted as a new visitor: the shop vouches for it, and nothing is
		// stored.
		t, tok = token{id: want.user(), iat: a.now(), prof: want}, signProfile(a.signingSecret(), *want, a.now())
	case ok:
		if nt := a.refreshed(t); nt != "" {
			tok = nt
		}
	default:
		addr := a.clientAddr(r)
		t = token{id: newVisitorID()}
		if b, on := perPeriod(a.sessAddrKey(realip.Key(addr)), a.cfg.Limits.SessionsPerMinutePerAddr, time.Minute); on {
			if err := a.take(r.Context(), t.id, time.Time{}, b); err != nil {
				if !errors.Is(err, ErrRateLimited) {
					a.log.Error("session", "err", err)
					err = ErrUnavailable
				}
				a.fail(w, r, err)
				return
			}
		}
		tok = sign(a.signingSecret(), t.id, a.now())
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: tok, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil, MaxAge: int(a.tokenTTL() / time.Second)})
	writeJSON(w, http.StatusOK, sessionReply{Token: tok, User: t.id, Conv: bot.ConvID(Name, t.id),
		Identified: t.identified(), SignIn: signIn})
}

// inbound is a customer message on the API or the WebSocket.
type inbound struct {
	ID     string `json:"id"`     // the client's id for this message: a retry with the same id is answered once
	Text   string `json:"text"`   // what the customer wrote (or the label of the button pressed)
	Choice string `json:"choice"` // an intent id from a clarify button, "@human", or "1".."5" for a rating
	Kind   string `json:"kind"`   // "", "start", "human", "rating"
	Lang   string `json:"lang"`   // the browser's language, optional
	// image is an uploaded image (postImage; kind "image"), never read
	// from JSON.
	image []byte
}

// reply is the API's answer to a posted message.
type reply struct {
	Duplicate bool `json:"duplicate,omitempty"`
	// Status tells a duplicate (a retried id) apart: statusAnswered, with
	// the replies recorded for that message, or statusInProgress (HTTP 202),
	// with none yet: they come over the WebSocket and the transcript, from
	// the delivery handling it or, if that one vanished, from a recoverer.
	Status  string         `json:"status,omitempty"`
	Replies []bot.Outbound `json:"replies"`
}

// Duplicate statuses (reply.Status).
const (
	statusAnswered   = "answered"
	statusInProgress = "in_progress"
)

// replyReader finds the replies recorded for an inbound message
// (*bot.Store implements it): a retry of an answered message gets them.
type replyReader interface {
	Replies(ctx context.Context, channel, user, msgID string) ([]bot.Outbound, error)
}

// messageID is the dedupe id of a customer's message: client ids are the
// customer's own, namespaced so that two customers' ids never meet.
func messageID(user, id string) string { return user + ":" + id }

func (a *Adapter) postMessage(w http.ResponseWriter, r *http.Request) {
	t, ok := a.visitor(r, false, false)
	if !ok {
		a.fail(w, r, ErrNoVisitor)
		return
	}
	var in inbound
	if err := decode(r, &in, false); err != nil {
		a.fail(w, r, err)
		return
	}
	a.answer(w, r, t, in)
}

// answer hands a posted message (text or image) to accept and writes the
// API's answer.
func (a *Adapter) answer(w http.ResponseWriter, r *http.Request, t token, in inbound) {
	outs, err := a.accept(r.Context(), t, a.clientAddr(r), in)
	if revocationChecked(err) {
		a.refreshHeader(w, t)
	}
	if errors.Is(err, bot.ErrInFlight) {
		writeJSON(w, http.StatusAccepted, reply{Duplicate: true, Status: statusInProgress, Replies: []bot.Outbound{}})
		return
	}
	if errors.Is(err, bot.ErrDuplicate) {
		outs = []bot.Outbound{}
		if rr, ok := a.history.(replyReader); ok {
			got, err := rr.Replies(r.Context(), Name, t.id, messageID(t.id, in.ID))
			if err != nil {
				a.log.Error("replies", "user", t.id, "msg_id", in.ID, "err", err)
				a.fail(w, r, ErrUnavailable)
				return
			}
			outs = append(outs, got...)
		}
		writeJSON(w, http.StatusOK, reply{Duplicate: true, Status: statusAnswered, Replies: outs})
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if outs == nil {
		outs = []bot.Outbound{}
	}
	writeJSON(w, http.StatusOK, reply{Replies: outs})
}

// refreshHeader gives the client a fresh token when its own is due.
// revocationChecked tells whether accept got as far as the limit script,
// which refuses a revoked visitor before anything else: only then may a
// fresh token go out. A message refused earlier (empty, too long,
// malformed) or a Redis failure says nothing about revocation.
func revocationChecked(err error) bool {
	return err == nil || errors.Is(err, bot.ErrDuplicate) || errors.Is(err, bot.ErrInFlight) || errors.Is(err, ErrRateLimited)
}

func (a *Adapter) refreshHeader(w http.ResponseWriter, t token) {
	if nt := a.refreshed(t); nt != "" {
		w.Header().Set(tokenHeader, nt)
	}
}

// accept checks the visitor's revocation and the limits (per visitor and
// per client address, in one round trip), hands the message to the engine
// and wakes the customer's pages. Nothing is stored when a limit refuses the
// message.
func (a *Adapter) accept(ctx context.Context, t token, addr string, in inbound) ([]bot.Outbound, error) {
	user := t.id
	in.Text = strings.TrimSpace(in.Text)
	switch in.Kind {
	case bot.KindText, bot.KindStart, bot.KindHuman, bot.KindRating:
		if in.image != nil {
			return nil, ErrBadRequest
		}
	case bot.KindImage:
		if in.image == nil { // an image is only what postImage read
			return nil, ErrBadRequest
		}
	default:
		return nil, ErrBadRequest
	}
	if !utf8.ValidString(in.Text) || len(in.ID) > 64 || len(in.Choice) > 64 {
		return nil, ErrBadRequest
	}
	if in.Text == "" && in.Choice == "" && in.Kind == bot.KindText {
		return nil, ErrEmpty
	}
	if utf8.RuneCountInString(in.Text) > a.cfg.MaxMessageLen {
		return nil, ErrTooLong
	}
	if err := a.take(ctx, user, t.issued(), a.messageBuckets(user, addr)...); err != nil {
		if errors.Is(err, ErrRateLimited) || errors.Is(err, ErrNoVisitor) {
			return nil, err
		}
		a.log.Error("limit", "user", user, "err", err)
		return nil, errors.Join(ErrUnavailable, err)
	}
	if in.ID == "" {
		in.ID = newVisitorID() // no client id: no dedupe possible, but never refuse the message
	}
	m := bot.Message{Channel: Name, User: user, ID: messageID(user, in.ID), Text: in.Text, Choice: in.Choice,
		Kind: in.Kind, Lang: in.Lang, At: a.now(), Addr: addr}
	if in.image != nil {
		// Kept before the message is: a message never names a file that is
		// not there. A retry stores the same key again.
		key, err := a.cfg.Media.Save(ctx, Name, user, m.ID, in.image)
		if err != nil {
			err = mediaErr(err)
			if errors.Is(err, ErrUnavailable) {
				a.log.Error("image", "user", user, "msg_id", in.ID, "err", err)
			}
			return nil, err
		}
		m.Media = key
	}
	if m.Kind == bot.KindRating {
		m.Choice, m.Text = strings.TrimSpace(in.Choice+" "+in.Text), ""
	} else if m.Choice == bot.ChoiceHuman {
		m.Kind, m.Choice = bot.KindHuman, ""
	}
	outs, err := a.handler.Handle(ctx, m)
	if err != nil {
		if errors.Is(err, bot.ErrDuplicate) || errors.Is(err, bot.ErrBadRating) {
			return nil, err
		}
		a.log.Error("handle", "user", user, "msg_id", in.ID, "err", err)
		// The message may be stored (the transcript has it) even so: wake
		// the pages so they show what is there.
		_ = a.Send(ctx, bot.Outbound{Channel: Name, User: user, Conv: bot.ConvID(Name, user)})
		return nil, errors.Join(ErrUnavailable, err)
	}
	// Wake this customer's pages (other tabs too) once, after the replies are
	// in the transcript; without replies the inbound message still shows.
	// Who an identified customer is goes on their conversation (the first
	// message has just created it), checked in the same round trip.
	out := bot.Outbound{Channel: Name, User: user, Conv: bot.ConvID(Name, user), Kind: "in"}
	if t.prof == nil {
		_ = a.Send(ctx, out)
	} else if err := a.sendAndProfile(ctx, out, *t.prof); err != nil {
		a.log.Warn("customer profile", "user", user, "err", err) // the next message writes it
	}
	return outs, nil
}

// Entry is one transcript line as the page and the API see it.
type Entry struct {
	ID      string       `json:"id"`
	Dir     string       `json:"dir"` // in, out
	MsgID   string       `json:"msg_id,omitempty"`
	Kind    string       `json:"kind,omitempty"`
	Text    string       `json:"text"`
	Choices []bot.Choice `json:"choices,omitempty"`
	Agent   bool         `json:"agent,omitempty"` // written by a person
	At      int64        `json:"at"`              // ms since the epoch
	// Image is a short-lived signed link to the image the entry carries
	// (media.link_ttl; read the transcript again for a fresh one).
	Image string `json:"image,omitempty"`
}

// entries reads the transcript after an id, as the customer may see it:
// private notes and events are left out, agents are not named.
func (a *Adapter) entries(ctx context.Context, user, after string) ([]Entry, error) {
	xs, err := a.history.Transcript(ctx, bot.ConvID(Name, user), after)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(xs))
	for _, x := range xs {
		if x.Dir != "in" && x.Dir != "out" {
			continue
		}
		if x.Dir == "in" && (x.Kind == bot.KindLeave || (x.Kind == bot.KindStart && x.Text == "")) {
			continue
		}
		e := Entry{ID: x.ID, Dir: x.Dir, MsgID: strings.TrimPrefix(x.MsgID, user+":"), Kind: x.Kind, Text: x.Text, Choices: x.Choices,
			Agent: x.Kind == bot.OutAgent, At: x.At.UnixMilli()}
		if e.Text == "" && x.Choice != "" {
			e.Text = x.Choice
		}
		if x.Media != "" && a.cfg.Media != nil {
			e.Image = a.cfg.Media.Link(x.Media)
		}
		out = append(out, e)
	}
	return out, nil
}

// transcriptRequest is the visitor (from its cookie too when allowCookie,
// not revoked) and the ?after= entry id of a request for the transcript;
// false when it has failed the request.
func (a *Adapter) transcriptRequest(w http.ResponseWriter, r *http.Request, allowCookie bool) (t token, after string, ok bool) {
	t, ok = a.visitor(r, allowCookie, false)
	if !ok {
		a.fail(w, r, ErrNoVisitor)
		return token{}, "", false
	}
	after = r.URL.Query().Get("after")
	if after != "" && !validStreamID(after) {
		a.fail(w, r, ErrBadRequest)
		return token{}, "", false
	}
	if err := a.take(r.Context(), t.id, t.issued()); err != nil {
		if !errors.Is(err, ErrNoVisitor) {
			a.log.Error("revocation", "user", t.id, "err", err)
			err = ErrUnavailable
		}
		a.fail(w, r, err)
		return token{}, "", false
	}
	return t, after, true
}

func (a *Adapter) getMessages(w http.ResponseWriter, r *http.Request) {
	t, after, ok := a.transcriptRequest(w, r, false)
	if !ok {
		return
	}
	user := t.id
	a.refreshHeader(w, t)
	es, err := a.entries(r.Context(), user, after)
	if err != nil {
		a.log.Error("transcript", "user", user, "err", err)
		a.fail(w, r, ErrUnavailable)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": es})
}

// validStreamID accepts Redis stream ids ("1700000000000-0").
func validStreamID(s string) bool {
	ms, seq, ok := strings.Cut(s, "-")
	if !ok {
		return false
	}
	_, e1 := strconv.ParseUint(ms, 10, 64)
	_, e2 := strconv.ParseUint(seq, 10, 64)
	return e1 == nil && e2 == nil
}

// decode reads a JSON body into v; an empty body is allowed when optional.
func decode(r *http.Request, v any, optional bool) error {
	b, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return ErrBodyTooBig
	}
	if err != nil {
		return ErrBadRequest
	}
	if len(b) == 0 && optional {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return ErrBadRequest
	}
	return nil
}

type apiError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// apiErr is what a customer is told of an error, on the API and the socket.
func (a *Adapter) apiErr(err error) (int, apiError) {
	code, name := status(err)
	msg := err.Error()
	switch code {
	case http.StatusServiceUnavailable:
		msg = a.texts(a.cfg.Lang).Busy // never show a customer an internal error
	case http.StatusTooManyRequests:
		msg = a.texts(a.cfg.Lang).RateLimited
	}
	return code, apiError{Error: name, Message: msg}
}

func (a *Adapter) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, body := a.apiErr(err)
	if code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter(err)))
	}
	writeJSON(w, code, body)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
