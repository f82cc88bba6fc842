package media

import (
	"context"
	"testing"

	"github.com/kefu-dev/kefu/media/mediatest"
)

// startS3 starts an S3-compatible server on loopback (mediatest.StartS3) and
// a Store on it through the real S3 client.
func startS3(t *testing.T) (*S3, S3Config) {
	t.Helper()
	cfg := S3Config{Endpoint: mediatest.StartS3(t), Bucket: "kefu-media", Region: "us-east-1", Prefix: "test/",
		Insecure: true, PathStyle: true, AccessKey: mediatest.S3AccessKey, SecretKey: mediatest.S3SecretKey}
	s, err := NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, cfg
}
