package wechat

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/silenceper/wechat/v2/officialaccount/message"
	"github.com/silenceper/wechat/v2/util"
	"go.uber.org/goleak"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/internal/testkit"
	"github.com/kefu-dev/kefu/internal/testkit/sampletest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Test credentials (not real ones).
var testCred = Credentials{
	AppID:     "wx1234567890abcdef",
	AppSecret: "s3cr3t-app-secret-value-0123456789",
	Token:     "kefutesttoken",
	AESKey:    "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
}

const account = "gh_kefu_test" // the official account's original id (ToUserName)

// mustRedis connects to the test redis-server and returns a key prefix of
// the test's own (its keys are deleted when the test ends).
func mustRedis(tb testing.TB) (redis.UniversalClient, string) {
	tb.Helper()
	rdb := testkit.Redis(tb, 0)
	return rdb, testkit.PrefixOn(tb, rdb)
}

// mustNoSecrets fails when a log holds a secret.
func mustNoSecrets(tb testing.TB, logs string) {
	tb.Helper()
	for _, s := range []string{testCred.AppSecret, testCred.AESKey, testCred.Token, "ACCESS_TOKEN_"} {
		if strings.Contains(logs, s) {
			tb.Errorf("a secret (%.6s…) was logged:\n%s", s, logs)
		}
	}
}

// fakeAPI is an httptest fake of api.weixin.qq.com recording every call.
type fakeAPI struct {
	srv *httptest.Server

	mu         sync.Mutex
	tokenCalls int
	sendCalls  int
	expiresIn  int
	sends      []sent
	codes      []int64 // errcodes for the next sends; then 0
	statuses   []int   // HTTP statuses for the next sends; then 200
	sentc      chan sent
	media      map[string][]byte // temporary media served by media/get, by media_id
	uploads    [][]byte          // images received by media/upload

	// The user-info API: each openid's nickname and remark, the calls
	// (openids asked for), and, when set, a gate each call waits on.
	infos     map[string][2]string
	infoCalls []string
	infoGate  chan struct{}
}

// addMedia makes a temporary medium downloadable by its id.
func (f *fakeAPI) addMedia(id string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.media == nil {
		f.media = map[string][]byte{}
	}
	f.media[id] = data
}

// uploaded returns the images received by media/upload.
func (f *fakeAPI) uploaded() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.uploads...)
}

// sent is one customer-service message as WeChat received it.
type sent struct {
	Token string
	Raw   map[string]any // the JSON body
	To    string
	Text  string
}

func newFakeAPI(tb testing.TB) *fakeAPI {
	tb.Helper()
	f := &fakeAPI{expiresIn: 7200, sentc: make(chan sent, 100)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cgi-bin/token", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		q := r.URL.Query()
		if q.Get("appid") != testCred.AppID || q.Get("secret") != testCred.AppSecret || q.Get("grant_type") != "client_credential" {
			fmt.Fprint(w, `{"errcode":40125,"errmsg":"invalid appsecret"}`)
			return
		}
		f.tokenCalls++
		fmt.Fprintf(w, `{"access_token":"ACCESS_TOKEN_%d","expires_in":%d}`, f.tokenCalls, f.expiresIn)
	})
	mux.HandleFunc("POST /cgi-bin/message/custom/send", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.sendCalls++
		if len(f.statuses) > 0 {
			st := f.statuses[0]
			f.statuses = f.statuses[1:]
			w.WriteHeader(st)
			return
		}
		tok := r.URL.Query().Get("access_token")
		if tok != fmt.Sprintf("ACCESS_TOKEN_%d", f.tokenCalls) {
			fmt.Fprint(w, `{"errcode":40001,"errmsg":"invalid credential, access_token is invalid or not latest"}`)
			return
		}
		var code int64
		if len(f.codes) > 0 {
			code, f.codes = f.codes[0], f.codes[1:]
		}
		if code != 0 {
			fmt.Fprintf(w, `{"errcode":%d,"errmsg":"fake error %d"}`, code, code)
			return
		}
		var raw map[string]any
		if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
			fmt.Fprint(w, `{"errcode":47001,"errmsg":"data format error"}`)
			return
		}
		s := sent{Token: tok, Raw: raw}
		s.To, _ = raw["touser"].(string)
		if t, ok := raw["text"].(map[string]any); ok {
			s.Text, _ = t["content"].(string)
		}
		f.sends = append(f.sends, s)
		f.sentc <- s
		fmt.Fprint(w, `{"errcode":0,"errmsg":"ok"}`)
	})
	mux.HandleFunc("GET /cgi-bin/user/info", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		gate := f.infoGate
		f.mu.Unlock()
		if gate != nil {
			<-gate
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		q := r.URL.Query()
		f.infoCalls = append(f.infoCalls, q.Get("openid"))
		if q.Get("access_token") != fmt.Sprintf("ACCESS_TOKEN_%d", f.tokenCalls) {
			fmt.Fprint(w, `{"errcode":40001,"errmsg":"invalid credential"}`)
			return
		}
		in, ok := f.infos[q.Get("openid")]
		if !ok {
			fmt.Fprint(w, `{"errcode":40003,"errmsg":"invalid openid"}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"subscribe": 1, "openid": q.Get("openid"), "nickname": in[0], "remark": in[1], "language": "zh_CN"})
	})
	mux.HandleFunc("GET /cgi-bin/media/get", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if r.URL.Query().Get("access_token") != fmt.Sprintf("ACCESS_TOKEN_%d", f.tokenCalls) {
			fmt.Fprint(w, `{"errcode":40001,"errmsg":"invalid credential"}`)
			return
		}
		data, ok := f.media[r.URL.Query().Get("media_id")]
		if !ok {
			fmt.Fprint(w, `{"errcode":40007,"errmsg":"invalid media_id"}`)
			return
		}
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(data)
	})
	mux.HandleFunc("POST /cgi-bin/media/upload", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if r.URL.Query().Get("access_token") != fmt.Sprintf("ACCESS_TOKEN_%d", f.tokenCalls) || r.URL.Query().Get("type") != "image" {
			fmt.Fprint(w, `{"errcode":40001,"errmsg":"invalid credential or type"}`)
			return
		}
		file, _, err := r.FormFile("media")
		if err != nil {
			fmt.Fprint(w, `{"errcode":41005,"errmsg":"media data missing"}`)
			return
		}
		b, _ := io.ReadAll(file)
		f.uploads = append(f.uploads, b)
		fmt.Fprintf(w, `{"type":"image","media_id":"UPLOADED_%d","created_at":1700000000}`, len(f.uploads))
	})
	f.srv = httptest.NewServer(mux)
	util.SetURIModifier(func(uri string) string {
		return strings.Replace(uri, "https://api.weixin.qq.com", f.srv.URL, 1)
	})
	tb.Cleanup(func() {
		util.SetURIModifier(nil)
		f.srv.Close()
	})
	return f
}

func (f *fakeAPI) failNext(codes ...int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.codes = append(f.codes, codes...)
}

func (f *fakeAPI) failStatus(statuses ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statuses = append(f.statuses, statuses...)
}

// rotate acts as if someone else fetched a new token: ours is now invalid.
func (f *fakeAPI) rotate() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenCalls++
}

func (f *fakeAPI) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sendCalls
}

func (f *fakeAPI) sentMessages() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sent(nil), f.sends...)
}

func (f *fakeAPI) tokens() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenCalls
}

// next waits for the next customer-service message (a guard against a hung
// test, not a timing assertion).
func (f *fakeAPI) next(tb testing.TB) sent {
	tb.Helper()
	select {
	case s := <-f.sentc:
		return s
	case <-time.After(20 * time.Second):
		tb.Fatal("no customer-service message was sent")
		return sent{}
	}
}

// testAdapter is an adapter served on loopback.
type testAdapter struct {
	*Adapter
	srv  *httptest.Server
	logs *testkit.LogBuffer
}

func mustAdapter(tb testing.TB, cfg Config, h Handler, rdb redis.UniversalClient, prefix string) *testAdapter {
	tb.Helper()
	return mustAdapterFor(tb, cfg, testCred, h, rdb, prefix)
}

// mustAdapterFor is mustAdapter with other credentials.
func mustAdapterFor(tb testing.TB, cfg Config, cred Credentials, h Handler, rdb redis.UniversalClient, prefix string) *testAdapter {
	tb.Helper()
	if cfg.Mode == "" {
		// The tests post plaintext and encrypted messages to one adapter;
		// the modes have their own tests (replay_test.go).
		cfg.Mode = ModeCompatible
	}
	if cfg.ReplyBudget == 0 {
		// Tests that expect a passive reply must not depend on how busy the
		// machine is: the slow path has its own tests with a gated engine.
		cfg.ReplyBudget = 30 * time.Second
	}
	logs := &testkit.LogBuffer{}
	a, err := New(cfg, cred, h, rdb, prefix, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		tb.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	ta := &testAdapter{Adapter: a, srv: httptest.NewServer(a), logs: logs}
	tb.Cleanup(func() {
		ta.srv.Close()
		a.Close()
		mustNoSecrets(tb, logs.String())
	})
	return ta
}

// sign is the request signature, computed independently of the library.
func sign(parts ...string) string {
	sort.Strings(parts)
	h := sha1.Sum([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(h[:])
}

// wx plays WeChat's server: it signs (and in safe mode encrypts) messages and
// reads the replies. Each post is a new request, with a nonce of its own and
// the current time of now (default time.Now: the adapter's default clock);
// resend repeats the last one byte for byte, as WeChat's retries do.
type wx struct {
	tb   testing.TB
	url  string
	safe bool
	now  func() time.Time

	last struct {
		query string
		body  []byte
	}
}

// nonceSeq makes every request's nonce new, across wx values and tests.
var nonceSeq atomic.Int64

// signedQuery is the query WeChat puts on a plaintext message: a new nonce,
// the timestamp of now, and their signature.
func signedQuery(now time.Time) url.Values {
	ts, nonce := fmt.Sprint(now.Unix()), fmt.Sprint(900000000+nonceSeq.Add(1))
	return url.Values{"timestamp": {ts}, "nonce": {nonce}, "signature": {sign(testCred.Token, ts, nonce)}, "openid": {"x"}}
}

// seal encrypts a message XML into the envelope of an encrypted request and
// adds encrypt_type and msg_signature to q.
func seal(tb testing.TB, q url.Values, inner []byte) []byte {
	tb.Helper()
	enc, err := util.EncryptMsg([]byte("0123456789abcdef"), inner, testCred.AppID, testCred.AESKey)
	if err != nil {
		tb.Fatal(err)
	}
	q.Set("encrypt_type", "aes")
	q.Set("msg_signature", sign(testCred.Token, q.Get("timestamp"), q.Get("nonce"), string(enc)))
	return []byte(fmt.Sprintf("<xml><ToUserName><![CDATA[%s]]></ToUserName><Encrypt><![CDATA[%s]]></Encrypt></xml>", account, enc))
}

// post sends one message XML and returns the HTTP status and the reply:
// "success", or the text of the passive reply.
func (c *wx) post(inner string) (int, string) {
	c.tb.Helper()
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	q := signedQuery(now())
	body := []byte(inner)
	if c.safe {
		body = seal(c.tb, q, body)
	}
	c.last.query, c.last.body = q.Encode(), body
	return c.send()
}

// resend repeats the last request unchanged (WeChat's retry).
func (c *wx) resend() (int, string) {
	c.tb.Helper()
	if c.last.query == "" {
		c.tb.Fatal("resend before post")
	}
	return c.send()
}

func (c *wx) send() (int, string) {
	c.tb.Helper()
	resp, err := http.Post(c.url+"?"+c.last.query, "text/xml", bytes.NewReader(c.last.body))
	if err != nil {
		c.tb.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(out) == "success" {
		return resp.StatusCode, string(out)
	}
	return resp.StatusCode, c.readReply(out)
}

// readReply checks and opens a passive reply.
func (c *wx) readReply(out []byte) string {
	c.tb.Helper()
	raw := out
	if c.safe {
		var env message.ResponseEncryptedXMLMsg
		if err := xml.Unmarshal(out, &env); err != nil || env.EncryptedMsg == "" {
			c.tb.Fatalf("safe-mode reply is not encrypted: %v %s", err, out)
		}
		if want := sign(testCred.Token, fmt.Sprint(env.Timestamp), env.Nonce, env.EncryptedMsg); env.MsgSignature != want {
			c.tb.Errorf("reply MsgSignature %s, want %s", env.MsgSignature, want)
		}
		_, plain, err := util.DecryptMsg(testCred.AppID, env.EncryptedMsg, testCred.AESKey)
		if err != nil {
			c.tb.Fatalf("decrypt reply: %v", err)
		}
		raw = plain
	}
	var reply struct {
		To      string `xml:"ToUserName"`
		From    string `xml:"FromUserName"`
		MsgType string `xml:"MsgType"`
		Content string `xml:"Content"`
	}
	if err := xml.Unmarshal(raw, &reply); err != nil {
		c.tb.Fatalf("reply %s: %v", raw, err)
	}
	if reply.From != account || reply.MsgType != "text" || reply.To == "" {
		c.tb.Errorf("reply header %+v", reply)
	}
	return reply.Content
}

var msgSeq int64 = 7000000000000000000

func nextMsgID() int64 {
	msgSeq++
	return msgSeq
}

func textXML(user string, msgID int64, content string) string {
	return fmt.Sprintf(`<xml><ToUserName><![CDATA[%s]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[%s]]></Content><MsgId>%d</MsgId></xml>`, account, user, content, msgID)
}

func eventXML(user string, created int64, event, key string) string {
	return fmt.Sprintf(`<xml><ToUserName><![CDATA[%s]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName><CreateTime>%d</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[%s]]></Event><EventKey><![CDATA[%s]]></EventKey></xml>`, account, user, created, event, key)
}

// queueHandoff is a recording hand-off that answers with a queue notice.
type queueHandoff struct {
	mu    sync.Mutex
	convs []bot.Conversation
}

const queueNotice = "您前面还有 1 位顾客，预计等待 2 分钟。"

func (q *queueHandoff) Enqueue(_ context.Context, c bot.Conversation) ([]bot.Outbound, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.convs = append(q.convs, c)
	return []bot.Outbound{{Channel: c.Channel, User: c.User, Conv: c.ID, Kind: bot.OutNotice, Text: queueNotice}}, nil
}

func mustEngine(tb testing.TB, rdb redis.UniversalClient, prefix string) (*bot.Engine, *queueHandoff) {
	tb.Helper()
	l := sampletest.Live(tb)
	h := &queueHandoff{}
	return &bot.Engine{Store: bot.NewStore(rdb, prefix), Matcher: l.Matcher, Texts: bot.DefaultTexts(), Handoff: h}, h
}

// recordingHandler is a fake engine: it records messages and answers text.
type recordingHandler struct {
	mu   sync.Mutex
	msgs []bot.Message
}

func (r *recordingHandler) Handle(_ context.Context, m bot.Message) ([]bot.Outbound, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	if m.Kind == bot.KindLeave {
		return nil, nil
	}
	return []bot.Outbound{{Channel: m.Channel, User: m.User, Kind: bot.OutAnswer, Text: "收到：" + m.Text}}, nil
}

func (r *recordingHandler) got() []bot.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bot.Message(nil), r.msgs...)
}
