package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/silenceper/wechat/v2/officialaccount/message"
	"github.com/silenceper/wechat/v2/util"

	"github.com/kefu-dev/kefu/bot"
)

// customerSendURL is the customer-service message API (the library's
// message.Manager.Send posts to the same URL but takes no context and
// returns the errcode only inside a string).
const customerSendURL = "https://api.weixin.qq.com/cgi-bin/message/custom/send"

// Send implements bot.Channel: it delivers one reply through the
// customer-service message API (agent replies, queue notices, surveys). It
// refuses without calling WeChat when the customer's 48-hour window is
// closed (ErrWindowClosed) or the quota is used up (ErrQuota); WeChat's own
// refusals come back as *APIError matching ErrWindowClosed (45015), ErrQuota
// (45047), ErrBlocked or ErrAPI. Transient failures are retried with
// backoff. It needs nothing from the instance that received the customer's
// message: the window, quota and offered choices are in Redis.
func (a *Adapter) Send(ctx context.Context, out bot.Outbound) error {
	if out.User == "" {
		return fmt.Errorf("send %s: %w: no user", out.Conv, ErrAPI)
	}
	if out.Media != "" {
		// An agent's image, after its caption (if any).
		if out.Text != "" {
			for _, t := range splitText(out.Text, a.cfg.MaxTextBytes) {
				if err := a.sendText(ctx, out.User, t); err != nil {
					return fmt.Errorf("send %s: %w", out.Conv, err)
				}
			}
		}
		if err := a.sendImage(ctx, out.User, out.Media); err != nil {
			return fmt.Errorf("send %s: %w", out.Conv, err)
		}
		return nil
	}
	text, o := a.render(out)
	if text == "" {
		return nil
	}
	if o != nil {
		if err := a.saveOffer(ctx, out.User, *o); err != nil {
			a.log.Warn("wechat save choices", "conv", out.Conv, "user", out.User, "err", err)
		}
	}
	for _, t := range splitText(text, a.cfg.MaxTextBytes) {
		if err := a.sendText(ctx, out.User, t); err != nil {
			return fmt.Errorf("send %s: %w", out.Conv, err)
		}
	}
	return nil
}

// sendText sends one text within the customer's window and quota.
func (a *Adapter) sendText(ctx context.Context, user, text string) error {
	if err := a.permit(ctx, user); err != nil {
		return err
	}
	err := a.post(ctx, message.NewCustomerTextMessage(user, text))
	return a.settle(ctx, user, err)
}

// settle accounts for a send that permit allowed: a closed window is
// remembered, an exhausted quota marked, a send that failed otherwise gives
// its slot back.
func (a *Adapter) settle(ctx context.Context, user string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrWindowClosed):
		_ = a.closeWindow(context.WithoutCancel(ctx), user)
	case errors.Is(err, ErrQuota):
		a.exhaust(context.WithoutCancel(ctx), user)
	default:
		a.refund(context.WithoutCancel(ctx), user)
	}
	return err
}

// post calls the customer-service API, retrying what may succeed later
// (network, HTTP status, errcode -1) and fetching a new access token once
// when WeChat says it is invalid.
func (a *Adapter) post(ctx context.Context, msg *message.CustomerMessage) error {
	refreshed := false
	var last error
	for attempt := 0; attempt <= a.cfg.SendRetries; attempt++ {
		if attempt > 0 {
			if err := a.sleep(ctx, a.cfg.RetryBackoff<<(attempt-1)); err != nil {
				return fmt.Errorf("%w: %w (after %v)", ErrTransport, err, last)
			}
		}
		token, err := a.oa.GetAccessTokenContext(ctx)
		if err != nil {
			last = fmt.Errorf("%w: %s", ErrToken, a.redact(err, ""))
			if ctx.Err() != nil {
				return last
			}
			continue
		}
		body, err := util.PostJSONContext(ctx, customerSendURL+"?access_token="+token, msg)
		if err != nil {
			last = fmt.Errorf("%w: %s", ErrTransport, a.redact(err, token))
			if ctx.Err() != nil {
				return last
			}
			continue
		}
		var res util.CommonError
		if err := json.Unmarshal(body, &res); err != nil {
			last = fmt.Errorf("%w: unreadable answer: %s", ErrTransport, a.redact(err, token))
			continue
		}
		switch res.ErrCode {
		case 0:
			return nil
		case codeBusy:
			last = &APIError{Code: res.ErrCode, Msg: res.ErrMsg}
			continue
		case codeInvalidToken, codeInvalidToken2, codeExpiredToken:
			last = &APIError{Code: res.ErrCode, Msg: res.ErrMsg}
			if refreshed {
				return last
			}
			refreshed = true
			// Another instance may have fetched a newer token (WeChat keeps
			// the old one valid a few minutes only): drop ours and fetch.
			if err := a.tokens.DeleteContext(ctx, accessTokenKey(a.cred.AppID)); err != nil {
				return fmt.Errorf("%w: %w", ErrToken, err)
			}
			attempt-- // not a transient failure: no backoff, no retry spent
			continue
		default:
			return &APIError{Code: res.ErrCode, Msg: res.ErrMsg}
		}
	}
	return last
}

// redact removes the secrets from a library error: its messages include the
// request URL, which carries the AppSecret (token) or the access token.
func (a *Adapter) redact(err error, token string) string {
	s := err.Error()
	for _, secret := range []string{a.cred.AppSecret, token} {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}

// sleep waits d or until ctx ends.
func (a *Adapter) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
