package media

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Prefix is the path under which the gateway serves signed links.
const Prefix = "/media/"

// Signer makes and checks signed links: HMAC-SHA256 of the key and the
// expiry (unix seconds) under the link secret. A link works until its
// expiry, for whoever has it; changing the key or the expiry breaks its
// signature.
type Signer struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
}

// NewSigner makes a Signer; ttl <= 0 is DefaultLinkTTL; now nil is time.Now.
func NewSigner(secret []byte, ttl time.Duration, now func() time.Time) (*Signer, error) {
	if len(secret) < 16 {
		return nil, ErrNoSecret
	}
	if ttl <= 0 {
		ttl = DefaultLinkTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Signer{secret: append([]byte(nil), secret...), ttl: ttl, now: now}, nil
}

func (s *Signer) mac(key string, exp int64) string {
	m := hmac.New(sha256.New, s.secret)
	fmt.Fprintf(m, "kefu-media-v1\n%s\n%d", key, exp)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// URL is the signed link of key (a path: the gateway's own origin), valid
// for the Signer's ttl. Empty for an invalid key.
func (s *Signer) URL(key string) string {
	if !ValidKey(key) {
		return ""
	}
	exp := s.now().Add(s.ttl).Unix()
	return Prefix + key + "?exp=" + strconv.FormatInt(exp, 10) + "&sig=" + s.mac(key, exp)
}

// Verify checks a link's key, expiry and signature: ErrBadSig for a key or
// an expiry that is not the signed one, ErrExpired after the expiry.
func (s *Signer) Verify(key, exp, sig string) error {
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !ValidKey(key) {
		return ErrBadSig
	}
	if !hmac.Equal([]byte(sig), []byte(s.mac(key, e))) {
		return ErrBadSig
	}
	if s.now().Unix() >= e {
		return ErrExpired
	}
	return nil
}

// Handler serves GET /media/<key>?exp=&sig= from store: 403 for an expired
// or tampered link, 404 for a file that is gone. The file is served as the
// image type it was stored as, never sniffed by the browser, with no
// script allowed and cached only until the link expires.
func Handler(store Store, signer *Signer, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		key, ok := strings.CutPrefix(r.URL.Path, Prefix)
		q := r.URL.Query()
		if !ok {
			http.NotFound(w, r)
			return
		}
		if err := signer.Verify(key, q.Get("exp"), q.Get("sig")); err != nil {
			http.Error(w, "forbidden: "+err.Error(), http.StatusForbidden)
			return
		}
		rc, info, err := store.Get(r.Context(), key)
		if errors.Is(err, ErrNotFound) {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			log.ErrorContext(r.Context(), "media: get", "key", key, "err", err)
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		defer rc.Close()
		exp, _ := strconv.ParseInt(q.Get("exp"), 10, 64)
		left := max(exp-signer.now().Unix(), 0)
		h := w.Header()
		h.Set("Content-Type", info.ContentType)
		if info.Size > 0 {
			h.Set("Content-Length", strconv.FormatInt(info.Size, 10))
		}
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
		h.Set("Cache-Control", "private, max-age="+strconv.FormatInt(left, 10))
		h.Set("Content-Disposition", "inline")
		h.Set("Referrer-Policy", "no-referrer")
		if r.Method == http.MethodHead {
			return
		}
		if _, err := io.Copy(w, rc); err != nil {
			log.WarnContext(r.Context(), "media: send", "key", key, "err", err)
		}
	})
}

// KeyOfURL is the key of a signed link made by URL (its path), or "".
func KeyOfURL(link string) string {
	u, err := url.Parse(link)
	if err != nil {
		return ""
	}
	k, ok := strings.CutPrefix(u.Path, Prefix)
	if !ok || !ValidKey(k) {
		return ""
	}
	return k
}
