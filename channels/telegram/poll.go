package telegram

import (
	"bytes"
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

//go:embed lua/lease.lua
var leaseLua string

//go:embed lua/release.lua
var releaseLua string

var (
	leaseScript   = redis.NewScript(leaseLua)
	releaseScript = redis.NewScript(releaseLua)
)

// offsetMaxAge: Telegram numbers updates at random again after a week
// without any; an offset older than that would confirm (drop) the new ones.
const offsetMaxAge = 6 * 24 * time.Hour

// poll is the polling loop. Unlike the library's, it moves the offset only
// after an update has been handled (stored by the Handler): each update is
// processed, then its id is written to Redis, then the next getUpdates
// confirms it to Telegram. A crash at any point neither loses an update
// (Telegram still has it) nor answers it twice (the Handler dedupes it).
func (a *Adapter) poll(ctx context.Context) {
	defer close(a.pollDone)
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := releaseScript.Run(rctx, a.rdb, []string{a.key("poller")}, a.lease).Err(); err != nil {
			a.log.Warn("telegram: cannot release the polling lease", "err", err)
		}
	}()
	failures := 0
	pause := func() bool {
		failures++
		return a.sleep(ctx, a.backoff(failures)) == nil
	}
	for ctx.Err() == nil {
		held, err := leaseScript.Run(ctx, a.rdb, []string{a.key("poller")}, a.lease, (a.cfg.PollTimeout + 30*time.Second).Milliseconds()).Int()
		if err != nil {
			a.log.Error("telegram: polling lease", "err", err)
			if !pause() {
				return
			}
			continue
		}
		if held == 0 { // another instance polls
			if a.sleep(ctx, 5*time.Second) != nil {
				return
			}
			continue
		}
		offset, err := a.loadOffset(ctx)
		if err != nil {
			a.log.Error("telegram: polling offset", "err", err)
			if !pause() {
				return
			}
			continue
		}
		raws, err := a.getUpdates(ctx, offset)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			a.log.Error("telegram: getUpdates", "err", err)
			if !pause() {
				return
			}
			continue
		}
		ok := true
		for _, raw := range raws {
			if ok = a.pollOne(ctx, raw); !ok {
				break
			}
		}
		if ok {
			failures = 0
		} else if !pause() {
			return
		}
	}
}

// pollOne processes one update from getUpdates and persists the offset
// after it; false means stop the batch and try again later.
func (a *Adapter) pollOne(ctx context.Context, raw json.RawMessage) bool {
	var head struct {
		ID int64 `json:"update_id"`
	}
	if err := json.Unmarshal(raw, &head); err != nil || head.ID <= 0 {
		a.log.Error("telegram: getUpdates item without update_id", "err", err)
		return true
	}
	u, err := decodeUpdate(raw)
	if err != nil {
		// It never will decode: skip it rather than stall the chat.
		a.log.Error("telegram: undecodable update skipped", "update", head.ID, "err", err)
	} else if err := a.process(ctx, u); err != nil {
		return false // not stored: the offset stays, the update comes again
	}
	// The offset write must not be abandoned because Close began.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err = a.rdb.HSet(wctx, a.key("offset"), "id", head.ID, "at", a.now().UnixMilli()).Err()
	if err != nil {
		a.log.Error("telegram: cannot persist the polling offset", "update", head.ID, "err", err)
		return false
	}
	return true
}

// loadOffset returns the id of the last update handled, 0 when none (or
// when it is too old to be trusted).
func (a *Adapter) loadOffset(ctx context.Context) (int64, error) {
	h, err := a.rdb.HGetAll(ctx, a.key("offset")).Result()
	if err != nil {
		return 0, fmt.Errorf("load offset: %w", err)
	}
	id, _ := strconv.ParseInt(h["id"], 10, 64)
	at, _ := strconv.ParseInt(h["at"], 10, 64)
	if id > 0 && a.now().Sub(time.UnixMilli(at)) > offsetMaxAge {
		a.log.Info("telegram: stored offset is more than 6 days old; polling from the oldest pending update", "offset", id)
		return 0, nil
	}
	return id, nil
}

// getUpdates long-polls for updates after offset. The library does not
// export it (its own loop moves the offset too early), so this is a plain
// JSON POST; errors carry no token.
func (a *Adapter) getUpdates(ctx context.Context, offset int64) ([]json.RawMessage, error) {
	params := map[string]any{
		"timeout":         int(a.cfg.PollTimeout / time.Second),
		"allowed_updates": allowedUpdates,
		"limit":           100,
	}
	if offset > 0 {
		params["offset"] = offset + 1
	}
	body, _ := json.Marshal(params)
	cctx, cancel := context.WithTimeout(ctx, a.cfg.PollTimeout+15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, a.cfg.APIURL+"/bot"+a.token+"/getUpdates", bytes.NewReader(body))
	if err != nil {
		return nil, errors.New(a.redact(err.Error()))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, &apiError{msg: "getUpdates: " + a.redact(err.Error()), kind: cmp.Or(ctx.Err(), ErrSendFailed)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, &apiError{msg: "getUpdates: " + a.redact(err.Error()), kind: ErrSendFailed}
	}
	var r struct {
		OK          bool              `json:"ok"`
		Result      []json.RawMessage `json:"result"`
		ErrorCode   int               `json:"error_code"`
		Description string            `json:"description"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, &apiError{msg: fmt.Sprintf("getUpdates: HTTP %d, undecodable answer", resp.StatusCode), kind: ErrSendFailed}
	}
	if !r.OK {
		// 409: a webhook is set, or another process polls with this token.
		return nil, &apiError{msg: fmt.Sprintf("getUpdates: %d %s", r.ErrorCode, a.redact(r.Description)), kind: ErrSendFailed}
	}
	return r.Result, nil
}
