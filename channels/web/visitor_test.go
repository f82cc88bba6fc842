package web

import (
	"strings"
	"testing"
	"time"
)

func TestVisitorToken(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	id := newVisitorID()
	iat := time.Unix(1_800_000_000, 0)
	tok := sign(secret, id, iat)
	if got, ok := verify(secret, tok); !ok || got.id != id || !got.iat.Equal(iat) {
		t.Fatalf("verify(sign(%s)) = %+v, %v", id, got, ok)
	}
	if got, ok := verify(secret, signV1(secret, id)); !ok || got.id != id || !got.iat.IsZero() {
		t.Fatalf("verify(v1) = %+v, %v", got, ok)
	}
	other := newVisitorID()
	parts := strings.Split(tok, ".")
	bad := []struct{ name, tok string }{
		{"empty", ""},
		{"other id, same mac", strings.Replace(tok, id, other, 1)},
		{"younger issue time, same mac", strings.Join([]string{parts[0], parts[1], "1900000000", parts[3]}, ".")},
		{"issue time with a leading zero", strings.Join([]string{parts[0], parts[1], "0" + parts[2], parts[3]}, ".")},
		{"v2 mac as v1", "v1." + id + "." + parts[3]},
		{"other secret", sign([]byte("another secret, 32 bytes long!!!"), id, iat)},
		{"truncated mac", tok[:len(tok)-2]},
		{"wrong version", "v3" + tok[2:]},
		{"no mac", "v2." + id + "." + parts[2]},
	}
	for _, b := range bad {
		if _, ok := verify(secret, b.tok); ok {
			t.Errorf("%s: %q verified", b.name, b.tok)
		}
	}
	if newVisitorID() == id {
		t.Error("two visitor ids are equal")
	}
}

func TestValidStreamID(t *testing.T) {
	for s, want := range map[string]bool{"1700000000000-0": true, "1-2": true, "": false, "abc": false, "1-x": false, "-1": false, "1700000000000": false} {
		if validStreamID(s) != want {
			t.Errorf("validStreamID(%q) = %v", s, !want)
		}
	}
}
