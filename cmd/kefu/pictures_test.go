package main

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kefu-dev/kefu/media/mediatest"
)

// TestTelegramPhotoToConsole: a Telegram customer asks for a person and
// sends a photo; through the (fake) Bot API the gateway fetches it, and
// the agent's console shows it as an image, served by its signed link
// without EXIF. The agent's image goes back with sendPhoto.
func TestTelegramPhotoToConsole(t *testing.T) {
	mustRedisEnv(t)
	photo := mediatest.WithEXIF(t, mediatest.JPEG(t, 90, 60), 1)
	var mu sync.Mutex
	var calls []string
	var uploads [][]byte
	const token = "123456:secret-token-value"
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/file/bot"+token+"/photos/BIG.jpg" {
			w.Write(photo)
			return
		}
		method := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
			r.ParseMultipartForm(8 << 20)
			if r.MultipartForm != nil {
				for _, fhs := range r.MultipartForm.File {
					f, _ := fhs[0].Open()
					b, _ := io.ReadAll(f)
					f.Close()
					mu.Lock()
					uploads = append(uploads, b)
					mu.Unlock()
				}
			}
		}
		mu.Lock()
		calls = append(calls, method)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch method {
		case "getMe":
			io.WriteString(w, `{"ok":true,"result":{"id":1,"is_bot":true,"first_name":"kefu","username":"kefu_bot"}}`)
		case "getFile":
			io.WriteString(w, `{"ok":true,"result":{"file_id":"BIG","file_unique_id":"b","file_size":1,"file_path":"photos/BIG.jpg"}}`)
		case "sendMessage", "sendPhoto":
			io.WriteString(w, `{"ok":true,"result":{"message_id":7,"date":1700000000,"chat":{"id":42,"type":"private"}}}`)
		default:
			io.WriteString(w, `{"ok":true,"result":true}`)
		}
	}))
	defer api.Close()
	t.Setenv("KEFU_TELEGRAM_TOKEN", token)
	t.Setenv("KEFU_TELEGRAM_WEBHOOK_SECRET", "hook-secret")
	dataDir := t.TempDir()
	extra := "telegram:\n  mode: webhook\n  webhook_url: https://shop.example/tg/hook\n  api_url: " + api.URL + "\n"
	g := mustServe(t, "--config", agentConfig(t, extra), "--data", dataDir)
	post := func(update string) {
		t.Helper()
		req, _ := http.NewRequest("POST", g.URL+"/tg/hook", strings.NewReader(update))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "hook-secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("update: %d", resp.StatusCode)
		}
	}
	from := `"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"顾客","language_code":"zh-hans"}`
	post(`{"update_id":2001,"message":{"message_id":5,"date":1700000000,` + from + `,"text":"/human","entities":[{"type":"bot_command","offset":0,"length":6}]}}`)
	post(`{"update_id":2002,"message":{"message_id":6,"date":1700000001,` + from + `,"caption":"收到的货是坏的","photo":[{"file_id":"SMALL","file_unique_id":"s","width":9,"height":6},{"file_id":"BIG","file_unique_id":"b","width":90,"height":60}]}}`)

	alice := mustAgent(t, g, "alice", "alice-pw")
	var claim struct{ Conv string }
	if code := alice.call("POST", "claim", map[string]string{}, &claim); code != 200 || claim.Conv != "telegram:42" {
		t.Fatalf("claim: %d %+v", code, claim)
	}
	var view struct {
		Transcript []struct{ Dir, Kind, Text, Image string }
	}
	if code := alice.call("GET", "convs/"+claim.Conv, nil, &view); code != 200 {
		t.Fatalf("view: %d", code)
	}
	var src string
	for _, e := range view.Transcript {
		if e.Dir == "in" && e.Kind == "image" {
			if e.Text != "收到的货是坏的" {
				t.Errorf("caption %q", e.Text)
			}
			src = e.Image
		}
	}
	if src == "" {
		t.Fatalf("no image in the console's transcript: %+v", view.Transcript)
	}
	got := httpGet(t, g.URL+src, 200)
	if !bytes.HasPrefix(got, []byte{0xff, 0xd8}) || bytes.Contains(got, []byte("Exif")) || bytes.Contains(got, []byte(mediatest.Marker)) {
		t.Error("the photo served to the console is not the stripped JPEG")
	}
	// The default store is the data folder's media/.
	if ms, _ := filepath.Glob(filepath.Join(dataDir, "media", "telegram", "*.jpg")); len(ms) != 1 {
		t.Errorf("files in the data folder: %v", ms)
	}

	// The agent's image goes out with sendPhoto.
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	w.WriteField("id", "img1")
	fw, _ := w.CreateFormFile("file", "label.png")
	fw.Write(mediatest.PNG(t, 30, 20))
	w.Close()
	req, _ := http.NewRequest("POST", alice.base+"convs/"+claim.Conv+"/image", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Origin", g.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("X-CSRF-Token", alice.csrf)
	resp, err := alice.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"delivered":true`) {
		t.Fatalf("agent image: %d %s", resp.StatusCode, b)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(strings.Join(calls, " "), "sendPhoto") || len(uploads) != 1 || !bytes.HasPrefix(uploads[0], []byte("\x89PNG")) {
		t.Errorf("calls %v, %d uploads", calls, len(uploads))
	}
	if strings.Contains(g.logs.String(), "secret-token-value") {
		t.Error("the bot token is in the log")
	}

	// The archive keeps both images' references (the archiver of the
	// gateway writes them in the background).
	var lastShow string
	defer func() {
		if t.Failed() {
			t.Logf("last archive show:\n%s", lastShow)
		}
	}()
	waitFor(t, func() bool {
		code, out := runKefu(t, "archive", "show", "--data", dataDir, "--json", "telegram:42#1")
		lastShow = out
		return code == 0 && strings.Count(out, `"media": "telegram/`) >= 1 && strings.Count(out, `"media": "agent/`) >= 1
	})

	// Purging the customer deletes their photo and the agent's image too.
	code, out := runKefu(t, "archive", "purge", "--data", dataDir, "--customer", "telegram:42")
	if code != 0 || !strings.Contains(out, "media: 2 files deleted") {
		t.Errorf("purge: exit %d\n%s", code, out)
	}
	for _, pat := range []string{"telegram/*", "agent/*"} {
		if ms, _ := filepath.Glob(filepath.Join(dataDir, "media", pat)); len(ms) != 0 {
			t.Errorf("left after the purge: %v", ms)
		}
	}
}
