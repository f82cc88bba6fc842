package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/channels/web"
	"github.com/kefu-dev/kefu/config"
)

// cmdWebRevoke revokes web visitors: every token of each, issued until now,
// is refused on every instance (the customer's page starts a new visitor).
// It needs the gateways' Redis (REDIS_URL) and key prefix.
func cmdWebRevoke(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("web revoke", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	ids, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return errors.New("web revoke: name at least one visitor id (the conversation is web:<id>)")
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if cfg.Redis.URL == "" {
		return errors.New("web revoke: REDIS_URL is not set (the gateways' Redis)")
	}
	opt, err := redis.ParseURL(cfg.Redis.URL)
	if err != nil {
		return errors.New("REDIS_URL: not a valid redis URL") // the URL may hold a password
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	a := web.New(webConfig(cfg.Web, cfg.TextsFor(), func(*http.Request) string { return "" }), nil, nil, rdb, cfg.Redis.Prefix, nil)
	for _, id := range ids {
		id = strings.TrimPrefix(id, web.Name+":") // the conversation id names it too
		if err := a.Revoke(ctx, id); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked web visitor %s\n", id)
	}
	return nil
}
