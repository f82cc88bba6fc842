package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rwcarlsen/goexif/exif"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/internal/testkit"
	"github.com/kefu-dev/kefu/internal/testkit/sampletest"
	"github.com/kefu-dev/kefu/media"
	"github.com/kefu-dev/kefu/media/mediatest"
)

// upload posts an image as the page does.
func upload(t *testing.T, url, token, id string, file []byte) (int, map[string]any) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	w.WriteField("id", id)
	fw, _ := w.CreateFormFile("file", "photo.jpg")
	fw.Write(file)
	w.Close()
	req, _ := http.NewRequest("POST", url+"/api/images", &b)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestImageUpload: a customer's photo with its GPS position in EXIF is
// stored without any EXIF and carried by the message (kind image) through
// the usual path: the bot answers it once (a retry of its id is a
// duplicate, stored once), the transcript's entry has a signed link that
// serves the stripped file. A file that is not an image by its content, or
// over the size limit, is refused and nothing is stored or written.
func TestImageUpload(t *testing.T) {
	rdb := testkit.Redis(t, 0)
	prefix := testkit.PrefixOn(t, rdb)
	store := bot.NewStore(rdb, prefix)
	eng := &bot.Engine{Store: store, Matcher: sampletest.Live(t).Matcher, Texts: bot.DefaultTexts()}
	dir, err := media.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc, err := media.NewService(dir, media.Config{MaxBytes: 64 << 10, Secret: "0123456789abcdef-media"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := New(Config{MaxMessageLen: 500, Secret: "0123456789abcdef0123456789abcdef", Texts: bot.DefaultTexts(), Media: svc},
		eng, store, rdb, prefix, nil)
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	mux := http.NewServeMux()
	mux.Handle(media.Prefix, svc.Handler())
	mux.Handle("/", a)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	var s struct{ Token, User string }
	if code := post(t, srv.URL+"/api/session", "", map[string]string{}, &s); code != 200 {
		t.Fatalf("session: %d", code)
	}
	tx := func() []bot.Entry {
		es, err := store.Transcript(ctx, bot.ConvID(Name, s.User), "")
		if err != nil {
			t.Fatal(err)
		}
		return es
	}

	photo := mediatest.WithEXIF(t, mediatest.JPEG(t, 60, 40), 1)
	code, r := upload(t, srv.URL, s.Token, "p1", photo)
	if code != 200 || r["duplicate"] == true {
		t.Fatalf("upload: %d %v", code, r)
	}
	if reps, _ := r["replies"].([]any); len(reps) != 1 || reps[0].(map[string]any)["kind"] != bot.OutNotice {
		t.Errorf("the bot's answer to an image: %v", r["replies"])
	}
	es := tx()
	if len(es) != 2 || es[0].Kind != bot.KindImage || es[0].Media == "" || !media.ValidKey(es[0].Media) {
		t.Fatalf("transcript %+v", es)
	}
	key := es[0].Media
	if code, r := upload(t, srv.URL, s.Token, "p1", photo); code != 200 || r["duplicate"] != true {
		t.Fatalf("retry: %d %v", code, r)
	}
	if n := len(tx()); n != 2 {
		t.Fatalf("a retried upload wrote %d entries, want 2", n)
	}

	// The page's entry has a signed link; it serves the photo, stripped.
	var got struct{ Entries []Entry }
	req, _ := http.NewRequest("GET", srv.URL+"/api/messages", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if len(got.Entries) == 0 || !strings.HasPrefix(got.Entries[0].Image, media.Prefix+key+"?") {
		t.Fatalf("entries %+v", got.Entries)
	}
	resp, err = http.Get(srv.URL + got.Entries[0].Image)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("image link: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if _, err := exif.Decode(bytes.NewReader(body)); err == nil || bytes.Contains(body, []byte(mediatest.Marker)) {
		t.Fatal("the stored photo still has EXIF")
	}

	// Refused, nothing written: a script named .jpg, an image too large.
	for name, c := range map[string]struct {
		file []byte
		code int
		err  string
	}{
		"html":  {[]byte("<html><script>alert(1)</script></html>"), 400, "not_image"},
		"large": {append(mediatest.JPEG(t, 10, 10), make([]byte, 70<<10)...), 413, "too_large"},
		"empty": {nil, 400, "empty"},
	} {
		code, r := upload(t, srv.URL, s.Token, "bad-"+name, c.file)
		if code != c.code || r["error"] != c.err {
			t.Errorf("%s: %d %v, want %d %s", name, code, r, c.code, c.err)
		}
	}
	if n := len(tx()); n != 2 {
		t.Fatalf("refused uploads wrote entries: %d", n)
	}
	// A JSON message cannot claim to be an image.
	var rr map[string]any
	if code := post(t, srv.URL+"/api/messages", s.Token, map[string]string{"id": "x", "kind": "image", "text": key}, &rr); code != 400 {
		t.Errorf("kind image over JSON: %d %v", code, rr)
	}
}
