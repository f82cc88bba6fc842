package telegram

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/go-telegram/bot/models"

	"github.com/kefu-dev/kefu/bot"
)

// ServeHTTP is the webhook ingress (mount it at the path of
// Config.WebhookURL, POST). A request without the right
// X-Telegram-Bot-Api-Secret-Token gets 401 and is not read; a body over
// Config.MaxBody 413; a body that is not an update 400. An update is stored
// by the Handler before the 200; when it cannot be stored the answer is 500
// and Telegram delivers it again. Updates kefu does not use get 200.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Mode != ModeWebhook {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	got := r.Header.Get("X-Telegram-Bot-Api-Secret-Token")
	if subtle.ConstantTimeCompare([]byte(got), []byte(a.secret)) != 1 {
		a.log.Warn("telegram webhook: wrong secret token", "remote", r.RemoteAddr)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	a.mu.Lock()
	closed := a.closed
	a.mu.Unlock()
	if closed {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			a.log.Warn("telegram webhook: body too large", "limit", a.cfg.MaxBody)
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	u, err := decodeUpdate(body)
	if err != nil {
		a.log.Warn("telegram webhook: undecodable update", "err", err)
		http.Error(w, "not a telegram update", http.StatusBadRequest)
		return
	}
	if err := a.process(r.Context(), u); err != nil {
		http.Error(w, "update not stored, retry", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// tooLongTTL: how long a refused too-long text is remembered, so that
// Telegram's redelivery of its update does not tell the customer twice.
const tooLongTTL = 24 * time.Hour

// process handles one update, from the webhook or the polling loop. It
// returns an error only when the update could not be stored: the caller
// must not acknowledge it. Replies are queued, not awaited.
func (a *Adapter) process(ctx context.Context, u *models.Update) error {
	act := classify(u, a.identity(), a.now())
	log := a.log.With("update", u.ID)
	if act.msg.ID != "" {
		log = log.With("msg_id", act.msg.ID, "user", act.msg.User)
	}
	if act.ignore != "" {
		log.Debug("telegram update ignored", "why", act.ignore)
		a.answerCallback(act)
		return nil
	}
	// The Handler's work is not abandoned halfway when Telegram hangs up or
	// Close stops the loop: a half-done store would look like a duplicate
	// on redelivery and the reply would be lost.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handleTimeout)
	defer cancel()
	if act.block {
		if err := a.rdb.Set(hctx, a.key("blocked:"+strconv.FormatInt(act.chatID, 10)), "blocked by the user", 0).Err(); err != nil {
			log.Error("telegram: cannot remember a blocked chat", "err", err)
		}
	}
	if act.unblock {
		if err := a.rdb.Del(hctx, a.key("blocked:"+strconv.FormatInt(act.chatID, 10))).Err(); err != nil {
			log.Error("telegram: cannot clear a blocked chat", "err", err)
		}
	}
	if !act.handle {
		return nil
	}
	if n := utf8.RuneCountInString(act.msg.Text); act.msg.Kind == bot.KindText && n > a.cfg.MaxMessageLen {
		// Not stored: the customer is asked to split it, the operator sees
		// who and how long (never the text).
		log.Info("telegram text too long, not stored", "chars", n, "max", a.cfg.MaxMessageLen)
		// Told once: a redelivery of the update is not told again.
		first, err := a.rdb.SetNX(hctx, a.key("toolong:"+act.msg.ID), 1, tooLongTTL).Result()
		if err != nil {
			return fmt.Errorf("telegram: remember a refused text: %w", err)
		}
		if first {
			a.tooLong(act)
		}
		return nil
	}
	a.keepPhoto(hctx, &act)
	outs, err := a.h.Handle(hctx, act.msg)
	switch {
	case errors.Is(err, bot.ErrDuplicate):
		log.Debug("telegram update already handled")
		a.answerCallback(act)
		return nil
	case err != nil && len(outs) == 0:
		log.Error("telegram update not stored", "err", err)
		return err
	case err != nil:
		// Stored and answered, but a later step failed (the hand-off
		// queue): a redelivery would be a duplicate, so send what there is.
		log.Error("telegram update handled with an error", "err", err)
	}
	a.answerCallback(act)
	if act.keyboard != 0 {
		a.queue(act.chatID, func(ctx context.Context) error { return a.clearKeyboard(ctx, act.chatID, act.keyboard) }, nil)
	}
	if act.group {
		outs = a.groupReplies(hctx, act, outs)
	}
	for _, out := range outs {
		reqs, err := a.render(out, act.chatID, act.replyTo, act.thread)
		if err != nil {
			log.Error("telegram reply not sent", "err", err)
			continue
		}
		l := log.With("conv", out.Conv, "kind", out.Kind, "intent", out.Intent)
		a.queue(act.chatID, func(ctx context.Context) error {
			for _, req := range reqs {
				if err := a.sendMessage(ctx, req); err != nil {
					return err
				}
			}
			return nil
		}, l)
	}
	return nil
}

// groupReplies keeps a group free of anyone's conversation with an agent:
// a hand-off in a group becomes an invitation to the private chat, and the
// group conversation is closed again (so it leaves the agents' queue and the
// bot keeps answering in the group).
func (a *Adapter) groupReplies(ctx context.Context, act action, outs []bot.Outbound) []bot.Outbound {
	for i, out := range outs {
		if out.Kind != bot.OutHandoff {
			continue
		}
		outs = append(outs[:i:i], a.groupHandoff(out, act.msg.Lang))
		leave := bot.Message{Channel: "telegram", User: act.msg.User, ID: act.msg.ID + ":leave", Kind: bot.KindLeave, At: act.msg.At}
		if _, err := a.h.Handle(ctx, leave); err != nil && !errors.Is(err, bot.ErrDuplicate) {
			a.log.Error("telegram: cannot close a group conversation after a hand-off", "user", act.msg.User, "err", err)
		}
		break
	}
	return outs
}

// groupHandoff is what a group sees instead of a hand-off notice.
func (a *Adapter) groupHandoff(out bot.Outbound, lang string) bot.Outbound {
	t := a.cfg.texts(lang)
	out.Kind, out.Text, out.Choices = bot.OutNotice, t.GroupHandoff, nil
	if u := a.identity().username; u != "" {
		out.Choices = []bot.Choice{{ID: "url:https://t.me/" + u + "?start=human", Label: t.PrivateButton}}
	}
	return out
}

// tooLong tells the customer their text was too long to be read.
func (a *Adapter) tooLong(act action) {
	out := bot.Outbound{Channel: "telegram", User: act.msg.User, Kind: bot.OutNotice, Text: a.cfg.texts(act.msg.Lang).TooLong}
	reqs, err := a.render(out, act.chatID, act.replyTo, act.thread)
	if err != nil {
		a.log.Error("telegram: too-long notice not sent", "user", act.msg.User, "err", err)
		return
	}
	a.queue(act.chatID, func(ctx context.Context) error {
		for _, req := range reqs {
			if err := a.sendMessage(ctx, req); err != nil {
				return err
			}
		}
		return nil
	}, a.log.With("user", act.msg.User, "kind", out.Kind))
}
