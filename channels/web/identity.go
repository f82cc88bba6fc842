package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/conv"
)

// Identified customers.
//
// A shop whose customer is signed in tells the chat who they are: its server
// computes, with a secret it shares with kefu (Config.IdentitySecret),
//
//	hash = hex(HMAC-SHA256(secret, "kefu-identity-v1\n" + id + "\n" + ts + "\n" + name + "\n" + phone + "\n" + level))
//
// where id is the shop's user id, ts the unix time in seconds the hash was
// made, and name, phone and level are the optional details the agents see
// ("" when not passed). The page passes {id, name, phone, level, ts, hash}
// (Identity) to the chat's session call. kefu recomputes the hash and refuses
// the session when it differs (a forged id, another user's hash, a changed
// name or phone), when the id comes without a hash, and when ts is older
// than Config.IdentityMaxAge: a hash leaked from a page, a log or a shared
// screenshot works for a day (the default), not forever. Every detail shown
// to the agents is covered by the hash; the fixed first line keeps the hash
// from meaning anything else that is signed with the same secret, and no
// value may contain a line break, so the fields cannot be shifted.
//
// A verified customer's web user is "u:" + id (a visitor is a random id
// without a colon, so the two never meet): their thread, conv.ThreadID
// ("web", "u:"+id), is the same on every device, so their phone and their
// laptop share one conversation and one history. The visitor token kefu then
// gives the page (a "v3" token, see visitor.go) carries the id and the
// details under kefu's own signature: it is worth only that user, and
// refreshed like any visitor token, so the shop's hash is checked once per
// session, not per message.

// identityDomain is the first line of the signed text.
const identityDomain = "kefu-identity-v1"

// identityPrefix starts the web user of an identified customer.
const identityPrefix = "u:"

// Identity is a shop's signed-in user as its page passes it (the session
// call's "identity").
type Identity struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	Phone string `json:"phone,omitempty"`
	Level string `json:"level,omitempty"` // member level, e.g. "gold"
	TS    int64  `json:"ts"`              // when the hash was made, unix seconds
	Hash  string `json:"hash"`            // hex HMAC-SHA256, see IdentityHash
}

// UnmarshalJSON takes the id and ts as JSON strings or numbers (a shop
// writing its numeric user id as 10086 means "10086").
func (in *Identity) UnmarshalJSON(b []byte) error {
	var raw struct {
		ID    json.RawMessage `json:"id"`
		Name  string          `json:"name"`
		Phone string          `json:"phone"`
		Level string          `json:"level"`
		TS    json.RawMessage `json:"ts"`
		Hash  string          `json:"hash"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	id, err := stringOrNumber(raw.ID)
	if err != nil {
		return fmt.Errorf("identity id: %w", err)
	}
	tss, err := stringOrNumber(raw.TS)
	if err != nil {
		return fmt.Errorf("identity ts: %w", err)
	}
	var ts int64
	if tss != "" {
		if ts, err = strconv.ParseInt(tss, 10, 64); err != nil {
			return fmt.Errorf("identity ts %q: not unix seconds", tss)
		}
	}
	*in = Identity{ID: id, Name: raw.Name, Phone: raw.Phone, Level: raw.Level, TS: ts, Hash: raw.Hash}
	return nil
}

// stringOrNumber is a JSON string's value or a JSON number's text ("" for
// nothing or null).
func stringOrNumber(b json.RawMessage) (string, error) {
	if len(b) == 0 || string(b) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return "", errors.New("neither a string nor a number")
	}
	return n.String(), nil
}

// Limits on what a page may pass.
const (
	maxIdentityID    = 64 // bytes of [A-Za-z0-9._@+=-]
	maxIdentityName  = 64 // characters
	maxIdentityPhone = 32
	maxIdentityLevel = 32
)

// IdentityHash is the hex HMAC-SHA256 a shop's server computes for one of its
// users (Identity.Hash); it is exported for Go shops and tests.
func IdentityHash(secret []byte, id, name, phone, level string, ts int64) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(identityText(id, name, phone, level, ts)))
	return hex.EncodeToString(m.Sum(nil))
}

func identityText(id, name, phone, level string, ts int64) string {
	return strings.Join([]string{identityDomain, id, strconv.FormatInt(ts, 10), name, phone, level}, "\n")
}

// profile is what a verified identity says about a customer: it is carried
// in the customer's v3 token and written to their conversation.
type profile struct {
	ID    string `json:"i"`
	Name  string `json:"n,omitempty"`
	Phone string `json:"p,omitempty"`
	Level string `json:"l,omitempty"`
}

// user is the web user of an identified customer.
func (p profile) user() string { return identityPrefix + p.ID }

// validIdentityID accepts the shop ids kefu takes as they are: numbers,
// UUIDs, e-mail addresses. A shop with other ids passes them hex-encoded.
func validIdentityID(s string) bool {
	if s == "" || len(s) > maxIdentityID {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("._@+=-", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validDetail accepts a name, phone or level: valid UTF-8, at most max
// characters, no control characters (a line break would shift the signed
// fields).
func validDetail(s string, max int) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// verifyIdentity checks an identity the page passed: well-formed, its hash
// made with the identity secret over exactly these fields (constant-time
// comparison), and not older than the maximum age. It returns the profile
// even with ErrIdentityExpired, so that a page re-presenting an old hash
// with a current token of the same customer keeps its session.
func (a *Adapter) verifyIdentity(in Identity) (profile, error) {
	secret := []byte(a.cfg.IdentitySecret)
	if len(secret) == 0 {
		return profile{}, ErrIdentityOff
	}
	if !validIdentityID(in.ID) || !validDetail(in.Name, maxIdentityName) || !validDetail(in.Phone, maxIdentityPhone) ||
		!validDetail(in.Level, maxIdentityLevel) || in.TS <= 0 {
		return profile{}, fmt.Errorf("%w: malformed", ErrIdentity)
	}
	got, err := hex.DecodeString(in.Hash)
	if err != nil || len(got) != sha256.Size {
		return profile{}, fmt.Errorf("%w: no hash", ErrIdentity)
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(identityText(in.ID, in.Name, in.Phone, in.Level, in.TS)))
	if !hmac.Equal(m.Sum(nil), got) {
		return profile{}, fmt.Errorf("%w: hash mismatch", ErrIdentity)
	}
	p := profile{ID: in.ID, Name: in.Name, Phone: in.Phone, Level: in.Level}
	now, at := a.now(), time.Unix(in.TS, 0)
	if at.Sub(now) > clockSkew {
		return p, fmt.Errorf("%w: issued in the future", ErrIdentity)
	}
	if now.Sub(at) > a.identityMaxAge() {
		return p, ErrIdentityExpired
	}
	return p, nil
}

func (a *Adapter) identityMaxAge() time.Duration {
	if a.cfg.IdentityMaxAge > 0 {
		return a.cfg.IdentityMaxAge
	}
	return 24 * time.Hour
}

// Customer is what the conversation of a web customer says about who they
// are (empty for an anonymous visitor who never signed in).
type Customer struct {
	ID         string `json:"id,omitempty"`    // the shop's user id
	Name       string `json:"name,omitempty"`  //
	Phone      string `json:"phone,omitempty"` //
	Level      string `json:"level,omitempty"` // member level
	SignedInAs string `json:"signed_in_as,omitempty"`
}

// Customer reads who the customer of a conversation is, from the fields the
// web channel writes on it (conv.FieldCustomer*). Other channels'
// conversations give an empty Customer.
func (a *Adapter) Customer(ctx context.Context, thread string) (Customer, error) {
	vs, err := a.rdb.HMGet(ctx, conv.Key(a.prefix, thread), conv.FieldCustomerID, conv.FieldCustomerName,
		conv.FieldCustomerPhone, conv.FieldCustomerLevel, conv.FieldSignedInAs).Result()
	if err != nil {
		return Customer{}, fmt.Errorf("customer %s: %w", thread, err)
	}
	s := func(i int) string { v, _ := vs[i].(string); return v }
	return Customer{ID: s(0), Name: s(1), Phone: s(2), Level: s(3), SignedInAs: s(4)}, nil
}

// profileFields are the conversation's fields profile.lua compares, in its
// order, after the mode.
var profileFields = []string{conv.FieldMode, conv.FieldCustomerID, conv.FieldCustomerName, conv.FieldCustomerPhone,
	conv.FieldCustomerLevel}

// sendAndProfile is Send for an identified customer, with a read of the
// details on their conversation in the same round trip: the script that
// writes them (a second round trip) runs only when they differ, i.e. on
// the conversation's first message and when the shop signed new ones.
func (a *Adapter) sendAndProfile(ctx context.Context, out bot.Outbound, p profile) error {
	var have *redis.SliceCmd
	_, err := a.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		have = pipe.HMGet(ctx, conv.Key(a.prefix, out.Conv), profileFields...)
		pipe.Publish(ctx, a.pushChannel(out.User), out.Kind)
		return nil
	})
	if err != nil {
		return fmt.Errorf("send %s: %w", out.Conv, err)
	}
	vs := have.Val()
	str := func(i int) string { v, _ := vs[i].(string); return v }
	if vs[0] == nil || (str(1) == p.ID && str(2) == p.Name && str(3) == p.Phone && str(4) == p.Level) {
		return nil // no conversation, or nothing new
	}
	_, err = a.writeProfile(ctx, out.Conv, p, "")
	return err
}

// writeProfile writes who an identified customer is on a thread's
// conversation, with its event, when the conversation exists and something
// changed (signedInAs: on a visitor's thread, the identified thread it
// signed in as). It returns the conversation's mode ("" when none). One round
// trip.
func (a *Adapter) writeProfile(ctx context.Context, thread string, p profile, signedInAs string) (string, error) {
	mode, err := profileScript.Run(ctx, a.rdb, []string{conv.Key(a.prefix, thread)}, a.prefix, thread,
		a.now().UnixMilli(), p.ID, p.Name, p.Phone, p.Level, signedInAs).Text()
	if err != nil {
		return "", fmt.Errorf("profile %s: %w", thread, err)
	}
	return mode, nil
}
