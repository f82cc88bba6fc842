package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/kefu-dev/kefu/media/mediatest"
)

// pickFile puts a file into a page's file input and fires its change event,
// as picking it in the browser's dialog does (the page's own handler runs).
func pickFile(t *testing.T, ctx context.Context, input string, data []byte, name, typ string) {
	t.Helper()
	js := `(() => { const b = Uint8Array.from(atob("` + base64.StdEncoding.EncodeToString(data) + `"), c => c.charCodeAt(0));
	  const dt = new DataTransfer(); dt.items.add(new File([b], ` + jsString(name) + `, {type: ` + jsString(typ) + `}));
	  const i = document.querySelector(` + jsString(input) + `); i.files = dt.files; i.dispatchEvent(new Event('change')); return true; })()`
	if !evalJS[bool](t, ctx, js) {
		t.Fatalf("pick %s", input)
	}
}

// TestBrowserPictures: with the files in an S3-compatible store (started
// on loopback for the test), a customer in the web chat sends a phone photo
// carrying its GPS position; it appears, loaded through its signed link, in
// the console of the agent who claims the conversation, without any EXIF;
// the agent sends an image back and it appears in the customer's chat. A
// tampered link is refused.
func TestBrowserPictures(t *testing.T) {
	mustRedisEnv(t)
	t.Setenv("KEFU_MEDIA_S3_ACCESS_KEY", mediatest.S3AccessKey)
	t.Setenv("KEFU_MEDIA_S3_SECRET_KEY", mediatest.S3SecretKey)
	t.Setenv("KEFU_MEDIA_SECRET", "0123456789abcdef-media-test")
	extra := "media:\n  store: s3\n  s3: {endpoint: \"" + mediatest.StartS3(t) + "\", bucket: kefu-media, insecure: true, path_style: true}\n"
	g := mustServe(t, "--config", agentConfig(t, extra))
	cust := mustBrowser(t)
	agentTab, cancel := chromedp.NewContext(cust)
	defer cancel()

	if err := chromedp.Do(cust, chromedp.Navigate(g.URL+"/")); err != nil {
		t.Fatal(err)
	}
	poll(t, cust, "the welcome", `document.querySelectorAll('.msg.out[data-kind="welcome"]').length === 1`)
	poll(t, cust, "the picture button", `!document.getElementById('pic').hidden`)
	if err := chromedp.Do(cust, chromedp.Click("#human")); err != nil {
		t.Fatal(err)
	}
	poll(t, cust, "the hand-off notice", `document.querySelectorAll('.msg.out[data-kind="handoff"]').length === 1`)
	photo := mediatest.WithEXIF(t, mediatest.JPEG(t, 120, 80), 1)
	pickFile(t, cust, "#pic-file", photo, "IMG_0001.jpg", "image/jpeg")
	poll(t, cust, "the photo confirmed", `document.querySelectorAll('.msg.in img.pic').length === 1 && !document.querySelector('.msg.in.pending') && !document.querySelector('.msg.failed')`)

	if err := chromedp.Do(agentTab,
		chromedp.Navigate(g.URL+"/console/"),
		chromedp.WaitVisible(chromedp.CSS("#signin-id")),
		chromedp.SendKeys(chromedp.CSS("#signin-id"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#signin-password"), "alice-pw"),
		chromedp.Click(chromedp.CSS("#signin-btn")),
	); err != nil {
		t.Fatalf("agent: %v", err)
	}
	// Claimed by the page's own script: the queue list re-renders as it refreshes.
	poll(t, agentTab, "the claim button", `(() => { const b = document.querySelector('#queue li.waiting button.claim'); if (!b) return false; b.click(); return true; })()`)
	poll(t, agentTab, "the transcript", `!!document.querySelector('#transcript .entry.in')`)
	poll(t, agentTab, "the customer's photo in the console", `(() => { const i = document.querySelector('#transcript .entry.in img.pic'); return !!i && i.complete && i.naturalWidth === 120 && i.naturalHeight === 80; })()`)
	src := evalJS[string](t, agentTab, `document.querySelector('#transcript .entry.in img.pic').getAttribute('src')`)
	if !strings.HasPrefix(src, "/media/web/") || !strings.Contains(src, "sig=") {
		t.Fatalf("image link %q", src)
	}
	got := httpGet(t, g.URL+src, 200)
	if bytes.Contains(got, []byte("Exif")) || bytes.Contains(got, []byte(mediatest.Marker)) || bytes.Contains(got, []byte{0xff, 0xe1}) {
		t.Error("the photo served to the agent still carries EXIF")
	}
	httpGet(t, g.URL+strings.Replace(src, "sig=", "sig=A", 1), http.StatusForbidden)
	httpGet(t, g.URL+"/media/"+strings.TrimPrefix(strings.SplitN(src, "?", 2)[0], "/media/"), http.StatusForbidden)

	// The agent sends an image; the customer sees it.
	if err := chromedp.Do(agentTab, chromedp.WaitEnabled(chromedp.CSS("#image-send"))); err != nil {
		t.Fatal(err)
	}
	pickFile(t, agentTab, "#image-file", mediatest.PNG(t, 64, 48), "label.png", "image/png")
	poll(t, agentTab, "the agent's image in the console", `!!document.querySelector('#transcript .entry.out.agent img.pic')`)
	poll(t, cust, "the agent's image in the chat", `(() => { const i = document.querySelector('.msg.out.agent img.pic'); return !!i && i.complete && i.naturalWidth === 64; })()`)
	screenshot(t, cust, "pictures-chat-375.png", 375, 740)
	screenshot(t, agentTab, "pictures-console-1280.png", 1280, 800)
}

// screenshot saves the page at a width into $KEFU_SCREENSHOTS (nothing
// without it), to look at how it renders.
func screenshot(t *testing.T, ctx context.Context, name string, w, h int64) {
	t.Helper()
	dir := os.Getenv("KEFU_SCREENSHOTS")
	if dir == "" {
		return
	}
	err := chromedp.Do(ctx, chromedp.EmulateViewport(w, h))
	var b []byte
	if err == nil {
		b, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	}
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.MkdirAll(dir, 0o755); err == nil {
		err = os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
	}
}

// httpGet fetches url and checks its status.
func httpGet(t *testing.T, url string, want int) []byte {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("GET %s: %d, want %d: %s", url, res.StatusCode, want, b)
	}
	return b
}
