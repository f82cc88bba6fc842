package web

import (
	"strings"
	"testing"
)

func TestVisitorToken(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	id := newVisitorID()
	tok := sign(secret, id)
	if got, ok := verify(secret, tok); !ok || got != id {
		t.Fatalf("verify(sign(%s)) = %q, %v", id, got, ok)
	}
	other := newVisitorID()
	forged := strings.Replace(tok, id, other, 1) // someone else's id with this mac
	bad := []struct{ name, tok string }{
		{"empty", ""},
		{"other id, same mac", forged},
		{"other secret", sign([]byte("another secret, 32 bytes long!!!"), id)},
		{"truncated mac", tok[:len(tok)-2]},
		{"wrong version", "v2" + tok[2:]},
		{"no mac", "v1." + id},
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
