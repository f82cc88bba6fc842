package telegram

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/media"
	"github.com/kefu-dev/kefu/media/mediatest"
)

// TestPhotos: with a media store, a customer's photo is fetched through the
// Bot API (getFile of its largest size, then the file link), kept without
// its EXIF and reaches the transcript as an image with its caption; a
// photo that cannot be fetched stays a description with its file id. An
// agent's image goes out with sendPhoto, the stored file and the caption.
// The bot token never reaches the log.
func TestPhotos(t *testing.T) {
	h := newHarness(t, ModeWebhook)
	dir, err := media.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc, err := media.NewService(dir, media.Config{Secret: "0123456789abcdef-media"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.a.SetMedia(svc)
	const uid = 777101
	photo := mediatest.WithEXIF(t, mediatest.JPEG(t, 80, 60), 1)
	h.f.addFile("BIG", photo)
	h.f.addFile("small", mediatest.JPEG(t, 8, 6))
	h.mustPost(messageUpdate(newUpdateID(), user(uid, ""), privateChat(uid), 1, "", map[string]any{
		"photo": []any{map[string]any{"file_id": "small", "file_unique_id": "s", "width": 8, "height": 6},
			map[string]any{"file_id": "BIG", "file_unique_id": "b", "width": 80, "height": 60}},
		"caption": "这个坏了",
	}))
	tx := h.transcript(itoa64(uid))
	if len(tx) == 0 || tx[0].Kind != bot.KindImage || tx[0].Text != "这个坏了" || !media.ValidKey(tx[0].Media) {
		t.Fatalf("transcript %+v", tx)
	}
	if g := h.f.callsOf("getFile"); len(g) != 1 || g[0].Params["file_id"] != "BIG" {
		t.Errorf("getFile calls %+v", g)
	}
	stored, ct, err := svc.Read(context.Background(), tx[0].Media)
	if err != nil || ct != "image/jpeg" || bytes.Contains(stored, []byte("Exif")) || bytes.Contains(stored, []byte(mediatest.Marker)) {
		t.Fatalf("stored photo: %s %v (EXIF left: %v)", ct, err, bytes.Contains(stored, []byte("Exif")))
	}
	if s := h.sentTo(uid); len(s) != 1 || s[0].Params["text"] != bot.DefaultTexts()["zh"].MediaReply {
		t.Errorf("the bot's answer to a photo: %+v", s)
	}

	// A photo whose file cannot be fetched: described, not lost.
	h.mustPost(messageUpdate(newUpdateID(), user(uid, ""), privateChat(uid), 2, "", map[string]any{
		"photo": []any{map[string]any{"file_id": "GONE", "file_unique_id": "g", "width": 8, "height": 6}}}))
	tx = h.transcript(itoa64(uid))
	var last bot.Entry
	for _, e := range tx {
		if e.Dir == "in" {
			last = e
		}
	}
	if last.Kind != bot.KindMedia || !strings.Contains(last.Text, "file_id=GONE") || last.Media != "" {
		t.Errorf("unfetchable photo: %+v", last)
	}

	// An agent's image.
	err = h.a.Send(context.Background(), bot.Outbound{Channel: "telegram", User: itoa64(uid), Conv: bot.ConvID("telegram", itoa64(uid)),
		Kind: bot.OutAgent, Agent: "alice", Text: "请看这张图", Media: tx[0].Media})
	if err != nil {
		t.Fatal(err)
	}
	sp := h.f.callsOf("sendPhoto")
	if len(sp) != 1 || sp[0].Params["caption"] != "请看这张图" || sp[0].Params["chat_id"] != itoa64(uid) {
		t.Fatalf("sendPhoto %+v", sp)
	}
	if up := h.f.uploaded(); len(up) != 1 || !bytes.Equal(up[0], stored) {
		t.Errorf("uploaded %d files", len(up))
	}
	if strings.Contains(h.logs.String(), testToken) {
		t.Error("the bot token is in the log")
	}
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
