package web

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/internal/realip"
)

// Limits are the channel's limits per visitor and per client address,
// counted in Redis and shared by every instance. 0 turns a limit off.
type Limits struct {
	MessagesPerSecond        float64 // per visitor
	MessageBurst             int     // per visitor
	MessagesPerSecondPerAddr float64
	MessageBurstPerAddr      int
	SessionsPerMinutePerAddr int // new visitors
	HandoffsPerHourPerAddr   int
	WSPerVisitor             int // open WebSockets
	WSPerAddr                int
}

var (
	//go:embed lua/limit.lua
	limitLua    string
	limitScript = redis.NewScript(limitLua)
	//go:embed lua/profile.lua
	profileLua    string
	profileScript = conv.Script(profileLua)
	//go:embed lua/socket_open.lua
	socketOpenLua    string
	socketOpenScript = redis.NewScript(socketOpenLua)
)

// A bucket is one limit (GCRA): up to burst units at once, then one more
// each interval. Its key names what it counts.
type bucket struct {
	key      string
	interval time.Duration
	burst    int
}

// perSecond is a bucket of rate units per second; ok is false when the
// limit is off.
func perSecond(key string, rate float64, burst int) (bucket, bool) {
	if rate <= 0 {
		return bucket{}, false
	}
	return bucket{key: key, interval: time.Duration(float64(time.Second) / rate), burst: max(burst, 1)}, true
}

// perPeriod is a bucket of n units per period, all of them at once at most.
func perPeriod(key string, n int, period time.Duration) (bucket, bool) {
	if n <= 0 {
		return bucket{}, false
	}
	return bucket{key: key, interval: period / time.Duration(n), burst: n}, true
}

// limitError is ErrRateLimited with the time after which a retry may pass.
type limitError struct{ wait time.Duration }

func (e *limitError) Error() string { return ErrRateLimited.Error() }
func (e *limitError) Unwrap() error { return ErrRateLimited }

// retryAfter is the Retry-After of a refusal, in whole seconds (at least 1).
func retryAfter(err error) int {
	var le *limitError
	if errors.As(err, &le) {
		return max(1, int((le.wait+time.Second-1)/time.Second))
	}
	return 1
}

// Key builders: the web channel owns every key under prefix+"web:".

func (a *Adapter) revokedKey(user string) string  { return a.prefix + "web:revoked:" + user }
func (a *Adapter) msgUserKey(user string) string  { return a.prefix + "web:rl:msg:v:" + user }
func (a *Adapter) msgAddrKey(addr string) string  { return a.prefix + "web:rl:msg:a:" + addr }
func (a *Adapter) sessAddrKey(addr string) string { return a.prefix + "web:rl:sess:a:" + addr }
func (a *Adapter) handAddrKey(addr string) string { return a.prefix + "web:rl:handoff:a:" + addr }
func (a *Adapter) wsUserKey(user string) string   { return a.prefix + "web:ws:v:" + user }
func (a *Adapter) wsAddrKey(addr string) string   { return a.prefix + "web:ws:a:" + addr }
func (a *Adapter) secretKey() string              { return a.prefix + "web:secret" }

// errRevoked reports a token issued before its visitor was revoked; it is
// ErrNoVisitor.
var errRevoked = fmt.Errorf("%w: revoked", ErrNoVisitor)

// take checks a visitor's token against its revocation (unless iat is zero)
// and takes one unit from every bucket, or none: a *limitError (also
// ErrRateLimited) when a bucket is empty, errRevoked when revoked. One round
// trip.
func (a *Adapter) take(ctx context.Context, user string, iat time.Time, bs ...bucket) error {
	if iat.IsZero() && len(bs) == 0 {
		return nil
	}
	keys := make([]string, 0, len(bs)+1)
	args := make([]any, 0, 2*len(bs)+2)
	keys = append(keys, a.revokedKey(user))
	at := int64(-1)
	if !iat.IsZero() {
		at = iat.UnixMilli()
	}
	args = append(args, a.now().UnixMilli(), at)
	for _, b := range bs {
		keys = append(keys, b.key)
		args = append(args, strconv.FormatFloat(float64(b.interval)/float64(time.Millisecond), 'f', -1, 64), b.burst)
	}
	n, err := limitScript.Run(ctx, a.rdb, keys, args...).Int64()
	switch {
	case err != nil:
		return fmt.Errorf("limit: %w", err)
	case n < 0:
		return errRevoked
	case n > 0:
		return &limitError{wait: time.Duration(n) * time.Millisecond}
	}
	return nil
}

// messageBuckets are the limits on one customer message.
func (a *Adapter) messageBuckets(user, addr string) []bucket {
	l := a.cfg.Limits
	var bs []bucket
	if b, ok := perSecond(a.msgUserKey(user), l.MessagesPerSecond, l.MessageBurst); ok {
		bs = append(bs, b)
	}
	if addr != "" {
		if b, ok := perSecond(a.msgAddrKey(realip.Key(addr)), l.MessagesPerSecondPerAddr, l.MessageBurstPerAddr); ok {
			bs = append(bs, b)
		}
	}
	return bs
}

// socketLease is how long an open WebSocket counts toward the caps without
// being renewed; an open socket is renewed at each ping (every third of it).
const socketLease = 90 * time.Second

// socketPing is how often an open socket is pinged and its lease renewed.
const socketPing = socketLease / 3

// errSocketCap reports a visitor or an address with as many open sockets as
// allowed; it is ErrRateLimited.
var errSocketCap = &limitError{wait: socketPing}

// openSocket counts a new socket for its visitor and address, or refuses it
// (errSocketCap) when either is at its cap.
func (a *Adapter) openSocket(ctx context.Context, c *client) error {
	l := a.cfg.Limits
	if l.WSPerVisitor <= 0 && l.WSPerAddr <= 0 {
		return nil
	}
	n, err := socketOpenScript.Run(ctx, a.rdb, []string{a.wsUserKey(c.user), a.wsAddrKey(realip.Key(c.addr))},
		a.now().UnixMilli(), socketLease.Milliseconds(), c.id, l.WSPerVisitor, l.WSPerAddr).Int64()
	if err != nil {
		return fmt.Errorf("socket open: %w", err)
	}
	if n != 0 {
		return errSocketCap
	}
	c.counted = true
	return nil
}

// renewSocket extends an open socket's lease (one round trip).
func (a *Adapter) renewSocket(ctx context.Context, c *client) error {
	if !c.counted {
		return nil
	}
	until := float64(a.now().Add(socketLease).UnixMilli())
	_, err := a.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range []string{a.wsUserKey(c.user), a.wsAddrKey(realip.Key(c.addr))} {
			p.ZAdd(ctx, k, redis.Z{Score: until, Member: c.id})
			p.PExpire(ctx, k, socketLease)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("socket renew: %w", err)
	}
	return nil
}

// Connected says whether a web customer (a visitor id, or "u:<id>") has a
// chat page open now, on any instance: an open socket counted under its
// lease. known is false when sockets are not counted (web.limits
// ws_per_visitor and ws_per_addr both 0): then nobody can tell.
func (a *Adapter) Connected(ctx context.Context, user string) (connected, known bool, err error) {
	l := a.cfg.Limits
	if l.WSPerVisitor <= 0 && l.WSPerAddr <= 0 {
		return false, false, nil
	}
	n, err := a.rdb.ZCount(ctx, a.wsUserKey(user), "("+strconv.FormatInt(a.now().UnixMilli(), 10), "+inf").Result()
	if err != nil {
		return false, false, fmt.Errorf("connected %s: %w", user, err)
	}
	return n > 0, true, nil
}

// closeSocket stops counting a closed socket.
func (a *Adapter) closeSocket(ctx context.Context, c *client) {
	if !c.counted {
		return
	}
	_, err := a.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, a.wsUserKey(c.user), c.id)
		p.ZRem(ctx, a.wsAddrKey(realip.Key(c.addr)), c.id)
		return nil
	})
	if err != nil {
		a.log.Warn("socket close", "user", c.user, "err", err) // its lease ends it
	}
}

// HandoffAllowed is bot.Engine's HandoffAllowed: a web customer's hand-off
// takes one from their client address's hourly allowance; refused when it
// is spent (the engine tells the customer the agents are busy). Other
// channels' messages and messages without an address are not limited here.
func (a *Adapter) HandoffAllowed(ctx context.Context, m bot.Message) (bool, error) {
	if m.Channel != Name || m.Addr == "" {
		return true, nil
	}
	b, on := perPeriod(a.handAddrKey(realip.Key(m.Addr)), a.cfg.Limits.HandoffsPerHourPerAddr, time.Hour)
	if !on {
		return true, nil
	}
	err := a.take(ctx, m.User, time.Time{}, b)
	if errors.Is(err, ErrRateLimited) {
		a.log.Info("hand-off refused: the client address's hourly limit is reached", "user", m.User)
		return false, nil
	}
	return err == nil, err
}
