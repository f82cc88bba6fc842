package mediatest

import (
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// S3 keys the tests' S3-compatible server is used with (it checks none).
const (
	S3AccessKey = "kefu-test-access"
	S3SecretKey = "kefu-test-secret-key"
)

// StartS3 starts an S3-compatible server on loopback for the test (gofakes3,
// in memory, in an httptest server, stopped at the test's end) and returns
// its host:port, for a store with path-style buckets over plain HTTP.
func StartS3(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
