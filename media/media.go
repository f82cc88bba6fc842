// Package media owns the stored files: the images customers send on any
// channel and the ones agents send them. It keeps them in a Store (a local
// directory, the embedded default, under the data folder; or an
// S3-compatible object store when several instances run), prepares what a
// customer uploads before anything keeps it (type sniffed from the content,
// size and pixel limits, EXIF and every other metadata dropped by
// re-encoding), and serves a file only through a short-lived signed link
// (HMAC-SHA256 with an expiry).
//
// A message carries a stored file by its key (bot.Message.Media, the
// transcript's and the lifecycle events' media field, the archive's media
// column); links are made from the key when a page asks for the entry.
package media

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// Store keeps files by key.
type Store interface {
	// Put stores data under key, replacing what was there (a retry of one
	// message writes the same key again).
	Put(ctx context.Context, key string, data []byte, contentType string) error
	// Get opens the file under key; ErrNotFound when there is none.
	Get(ctx context.Context, key string) (io.ReadCloser, Info, error)
	// Delete removes the file under key; a missing file is no error.
	Delete(ctx context.Context, key string) error
	// Name says which store it is, for logs ("dir /srv/kefu/media", "s3 bucket").
	Name() string
}

// Info describes a stored file.
type Info struct {
	ContentType string
	Size        int64
}

// Errors.
var (
	ErrNotFound   = errors.New("media: no such file")
	ErrBadKey     = errors.New("media: bad key")
	ErrTooLarge   = errors.New("media: file too large")
	ErrNotImage   = errors.New("media: not an image of an accepted type (JPEG, PNG, GIF, WebP)")
	ErrBadImage   = errors.New("media: the image cannot be decoded")
	ErrTooBig     = errors.New("media: the image has too many pixels")
	ErrExpired    = errors.New("media: link expired")
	ErrBadSig     = errors.New("media: bad link signature")
	ErrNoSecret   = errors.New("media: no link secret")
	ErrBadStoreCf = errors.New("media: bad store configuration")
)

// Config is the configuration's media section.
type Config struct {
	// Store is "dir" (the default: files in Dir) or "s3".
	Store string `yaml:"store"`
	// Dir is the local folder of the "dir" store; default <data_dir>/media.
	Dir string `yaml:"dir"`
	// MaxBytes is the largest file a customer or an agent may upload
	// (default 10 MiB); MaxPixels the largest image (width × height,
	// default 40 million) decoded.
	MaxBytes  int64 `yaml:"max_bytes"`
	MaxPixels int   `yaml:"max_pixels"`
	// LinkTTL is how long a signed link works (default 10m).
	LinkTTL time.Duration `yaml:"link_ttl"`
	S3      S3Config      `yaml:"s3"`
	// Secret signs links: KEFU_MEDIA_SECRET, from the environment only.
	Secret string `yaml:"-"`
}

// S3Config is an S3-compatible object store (MinIO, Ceph, Aliyun OSS,
// Tencent COS, AWS S3). Its keys come from the environment only:
// KEFU_MEDIA_S3_ACCESS_KEY and KEFU_MEDIA_S3_SECRET_KEY.
type S3Config struct {
	Endpoint string `yaml:"endpoint"` // host[:port], e.g. minio.internal:9000
	Bucket   string `yaml:"bucket"`
	Region   string `yaml:"region"`
	Prefix   string `yaml:"prefix"` // put before every key, e.g. "kefu/"
	// Insecure: plain HTTP to the endpoint (a store on the same private
	// network or loopback); default HTTPS.
	Insecure bool `yaml:"insecure"`
	// PathStyle: bucket in the path (http://host/bucket/key) rather than in
	// the host name; MinIO and most self-hosted stores want it.
	PathStyle bool `yaml:"path_style"`
	// AccessKey, SecretKey: from the environment only.
	AccessKey string `yaml:"-"`
	SecretKey string `yaml:"-"`
}

// Defaults.
const (
	DefaultMaxBytes  = 10 << 20
	DefaultMaxPixels = 40_000_000
	DefaultLinkTTL   = 10 * time.Minute
)

// WithDefaults fills what is unset.
func (c Config) WithDefaults() Config {
	if c.Store == "" {
		c.Store = "dir"
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxPixels == 0 {
		c.MaxPixels = DefaultMaxPixels
	}
	if c.LinkTTL == 0 {
		c.LinkTTL = DefaultLinkTTL
	}
	return c
}

// Validate lists the configuration's problems.
func (c Config) Validate() []error {
	var errs []error
	switch c.Store {
	case "", "dir":
	case "s3":
		if c.S3.Endpoint == "" || c.S3.Bucket == "" {
			errs = append(errs, errors.New("media.s3: endpoint and bucket are needed for media.store s3"))
		}
		if c.S3.AccessKey == "" || c.S3.SecretKey == "" {
			errs = append(errs, errors.New("media.store s3: set KEFU_MEDIA_S3_ACCESS_KEY and KEFU_MEDIA_S3_SECRET_KEY"))
		}
	default:
		errs = append(errs, fmt.Errorf("media.store %q: use dir or s3", c.Store))
	}
	if c.MaxBytes < 0 || c.MaxPixels < 0 || c.LinkTTL < 0 {
		errs = append(errs, errors.New("media.max_bytes, media.max_pixels and media.link_ttl may not be negative"))
	}
	if c.LinkTTL > 24*time.Hour {
		errs = append(errs, fmt.Errorf("media.link_ttl %v: at most 24h (links are meant to be short-lived)", c.LinkTTL))
	}
	if c.Secret != "" && len(c.Secret) < 16 {
		errs = append(errs, errors.New("KEFU_MEDIA_SECRET: must be at least 16 characters"))
	}
	return errs
}

// Open makes the configured store: dataDir is the default folder's parent.
// An S3 store is checked (its bucket made when missing).
func Open(ctx context.Context, c Config, dataDir string) (Store, error) {
	c = c.WithDefaults()
	switch c.Store {
	case "dir":
		dir := c.Dir
		if dir == "" {
			if dataDir == "" {
				return nil, fmt.Errorf("%w: no media.dir and no data folder", ErrBadStoreCf)
			}
			dir = dataDir + "/media"
		}
		return NewDir(dir)
	case "s3":
		return NewS3(ctx, c.S3)
	}
	return nil, fmt.Errorf("%w: store %q", ErrBadStoreCf, c.Store)
}

// keyRe is what a key may be: lower-case letters, digits, and . _ - /
// between segments; no empty or dot segment.
var keyRe = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$`)

// ValidKey says whether key is one this package makes.
func ValidKey(key string) bool { return len(key) <= 200 && keyRe.MatchString(key) }

// Key is the key of a message's file: the channel, a hash of the customer
// (or agent) and the message id, and the type's extension. The same message
// gets the same key, so a retry stores nothing twice.
func Key(channel, who, msgID, ext string) string {
	h := sha256.Sum256([]byte(channel + "\x00" + who + "\x00" + msgID))
	ch := strings.ToLower(channel)
	if !keyRe.MatchString(ch) || strings.Contains(ch, "/") {
		ch = "x"
	}
	return ch + "/" + hex.EncodeToString(h[:16]) + "." + ext
}
