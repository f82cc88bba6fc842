package console

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// Roles an agent may have.
const (
	RoleAgent      = "agent"      // claims and handles conversations of their groups
	RoleSupervisor = "supervisor" // also sees every group, reassigns, and reads the figures
	// RoleEditor keeps the FAQ: reads the editors' page (what the bot did
	// not answer well) and handles no conversations. Supervisors see the
	// page too.
	RoleEditor = "editor"
)

// WrapUpLabel is a label an agent may give a conversation they close
// besides the FAQ's intents: what it was about when no intent says it
// (物流纠纷, 其他).
type WrapUpLabel struct {
	ID   string `yaml:"id"`   // kept in the archive: lower-case letters, digits and _
	Name string `yaml:"name"` // what agents see (default: ID)
}

// DefaultWrapUpLabels are the labels when the configuration names none.
var DefaultWrapUpLabels = []WrapUpLabel{{ID: "logistics_dispute", Name: "物流纠纷"}, {ID: "other", Name: "其他"}}

// Agent is a person who may sign in to the console.
type Agent struct {
	ID   string `yaml:"id"`   // sign-in name; letters, digits, _ - . @
	Name string `yaml:"name"` // display name (default: ID)
	// PasswordHash is the bcrypt hash of the password (HashPassword, or
	// `htpasswd -nbBC 10 "" PASSWORD | tr -d ':\n'`). Never the password.
	PasswordHash string   `yaml:"password_hash"`
	Groups       []string `yaml:"groups"`    // skill groups (the queue's)
	MaxChats     int      `yaml:"max_chats"` // concurrent chats; default 3
	Role         string   `yaml:"role"`      // RoleAgent (default), RoleSupervisor or RoleEditor
}

// Config is the console's configuration. Zero values take the defaults
// noted.
type Config struct {
	// Path is the URL prefix everything is served under. Default "/console".
	Path string `yaml:"path"`
	// Agents who may sign in.
	Agents []Agent `yaml:"agents"`
	// KeyPrefix of the console's Redis keys (sessions, sign-in counters,
	// claims). Default "{kefu}:console:".
	KeyPrefix string `yaml:"key_prefix"`
	// SessionTTL is how long a session lives after its last use. Default 12 h.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// The sign-in limit counts failed sign-ins only (a wrong password or an
	// unknown agent id), shared by every instance through Redis, per client
	// address (Deps.ClientIP: through server.trusted_proxies) and per (agent
	// id, address) pair. A count that reaches its limit locks what it counts
	// for SignInLock; each further failure once that lock has ended doubles
	// the next lock, up to SignInMaxLock. An attempt under a lock is refused
	// with 429 and Retry-After, unchecked and uncounted. A success clears its
	// pair's count; no count is per agent alone, so failures from one address
	// never lock an agent out at another.
	//
	// SignInFailures is the limit per (agent, address) pair. Default 5.
	SignInFailures int `yaml:"signin_failures"`
	// SignInFailuresPerIP is the limit per address, whatever agent ids are
	// tried. Default 20.
	SignInFailuresPerIP int `yaml:"signin_failures_per_ip"`
	// SignInWindow is how long failures are remembered: from the first, or
	// from the end of the last lock. Default 15 min.
	SignInWindow time.Duration `yaml:"signin_window"`
	// SignInLock is the first lock. Default 1 min.
	SignInLock time.Duration `yaml:"signin_lock"`
	// SignInMaxLock caps the back-off. Default 1 h.
	SignInMaxLock time.Duration `yaml:"signin_max_lock"`
	// Heartbeat is how often the page heartbeats its claims. Default: a
	// third of the queue's lease.
	Heartbeat time.Duration `yaml:"heartbeat"`
	// Poll is how often a live event stream looks for new events in Redis.
	// Default 500 ms.
	Poll time.Duration `yaml:"poll"`
	// TrustedOrigins are other origins ("https://admin.example.com") allowed
	// to make state-changing calls; the console's own origin always is.
	TrustedOrigins []string `yaml:"trusted_origins"`
	// SecureCookie sets the Secure flag on the session cookie (serve the
	// console over TLS, directly or behind a proxy).
	SecureCookie bool `yaml:"secure_cookie"`
	// MaxReplyLen caps an agent's reply, in characters. Default 4000.
	MaxReplyLen int `yaml:"max_reply_len"`
	// QueueView is how many conversations per group the queue view lists:
	// the head of the queue, with its length. Default 50.
	QueueView int `yaml:"queue_view"`
	// WrapUpLabels are what an agent may say a conversation was about when
	// they close it, besides the FAQ's intents. Default
	// DefaultWrapUpLabels.
	WrapUpLabels []WrapUpLabel `yaml:"wrapup_labels"`
	// Labels are the labels (tags) agents may put on a conversation at any
	// time, kept in the archive, searchable and a report dimension; the
	// same id and name rules as WrapUpLabels. Default: WrapUpLabels.
	Labels []WrapUpLabel `yaml:"labels"`
	// Names are what agents read instead of ids: skill groups, hand-off
	// reasons and channels, id -> name. The page's message catalogue names
	// the default groups, every reason and every channel (in Chinese, or
	// English); a name given here wins in every language.
	Names Names `yaml:"names"`
	// EnterSends: in the reply box Enter sends and Shift+Enter adds a line
	// (as in WeChat). false: Enter adds a line and Ctrl+Enter sends. Ctrl+
	// Enter always sends. Default true.
	EnterSends *bool `yaml:"enter_sends"`
}

// Names maps ids to the names agents read.
type Names struct {
	Groups   map[string]string `yaml:"groups" json:"groups"`
	Reasons  map[string]string `yaml:"reasons" json:"reasons"`
	Channels map[string]string `yaml:"channels" json:"channels"`
}

func (c *Config) withDefaults() {
	if c.Path == "" {
		c.Path = "/console"
	}
	c.Path = "/" + strings.Trim(c.Path, "/")
	if c.KeyPrefix == "" {
		c.KeyPrefix = "{kefu}:console:"
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = 12 * time.Hour
	}
	if c.SignInFailures <= 0 {
		c.SignInFailures = 5
	}
	if c.SignInFailuresPerIP <= 0 {
		c.SignInFailuresPerIP = 20
	}
	if c.SignInWindow <= 0 {
		c.SignInWindow = 15 * time.Minute
	}
	if c.SignInLock <= 0 {
		c.SignInLock = time.Minute
	}
	if c.SignInMaxLock <= 0 {
		c.SignInMaxLock = time.Hour
	}
	c.SignInMaxLock = max(c.SignInMaxLock, c.SignInLock)
	if c.Poll <= 0 {
		c.Poll = 500 * time.Millisecond
	}
	if c.MaxReplyLen <= 0 {
		c.MaxReplyLen = 4000
	}
	if c.QueueView <= 0 {
		c.QueueView = 50
	}
	if len(c.WrapUpLabels) == 0 {
		c.WrapUpLabels = DefaultWrapUpLabels
	}
	labels := make([]WrapUpLabel, len(c.WrapUpLabels))
	for i, l := range c.WrapUpLabels {
		if l.Name == "" {
			l.Name = l.ID
		}
		labels[i] = l
	}
	c.WrapUpLabels = labels
	if len(c.Labels) == 0 {
		c.Labels = c.WrapUpLabels
	}
	tags := make([]WrapUpLabel, len(c.Labels))
	for i, l := range c.Labels {
		if l.Name == "" {
			l.Name = l.ID
		}
		tags[i] = l
	}
	c.Labels = tags
}

// Validate reports every problem with the configuration at once: agent ids
// missing, repeated or with characters keys cannot hold, password hashes
// that are not bcrypt, unknown roles, negative limits.
func (c Config) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for i, a := range c.Agents {
		switch {
		case !validAgentID(a.ID):
			errs = append(errs, fmt.Errorf("agents[%d]: id %q: want 1-64 letters, digits, _ - . @", i, a.ID))
		case seen[a.ID]:
			errs = append(errs, fmt.Errorf("agents[%d]: id %q repeated", i, a.ID))
		}
		seen[a.ID] = true
		if _, err := bcrypt.Cost([]byte(a.PasswordHash)); err != nil {
			errs = append(errs, fmt.Errorf("agents[%d] %s: password_hash is not a bcrypt hash", i, a.ID))
		}
		if a.Role != "" && a.Role != RoleAgent && a.Role != RoleSupervisor && a.Role != RoleEditor {
			errs = append(errs, fmt.Errorf("agents[%d] %s: role %q: want agent, supervisor or editor", i, a.ID, a.Role))
		}
		if a.MaxChats < 0 {
			errs = append(errs, fmt.Errorf("agents[%d] %s: max_chats %d is negative", i, a.ID, a.MaxChats))
		}
		if len(a.Groups) == 0 && a.Role != RoleSupervisor && a.Role != RoleEditor {
			errs = append(errs, fmt.Errorf("agents[%d] %s: no groups", i, a.ID))
		}
	}
	seenLabel := map[string]bool{}
	for i, l := range c.WrapUpLabels {
		switch {
		case !wrapUpIDRE.MatchString(l.ID):
			errs = append(errs, fmt.Errorf("wrapup_labels[%d]: id %q: use lower-case letters, digits and _ (like logistics_dispute)", i, l.ID))
		case seenLabel[l.ID]:
			errs = append(errs, fmt.Errorf("wrapup_labels[%d]: id %q repeated", i, l.ID))
		}
		seenLabel[l.ID] = true
		if utf8.RuneCountInString(l.Name) > 32 {
			errs = append(errs, fmt.Errorf("wrapup_labels[%d] %s: name longer than 32 characters", i, l.ID))
		}
	}
	seenTag := map[string]bool{}
	for i, l := range c.Labels {
		switch {
		case !wrapUpIDRE.MatchString(l.ID):
			errs = append(errs, fmt.Errorf("labels[%d]: id %q: use lower-case letters, digits and _ (like vip_customer)", i, l.ID))
		case seenTag[l.ID]:
			errs = append(errs, fmt.Errorf("labels[%d]: id %q repeated", i, l.ID))
		}
		seenTag[l.ID] = true
		if utf8.RuneCountInString(l.Name) > 32 {
			errs = append(errs, fmt.Errorf("labels[%d] %s: name longer than 32 characters", i, l.ID))
		}
	}
	if c.SessionTTL < 0 || c.SignInWindow < 0 || c.SignInLock < 0 || c.SignInMaxLock < 0 || c.Heartbeat < 0 || c.Poll < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	if c.SignInFailures < 0 || c.SignInFailuresPerIP < 0 || c.MaxReplyLen < 0 {
		errs = append(errs, errors.New("signin_failures, signin_failures_per_ip and max_reply_len must not be negative"))
	}
	for kind, m := range map[string]map[string]string{"groups": c.Names.Groups, "reasons": c.Names.Reasons, "channels": c.Names.Channels} {
		for id, name := range m {
			if strings.TrimSpace(name) == "" || utf8.RuneCountInString(name) > 64 {
				errs = append(errs, fmt.Errorf("names.%s.%s: want 1-64 characters", kind, id))
			}
		}
	}
	if c.SignInLock > 0 && c.SignInMaxLock > 0 && c.SignInMaxLock < c.SignInLock {
		errs = append(errs, fmt.Errorf("signin_max_lock %s is shorter than signin_lock %s", c.SignInMaxLock, c.SignInLock))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

var wrapUpIDRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

func validAgentID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '_' || r == '-' || r == '.' || r == '@'
		if !ok {
			return false
		}
	}
	return true
}

// HashPassword returns the bcrypt hash of a password, for Agent.PasswordHash.
func HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// DemoAgent returns a supervisor "demo" in every given group with a fresh
// random password (returned in clear, for the start-up log of a
// configuration that has no agents: the only time it is ever shown).
func DemoAgent(groups []string) (Agent, string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return Agent{}, "", fmt.Errorf("demo agent: %w", err)
	}
	pw := base64.RawURLEncoding.EncodeToString(b)
	h, err := HashPassword(pw)
	if err != nil {
		return Agent{}, "", err
	}
	return Agent{ID: "demo", Name: "Demo", PasswordHash: h, Groups: groups, MaxChats: 5, Role: RoleSupervisor}, pw, nil
}
