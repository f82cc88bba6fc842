package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/kefu-dev/kefu/handoff"
)

// cookieName is the session cookie. Its value is a random id; Redis keeps
// only its SHA-256, so a copy of Redis does not hand out sessions.
const cookieName = "kefu_console"

// csrfHeader carries the session's CSRF token on every state-changing call.
const csrfHeader = "X-CSRF-Token"

// session is a signed-in agent.
type session struct {
	key   string // Redis key
	agent Agent
	csrf  string
}

func (s *session) supervisor() bool { return s.agent.Role == RoleSupervisor }

func (c *Console) sessionKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return c.cfg.KeyPrefix + "session:" + hex.EncodeToString(sum[:])
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// load finds the request's session (and slides its expiry).
func (c *Console) load(r *http.Request) (*session, error) {
	ck, err := r.Cookie(cookieName)
	if err != nil || ck.Value == "" {
		return nil, ErrUnauthenticated
	}
	key := c.sessionKey(ck.Value)
	ctx := r.Context()
	var h *redis.MapStringStringCmd
	_, err = c.deps.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		h = p.HGetAll(ctx, key)
		p.Expire(ctx, key, c.cfg.SessionTTL)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	m := h.Val()
	a, ok := c.agents[m["agent"]]
	if !ok || m["csrf"] == "" {
		return nil, ErrUnauthenticated
	}
	return &session{key: key, agent: a, csrf: m["csrf"]}, nil
}

// authed wraps a handler that needs a session. A state-changing call must
// also come from the console's own origin (Origin / Sec-Fetch-Site, or a
// trusted origin) and carry the session's CSRF token in X-CSRF-Token.
func (c *Console) authed(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		safe := r.Method == http.MethodGet || r.Method == http.MethodHead
		if !safe {
			if err := c.cop.Check(r); err != nil {
				c.fail(w, r, fmt.Errorf("%w: %w", ErrOrigin, err))
				return
			}
		}
		s, err := c.load(r)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if !safe && subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(s.csrf)) != 1 {
			c.fail(w, r, ErrCSRF)
			return
		}
		h(w, r, s)
	}
}

// editor wraps a handler only editors and supervisors may call.
func (c *Console) editor(h func(http.ResponseWriter, *http.Request, *session)) func(http.ResponseWriter, *http.Request, *session) {
	return func(w http.ResponseWriter, r *http.Request, s *session) {
		if s.agent.Role != RoleEditor && !s.supervisor() {
			c.fail(w, r, ErrEditorsOnly)
			return
		}
		h(w, r, s)
	}
}

// supervisor wraps a handler only supervisors may call.
func (c *Console) supervisor(h func(http.ResponseWriter, *http.Request, *session)) func(http.ResponseWriter, *http.Request, *session) {
	return func(w http.ResponseWriter, r *http.Request, s *session) {
		if !s.supervisor() {
			c.fail(w, r, ErrForbidden)
			return
		}
		h(w, r, s)
	}
}

type signInReq struct {
	ID       string `json:"id"`
	Password string `json:"password"`
}

// signIn checks the password, opens a session and puts the agent online.
// Only failures count (limit.go): per client address and per (agent,
// address) pair, each locked with a growing back-off once over its limit.
// A locked attempt is refused with 429 and Retry-After before its password
// is checked, even when that password is right.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	if err := c.cop.Check(r); err != nil {
		c.fail(w, r, fmt.Errorf("%w: %w", ErrOrigin, err))
		return
	}
	var req signInReq
	if err := decode(r, &req); err != nil {
		c.fail(w, r, err)
		return
	}
	ctx := r.Context()
	ip := c.deps.ClientIP(r)
	keys := c.signInKeys(req.ID, ip)
	if err := c.signInLocked(ctx, keys); err != nil {
		c.log.WarnContext(ctx, "console: sign-in refused while locked", "agent", req.ID, "ip", ip)
		c.fail(w, r, err)
		return
	}
	a, known := c.agents[req.ID]
	known = known && validAgentID(req.ID) // the pair's key needs a valid id
	// An unknown agent costs as much time as a wrong password.
	hash := c.dummy
	if known {
		hash = []byte(a.PasswordHash)
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(req.Password)) != nil || !known {
		placed, err := c.signInFailed(ctx, keys)
		switch {
		case err != nil: // a lock met meanwhile, or Redis failed
			c.fail(w, r, err)
		case placed:
			c.log.WarnContext(ctx, "console: sign-in failed; locked", "agent", req.ID, "ip", ip)
			c.fail(w, r, ErrBadCredentials)
		default:
			c.log.WarnContext(ctx, "console: sign-in failed", "agent", req.ID, "ip", ip)
			c.fail(w, r, ErrBadCredentials)
		}
		return
	}
	if err := c.signInAdmitted(ctx, keys); err != nil {
		c.log.WarnContext(ctx, "console: sign-in refused while locked", "agent", req.ID, "ip", ip)
		c.fail(w, r, err)
		return
	}
	if a.Role != RoleEditor { // an editor handles no conversations
		if err := c.goOnline(r, a); err != nil {
			c.fail(w, r, err)
			return
		}
	}
	id, err1 := randomToken()
	csrf, err2 := randomToken()
	if err1 != nil || err2 != nil {
		c.fail(w, r, fmt.Errorf("sign in: random: %v %v", err1, err2))
		return
	}
	s := &session{key: c.sessionKey(id), agent: a, csrf: csrf}
	_, err := c.deps.Redis.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.key, "agent", a.ID, "csrf", csrf, "created", c.deps.Now().UnixMilli(), "ip", ip)
		p.Expire(ctx, s.key, c.cfg.SessionTTL)
		return nil
	})
	if err != nil {
		c.fail(w, r, fmt.Errorf("sign in: %w", err))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: c.cfg.Path, HttpOnly: true,
		Secure: c.cfg.SecureCookie, SameSite: http.SameSiteStrictMode, MaxAge: int(c.cfg.SessionTTL.Seconds())})
	c.log.InfoContext(ctx, "console: signed in", "agent", a.ID, "ip", ip)
	writeJSON(w, http.StatusOK, c.meBody(s))
}

// goOnline tells the queue the agent is there, with their groups and
// capacity.
func (c *Console) goOnline(r *http.Request, a Agent) error {
	return c.deps.Queue.AgentOnline(r.Context(), handoff.Agent{ID: a.ID, Name: a.Name, Groups: a.Groups, Max: a.MaxChats})
}

// signOut ends the session and takes the agent offline: the conversations
// they held go back in line, in their places.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	if err := c.deps.Redis.Del(ctx, s.key, c.claimsKey(s.agent.ID)).Err(); err != nil {
		c.fail(w, r, fmt.Errorf("sign out: %w", err))
		return
	}
	requeued, err := c.deps.Queue.AgentOffline(ctx, s.agent.ID)
	if err != nil {
		c.log.ErrorContext(ctx, "console: agent offline", "agent", s.agent.ID, "err", err)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: c.cfg.Path, HttpOnly: true,
		Secure: c.cfg.SecureCookie, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	c.log.InfoContext(ctx, "console: signed out", "agent", s.agent.ID, "requeued", len(requeued))
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "requeued": nonNil(requeued)})
}

// meBody is who is signed in and what the page needs to run.
type meBody struct {
	Agent struct {
		ID       string   `json:"id"`
		Name     string   `json:"name"`
		Role     string   `json:"role"`
		Groups   []string `json:"groups"`
		MaxChats int      `json:"max_chats"`
	} `json:"agent"`
	CSRF        string   `json:"csrf"`
	Groups      []string `json:"groups"`     // the queues this agent sees
	AllGroups   []string `json:"all_groups"` // transfer targets
	HeartbeatMS int64    `json:"heartbeat_ms"`
	LeaseMS     int64    `json:"lease_ms"`
	Names       Names    `json:"names"` // display names of groups, reasons, channels (console.names)
	EnterSends  bool     `json:"enter_sends"`
	// Labels are the labels agents may put on a conversation (console.labels).
	Labels []WrapUpOption `json:"labels"`
}

func (c *Console) meBody(s *session) meBody {
	var b meBody
	b.Agent.ID, b.Agent.Name, b.Agent.Role = s.agent.ID, s.agent.Name, s.agent.Role
	b.Agent.Groups, b.Agent.MaxChats = nonNil(s.agent.Groups), s.agent.MaxChats
	b.CSRF = s.csrf
	b.Groups = c.visibleGroups(s)
	b.AllGroups = nonNil(c.deps.Queue.Config().Groups)
	b.HeartbeatMS = c.cfg.Heartbeat.Milliseconds()
	b.LeaseMS = c.deps.Queue.Config().Lease.Milliseconds()
	b.Names = c.cfg.Names
	b.EnterSends = c.cfg.EnterSends == nil || *c.cfg.EnterSends
	b.Labels = make([]WrapUpOption, 0, len(c.cfg.Labels))
	for _, l := range c.cfg.Labels {
		b.Labels = append(b.Labels, WrapUpOption{ID: l.ID, Name: l.Name})
	}
	for _, m := range []*map[string]string{&b.Names.Groups, &b.Names.Reasons, &b.Names.Channels} {
		if *m == nil {
			*m = map[string]string{}
		}
	}
	return b
}

// visibleGroups are the queues an agent sees: their own, or every group for
// a supervisor.
func (c *Console) visibleGroups(s *session) []string {
	all := c.deps.Queue.Config().Groups
	if s.supervisor() {
		return nonNil(slices.Clone(all))
	}
	var out []string
	for _, g := range s.agent.Groups {
		if slices.Contains(all, g) {
			out = append(out, g)
		}
	}
	return nonNil(out)
}

func (c *Console) me(w http.ResponseWriter, r *http.Request, s *session) {
	writeJSON(w, http.StatusOK, c.meBody(s))
}

// online puts the agent online (the page calls it when it opens, and after
// the queue reported the agent offline).
func (c *Console) online(w http.ResponseWriter, r *http.Request, s *session) {
	if err := c.goOnline(r, s.agent); err != nil {
		c.fail(w, r, err)
		return
	}
	st, err := c.deps.Queue.AgentStatus(r.Context(), s.agent.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "status": st})
}

type statusReq struct {
	Status string `json:"status"` // handoff.StatusOnline, StatusBusy or StatusAway
}

// status sets the agent's own status: online (offers and new chats),
// busy (keeps their conversations, gets no new ones), away.
func (c *Console) status(w http.ResponseWriter, r *http.Request, s *session) {
	var req statusReq
	if err := decode(r, &req); err != nil {
		c.fail(w, r, err)
		return
	}
	if err := c.deps.Queue.SetStatus(r.Context(), s.agent.ID, req.Status); err != nil {
		c.fail(w, r, err)
		return
	}
	c.log.InfoContext(r.Context(), "console: status", "agent", s.agent.ID, "status", req.Status)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "status": req.Status})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
