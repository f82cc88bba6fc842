package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestArchiveAndRetention(t *testing.T) {
	file := filepath.Join(t.TempDir(), "kefu.yaml")
	os.WriteFile(file, []byte("data_dir: /var/lib/kefu\narchive:\n  dsn: /var/lib/kefu/a.db\nretention:\n  idle: 2h\n"), 0o644)
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/var/lib/kefu" || c.Archive.DSN != "/var/lib/kefu/a.db" || c.Retention.Idle != 2*time.Hour || c.Retention.Redis != 168*time.Hour {
		t.Errorf("got data %q, archive %+v, retention %+v", c.DataDir, c.Archive, c.Retention)
	}
	t.Setenv("KEFU_ARCHIVE_DSN", "postgres://kefu:s3cret@db/kefu")
	t.Setenv("KEFU_DATA_DIR", "/srv/kefu")
	if c, err = Load(file); err != nil || c.Archive.DSN != "postgres://kefu:s3cret@db/kefu" || c.DataDir != "/srv/kefu" {
		t.Errorf("env: %+v %q, %v", c.Archive, c.DataDir, err)
	}
	t.Setenv("KEFU_ARCHIVE_DSN", "mysql://kefu:s3cret@db/kefu")
	_, err = Load(file)
	if err == nil || !strings.Contains(err.Error(), "archive.dsn") {
		t.Errorf("a mysql DSN: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the error shows the password: %v", err)
	}
	t.Setenv("KEFU_ARCHIVE_DSN", "")
	os.WriteFile(file, []byte("retention:\n  idle: 0s\n"), 0o644)
	if _, err := Load(file); err == nil || !strings.Contains(err.Error(), "retention.idle") {
		t.Errorf("retention.idle 0: %v", err)
	}
}
