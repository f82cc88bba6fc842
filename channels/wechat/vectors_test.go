package wechat

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/silenceper/wechat/v2/officialaccount/message"
	"github.com/silenceper/wechat/v2/util"

	"github.com/kefu-dev/kefu/bot"
)

// vector is one entry of testdata/wxbizmsgcrypt_vectors.json (a copy of
// ../shared/vectors/wechat: WeChat's official 消息加解密 samples, WxJava,
// EasyWeChat and wechatpy test values).
type vector struct {
	ID                   string `json:"id"`
	Kind                 string `json:"kind"`
	Product              string `json:"product"`
	Token                string `json:"token"`
	AESKey               string `json:"encoding_aes_key"`
	AppID                string `json:"appid"`
	ReceiveID            string `json:"receive_id"`
	Random16             string `json:"random16"`
	Plaintext            string `json:"plaintext"`
	ExpectedEncrypt      string `json:"expected_encrypt_b64"`
	Timestamp            string `json:"timestamp"`
	Nonce                string `json:"nonce"`
	MsgSignature         string `json:"msg_signature"`
	PostBody             string `json:"post_body_xml"`
	Encrypt              string `json:"encrypt"`
	Echostr              string `json:"echostr"`
	ExpectedPlaintext    string `json:"expected_plaintext"`
	ExpectedReplyXML     string `json:"expected_reply_xml"`
	ExpectedMsgSignature string `json:"expected_msg_signature"`
	IdenticalToOfficial  bool   `json:"identical_to_official"`
	NegativeCase         *struct {
		Nonce  string `json:"nonce"`
		Expect string `json:"expect"`
	} `json:"negative_case"`
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/wxbizmsgcrypt_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Vectors []vector }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) != 11 {
		t.Fatalf("%d vectors, want 11", len(f.Vectors))
	}
	return f.Vectors
}

// vectorAdapter is an adapter with a vector's credentials (the receive id of
// a WeCom vector stands in the AppID's place: the algorithm is the same).
// Its Redis client is never used by the functions under test.
func vectorAdapter(t *testing.T, v vector) *Adapter {
	t.Helper()
	id := v.AppID
	if id == "" {
		id = v.ReceiveID
	}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { rdb.Close() })
	a, err := New(Config{}, Credentials{AppID: id, AppSecret: "unused", Token: v.Token, AESKey: v.AESKey}, &recordingHandler{}, rdb, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	a.now = vectorClock(t, v)
	return a
}

// vectorClock shows the vector's timestamp: the vectors are years old, and
// a request is accepted only within the timestamp window.
func vectorClock(t *testing.T, v vector) func() time.Time {
	t.Helper()
	if v.Timestamp == "" {
		return time.Now
	}
	ts, err := strconv.ParseInt(v.Timestamp, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return func() time.Time { return time.Unix(ts, 0) }
}

// TestVectors checks kefu's safe-mode path (signature, decryption, the
// encrypted reply with a fixed random) against every published vector,
// byte for byte.
func TestVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.ID, func(t *testing.T) {
			if v.IdenticalToOfficial {
				if v.Token != "" || v.Encrypt != "" {
					t.Fatal("a vector marked identical_to_official carries values: test them")
				}
				t.Skip("same values as official_java_testAesEncrypt/2")
			}
			a := vectorAdapter(t, v)
			switch v.Kind {
			case "encrypt_fixed_random":
				testEncryptVector(t, a, v)
			case "decrypt_msg":
				testDecryptVector(t, a, v)
			case "verify_url":
				testVerifyURLVector(t, a, v)
			default:
				t.Fatalf("unknown vector kind %q", v.Kind)
			}
		})
	}
}

func testEncryptVector(t *testing.T, a *Adapter, v vector) {
	ts, nonce := v.Timestamp, v.Nonce
	if ts == "" { // the Java sample's values
		ts, nonce = "1409304348", "xxxxxx"
	}
	out, err := a.seal([]byte(v.Random16), []byte(v.Plaintext), ts, nonce)
	if err != nil {
		t.Fatal(err)
	}
	var env message.ResponseEncryptedXMLMsg
	if err := xml.Unmarshal(out, &env); err != nil {
		t.Fatalf("reply %s: %v", out, err)
	}
	if env.EncryptedMsg != v.ExpectedEncrypt {
		t.Errorf("Encrypt\n got %s\nwant %s", env.EncryptedMsg, v.ExpectedEncrypt)
	}
	wantSig := sign(v.Token, ts, nonce, v.ExpectedEncrypt)
	if v.ExpectedMsgSignature != "" && wantSig != v.ExpectedMsgSignature {
		t.Fatalf("the test's own signature %s disagrees with the vector's %s", wantSig, v.ExpectedMsgSignature)
	}
	if env.MsgSignature != wantSig || env.Nonce != nonce || env.Timestamp == 0 {
		t.Errorf("reply envelope %+v, want signature %s", env, wantSig)
	}
	if v.ExpectedReplyXML != "" { // wechatpy's layout differs; its values must not
		var want message.ResponseEncryptedXMLMsg
		if err := xml.Unmarshal([]byte(v.ExpectedReplyXML), &want); err != nil {
			t.Fatal(err)
		}
		if want != env {
			t.Errorf("reply\n got %+v\nwant %+v", env, want)
		}
	}
	// And back: kefu opens what it sealed.
	plain, err := a.decrypt(ts, nonce, env.MsgSignature, env.EncryptedMsg)
	if err != nil || string(plain) != v.Plaintext {
		t.Errorf("round trip: %q %v", plain, err)
	}
}

func testDecryptVector(t *testing.T, a *Adapter, v vector) {
	plain, err := a.decrypt(v.Timestamp, v.Nonce, v.MsgSignature, v.Encrypt)
	if err != nil {
		t.Fatal(err)
	}
	if string(plain) != v.ExpectedPlaintext {
		t.Errorf("plaintext\n got %q\nwant %q", plain, v.ExpectedPlaintext)
	}
	flip := "0"
	if strings.HasSuffix(v.MsgSignature, "0") {
		flip = "1"
	}
	bad := v.MsgSignature[:len(v.MsgSignature)-1] + flip
	if _, err := a.decrypt(v.Timestamp, v.Nonce, bad, v.Encrypt); !errors.Is(err, ErrSignature) {
		t.Errorf("altered msg_signature: %v, want ErrSignature", err)
	}
	other := vectorAdapter(t, v)
	other.cred.AppID = "wx0000000000000000"
	if _, err := other.decrypt(v.Timestamp, v.Nonce, v.MsgSignature, v.Encrypt); !errors.Is(err, ErrDecrypt) {
		t.Errorf("another AppID: %v, want ErrDecrypt", err)
	}
	body := v.PostBody
	if body == "" {
		body = "<xml><ToUserName><![CDATA[x]]></ToUserName><Encrypt><![CDATA[" + v.Encrypt + "]]></Encrypt></xml>"
	}
	q := url.Values{"timestamp": {v.Timestamp}, "nonce": {v.Nonce}, "signature": {sign(v.Token, v.Timestamp, v.Nonce)},
		"encrypt_type": {"aes"}, "msg_signature": {v.MsgSignature}}
	plain, safe, err := a.open(q, []byte(body))
	if err != nil || !safe || string(plain) != v.ExpectedPlaintext {
		t.Errorf("open the POST body: %q safe=%v %v", plain, safe, err)
	}
	if v.Product == "official_account" {
		testVectorThroughServer(t, v, q, body)
	}
}

// testVectorThroughServer posts an official-account vector to the server
// URL: the engine gets the decrypted message and the reply is encrypted
// with the vector's key.
func testVectorThroughServer(t *testing.T, v vector, q url.Values, body string) {
	rdb, prefix := mustRedis(t)
	h := &recordingHandler{}
	a, err := New(Config{ReplyBudget: 30 * time.Second}, Credentials{AppID: v.AppID, AppSecret: "unused", Token: v.Token, AESKey: v.AESKey}, h, rdb, prefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.cfg.Mode != ModeSafe {
		t.Fatalf("mode %q with an EncodingAESKey, want safe by default", a.cfg.Mode)
	}
	a.now = vectorClock(t, v)
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	defer a.Close()
	defer srv.Close()
	resp, err := http.Post(srv.URL+"?"+q.Encode(), "text/xml", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var mix message.MixMessage
	if err := xml.Unmarshal([]byte(v.ExpectedPlaintext), &mix); err != nil {
		t.Fatal(err)
	}
	got := h.got()
	if resp.StatusCode != 200 || len(got) != 1 || got[0].User != string(mix.FromUserName) || got[0].Text != mix.Content {
		t.Fatalf("server: %d %s, engine got %+v", resp.StatusCode, out, got)
	}
	var env message.ResponseEncryptedXMLMsg
	if err := xml.Unmarshal(out, &env); err != nil {
		t.Fatalf("reply %s: %v", out, err)
	}
	if env.MsgSignature != sign(v.Token, itoa(env.Timestamp), env.Nonce, env.EncryptedMsg) {
		t.Errorf("reply signature %s", env.MsgSignature)
	}
	_, reply, err := util.DecryptMsg(v.AppID, env.EncryptedMsg, v.AESKey)
	if err != nil || !strings.Contains(string(reply), "收到："+mix.Content) || !strings.Contains(string(reply), string(mix.FromUserName)) {
		t.Errorf("reply %s %v", reply, err)
	}
	if got[0].Kind != bot.KindText {
		t.Errorf("kind %q", got[0].Kind)
	}
}

func testVerifyURLVector(t *testing.T, a *Adapter, v vector) {
	plain, err := a.decrypt(v.Timestamp, v.Nonce, v.MsgSignature, v.Echostr)
	if err != nil || string(plain) != v.ExpectedPlaintext {
		t.Errorf("echostr: %q %v, want %q", plain, err, v.ExpectedPlaintext)
	}
	if v.NegativeCase != nil {
		if _, err := a.decrypt(v.Timestamp, v.NegativeCase.Nonce, v.MsgSignature, v.Echostr); !errors.Is(err, ErrSignature) {
			t.Errorf("negative case (nonce %s): %v, want ErrSignature", v.NegativeCase.Nonce, err)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
