package wechat

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/silenceper/wechat/v2/cache"
	"github.com/silenceper/wechat/v2/credential"
)

// tokenCache is the library's cache.Cache over go-redis v9 (the library's
// own Redis cache uses v8, its memory cache races), so that every gateway
// instance shares one access token. The library stores the token with a TTL
// of expires_in-1500 s (credential.DefaultAccessToken), so it is fetched
// again 25 minutes before WeChat expires it; Get must return a string (the
// library type-asserts it) or nil.
type tokenCache struct {
	rdb     redis.UniversalClient
	prefix  string
	timeout time.Duration // for the calls that get no context from the library
}

var _ cache.ContextCache = (*tokenCache)(nil)

func (c *tokenCache) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.timeout)
}

// Get implements cache.Cache.
func (c *tokenCache) Get(key string) any {
	ctx, cancel := c.ctx()
	defer cancel()
	return c.GetContext(ctx, key)
}

// GetContext implements cache.ContextCache: the value, or nil when missing
// or Redis fails (the library then fetches a new token).
func (c *tokenCache) GetContext(ctx context.Context, key string) any {
	v, err := c.rdb.Get(ctx, c.prefix+key).Result()
	if err != nil {
		return nil
	}
	return v
}

// Set implements cache.Cache.
func (c *tokenCache) Set(key string, val any, timeout time.Duration) error {
	ctx, cancel := c.ctx()
	defer cancel()
	return c.SetContext(ctx, key, val, timeout)
}

// SetContext implements cache.ContextCache. A value without a positive TTL
// is not stored: the library computes expires_in-1500 s, which is negative
// for a short-lived token, and go-redis would keep it forever.
func (c *tokenCache) SetContext(ctx context.Context, key string, val any, timeout time.Duration) error {
	if timeout <= 0 {
		return c.DeleteContext(ctx, key)
	}
	s, ok := val.(string)
	if !ok {
		s = fmt.Sprint(val)
	}
	if err := c.rdb.Set(ctx, c.prefix+key, s, timeout).Err(); err != nil {
		return fmt.Errorf("token cache set: %w", err)
	}
	return nil
}

// IsExist implements cache.Cache.
func (c *tokenCache) IsExist(key string) bool {
	ctx, cancel := c.ctx()
	defer cancel()
	return c.IsExistContext(ctx, key)
}

// IsExistContext implements cache.ContextCache.
func (c *tokenCache) IsExistContext(ctx context.Context, key string) bool {
	n, err := c.rdb.Exists(ctx, c.prefix+key).Result()
	return err == nil && n > 0
}

// Delete implements cache.Cache.
func (c *tokenCache) Delete(key string) error {
	ctx, cancel := c.ctx()
	defer cancel()
	return c.DeleteContext(ctx, key)
}

// DeleteContext implements cache.ContextCache.
func (c *tokenCache) DeleteContext(ctx context.Context, key string) error {
	if err := c.rdb.Del(ctx, c.prefix+key).Err(); err != nil {
		return fmt.Errorf("token cache delete: %w", err)
	}
	return nil
}

// accessTokenKey is the key credential.DefaultAccessToken keeps the
// official account's token under (without our prefix).
func accessTokenKey(appID string) string {
	return fmt.Sprintf("%s_access_token_%s", credential.CacheKeyOfficialAccountPrefix, appID)
}
