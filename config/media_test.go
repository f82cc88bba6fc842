package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMedia: the store's settings load from YAML over the defaults, its keys
// and the link secret come from the environment only (in the file they are
// refused), and an S3 store without its keys or an unknown store is refused.
func TestMedia(t *testing.T) {
	d := Default().Media
	if d.Store != "dir" || d.MaxBytes != 10<<20 || d.LinkTTL != 10*time.Minute {
		t.Errorf("defaults %+v", d)
	}
	file := filepath.Join(t.TempDir(), "kefu.yaml")
	os.WriteFile(file, []byte("media:\n  s3: {secret_key: in-the-file}\n"), 0o644)
	if _, err := Load(file); err == nil || !strings.Contains(err.Error(), "secret_key") {
		t.Errorf("a key in the file: %v", err)
	}
	os.WriteFile(file, []byte("media:\n  store: s3\n  max_bytes: 2097152\n  link_ttl: 2m\n  s3: {endpoint: \"127.0.0.1:9000\", bucket: kefu, insecure: true, path_style: true}\n"), 0o644)
	if _, err := Load(file); err == nil || !strings.Contains(err.Error(), "KEFU_MEDIA_S3_ACCESS_KEY") {
		t.Errorf("s3 without keys: %v", err)
	}
	t.Setenv("KEFU_MEDIA_S3_ACCESS_KEY", "access")
	t.Setenv("KEFU_MEDIA_S3_SECRET_KEY", "secret-key-value")
	t.Setenv("KEFU_MEDIA_SECRET", "0123456789abcdef-media")
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if m := c.Media; m.Store != "s3" || m.MaxBytes != 2<<20 || m.LinkTTL != 2*time.Minute || m.S3.Bucket != "kefu" ||
		!m.S3.PathStyle || m.S3.SecretKey != "secret-key-value" || m.Secret != "0123456789abcdef-media" {
		t.Errorf("loaded %+v", m)
	}
	c.Media.Store = "ftp"
	c.Media.LinkTTL = 48 * time.Hour
	err = c.Validate()
	for _, want := range []string{"media.store", "media.link_ttl"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}
