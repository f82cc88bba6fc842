package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A visitor token names one web customer and when it was issued:
// "v2.<id>.<iat>.<mac>", where id is 16 random bytes (base64url), iat the
// issue time in unix seconds, and mac an HMAC-SHA256 of "v2.<id>.<iat>"
// under the gateway's secret (18 bytes, base64url). Only the gateway can mint
// one, so a customer cannot read another customer's conversation by guessing
// or changing an id, nor make a token look younger than it is.
//
// A token older than the configured ttl is refused; one older than the
// refresh age is replaced by a fresh one (same visitor) when used, so an
// active customer never loses their conversation and an abandoned token
// dies. An operator revokes a visitor (Revoke): every token of it issued
// before that moment is refused, and none is refreshed.
//
// The first format, "v1.<id>.<mac>", has no issue time: it is accepted only
// by the session call, exchanged for a v2 token of the same visitor, and only
// until the configured day (Config.V1Until); afterwards it is refused like a
// forged token and the page starts a new visitor.
//
// An identified customer (identity.go) gets "v3.<profile>.<iat>.<mac>",
// where profile is the base64url JSON of the shop's user id and the details
// its server signed, and mac covers "v3.<profile>.<iat>" as above: the token
// is worth that user only (web user "u:<id>"), with those details, and ages
// and is refreshed and revoked like a visitor's.

const (
	tokenV1 = "v1"
	tokenV2 = "v2"
	tokenV3 = "v3"
)

// newVisitorID returns a fresh random visitor id.
func newVisitorID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux (Go ≥ 1.24 panics instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

func mac(secret []byte, payload string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// sign returns a v2 token of visitor id issued at iat.
func sign(secret []byte, id string, iat time.Time) string {
	payload := tokenV2 + "." + id + "." + strconv.FormatInt(iat.Unix(), 10)
	return payload + "." + mac(secret, payload)
}

// signProfile returns a v3 token of an identified customer issued at iat.
func signProfile(secret []byte, p profile, iat time.Time) string {
	b, _ := json.Marshal(p)
	payload := tokenV3 + "." + base64.RawURLEncoding.EncodeToString(b) + "." + strconv.FormatInt(iat.Unix(), 10)
	return payload + "." + mac(secret, payload)
}

// signToken returns a fresh token of t's customer, issued at iat.
func signToken(secret []byte, t token, iat time.Time) string {
	if t.prof != nil {
		return signProfile(secret, *t.prof, iat)
	}
	return sign(secret, t.id, iat)
}

// signV1 returns a token in the first format (tests of the transition only).
func signV1(secret []byte, id string) string {
	payload := tokenV1 + "." + id
	return payload + "." + mac(secret, payload)
}

// token is what a verified token says.
type token struct {
	id   string
	iat  time.Time // zero for a v1 token
	prof *profile  // an identified customer's (v3); nil for a visitor
}

// identified reports a token of an identified customer.
func (t token) identified() bool { return t.prof != nil }

// verify returns what a token signed with secret says, whatever its age.
func verify(secret []byte, tok string) (token, bool) {
	if len(secret) == 0 {
		return token{}, false
	}
	parts := strings.Split(tok, ".")
	var t token
	switch {
	case len(parts) == 3 && parts[0] == tokenV1:
		t.id = parts[1]
	case len(parts) == 4 && (parts[0] == tokenV2 || parts[0] == tokenV3):
		sec, err := strconv.ParseInt(parts[2], 10, 64)
		if err != nil || sec <= 0 || strconv.FormatInt(sec, 10) != parts[2] {
			return token{}, false
		}
		t.id, t.iat = parts[1], time.Unix(sec, 0)
	default:
		return token{}, false
	}
	if parts[0] != tokenV3 && len(t.id) != 22 {
		return token{}, false
	}
	payload := tok[:strings.LastIndexByte(tok, '.')]
	if !hmac.Equal([]byte(mac(secret, payload)), []byte(parts[len(parts)-1])) {
		return token{}, false
	}
	if parts[0] == tokenV3 { // signed by this gateway: decoded only now
		var p profile
		b, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil || json.Unmarshal(b, &p) != nil || !validIdentityID(p.ID) {
			return token{}, false
		}
		t.id, t.prof = p.user(), &p
	}
	return t, true
}

// clockSkew is how far in the future an issue time may be (another
// instance's clock).
const clockSkew = 5 * time.Minute

// current reports whether a verified token may be used now: a v2 token
// younger than the ttl, or (session only, allowV1) a v1 token before the
// transition's end.
func (a *Adapter) current(t token, allowV1 bool) bool {
	now := a.now()
	if t.iat.IsZero() {
		return allowV1 && !a.cfg.V1Until.IsZero() && now.Before(a.cfg.V1Until)
	}
	return now.Sub(t.iat) <= a.tokenTTL() && t.iat.Sub(now) <= clockSkew
}

// refreshed returns a fresh token for a visitor whose token is older than
// the refresh age (or a v1 token), or "" when it is young enough.
func (a *Adapter) refreshed(t token) string {
	if !t.iat.IsZero() && a.now().Sub(t.iat) < a.tokenRefresh() {
		return ""
	}
	return signToken(a.signingSecret(), t, a.now())
}

func (a *Adapter) tokenTTL() time.Duration {
	if a.cfg.TokenTTL > 0 {
		return a.cfg.TokenTTL
	}
	return 30 * 24 * time.Hour
}

func (a *Adapter) tokenRefresh() time.Duration {
	if a.cfg.TokenRefresh > 0 {
		return a.cfg.TokenRefresh
	}
	return 24 * time.Hour
}

// Revoke refuses every token of a visitor issued until now, on every
// instance, and closes the visitor's open sockets: the customer's page
// starts a new visitor (the conversation stays in Redis for the agents). The
// mark lives as long as a token does (and until Config.V1Until): any token
// it refuses has expired by then.
func (a *Adapter) Revoke(ctx context.Context, visitor string) error {
	// +1 ms: a token issued in this very second is refused too.
	now := a.now()
	nb := now.UnixMilli() + 1
	// Until the last old-format token (no issue time) can still be
	// exchanged, the mark must outlive that day too.
	ttl := max(a.tokenTTL(), a.cfg.V1Until.Sub(now)) + clockSkew
	if err := a.rdb.Set(ctx, a.revokedKey(visitor), nb, ttl).Err(); err != nil {
		return fmt.Errorf("revoke %s: %w", visitor, err)
	}
	if err := a.rdb.Publish(ctx, a.pushChannel(visitor), pushRevoked).Err(); err != nil {
		return fmt.Errorf("revoke %s: %w", visitor, err)
	}
	return nil
}
