package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// A visitor token names one web customer: "v1.<id>.<mac>", where id is 16
// random bytes and mac an HMAC-SHA256 of it under the gateway's secret, both
// base64url. Only the gateway can mint one, so a customer cannot read another
// customer's conversation by guessing or changing an id.

const tokenVersion = "v1"

// newVisitorID returns a fresh random visitor id.
func newVisitorID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux (Go ≥ 1.24 panics instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

func sign(secret []byte, id string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(tokenVersion + "." + id))
	return tokenVersion + "." + id + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// verify returns the visitor id of a token signed with secret.
func verify(secret []byte, token string) (string, bool) {
	v, rest, ok := strings.Cut(token, ".")
	if !ok || v != tokenVersion {
		return "", false
	}
	id, _, ok := strings.Cut(rest, ".")
	if !ok || len(id) != 22 {
		return "", false
	}
	want := sign(secret, id)
	if !hmac.Equal([]byte(want), []byte(token)) {
		return "", false
	}
	return id, true
}
