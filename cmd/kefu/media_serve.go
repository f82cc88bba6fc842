package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/kefu-dev/kefu/media"
)

// newMedia opens the file store (a folder in the data folder by default,
// or the configured S3-compatible store) and the service over it. The link
// secret is KEFU_MEDIA_SECRET, else one kept in Redis (mediaSecret, in run).
func (s *server) newMedia() error {
	dir := ""
	if s.cfg.Media.WithDefaults().Store == "dir" && s.cfg.Media.Dir == "" {
		d, err := dataDir(s.cfg)
		if err != nil {
			return err
		}
		dir = d
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	st, err := media.Open(ctx, s.cfg.Media, dir)
	if err != nil {
		return err
	}
	s.media, err = media.NewService(st, s.cfg.Media, s.log, nil)
	if err != nil {
		return err
	}
	s.log.Info("media store", "store", st.Name())
	return nil
}

// mediaSecret gives the media service its link secret when
// KEFU_MEDIA_SECRET is not set: a random one kept in Redis, the same for
// every instance on it (the first instance writes it).
func (s *server) mediaSecret(ctx context.Context) error {
	if s.cfg.Media.Secret != "" {
		return nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	key := s.cfg.Redis.Prefix + "media:secret"
	if err := s.rdb.SetNX(ctx, key, base64.RawStdEncoding.EncodeToString(b), 0).Err(); err != nil {
		return fmt.Errorf("media secret: %w", err)
	}
	v, err := s.rdb.Get(ctx, key).Result()
	if err != nil {
		return fmt.Errorf("media secret: %w", err)
	}
	return s.media.SetSecret([]byte(v))
}
