package wechat

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/silenceper/wechat/v2/officialaccount/user"
	"github.com/silenceper/wechat/v2/util"

	"github.com/kefu-dev/kefu/conv"
)

// The customer's nickname for the agents: read once from WeChat's user-info
// API (用户基本信息, cgi-bin/user/info) after a customer's message has been
// handled, never on the way to the answer, and kept on the conversation
// (conv.FieldCustomerNick). A mark in Redis (nickKey) makes every instance
// ask at most once per customer per nickTTL (nickRetry after a failure);
// each instance also skips customers it asked about lately without a round
// trip. WeChat has returned no nickname to official accounts since
// December 2021 unless the account set a remark (备注名) for the user: the
// remark is used when the nickname is empty.
const (
	userInfoURL   = "https://api.weixin.qq.com/cgi-bin/user/info"
	nickTTL       = 7 * 24 * time.Hour
	nickRetry     = 10 * time.Minute
	nickSeenCap   = 10000 // customers remembered by one instance
	nickInFlight  = 2     // user-info calls at once per instance
	nickMaxRunes  = 64
	nickCallLimit = 10 * time.Second
)

func (a *Adapter) nickKey(user string) string { return a.prefix + "nick:" + user }

// wantNick asks, in the background, for the customer's nickname unless this
// instance asked lately. It never blocks: with nickInFlight calls running,
// the customer is left for their next message.
func (a *Adapter) wantNick(openID string) {
	if openID == "" {
		return
	}
	now := a.now()
	a.nickMu.Lock()
	if t, ok := a.nickSeen[openID]; ok && now.Sub(t) < nickRetry {
		a.nickMu.Unlock()
		return
	}
	if a.nickSeen == nil || len(a.nickSeen) >= nickSeenCap {
		a.nickSeen = map[string]time.Time{}
	}
	if a.nickBusy >= nickInFlight {
		a.nickMu.Unlock()
		return
	}
	a.nickSeen[openID] = now
	a.nickBusy++
	a.nickMu.Unlock()
	started := a.goWork(func(ctx context.Context) {
		defer a.nickDone()
		ctx, cancel := context.WithTimeout(ctx, nickCallLimit)
		defer cancel()
		if err := a.fetchNick(ctx, openID); err != nil {
			a.log.Warn("wechat user info", "user", openID, "err", err)
		}
	})
	if !started {
		a.nickDone()
	}
}

func (a *Adapter) nickDone() {
	a.nickMu.Lock()
	a.nickBusy--
	a.nickMu.Unlock()
}

// fetchNick reads the customer's nickname (else remark) once per nickTTL
// across instances and writes it on their conversation.
func (a *Adapter) fetchNick(ctx context.Context, openID string) error {
	ok, err := a.rdb.SetNX(ctx, a.nickKey(openID), "1", nickTTL).Result()
	if err != nil || !ok {
		return err // asked already (by any instance), or Redis is down: next time
	}
	nick, err := a.userInfo(ctx, openID)
	if err != nil {
		// Ask again after nickRetry, not nickTTL.
		_ = a.rdb.Expire(context.WithoutCancel(ctx), a.nickKey(openID), nickRetry).Err()
		return err
	}
	if nick == "" {
		return nil
	}
	key := conv.Key(strings.TrimSuffix(a.prefix, "wechat:"), conv.ThreadID(Name, openID))
	// Only on a conversation that exists (the hash is the conversation's).
	if n, err := a.rdb.Exists(ctx, key).Result(); err != nil || n == 0 {
		return err
	}
	return a.rdb.HSet(ctx, key, conv.FieldCustomerNick, nick).Err()
}

// userInfo calls the user-info API (the library's user.Info is its answer),
// with the shared access token; the token is never in an error.
func (a *Adapter) userInfo(ctx context.Context, openID string) (string, error) {
	token, err := a.oa.GetAccessTokenContext(ctx)
	if err != nil {
		return "", fmt.Errorf("%w: %s", ErrToken, a.redact(err, ""))
	}
	q := url.Values{"access_token": {token}, "openid": {openID}, "lang": {"zh_CN"}}
	body, err := util.HTTPGetContext(ctx, userInfoURL+"?"+q.Encode())
	if err != nil {
		return "", fmt.Errorf("%w: %s", ErrTransport, a.redact(err, token))
	}
	var info user.Info
	if err := json.Unmarshal(body, &info); err != nil {
		return "", fmt.Errorf("%w: unreadable answer: %s", ErrTransport, a.redact(err, token))
	}
	if info.ErrCode != 0 {
		return "", &APIError{Code: info.ErrCode, Msg: info.ErrMsg}
	}
	n := strings.TrimSpace(info.Nickname)
	if n == "" {
		n = strings.TrimSpace(info.Remark)
	}
	if r := []rune(n); len(r) > nickMaxRunes {
		n = string(r[:nickMaxRunes])
	}
	return n, nil
}
