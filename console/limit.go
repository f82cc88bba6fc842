package console

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/internal/realip"
)

// The sign-in limit counts failures only, in Redis so that every instance
// shares it, under two keys per attempt: the client address (Deps.ClientIP,
// which honours the trusted proxies) and the (agent id, address) pair. A key
// that reaches its limit is locked with an exponential back-off
// (Config.SignInLock doubling up to Config.SignInMaxLock). A lock refuses
// every attempt it covers before the password is checked, so a locked pair
// costs no bcrypt. No key is per agent id alone: failures from one address
// never lock an agent out at another, and a success clears its pair.

var (
	//go:embed lua/signin_fail.lua
	signInFailLua    string
	signInFailScript = redis.NewScript(signInFailLua)
	//go:embed lua/signin_ok.lua
	signInOKLua    string
	signInOKScript = redis.NewScript(signInOKLua)
)

// signInKeys are the limit's keys for one attempt: the address's, then the
// pair's when the agent id can be part of a key (validAgentID; its letters
// exclude "|").
func (c *Console) signInKeys(id, ip string) []string {
	p := c.cfg.KeyPrefix + "signin:"
	ip = realip.Key(ip) // an IPv6 client picks any address of its /64
	keys := []string{p + "ip:" + ip}
	if validAgentID(id) {
		keys = append(keys, p+"pair:"+id+"|"+ip)
	}
	return keys
}

// lockedUntil turns a lock end (Unix ms; 0: none) into the error refusing
// the attempt, nil when it is not in the future.
func (c *Console) lockedUntil(until int64) error {
	wait := time.UnixMilli(until).Sub(c.deps.Now())
	if until == 0 || wait <= 0 {
		return nil
	}
	return &lockedError{wait: wait}
}

// signInLocked is checked before the password: a *lockedError while the
// address or the pair is locked.
func (c *Console) signInLocked(ctx context.Context, keys []string) error {
	cmds := make([]*redis.SliceCmd, len(keys))
	_, err := c.deps.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.HMGet(ctx, k, "until")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sign-in limit: %w", err)
	}
	var latest int64
	for _, cmd := range cmds {
		var u int64
		if s, ok := cmd.Val()[0].(string); ok {
			_, _ = fmt.Sscan(s, &u)
		}
		latest = max(latest, u)
	}
	return c.lockedUntil(latest)
}

// signInFailed counts a failure. It returns a *lockedError when the attempt
// met a lock already in place (placed false), or placed true with the lock
// this failure started.
func (c *Console) signInFailed(ctx context.Context, keys []string) (placed bool, err error) {
	res, err := signInFailScript.Run(ctx, c.deps.Redis, keys,
		c.deps.Now().UnixMilli(), c.cfg.SignInFailuresPerIP, c.cfg.SignInFailures,
		c.cfg.SignInLock.Milliseconds(), c.cfg.SignInMaxLock.Milliseconds(), c.cfg.SignInWindow.Milliseconds()).Int64Slice()
	if err != nil {
		return false, fmt.Errorf("sign-in limit: %w", err)
	}
	if len(res) != 2 {
		return false, fmt.Errorf("sign-in limit: reply %v", res)
	}
	if res[1] == 1 {
		return true, nil
	}
	return false, c.lockedUntil(res[0])
}

// signInAdmitted is called after a right password: a *lockedError when
// concurrent failures locked the address or the pair meanwhile; otherwise
// the pair's failures are forgotten.
func (c *Console) signInAdmitted(ctx context.Context, keys []string) error {
	until, err := signInOKScript.Run(ctx, c.deps.Redis, keys, c.deps.Now().UnixMilli()).Int64()
	if err != nil {
		return fmt.Errorf("sign-in limit: success: %w", err)
	}
	return c.lockedUntil(until)
}
