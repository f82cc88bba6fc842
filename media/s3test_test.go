package media

import (
	"context"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// startS3 starts an S3-compatible server on loopback (gofakes3 in an
// httptest server) and a Store on it through the real S3 client.
func startS3(t *testing.T) (*S3, S3Config) {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	cfg := S3Config{Endpoint: u.Host, Bucket: "kefu-media", Region: "us-east-1", Prefix: "test/",
		Insecure: true, PathStyle: true, AccessKey: "kefu-test-access", SecretKey: "kefu-test-secret-key"}
	s, err := NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, cfg
}
