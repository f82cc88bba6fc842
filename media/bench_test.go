package media

import (
	"context"
	"strconv"
	"testing"

	"github.com/kefu-dev/kefu/media/mediatest"
)

// BenchmarkPrepare: a 12-megapixel phone photo (4000×3000 JPEG with EXIF
// GPS) sniffed, checked, turned upright and re-encoded without metadata.
func BenchmarkPrepare(b *testing.B) {
	src := mediatest.WithEXIF(b, mediatest.JPEG(b, 4000, 3000), 6)
	for b.Loop() {
		if _, err := Prepare(src, 64<<20, DefaultMaxPixels); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkS3Put: a 300 KB image put through minio-go over HTTP to the
// S3-compatible server on loopback (gofakes3, in memory).
func BenchmarkS3Put(b *testing.B) {
	cfg := S3Config{Endpoint: mediatest.StartS3(b), Bucket: "bench", Insecure: true, PathStyle: true,
		AccessKey: mediatest.S3AccessKey, SecretKey: mediatest.S3SecretKey}
	s, err := NewS3(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	img, err := Prepare(mediatest.JPEG(b, 1200, 900), DefaultMaxBytes, DefaultMaxPixels)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(img.Data)))
	b.ResetTimer()
	i := 0
	for b.Loop() {
		i++
		if err := s.Put(context.Background(), Key("web", "v", strconv.Itoa(i), "jpg"), img.Data, img.ContentType); err != nil {
			b.Fatal(err)
		}
	}
}
