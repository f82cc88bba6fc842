package wechat

import (
	"bytes"
	"context"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/silenceper/wechat/v2/officialaccount/message"
	"github.com/silenceper/wechat/v2/util"

	"github.com/kefu-dev/kefu/bot"
)

// countingHandler answers every message and counts them.
type countingHandler struct{ n atomic.Int64 }

func (c *countingHandler) Handle(_ context.Context, m bot.Message) ([]bot.Outbound, error) {
	c.n.Add(1)
	if m.User == "" || m.ID == "" {
		panic("a message without user or id reached the engine")
	}
	return []bot.Outbound{{Channel: Name, User: m.User, Kind: bot.OutClarify, Text: m.Text,
		Choices: []bot.Choice{{ID: "a", Label: "A"}, {ID: bot.ChoiceHuman, Label: "转人工"}}}}, nil
}

// FuzzInbound feeds arbitrary bodies to the server URL, unsigned, with a bad
// signature, signed in plain mode, encrypted and signed in safe mode, and
// in a signed envelope with a bad msg_signature. It must never panic, never
// let an unauthenticated body reach the engine, and answer every
// authenticated one with 200, 400 or 413.
//
//	go test -run '^$' -fuzz FuzzInbound -fuzztime 60s ./channels/wechat/
func FuzzInbound(f *testing.F) {
	rdb, prefix := mustRedis(f)
	h := &countingHandler{}
	a, err := New(Config{Mode: ModeCompatible, MaxBodyBytes: 8 << 10, ReplyBudget: 30 * time.Second}, testCred, h, rdb, prefix, nil)
	if err != nil {
		f.Fatal(err)
	}
	a.now = func() time.Time { return time.Unix(1700000000, 0) }
	var seq atomic.Int64 // a new nonce for each request: none is a replay
	if err := a.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { a.Close() })

	for _, seed := range []string{
		textXML("oFuzz", 1, "快递到哪了"),
		textXML("oFuzz", 2, "1"),
		eventXML("oFuzz", 1700000000, "subscribe", ""),
		eventXML("oFuzz", 1700000001, "CLICK", "X"),
		eventXML("oFuzz", 1700000002, "unsubscribe", ""),
		`<xml><ToUserName>gh</ToUserName><FromUserName>oFuzz</FromUserName><CreateTime>1</CreateTime><MsgType>voice</MsgType><Recognition>你好</Recognition><MsgId>3</MsgId></xml>`,
		`<xml><FromUserName>oFuzz</FromUserName><MsgType>location</MsgType><Location_X>abc</Location_X></xml>`,
		`<xml><Encrypt><![CDATA[AAAA]]></Encrypt></xml>`,
		`<xml><FromUserName>oFuzz</FromUserName><MsgType>text</MsgType><MsgId>99999999999999999999</MsgId></xml>`,
		"<xml>", "", "\x00\xff", "<!DOCTYPE x [<!ENTITY a \"b\">]><xml>&a;</xml>",
	} {
		for mode := range byte(5) {
			f.Add([]byte(seed), mode)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, mode byte) {
		mode %= 5
		ts, nonce := "1700000000", strconv.FormatInt(seq.Add(1), 10)
		q := url.Values{}
		switch mode {
		case 0: // unsigned
		case 1: // signed with another token
			q = url.Values{"timestamp": {ts}, "nonce": {nonce}, "signature": {sign("not-the-token", ts, nonce)}}
		case 2: // plain mode, signed
			q = url.Values{"timestamp": {ts}, "nonce": {nonce}, "signature": {sign(testCred.Token, ts, nonce)}}
		case 3, 4: // safe mode: encrypted and signed; 4 with a bad msg_signature
			enc, err := util.EncryptMsg([]byte("0123456789abcdef"), body, testCred.AppID, testCred.AESKey)
			if err != nil {
				t.Fatal(err)
			}
			msgSig := sign(testCred.Token, ts, nonce, string(enc))
			if mode == 4 {
				msgSig = sign(testCred.Token, ts, nonce, string(enc)+"x")
			}
			q = url.Values{"timestamp": {ts}, "nonce": {nonce}, "signature": {sign(testCred.Token, ts, nonce)},
				"encrypt_type": {"aes"}, "msg_signature": {msgSig}}
			body, _ = xml.Marshal(message.EncryptedXMLMsg{ToUserName: account, EncryptedMsg: string(enc)})
		}
		before := h.n.Load()
		req := httptest.NewRequest(http.MethodPost, "/wechat?"+q.Encode(), bytes.NewReader(body))
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		authentic := mode == 2 || mode == 3
		switch {
		case rec.Code == http.StatusRequestEntityTooLarge:
		case !authentic && rec.Code != http.StatusForbidden:
			t.Fatalf("mode %d: status %d, want 403", mode, rec.Code)
		case authentic && rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest:
			t.Fatalf("mode %d: status %d", mode, rec.Code)
		}
		if !authentic && h.n.Load() != before {
			t.Fatalf("mode %d: an unauthenticated body reached the engine", mode)
		}
		if rec.Code == http.StatusOK && rec.Body.String() != "success" {
			var v struct{ XMLName xml.Name }
			if err := xml.Unmarshal(rec.Body.Bytes(), &v); err != nil {
				t.Fatalf("reply is not XML: %q", rec.Body.String())
			}
		}
	})
}
