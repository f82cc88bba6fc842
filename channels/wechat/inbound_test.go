package wechat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/silenceper/wechat/v2/util"

	"github.com/kefu-dev/kefu/bot"
)

// TestEvents: WeChat's messages and events as bot.Message.
func TestEvents(t *testing.T) {
	rdb, prefix := mustRedis(t)
	newFakeAPI(t)
	h := &recordingHandler{}
	a := mustAdapter(t, Config{Menu: map[string]string{"MENU_TRACK": "logistics_track", "MENU_HUMAN": bot.ChoiceHuman}}, h, rdb, prefix)
	c := &wx{tb: t, url: a.srv.URL}
	const u = "oUser_events"
	head := func(typ string) string {
		return fmt.Sprintf(`<xml><ToUserName><![CDATA[%s]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName><CreateTime>1700000100</CreateTime><MsgType><![CDATA[%s]]></MsgType>`, account, u, typ)
	}
	for _, tc := range []struct {
		name, xml string
		want      *bot.Message // nil: ignored, answered "success"
	}{
		{"subscribe", eventXML(u, 1700000001, "subscribe", "qrscene_123"),
			&bot.Message{ID: u + ":1700000001:event:subscribe", Kind: bot.KindStart}},
		{"menu intent", eventXML(u, 1700000002, "CLICK", "MENU_TRACK"),
			&bot.Message{ID: u + ":1700000002:event:CLICK", Text: "[菜单] MENU_TRACK", Choice: "logistics_track"}},
		{"menu human", eventXML(u, 1700000003, "CLICK", "MENU_HUMAN"),
			&bot.Message{ID: u + ":1700000003:event:CLICK", Kind: bot.KindHuman, Text: "[菜单] MENU_HUMAN"}},
		{"menu unknown", eventXML(u, 1700000004, "CLICK", "NOPE"), nil},
		{"menu link", eventXML(u, 1700000005, "VIEW", "https://shop.example/"), nil},
		{"location report", eventXML(u, 1700000006, "LOCATION", ""), nil},
		{"text", head("text") + `<Content><![CDATA[快递到哪了]]></Content><MsgId>1234567890123456</MsgId></xml>`,
			&bot.Message{ID: "1234567890123456", Text: "快递到哪了"}},
		{"voice recognised", head("voice") + `<MediaId><![CDATA[V1]]></MediaId><Format><![CDATA[amr]]></Format><Recognition><![CDATA[我的快递到哪了]]></Recognition><MsgId>2</MsgId></xml>`,
			&bot.Message{ID: "2", Text: "我的快递到哪了"}},
		{"voice", head("voice") + `<MediaId><![CDATA[V2]]></MediaId><Format><![CDATA[amr]]></Format><MsgId>3</MsgId></xml>`,
			&bot.Message{ID: "3", Kind: bot.KindMedia, Text: "[语音] media_id=V2 format=amr"}},
		{"image", head("image") + `<PicUrl><![CDATA[http://mmbiz.qpic.cn/x.jpg]]></PicUrl><MediaId><![CDATA[IMG1]]></MediaId><MsgId>4</MsgId></xml>`,
			&bot.Message{ID: "4", Kind: bot.KindMedia, Text: "[图片] media_id=IMG1 pic_url=http://mmbiz.qpic.cn/x.jpg"}},
		{"video", head("video") + `<MediaId><![CDATA[VID]]></MediaId><ThumbMediaId><![CDATA[TH]]></ThumbMediaId><MsgId>5</MsgId></xml>`,
			&bot.Message{ID: "5", Kind: bot.KindMedia, Text: "[视频] media_id=VID thumb_media_id=TH"}},
		{"location", head("location") + `<Location_X>31.2304</Location_X><Location_Y>121.4737</Location_Y><Scale>15</Scale><Label><![CDATA[上海市黄浦区]]></Label><MsgId>6</MsgId></xml>`,
			&bot.Message{ID: "6", Kind: bot.KindMedia, Text: "[位置] 上海市黄浦区 纬度=31.2304 经度=121.4737 缩放=15"}},
		{"link", head("link") + `<Title><![CDATA[订单截图]]></Title><Description><![CDATA[看这个]]></Description><Url><![CDATA[https://x.example/a]]></Url><MsgId>7</MsgId></xml>`,
			&bot.Message{ID: "7", Kind: bot.KindMedia, Text: "[链接] 订单截图 https://x.example/a 看这个"}},
		{"unsubscribe", eventXML(u, 1700000009, "unsubscribe", ""),
			&bot.Message{ID: u + ":1700000009:event:unsubscribe", Kind: bot.KindLeave}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(h.got())
			st, reply := c.post(tc.xml)
			if st != 200 {
				t.Fatalf("status %d", st)
			}
			got := h.got()[before:]
			if tc.want == nil {
				if len(got) != 0 || reply != "success" {
					t.Errorf("ignored event reached the engine: %+v (%q)", got, reply)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("engine got %d messages", len(got))
			}
			want := *tc.want
			want.Channel, want.User, want.At = Name, u, got[0].At
			if diff := cmp.Diff(want, got[0]); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
	// Unsubscribed: the window is gone, Send refuses without calling WeChat.
	err := a.Send(context.Background(), bot.Outbound{Channel: Name, User: u, Kind: bot.OutAgent, Text: "x"})
	if !errors.Is(err, ErrWindowClosed) {
		t.Errorf("send after unsubscribe: %v", err)
	}
}

// TestRefused: nothing unsigned, undecryptable, oversized or malformed is
// processed or stored.
func TestRefused(t *testing.T) {
	rdb, prefix := mustRedis(t)
	newFakeAPI(t)
	h := &recordingHandler{}
	a := mustAdapter(t, Config{MaxBodyBytes: 1024}, h, rdb, prefix)
	a.now = func() time.Time { return time.Unix(1700000000, 0) }
	msg := textXML("oUser_refused", 42, "快递到哪了")
	ts, nonce := "1700000000", "12345"
	sig := sign(testCred.Token, ts, nonce)
	enc, _ := util.EncryptMsg([]byte("0123456789abcdef"), []byte(msg), testCred.AppID, testCred.AESKey)
	otherApp, _ := util.EncryptMsg([]byte("0123456789abcdef"), []byte(msg), "wxOTHERAPP", testCred.AESKey)
	envelope := func(e string) string {
		return "<xml><ToUserName>gh</ToUserName><Encrypt><![CDATA[" + e + "]]></Encrypt></xml>"
	}
	plainQ := url.Values{"timestamp": {ts}, "nonce": {nonce}, "signature": {sig}}
	safeQ := func(e string, msgSig string) url.Values {
		return url.Values{"timestamp": {ts}, "nonce": {nonce}, "signature": {sig}, "encrypt_type": {"aes"}, "msg_signature": {msgSig}}
	}
	with := func(q url.Values, k, v string) url.Values {
		c := url.Values{}
		for key, vs := range q {
			c[key] = vs
		}
		c.Set(k, v)
		return c
	}
	garbage := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	for _, tc := range []struct {
		name   string
		method string
		q      url.Values
		body   string
		status int
	}{
		{"no signature", "POST", url.Values{}, msg, 403},
		{"bad signature", "POST", with(plainQ, "signature", sign("wrongtoken", ts, nonce)), msg, 403},
		{"signature of other nonce", "POST", with(plainQ, "nonce", "12346"), msg, 403},
		{"safe: bad msg_signature", "POST", safeQ(string(enc), sign(testCred.Token, ts, nonce, string(enc)+"x")), envelope(string(enc)), 403},
		{"safe: msg_signature missing", "POST", safeQ(string(enc), ""), envelope(string(enc)), 403},
		{"safe: signed garbage", "POST", safeQ(garbage, sign(testCred.Token, ts, nonce, garbage)), envelope(garbage), 403},
		{"safe: other AppID", "POST", safeQ(string(otherApp), sign(testCred.Token, ts, nonce, string(otherApp))), envelope(string(otherApp)), 403},
		{"safe: no Encrypt", "POST", safeQ("", sign(testCred.Token, ts, nonce, "")), "<xml></xml>", 400},
		{"oversized", "POST", plainQ, msg + strings.Repeat(" ", 2048), 413},
		{"oversized unsigned", "POST", url.Values{}, strings.Repeat("x", 4096), 413},
		{"malformed XML", "POST", plainQ, "<xml><FromUserName>x</From", 400},
		{"not XML", "POST", plainQ, "hello", 400},
		{"no sender", "POST", plainQ, "<xml><MsgType>text</MsgType><Content>hi</Content></xml>", 400},
		{"GET bad signature", "GET", with(with(plainQ, "echostr", "e1"), "signature", "0000"), "", 403},
		{"GET no echostr", "GET", plainQ, "", 400},
		{"PUT", "PUT", plainQ, msg, 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, a.srv.URL+"?"+tc.q.Encode(), bytes.NewReader([]byte(tc.body)))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d (%s), want %d", resp.StatusCode, body, tc.status)
			}
		})
	}
	if got := h.got(); len(got) != 0 {
		t.Errorf("refused requests reached the engine: %+v", got)
	}
	if keys, _ := rdb.Keys(context.Background(), prefix+"*").Result(); len(keys) != 0 {
		t.Errorf("refused requests stored %v", keys)
	}
	// The echostr check with a valid signature answers echostr.
	resp, err := http.Get(a.srv.URL + "?" + with(plainQ, "echostr", "5927782489442352469").Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "5927782489442352469" {
		t.Errorf("echostr: %d %q", resp.StatusCode, body)
	}
}
