package telegram

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/kefu-dev/kefu/bot"
)

// maxText is the longest text sent in one message (Telegram's limit is 4096
// UTF-16 code units); longer texts are split.
const maxText = 4000

// job is one unit of work on a chat's queue.
type job struct {
	ctx  context.Context
	run  func(ctx context.Context) error
	done chan<- error // nil: nobody waits; a failure is logged
	log  *slog.Logger
}

// chatQueue serialises the calls for one chat, so that replies arrive in
// order and a chat that Telegram slows down (429) or that fails (5xx)
// delays only itself. Its goroutine exits when the queue is empty.
type chatQueue struct {
	jobs []job
}

// enqueue adds a job to the queue named key, starting its worker if none
// runs.
func (a *Adapter) enqueue(key string, j job) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return ErrClosed
	}
	q, ok := a.queues[key]
	if !ok {
		q = &chatQueue{}
		a.queues[key] = q
		a.workers.Add(1)
		go a.drain(key, q)
	}
	q.jobs = append(q.jobs, j)
	a.inflight++
	return nil
}

func (a *Adapter) drain(key string, q *chatQueue) {
	defer a.workers.Done()
	for {
		a.mu.Lock()
		if len(q.jobs) == 0 {
			delete(a.queues, key)
			a.mu.Unlock()
			return
		}
		j := q.jobs[0]
		q.jobs[0] = job{}
		q.jobs = q.jobs[1:]
		a.mu.Unlock()

		// A job stops when its own context ends or when Close gives up.
		ctx, cancel := context.WithCancel(j.ctx)
		stop := context.AfterFunc(a.base, cancel)
		err := ctx.Err()
		if err == nil {
			err = j.run(ctx)
		}
		stop()
		cancel()
		if j.done != nil {
			j.done <- err
		} else if err != nil && j.log != nil {
			j.log.Error("telegram send failed", "err", err)
		}

		a.mu.Lock()
		a.inflight--
		if a.inflight == 0 {
			a.idle.Broadcast()
		}
		a.mu.Unlock()
	}
}

// queue runs fn on the chat's queue without waiting (replies to inbound
// messages: the update is already stored and acknowledged).
func (a *Adapter) queue(chat int64, fn func(context.Context) error, log *slog.Logger) {
	if log == nil {
		log = a.log
	}
	if err := a.enqueue(chatKey(chat), job{ctx: a.base, run: fn, log: log}); err != nil {
		log.Warn("telegram reply dropped", "err", err)
	}
}

func chatKey(chat int64) string { return "c" + strconv.FormatInt(chat, 10) }

// waitIdle blocks until no send is queued or running (tests).
func (a *Adapter) waitIdle() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for a.inflight > 0 {
		a.idle.Wait()
	}
}

// Send delivers one outbound message (agent replies, queue notices,
// surveys, and anything else the rest of kefu produces) with sendMessage,
// an inline keyboard when it has Choices. It waits until Telegram accepted
// it, retrying 429 (after retry_after) and 5xx with backoff on the chat's
// own queue, so other chats are not held up. Failures the agent must see
// wrap ErrBlocked (the customer blocked the bot; further sends stop at
// once), ErrRateLimited, ErrSendFailed or ErrGroupChat. Send keeps no
// state from the inbound request: any gateway instance can send.
func (a *Adapter) Send(ctx context.Context, out bot.Outbound) error {
	t, err := parseUser(out.User)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	if t.group {
		switch out.Kind {
		case bot.OutAgent, bot.OutSurvey:
			return fmt.Errorf("send %s: %w", out.User, ErrGroupChat)
		case bot.OutHandoff:
			out = a.groupHandoff(out, "")
		}
	}
	var reqs []sendReq
	if out.Media == "" {
		if reqs, err = a.render(out, t.chat, 0, 0); err != nil {
			return fmt.Errorf("send %s: %w", out.User, err)
		}
	}
	done := make(chan error, 1)
	run := func(ctx context.Context) error {
		if out.Media != "" {
			return a.sendPhoto(ctx, t.chat, out.Media, out.Text, 0)
		}
		for _, r := range reqs {
			if err := a.sendMessage(ctx, r); err != nil {
				return err
			}
		}
		return nil
	}
	if err := a.enqueue(chatKey(t.chat), job{ctx: ctx, run: run, done: done}); err != nil {
		return fmt.Errorf("send %s: %w", out.User, err)
	}
	select {
	case err := <-done:
		if err != nil {
			a.log.Warn("telegram send failed", "user", out.User, "conv", out.Conv, "kind", out.Kind, "agent", out.Agent, "err", err)
		}
		return err
	case <-ctx.Done():
		return fmt.Errorf("send %s: %w", out.User, ctx.Err())
	}
}

// sendReq is one sendMessage call.
type sendReq struct {
	chat    int64
	text    string
	markup  *models.InlineKeyboardMarkup
	replyTo int
	thread  int
}

// render turns an Outbound into sendMessage calls: the text split to
// Telegram's limit, the keyboard under the last part.
func (a *Adapter) render(out bot.Outbound, chat int64, replyTo, thread int) ([]sendReq, error) {
	if strings.TrimSpace(out.Text) == "" {
		return nil, fmt.Errorf("%w: empty text", ErrSendFailed)
	}
	parts := splitText(out.Text, maxText)
	reqs := make([]sendReq, len(parts))
	for i, p := range parts {
		reqs[i] = sendReq{chat: chat, text: p, thread: thread}
	}
	reqs[0].replyTo = replyTo
	reqs[len(reqs)-1].markup = keyboard(out)
	return reqs, nil
}

// keyboard builds the inline keyboard for an Outbound's Choices: the
// survey's scores in one row, otherwise one button per row (clarify
// choices, related questions, 转人工, a link to the private chat).
func keyboard(out bot.Outbound) *models.InlineKeyboardMarkup {
	var rows [][]models.InlineKeyboardButton
	if out.Kind == bot.OutSurvey {
		choices := out.Choices
		if len(choices) == 0 {
			for i := 1; i <= 5; i++ {
				choices = append(choices, bot.Choice{ID: strconv.Itoa(i), Label: strconv.Itoa(i)})
			}
		}
		var row []models.InlineKeyboardButton
		for _, c := range choices {
			if len(c.ID) == 1 && c.ID[0] >= '1' && c.ID[0] <= '5' {
				row = append(row, models.InlineKeyboardButton{Text: cmp.Or(c.Label, c.ID), CallbackData: cbRating + c.ID})
			}
		}
		rows = append(rows, row)
	} else {
		for _, c := range out.Choices {
			b := models.InlineKeyboardButton{Text: cmp.Or(c.Label, c.ID)}
			switch {
			case c.ID == bot.ChoiceHuman:
				b.CallbackData = cbHuman
			case strings.HasPrefix(c.ID, "url:"):
				b.URL = c.ID[len("url:"):]
			case len(cbChoice)+len(c.ID) <= 64:
				b.CallbackData = cbChoice + c.ID
			default:
				continue // an intent id too long for callback data
			}
			rows = append(rows, []models.InlineKeyboardButton{b})
		}
	}
	if len(rows) == 0 || len(rows[0]) == 0 {
		return nil
	}
	return &models.InlineKeyboardMarkup{InlineKeyboard: rows}
}

// splitText cuts a text into parts of at most limit UTF-16 code units,
// preferring line breaks.
func splitText(s string, limit int) []string {
	var parts []string
	for {
		n, cut, lastNL := 0, len(s), -1
		for i, r := range s {
			w := 1
			if r > 0xFFFF {
				w = 2
			}
			if n+w > limit {
				cut = i
				break
			}
			n += w
			if r == '\n' {
				lastNL = i
			}
		}
		if cut == len(s) {
			return append(parts, s)
		}
		if lastNL > 0 {
			cut = lastNL + 1
		}
		parts = append(parts, s[:cut])
		s = s[cut:]
	}
}

func (a *Adapter) sendMessage(ctx context.Context, r sendReq) error {
	p := &tgbot.SendMessageParams{ChatID: r.chat, Text: r.text, MessageThreadID: r.thread}
	if r.markup != nil {
		p.ReplyMarkup = r.markup
	}
	if r.replyTo != 0 {
		p.ReplyParameters = &models.ReplyParameters{MessageID: r.replyTo, AllowSendingWithoutReply: true}
	}
	return a.call(ctx, r.chat, "sendMessage", true, func(ctx context.Context) error {
		_, err := a.api.SendMessage(ctx, p)
		return err
	})
}

// answerCallback stops the client's spinner on a tapped button. It runs on
// a queue of its own: a chat's slow sends do not hold it.
func (a *Adapter) answerCallback(act action) {
	if act.callbackID == "" {
		return
	}
	id := act.callbackID
	err := a.enqueue("q"+id, job{ctx: a.base, log: a.log, run: func(ctx context.Context) error {
		err := a.call(ctx, act.chatID, "answerCallbackQuery", false, func(ctx context.Context) error {
			_, err := a.api.AnswerCallbackQuery(ctx, &tgbot.AnswerCallbackQueryParams{CallbackQueryID: id})
			return err
		})
		if errors.Is(err, ErrSendFailed) {
			a.log.Debug("telegram callback not answered (too old?)", "err", err)
			return nil
		}
		return err
	}})
	if err != nil {
		a.log.Warn("telegram callback not answered", "err", err)
	}
}

// clearKeyboard removes the inline keyboard from a message whose button was
// used, so it is not tapped again.
func (a *Adapter) clearKeyboard(ctx context.Context, chat int64, msg int) error {
	err := a.call(ctx, chat, "editMessageReplyMarkup", false, func(ctx context.Context) error {
		_, err := a.api.EditMessageReplyMarkup(ctx, &tgbot.EditMessageReplyMarkupParams{
			ChatID: chat, MessageID: msg, ReplyMarkup: &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{}},
		})
		return err
	})
	if errors.Is(err, ErrSendFailed) { // already cleared, or too old to edit
		a.log.Debug("telegram keyboard not cleared", "err", err)
		return nil
	}
	return err
}

// call runs one Bot API call with the retry policy: 429 waits retry_after
// (up to Config.MaxRetryAfter), other transient failures (5xx, network) back
// off exponentially, both for at most Config.SendAttempts tries; 403 marks
// the chat blocked; other 4xx fail at once.
func (a *Adapter) call(ctx context.Context, chat int64, op string, message bool, fn func(context.Context) error) error {
	op = op + " " + strconv.FormatInt(chat, 10)
	blockedKey := a.key("blocked:" + strconv.FormatInt(chat, 10))
	if message {
		n, err := a.rdb.Exists(ctx, blockedKey).Result()
		if err != nil {
			a.log.Warn("telegram: cannot check a blocked chat", "err", err)
		} else if n > 0 {
			return &apiError{msg: op + ": " + ErrBlocked.Error() + " (remembered)", kind: ErrBlocked}
		}
	}
	for attempt := 1; ; attempt++ {
		if err := a.limit.Wait(ctx); err != nil {
			return &apiError{msg: op + ": " + err.Error(), kind: cmp.Or(ctx.Err(), context.DeadlineExceeded)}
		}
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := fn(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return a.apiError(op, ctx.Err(), err)
		}
		var wait time.Duration
		var tooMany *tgbot.TooManyRequestsError
		switch {
		case errors.Is(err, tgbot.ErrorForbidden):
			if message {
				if err := a.rdb.Set(ctx, blockedKey, a.redact(err.Error()), 0).Err(); err != nil {
					a.log.Error("telegram: cannot remember a blocked chat", "err", err)
				}
			}
			return a.apiError(op, ErrBlocked, err)
		case errors.As(err, &tooMany):
			wait = time.Duration(max(tooMany.RetryAfter, 1)) * time.Second
			if wait > a.cfg.MaxRetryAfter || attempt >= a.cfg.SendAttempts {
				return a.apiError(op, ErrRateLimited, err)
			}
		case errors.Is(err, tgbot.ErrorBadRequest), errors.Is(err, tgbot.ErrorUnauthorized),
			errors.Is(err, tgbot.ErrorNotFound), errors.Is(err, tgbot.ErrorConflict), tgbot.IsMigrateError(err):
			return a.apiError(op, ErrSendFailed, err)
		default: // 5xx, a proxy's HTML page, the network
			if attempt >= a.cfg.SendAttempts {
				return a.apiError(op, ErrSendFailed, err)
			}
			wait = a.backoff(attempt)
		}
		a.log.Info("telegram call retried", "op", op, "attempt", attempt, "wait", wait, "err", a.redact(err.Error()))
		if err := a.sleep(ctx, wait); err != nil {
			return &apiError{msg: op + ": " + err.Error(), kind: err}
		}
	}
}
