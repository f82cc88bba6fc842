package media

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rwcarlsen/goexif/exif"

	"github.com/kefu-dev/kefu/media/mediatest"
)

// The test image carries a GPS position (goexif reads it back) and after
// Prepare neither the position nor any other EXIF is left: no APP1 segment,
// no Exif header, not the camera's make; the pixels are still the picture.
func TestPrepareStripsEXIFLocation(t *testing.T) {
	src := mediatest.WithEXIF(t, mediatest.JPEG(t, 64, 32), 1)
	x, err := exif.Decode(bytes.NewReader(src))
	if err != nil {
		t.Fatalf("the test image's EXIF does not parse: %v", err)
	}
	lat, lon, err := x.LatLong()
	if err != nil || lat < 31.22 || lat > 31.24 || lon < 121.46 || lon > 121.48 {
		t.Fatalf("the test image should carry GPS 31.23 N 121.47 E: %v %v %v", lat, lon, err)
	}
	img, err := Prepare(src, DefaultMaxBytes, DefaultMaxPixels)
	if err != nil {
		t.Fatal(err)
	}
	if img.ContentType != "image/jpeg" || img.Ext != "jpg" || img.Width != 64 || img.Height != 32 {
		t.Fatalf("got %s %s %dx%d", img.ContentType, img.Ext, img.Width, img.Height)
	}
	if _, err := exif.Decode(bytes.NewReader(img.Data)); err == nil {
		t.Fatal("EXIF still readable after Prepare")
	}
	for _, bad := range [][]byte{{0xff, 0xe1}, []byte("Exif\x00\x00"), []byte(mediatest.Marker)} {
		if bytes.Contains(img.Data, bad) {
			t.Fatalf("output still contains %q", bad)
		}
	}
	if Sniff(img.Data) != "image/jpeg" {
		t.Fatalf("output sniffs as %s", Sniff(img.Data))
	}
}

// EXIF orientation 6 (the phone held upright: rotate 90° clockwise) is
// applied to the pixels before the EXIF goes, so the agent sees the photo
// upright: a 64×32 landscape becomes 32×64, the red half on top.
func TestPrepareAppliesOrientation(t *testing.T) {
	img, err := Prepare(mediatest.WithEXIF(t, mediatest.JPEG(t, 64, 32), 6), DefaultMaxBytes, DefaultMaxPixels)
	if err != nil {
		t.Fatal(err)
	}
	if img.Width != 32 || img.Height != 64 {
		t.Fatalf("got %dx%d, want 32x64", img.Width, img.Height)
	}
}

// The type is read from the content, not the name: a PNG is kept as PNG, a
// script or an HTML page named .jpg is refused, a truncated JPEG is refused,
// and so is a file over the size limit or an image over the pixel limit.
func TestPrepareSniffAndLimits(t *testing.T) {
	p, err := Prepare(mediatest.PNG(t, 10, 10), DefaultMaxBytes, DefaultMaxPixels)
	if err != nil || p.ContentType != "image/png" || p.Ext != "png" {
		t.Fatalf("png: %+v %v", p.ContentType, err)
	}
	for name, c := range map[string]struct {
		data []byte
		max  int64
		pix  int
		want error
	}{
		"html":      {[]byte("<html><script>alert(1)</script></html>"), DefaultMaxBytes, DefaultMaxPixels, ErrNotImage},
		"pdf":       {[]byte("%PDF-1.7\n..."), DefaultMaxBytes, DefaultMaxPixels, ErrNotImage},
		"svg":       {[]byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>x</script></svg>`), DefaultMaxBytes, DefaultMaxPixels, ErrNotImage},
		"truncated": {mediatest.JPEG(t, 64, 32)[:40], DefaultMaxBytes, DefaultMaxPixels, ErrBadImage},
		"too large": {mediatest.JPEG(t, 64, 32), 100, DefaultMaxPixels, ErrTooLarge},
		"too big":   {mediatest.PNG(t, 100, 100), DefaultMaxBytes, 9999, ErrTooBig},
	} {
		if _, err := Prepare(c.data, c.max, c.pix); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
	}
}

func TestKeys(t *testing.T) {
	k := Key("web", "v1", "m1", "jpg")
	if !ValidKey(k) || k != Key("web", "v1", "m1", "jpg") || k == Key("web", "v2", "m1", "jpg") || !strings.HasPrefix(k, "web/") {
		t.Fatalf("key %q", k)
	}
	for _, bad := range []string{"", "../etc/passwd", "web/../x.jpg", "/abs.jpg", "Web/x.jpg", "web//x.jpg", "web/x.jpg/", "a\\b"} {
		if ValidKey(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

// storeContract is what every Store must do.
func storeContract(t *testing.T, s Store) {
	ctx := context.Background()
	data := mediatest.JPEG(t, 8, 8)
	key := Key("web", "visitor", "m1", "jpg")
	if err := s.Put(ctx, key, data, "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	rc, info, err := s.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) || info.ContentType != "image/jpeg" || info.Size != int64(len(data)) {
		t.Fatalf("got %d bytes %+v, want %d", len(got), info, len(data))
	}
	// Put again (a retry) replaces it.
	png := mediatest.PNG(t, 2, 2)
	if err := s.Put(ctx, key, png, "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	rc, _, err = s.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, png) {
		t.Fatal("second put did not replace the file")
	}
	if _, _, err := s.Get(ctx, Key("web", "visitor", "nope", "jpg")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	if err := s.Put(ctx, "../escape.jpg", data, "image/jpeg"); !errors.Is(err, ErrBadKey) {
		t.Fatalf("bad key: %v", err)
	}
	// Delete: gone, and deleting again is no error.
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("delete again: %v", err)
	}
}

func TestDirStore(t *testing.T) {
	s, err := NewDir(t.TempDir() + "/media")
	if err != nil {
		t.Fatal(err)
	}
	storeContract(t, s)
}

// The S3 store through minio-go over HTTP against an S3-compatible server
// on loopback (gofakes3, started here).
func TestS3Store(t *testing.T) {
	s, _ := startS3(t)
	storeContract(t, s)
}

func TestSignedLinks(t *testing.T) {
	now := time.Unix(1_764_700_000, 0)
	clock := func() time.Time { return now }
	sg, err := NewSigner([]byte("0123456789abcdef-media"), 5*time.Minute, clock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSigner([]byte("short"), 0, nil); !errors.Is(err, ErrNoSecret) {
		t.Fatalf("short secret: %v", err)
	}
	dir, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	key := Key("web", "v", "m", "jpg")
	data := mediatest.JPEG(t, 4, 4)
	if err := dir.Put(context.Background(), key, data, "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	h := Handler(dir, sg, nil)
	get := func(link string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, link, nil))
		return w
	}
	link := sg.URL(key)
	if KeyOfURL(link) != key {
		t.Fatalf("KeyOfURL(%q)", link)
	}
	w := get(link)
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), data) || w.Header().Get("Content-Type") != "image/jpeg" ||
		w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("valid link: %d %v", w.Code, w.Header())
	}
	u, _ := url.Parse(link)
	q := u.Query()
	tamper := func(f func(q url.Values) string) string {
		q2 := url.Values{}
		for k, v := range q {
			q2[k] = append([]string(nil), v...)
		}
		path := f(q2)
		return path + "?" + q2.Encode()
	}
	other := Key("web", "v", "other", "jpg")
	if err := dir.Put(context.Background(), other, data, "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	for name, l := range map[string]string{
		"other key": tamper(func(q url.Values) string { return Prefix + other }),
		"later exp": tamper(func(q url.Values) string { q.Set("exp", "9999999999"); return u.Path }),
		"bad sig":   tamper(func(q url.Values) string { q.Set("sig", "AAAA"+q.Get("sig")[4:]); return u.Path }),
		"no sig":    tamper(func(q url.Values) string { q.Del("sig"); return u.Path }),
		"traversal": tamper(func(q url.Values) string { return Prefix + "../" + key }),
	} {
		if w := get(l); w.Code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, w.Code)
		}
	}
	now = now.Add(5*time.Minute - time.Second)
	if w := get(link); w.Code != 200 {
		t.Fatalf("just before expiry: %d", w.Code)
	}
	now = now.Add(time.Second)
	if w := get(link); w.Code != http.StatusForbidden {
		t.Fatalf("expired: %d", w.Code)
	}
	// A link made for a file that is gone: 404.
	now = time.Unix(1_764_700_000, 0)
	if w := get(sg.URL(Key("web", "v", "gone", "jpg"))); w.Code != http.StatusNotFound {
		t.Fatalf("gone: %d", w.Code)
	}
}
