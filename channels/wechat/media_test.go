package wechat

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/media"
	"github.com/kefu-dev/kefu/media/mediatest"
)

func imageXML(user string, msgID int64, mediaID string) string {
	return fmt.Sprintf(`<xml><ToUserName><![CDATA[%s]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://mmbiz.qpic.cn/x]]></PicUrl><MediaId><![CDATA[%s]]></MediaId><MsgId>%d</MsgId></xml>`, account, user, mediaID, msgID)
}

// TestImages: with a media store, a customer's image message is fetched
// through the temporary media API (media/get, by MediaId), kept without
// its EXIF and reaches the transcript as an image; one that cannot be
// fetched stays a description with MediaId. An agent's image is uploaded
// (media/upload, type image) and sent as a customer-service image message
// after its caption. No secret reaches the log.
func TestImages(t *testing.T) {
	rdb, prefix := mustRedis(t)
	api := newFakeAPI(t)
	eng, _ := mustEngine(t, rdb, prefix)
	a := mustAdapter(t, Config{}, eng, rdb, prefix)
	dir, err := media.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc, err := media.NewService(dir, media.Config{Secret: "0123456789abcdef-media"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.SetMedia(svc)
	c := &wx{tb: t, url: a.srv.URL}
	const user = "oCUSTOMER_images"
	api.addMedia("MEDIA_1", mediatest.WithEXIF(t, mediatest.JPEG(t, 50, 40), 1))
	code, reply := c.post(imageXML(user, nextMsgID(), "MEDIA_1"))
	if code != 200 || reply != bot.DefaultTexts()["zh"].MediaReply {
		t.Fatalf("image: %d %q", code, reply)
	}
	tx, err := eng.Store.Transcript(context.Background(), bot.ConvID(Name, user), "")
	if err != nil || len(tx) == 0 {
		t.Fatal(tx, err)
	}
	in := tx[0]
	if in.Kind != bot.KindImage || !media.ValidKey(in.Media) || in.Text != "" {
		t.Fatalf("entry %+v", in)
	}
	stored, _, err := svc.Read(context.Background(), in.Media)
	if err != nil || bytes.Contains(stored, []byte("Exif")) || bytes.Contains(stored, []byte(mediatest.Marker)) {
		t.Fatalf("stored image: %v (EXIF left: %v)", err, bytes.Contains(stored, []byte("Exif")))
	}

	// An image whose medium is gone: its description reaches the agent.
	c.post(imageXML(user, nextMsgID(), "GONE"))
	tx, _ = eng.Store.Transcript(context.Background(), bot.ConvID(Name, user), "")
	var last bot.Entry
	for _, e := range tx {
		if e.Dir == "in" {
			last = e
		}
	}
	if last.Kind != bot.KindMedia || !strings.Contains(last.Text, "media_id=GONE") {
		t.Errorf("unfetchable image: %+v", last)
	}

	// The agent's image, with a caption.
	before := len(api.sentMessages())
	err = a.Send(context.Background(), bot.Outbound{Channel: Name, User: user, Conv: bot.ConvID(Name, user), Kind: bot.OutAgent,
		Agent: "alice", Text: "请看这张图", Media: in.Media})
	if err != nil {
		t.Fatal(err)
	}
	sends := api.sentMessages()[before:]
	if len(sends) != 2 || sends[0].Text != "请看这张图" {
		t.Fatalf("sends %+v", sends)
	}
	img, _ := sends[1].Raw["image"].(map[string]any)
	if sends[1].Raw["msgtype"] != "image" || img["media_id"] != "UPLOADED_1" || sends[1].To != user {
		t.Errorf("image message %+v", sends[1].Raw)
	}
	if up := api.uploaded(); len(up) != 1 || !bytes.Equal(up[0], stored) {
		t.Errorf("uploaded %d images", len(up))
	}
}
