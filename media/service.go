package media

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
)

// Service is what the channels and the console use: keep an image a
// customer or an agent sent (prepared, under its message's key), read one
// back (to send it on), and make the signed links pages show.
type Service struct {
	store  Store
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	signer atomic.Pointer[Signer]
}

// NewService serves files of store under cfg's limits. With cfg.Secret set
// its links work at once; else SetSecret gives the secret (kept in Redis,
// shared by the instances) before the first link is made.
func NewService(store Store, cfg Config, log *slog.Logger, now func() time.Time) (*Service, error) {
	if log == nil {
		log = slog.Default()
	}
	if now == nil {
		now = time.Now
	}
	s := &Service{store: store, cfg: cfg.WithDefaults(), log: log, now: now}
	if cfg.Secret != "" {
		if err := s.SetSecret([]byte(cfg.Secret)); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// SetSecret sets the secret links are signed with.
func (s *Service) SetSecret(secret []byte) error {
	sg, err := NewSigner(secret, s.cfg.LinkTTL, s.now)
	if err != nil {
		return err
	}
	s.signer.Store(sg)
	return nil
}

// MaxBytes is the largest file accepted.
func (s *Service) MaxBytes() int64 { return s.cfg.MaxBytes }

// Store is the store files are kept in.
func (s *Service) Store() Store { return s.store }

// Save prepares an image (Prepare: sniffed, limited, re-encoded without
// metadata) and stores it under its message's key, which it returns.
func (s *Service) Save(ctx context.Context, channel, who, msgID string, data []byte) (string, error) {
	img, err := Prepare(data, s.cfg.MaxBytes, s.cfg.MaxPixels)
	if err != nil {
		return "", err
	}
	key := Key(channel, who, msgID, img.Ext)
	if err := s.store.Put(ctx, key, img.Data, img.ContentType); err != nil {
		return "", err
	}
	return key, nil
}

// Read returns a stored file whole (to send it on a channel), at most
// MaxBytes.
func (s *Service) Read(ctx context.Context, key string) ([]byte, string, error) {
	rc, info, err := s.store.Get(ctx, key)
	if err != nil {
		return nil, "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, s.cfg.MaxBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("media read %s: %w", key, err)
	}
	if int64(len(b)) > s.cfg.MaxBytes {
		return nil, "", fmt.Errorf("%w: %s", ErrTooLarge, key)
	}
	return b, info.ContentType, nil
}

// Link is the signed link of key, valid for the configured link_ttl; ""
// for no key or before the secret is set.
func (s *Service) Link(key string) string {
	sg := s.signer.Load()
	if key == "" || sg == nil {
		return ""
	}
	return sg.URL(key)
}

// Handler serves the signed links (mount it at Prefix).
func (s *Service) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sg := s.signer.Load()
		if sg == nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		Handler(s.store, sg, s.log).ServeHTTP(w, r)
	})
}
