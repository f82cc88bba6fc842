package wechat

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Replay protection. WeChat signs the query of every request (token,
// timestamp, nonce), and in safe mode the encrypted body too. A signed
// request is accepted only
//   - when its timestamp is within Config.TimestampWindow of the gateway's
//     clock (a captured URL is worthless after it), and
//   - for one message per (timestamp, nonce) pair, remembered in Redis for
//     twice the window, so on every instance and for as long as the
//     timestamp would pass.
//
// WeChat's own retries of a message (it tries three more times when it got
// no answer within 5 s, or a status other than 200) reuse the first try's
// timestamp, nonce and signature: an operator's nginx log of four tries of
// one MsgId shows the same query each time
// (https://tb.rustfisher.com/2021/08/03/NestJS/mp-wx-http-status-code).
// Refusing every second use of a pair would refuse those retries, and with
// them the cases they exist for: a first try answered 500 (the engine could
// not store the answer), a passive reply lost on the way, an instance that
// died mid-message (the retry takes the message over). So a repeat of a pair
// is let through, to the MsgId dedupe (the engine answers a retry once),
// when it carries the very same message (same hash of the message XML,
// decrypted in safe mode), within retrySpan of the first try, and at most
// retryRepeats times. Another body under a used pair (the forgery: one
// captured URL, any openid and text) is refused, and so is the same request
// after WeChat's retries are over. A replay inside the span of the same
// message changes nothing: the engine has that MsgId already.

//go:embed lua/nonce.lua
var nonceLua string

var nonceScript = redis.NewScript(nonceLua)

const (
	// retrySpan: WeChat's three retries come 5 s apart after the first
	// try, so within about 15 s of it; the rest is slack for the network.
	retrySpan = 30 * time.Second
	// retryRepeats: WeChat retries a message three times.
	retryRepeats = 3
	// nonceTimeout bounds the nonce check.
	nonceTimeout = time.Second
)

func (a *Adapter) nonceKey(ts, nonce string) string { return a.prefix + "nonce:" + ts + ":" + nonce }

// skew is how far the request's signed timestamp is from the gateway's
// clock (positive: in the past); ok is false when there is no timestamp or
// it is not a number.
func (a *Adapter) skew(q url.Values) (d time.Duration, ok bool) {
	ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
	if err != nil {
		return 0, false
	}
	const maxSec = math.MaxInt64 / int64(time.Second)
	switch diff := a.now().Unix() - ts; { // absurd timestamps must not overflow
	case diff > maxSec:
		return math.MaxInt64, true
	case diff < -maxSec:
		return math.MinInt64, true
	default:
		return time.Duration(diff) * time.Second, true
	}
}

// fresh checks the signed timestamp against the window (ErrStale).
func (a *Adapter) fresh(q url.Values) error {
	d, ok := a.skew(q)
	if !ok {
		return fmt.Errorf("%w: no timestamp", ErrStale)
	}
	if d > a.cfg.TimestampWindow || d < -a.cfg.TimestampWindow {
		return fmt.Errorf("%w: skew %v", ErrStale, d)
	}
	return nil
}

// claimNonce records that the request's (timestamp, nonce) pair carries
// plain (the message XML). retry is true for WeChat's retry of the message
// (see above); ErrReplay for a replay; ErrUnavailable when Redis cannot say
// (the request is refused: fail closed, WeChat retries).
func (a *Adapter) claimNonce(ctx context.Context, q url.Values, plain []byte) (retry bool, err error) {
	// Not cancelled when WeChat hangs up: the message is handled (and its
	// answer sent through the API) all the same.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), nonceTimeout)
	defer cancel()
	sum := sha256.Sum256(plain)
	res, err := nonceScript.Run(ctx, a.rdb, []string{a.nonceKey(q.Get("timestamp"), q.Get("nonce"))},
		hex.EncodeToString(sum[:16]), a.now().UnixMilli(), (2 * a.cfg.TimestampWindow).Milliseconds(),
		retrySpan.Milliseconds(), retryRepeats).Text()
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	switch res {
	case "new":
		return false, nil
	case "retry":
		return true, nil
	case "other":
		return false, fmt.Errorf("%w: by another message", ErrReplay)
	default:
		return false, fmt.Errorf("%w: after WeChat's retries", ErrReplay)
	}
}
