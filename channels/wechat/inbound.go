package wechat

import (
	"context"
	"crypto/subtle"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/silenceper/wechat/v2/officialaccount/message"
	"github.com/silenceper/wechat/v2/util"

	"github.com/kefu-dev/kefu/bot"
)

// ServeHTTP is the server URL (服务器地址) configured in the official
// account: GET answers WeChat's echostr check, POST receives messages and
// events. Every request's signature is checked first; nothing unsigned is
// processed.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		a.verifyURL(w, r)
	case http.MethodPost:
		a.receive(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// verifyURL answers the echostr check WeChat makes when the server URL is
// saved. Official accounts send echostr in the clear, in safe mode too. The
// check carries a current timestamp like every request, and its (timestamp,
// nonce) pair is claimed like a message's: the same signature on a POST (a
// URL read from an access log) would otherwise carry any plaintext message.
func (a *Adapter) verifyURL(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	echo := q.Get("echostr")
	err := ErrSignature
	if a.signed(q) {
		err = a.fresh(q)
	}
	if err == nil && echo != "" {
		_, err = a.claimNonce(r.Context(), q, []byte("echostr:"+echo))
	}
	if err != nil {
		a.refuse(w, r, "wechat echostr check", err)
		return
	}
	if echo == "" {
		http.Error(w, "missing echostr", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, echo)
}

// refuse logs why a request is refused (never its signatures) and answers
// with the error's status.
func (a *Adapter) refuse(w http.ResponseWriter, r *http.Request, what string, err error) {
	q := r.URL.Query()
	st := statusOf(err)
	switch {
	case errors.Is(err, ErrStale):
		attrs := []any{"remote", r.RemoteAddr, "window", a.cfg.TimestampWindow, "timestamp", clip(q.Get("timestamp"))}
		if d, ok := a.skew(q); ok {
			attrs = append(attrs, "skew", d)
		}
		a.log.Warn("wechat request refused: timestamp outside the window", attrs...)
	case errors.Is(err, ErrReplay):
		a.log.Warn("wechat request refused: replayed", "remote", r.RemoteAddr,
			"timestamp", clip(q.Get("timestamp")), "nonce", clip(q.Get("nonce")), "err", err)
	case errors.Is(err, ErrMode):
		a.log.Warn("wechat request refused: "+err.Error(), "remote", r.RemoteAddr, "mode", a.cfg.Mode,
			"encrypt_type", clip(q.Get("encrypt_type")))
	case st >= 500:
		a.log.Error(what+" refused", "remote", r.RemoteAddr, "err", err)
	default:
		a.log.Warn(what+" refused", "remote", r.RemoteAddr, "err", err)
	}
	http.Error(w, http.StatusText(st), st)
}

// clip shortens a query value for the log.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// signed checks the signature WeChat puts on every request:
// sha1(sorted(token, timestamp, nonce)).
func (a *Adapter) signed(q url.Values) bool {
	want := util.Signature(a.cred.Token, q.Get("timestamp"), q.Get("nonce"))
	return subtle.ConstantTimeCompare([]byte(want), []byte(q.Get("signature"))) == 1
}

// open authenticates a POST and returns its message XML: the body itself
// for a plaintext message, the decrypted Encrypt element for an encrypted
// one (encrypt_type=aes), after checking msg_signature = sha1(sorted(token,
// timestamp, nonce, Encrypt)). The signed timestamp must be within the
// window, and the message protected as the mode requires: encrypted in safe
// mode, plaintext in plain mode, either in compatible mode. Errors:
// ErrSignature, ErrStale, ErrMode, ErrDecrypt, ErrMalformed.
func (a *Adapter) open(q url.Values, body []byte) (plain []byte, safe bool, err error) {
	if !a.signed(q) {
		return nil, false, ErrSignature
	}
	if err := a.fresh(q); err != nil {
		return nil, false, err
	}
	if q.Get("encrypt_type") != "aes" {
		if a.cfg.Mode == ModeSafe {
			// A downgrade: the query's signature does not cover the body.
			return nil, false, fmt.Errorf("%w: plaintext message in safe mode", ErrMode)
		}
		return body, false, nil
	}
	if a.cfg.Mode == ModePlain {
		return nil, true, fmt.Errorf("%w: encrypted message in plain mode", ErrMode)
	}
	var env message.EncryptedXMLMsg
	if err := xml.Unmarshal(body, &env); err != nil || env.EncryptedMsg == "" {
		return nil, true, fmt.Errorf("%w: no Encrypt element", ErrMalformed)
	}
	plain, err = a.decrypt(q.Get("timestamp"), q.Get("nonce"), q.Get("msg_signature"), env.EncryptedMsg)
	return plain, true, err
}

// decrypt checks the message signature and decrypts one Encrypt value with
// the library (AES-256-CBC, the AppID checked).
func (a *Adapter) decrypt(timestamp, nonce, msgSignature, encrypted string) ([]byte, error) {
	want := util.Signature(a.cred.Token, timestamp, nonce, encrypted)
	if subtle.ConstantTimeCompare([]byte(want), []byte(msgSignature)) != 1 {
		return nil, fmt.Errorf("%w: msg_signature", ErrSignature)
	}
	_, plain, err := util.DecryptMsg(a.cred.AppID, encrypted, a.cred.AESKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	return plain, nil
}

// parse reads the message XML.
func parse(plain []byte) (*message.MixMessage, error) {
	var mix message.MixMessage
	if err := xml.Unmarshal(plain, &mix); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if mix.FromUserName == "" || mix.MsgType == "" {
		return nil, fmt.Errorf("%w: no FromUserName or MsgType", ErrMalformed)
	}
	return &mix, nil
}

// statusOf maps an inbound error to its HTTP status.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrSignature), errors.Is(err, ErrDecrypt), errors.Is(err, ErrStale),
		errors.Is(err, ErrReplay), errors.Is(err, ErrMode):
		return http.StatusForbidden
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	default:
		return http.StatusBadRequest
	}
}

// readBody reads at most MaxBodyBytes.
func (a *Adapter) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, ErrTooLarge
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return body, nil
}

// session is what a passive reply needs from the request.
type session struct {
	to, from string // the reply's ToUserName (the customer) and FromUserName (the account)
	safe     bool
	nonce    string
}

// pending is one message being handled in the background. Whoever comes
// first decides how the reply goes: the worker with the result (passive
// reply) or the request at the end of the budget (async: the worker sends
// everything through the customer-service API).
//
// A retry of a message that was answered already (the engine says it is a
// duplicate) gets the passive reply remembered for it, if any: WeChat only
// retries when the answer did not reach it. A message answered through the
// API has none remembered, so its retries get "success" and nothing is sent
// twice.
type pending struct {
	mu       sync.Mutex
	done     chan struct{} // closed when finished is set
	written  chan struct{} // closed when the request has answered WeChat
	finished bool
	async    bool
	failed   bool     // handling failed within the budget: answer 500 so WeChat retries
	replay   bool     // texts is the remembered reply of an earlier try of the message
	texts    []string // the reply, split to WeChat's size limit
}

// receive handles one POST: authenticate, parse, check the nonce, then let
// the engine answer within the budget.
func (a *Adapter) receive(w http.ResponseWriter, r *http.Request) {
	body, err := a.readBody(w, r)
	var mix *message.MixMessage
	var safe, retry bool
	if err == nil {
		var plain []byte
		if plain, safe, err = a.open(r.URL.Query(), body); err == nil {
			if mix, err = parse(plain); err == nil {
				retry, err = a.claimNonce(r.Context(), r.URL.Query(), plain)
			}
		}
	}
	if err != nil {
		a.refuse(w, r, "wechat message", err)
		return
	}
	if retry {
		a.log.Info("wechat retry of a request", "user", string(mix.FromUserName), "remote", r.RemoteAddr)
	}
	m, ok := a.toMessage(mix)
	if !ok {
		writeSuccess(w) // an event the bot has nothing to do with
		return
	}
	sess := session{to: string(mix.FromUserName), from: string(mix.ToUserName), safe: safe, nonce: r.URL.Query().Get("nonce")}
	p := &pending{done: make(chan struct{}), written: make(chan struct{})}
	imageID := ""
	if mix.MsgType == message.MsgTypeImage {
		imageID = mix.MediaID
	}
	if !a.goWork(func(ctx context.Context) { a.process(ctx, p, a.keepImage(ctx, m, imageID)) }) {
		http.Error(w, "not running", http.StatusServiceUnavailable)
		return
	}
	defer close(p.written)
	t := time.NewTimer(a.cfg.ReplyBudget)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
	case <-r.Context().Done():
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.finished {
		p.async = true
		writeSuccess(w)
		return
	}
	if p.failed {
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	if len(p.texts) == 0 {
		writeSuccess(w)
		return
	}
	if r.Context().Err() != nil {
		// WeChat hung up: a passive reply would go nowhere. The worker sends
		// everything through the API, and WeChat's retry finds no reply
		// remembered, so it is not answered twice.
		return
	}
	out, err := a.passive(sess, p.texts[0])
	if err != nil { // cannot happen with valid credentials; send it instead
		a.log.Error("wechat passive reply", "user", m.User, "msg_id", m.ID, "err", err)
		writeSuccess(w)
		return
	}
	if !p.replay {
		// Remembered before WeChat can have it: its retry, if this answer is
		// lost or late, must find it (the retry comes 5 s after the try).
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), rememberTimeout)
		err := a.rememberReply(ctx, m.ID, p.texts[0])
		cancel()
		if err != nil { // the answer still goes; a retry would get success
			a.log.Warn("wechat passive reply not remembered", "user", m.User, "msg_id", m.ID, "err", err)
		}
	}
	p.texts = p.texts[1:]
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	_, _ = w.Write(out)
}

// rememberTimeout bounds the write of a passive reply to Redis.
const rememberTimeout = time.Second

func writeSuccess(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "success")
}

// process runs in the background: records the window, maps a typed number
// onto the choices offered, lets the engine handle the message, and hands
// the reply to the request (passive) or sends it through the API.
func (a *Adapter) process(ctx context.Context, p *pending, m bot.Message) {
	log := a.log.With("user", m.User, "msg_id", m.ID)
	texts, replay, err := a.handle(ctx, m)
	if err == nil && m.Kind != bot.KindLeave {
		a.wantNick(m.User) // in the background, after the answer
	}
	p.mu.Lock()
	if !p.async {
		p.finished, p.texts, p.replay, p.failed = true, texts, replay, err != nil && len(texts) == 0
		close(p.done)
		p.mu.Unlock()
		if err != nil {
			log.Error("wechat message not handled", "err", err)
		}
		<-p.written
		p.mu.Lock()
		texts = p.texts // what the passive reply left
		p.mu.Unlock()
		a.deliver(ctx, m.User, m.ID, texts, replay)
		return
	}
	p.mu.Unlock()
	if err != nil {
		// WeChat was told "success" and will not retry: say so to the customer.
		log.Error("wechat message not handled after the reply budget", "err", err)
		if len(texts) == 0 {
			texts = []string{a.cfg.BusyText}
		}
	}
	a.deliver(ctx, m.User, m.ID, texts, replay)
}

// handle is the part of process that can fail: window, numbers, engine,
// rendering. A panic in the engine is an error, not a crashed gateway. For
// a message the engine had seen (a retry), replay is true and texts is the
// passive reply remembered for it, if any.
func (a *Adapter) handle(ctx context.Context, m bot.Message) (texts []string, replay bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handle: panic: %v", r)
		}
	}()
	if m.Kind == bot.KindLeave {
		if err := a.closeWindow(ctx, m.User); err != nil {
			return nil, false, err
		}
	} else if err := a.touch(ctx, m.User, m.ID); err != nil {
		return nil, false, err
	}
	used, err := a.mapNumber(ctx, &m)
	if err != nil {
		return nil, false, err
	}
	outs, err := a.handler.Handle(ctx, m)
	if errors.Is(err, bot.ErrDuplicate) {
		// A retry: the first try answers (or answered through the API). If
		// its passive reply was lost, this one gives it again.
		text, ok, err := a.lostReply(ctx, m.ID)
		if err != nil {
			a.log.Warn("wechat retry: cannot read the reply given", "user", m.User, "msg_id", m.ID, "err", err)
		}
		if !ok {
			return nil, true, nil
		}
		return []string{text}, true, nil
	}
	if err == nil && used {
		a.dropOffer(ctx, m.User)
	}
	if err != nil && len(outs) == 0 {
		return nil, false, err
	}
	// Replies with an error still go out: the engine recorded them.
	return a.renderAll(ctx, m.User, outs), false, err
}

// deliver sends texts through the customer-service API, in order. A failure
// is logged (the engine already wrote the reply into the transcript). A
// replayed reply that did not go passively is sent only by whoever takes it
// from Redis first: once, however many retries come.
func (a *Adapter) deliver(ctx context.Context, user, msgID string, texts []string, replay bool) {
	if replay && len(texts) > 0 {
		text, ok, err := a.takeLostReply(ctx, msgID)
		if err != nil {
			a.log.Error("wechat reply not delivered", "user", user, "msg_id", msgID, "err", err)
			return
		}
		if !ok {
			return
		}
		texts = []string{text}
	}
	for _, t := range texts {
		if err := a.sendText(ctx, user, t); err != nil {
			a.log.Error("wechat reply not delivered", "user", user, "msg_id", msgID, "err", err)
			return
		}
	}
}

// toMessage maps a WeChat message or event onto a bot.Message; false for
// events the bot ignores (menu links, location reports, unknown menu keys…).
func (a *Adapter) toMessage(mix *message.MixMessage) (bot.Message, bool) {
	user := string(mix.FromUserName)
	m := bot.Message{Channel: Name, User: user, At: a.now()}
	if mix.MsgID != 0 {
		m.ID = strconv.FormatInt(mix.MsgID, 10)
	} else { // events carry no MsgId: the sender and the second identify them
		m.ID = fmt.Sprintf("%s:%d:%s:%s", user, mix.CreateTime, mix.MsgType, mix.Event)
	}
	media := func(format string, args ...any) (bot.Message, bool) {
		m.Kind, m.Text = bot.KindMedia, fmt.Sprintf(format, args...)
		return m, true
	}
	switch mix.MsgType {
	case message.MsgTypeText:
		m.Text = mix.Content
	case message.MsgTypeVoice:
		if r := strings.TrimSpace(mix.Recognition); r != "" {
			m.Text = r // WeChat's speech recognition: answer it as text
			return m, true
		}
		return media("[语音] media_id=%s format=%s", mix.MediaID, mix.Format)
	case message.MsgTypeImage:
		return media("[图片] media_id=%s pic_url=%s", mix.MediaID, mix.PicURL)
	case message.MsgTypeVideo, message.MsgTypeShortVideo:
		return media("[视频] media_id=%s thumb_media_id=%s", mix.MediaID, mix.ThumbMediaID)
	case message.MsgTypeLocation:
		return media("[位置] %s 纬度=%g 经度=%g 缩放=%g", mix.Label, mix.LocationX, mix.LocationY, mix.Scale)
	case message.MsgTypeLink:
		return media("[链接] %s %s %s", mix.Title, mix.URL, mix.Description)
	case message.MsgTypeEvent:
		switch mix.Event {
		case message.EventSubscribe:
			m.Kind = bot.KindStart
		case message.EventUnsubscribe:
			m.Kind = bot.KindLeave
		case message.EventClick:
			target, ok := a.cfg.Menu[mix.EventKey]
			if !ok {
				a.log.Warn("wechat menu key not configured", "user", user, "key", mix.EventKey)
				return m, false
			}
			m.Text = "[菜单] " + mix.EventKey
			if target == bot.ChoiceHuman {
				m.Kind = bot.KindHuman
			} else {
				m.Choice = target
			}
		default:
			return m, false
		}
	default:
		return media("[%s] media_id=%s", mix.MsgType, mix.MediaID)
	}
	return m, true
}

// mapNumber turns a bare number into the choice it picks from the last
// numbered list (or the survey score), using the offer kept in Redis; used
// is true when it did.
func (a *Adapter) mapNumber(ctx context.Context, m *bot.Message) (used bool, err error) {
	if m.Kind != bot.KindText || m.Choice != "" {
		return false, nil
	}
	n, rest, ok := leadingNumber(m.Text)
	if !ok {
		return false, nil
	}
	o, ok, err := a.loadOffer(ctx, m.User)
	if err != nil || !ok {
		return false, err
	}
	switch o.Kind {
	case offerChoices:
		if rest != "" || n < 1 || n > len(o.IDs) {
			return false, nil
		}
		if id := o.IDs[n-1]; id == bot.ChoiceHuman {
			m.Kind = bot.KindHuman
		} else {
			m.Choice = id
		}
		return true, nil
	case offerSurvey:
		if n < 1 || n > 5 {
			return false, nil
		}
		m.Kind, m.Choice, m.Text = bot.KindRating, strconv.Itoa(n), rest
		return true, nil
	}
	return false, nil
}

// leadingNumber splits "2", "２", "3。" or "5 很满意" / "5分" into the
// number and the rest.
func leadingNumber(s string) (n int, rest string, ok bool) {
	s = strings.TrimSpace(s)
	end, digits := 0, 0
	for i, r := range s {
		d := -1
		switch {
		case r >= '0' && r <= '9':
			d = int(r - '0')
		case r >= '０' && r <= '９':
			d = int(r - '０')
		}
		if d < 0 {
			break
		}
		n = n*10 + d
		digits++
		end = i + len(string(r))
		if digits > 3 {
			return 0, "", false
		}
	}
	if digits == 0 {
		return 0, "", false
	}
	rest = strings.TrimLeft(s[end:], " 　分.。、,，")
	return n, strings.TrimSpace(rest), true
}
