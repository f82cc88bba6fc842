package wechat

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Per-customer state in Redis, shared by every instance:
//
//	wechat:win:<openid>    HASH   at, n, mid: the 48-hour window and the quota (lua/*.lua)
//	wechat:offer:<openid>  STRING JSON offer: the numbered choices or survey last sent
//	wechat:cache:<key>     STRING the access token (tokenCache)
//	wechat:reply:<msg id>  STRING the passive reply given to a message, for WeChat's retries (ReplyTTL)
//	wechat:nonce:<ts>:<nonce> HASH the message a signed pair carried (replay.go; twice TimestampWindow)

var (
	//go:embed lua/touch.lua
	touchLua string
	//go:embed lua/permit.lua
	permitLua string
	//go:embed lua/refund.lua
	refundLua string

	touchScript  = redis.NewScript(touchLua)
	permitScript = redis.NewScript(permitLua)
	refundScript = redis.NewScript(refundLua)
)

func (a *Adapter) winKey(user string) string    { return a.prefix + "win:" + user }
func (a *Adapter) offerKey(user string) string  { return a.prefix + "offer:" + user }
func (a *Adapter) replyKey(msgID string) string { return a.prefix + "reply:" + msgID }

// touch records that the customer wrote: the window opens, the quota starts
// over (not for a retry of the same message).
func (a *Adapter) touch(ctx context.Context, user, msgID string) error {
	ttl := a.cfg.Window + time.Hour
	err := touchScript.Run(ctx, a.rdb, []string{a.winKey(user)},
		a.now().UnixMilli(), msgID, ttl.Milliseconds()).Err()
	if err != nil {
		return fmt.Errorf("touch %s: %w", user, err)
	}
	return nil
}

// permit counts one customer-service message, or says why it may not go.
func (a *Adapter) permit(ctx context.Context, user string) error {
	res, err := permitScript.Run(ctx, a.rdb, []string{a.winKey(user)},
		a.now().UnixMilli(), a.cfg.Window.Milliseconds(), a.cfg.Quota).Text()
	if err != nil {
		return fmt.Errorf("permit %s: %w", user, err)
	}
	switch res {
	case "ok":
		return nil
	case "quota":
		return ErrQuota
	default:
		return ErrWindowClosed
	}
}

// refund gives back the quota of a message that was not delivered.
func (a *Adapter) refund(ctx context.Context, user string) {
	if err := refundScript.Run(ctx, a.rdb, []string{a.winKey(user)}).Err(); err != nil {
		a.log.Warn("wechat refund quota", "user", user, "err", err)
	}
}

// closeWindow forgets the window (unsubscribe, or WeChat said 45015).
func (a *Adapter) closeWindow(ctx context.Context, user string) error {
	if err := a.rdb.Del(ctx, a.winKey(user)).Err(); err != nil {
		return fmt.Errorf("close window %s: %w", user, err)
	}
	return nil
}

// exhaust marks the quota used up (WeChat said 45047).
func (a *Adapter) exhaust(ctx context.Context, user string) {
	if err := a.rdb.HSet(ctx, a.winKey(user), "n", a.cfg.Quota).Err(); err != nil {
		a.log.Warn("wechat mark quota", "user", user, "err", err)
	}
}

// offer is what a customer can answer with a bare number.
type offer struct {
	Kind string   `json:"k"`             // offerChoices or offerSurvey
	IDs  []string `json:"ids,omitempty"` // intent ids (or bot.ChoiceHuman) numbered from 1
}

const (
	offerChoices = "choices"
	offerSurvey  = "survey"
)

func (a *Adapter) saveOffer(ctx context.Context, user string, o offer) error {
	ttl := a.cfg.ChoiceTTL
	if o.Kind == offerSurvey {
		ttl = a.cfg.SurveyTTL
	}
	b, _ := json.Marshal(o)
	if err := a.rdb.Set(ctx, a.offerKey(user), b, ttl).Err(); err != nil {
		return fmt.Errorf("save offer %s: %w", user, err)
	}
	return nil
}

// loadOffer returns the customer's current offer; ok is false when none.
func (a *Adapter) loadOffer(ctx context.Context, user string) (o offer, ok bool, err error) {
	b, err := a.rdb.Get(ctx, a.offerKey(user)).Bytes()
	if errors.Is(err, redis.Nil) {
		return o, false, nil
	}
	if err != nil {
		return o, false, fmt.Errorf("load offer %s: %w", user, err)
	}
	if json.Unmarshal(b, &o) != nil {
		return o, false, nil
	}
	return o, true, nil
}

func (a *Adapter) dropOffer(ctx context.Context, user string) {
	if err := a.rdb.Del(ctx, a.offerKey(user)).Err(); err != nil {
		a.log.Warn("wechat drop offer", "user", user, "err", err)
	}
}

// rememberReply keeps the passive reply to a message for ReplyTTL: WeChat
// retries a message only when it got no answer in time, so a retry of a
// message whose passive reply was given means that reply was lost, and the
// retry gets it again (WeChat takes one answer per message).
func (a *Adapter) rememberReply(ctx context.Context, msgID, text string) error {
	if err := a.rdb.Set(ctx, a.replyKey(msgID), text, a.cfg.ReplyTTL).Err(); err != nil {
		return fmt.Errorf("remember reply %s: %w", msgID, err)
	}
	return nil
}

// lostReply returns the passive reply given to a message; ok is false when
// there is none (the message was answered through the API, or not at all).
func (a *Adapter) lostReply(ctx context.Context, msgID string) (text string, ok bool, err error) {
	return storedReply("lost reply", msgID, a.rdb.Get(ctx, a.replyKey(msgID)))
}

// takeLostReply is lostReply for a send through the API: it removes the
// reply, so that it goes out that way once, and later retries get success.
func (a *Adapter) takeLostReply(ctx context.Context, msgID string) (text string, ok bool, err error) {
	return storedReply("take lost reply", msgID, a.rdb.GetDel(ctx, a.replyKey(msgID)))
}

// storedReply is the reply a read of a message's reply key found; ok is
// false when there was none.
func storedReply(op, msgID string, cmd *redis.StringCmd) (text string, ok bool, err error) {
	text, err = cmd.Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("%s %s: %w", op, msgID, err)
	}
	return text, true, nil
}
