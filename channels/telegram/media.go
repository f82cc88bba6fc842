package telegram

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/media"
)

// SetMedia gives the channel the media store: customers' photos are then
// downloaded (getFile) and kept, reaching the agent as images, and agents'
// images go out with sendPhoto. Without it photos reach the agent as a
// description with their file id. Call before Start.
func (a *Adapter) SetMedia(m *media.Service) { a.media = m }

// bestPhoto is the file id of the largest size of a photo message ("" for
// no photo).
func bestPhoto(m *models.Message) string {
	if len(m.Photo) == 0 {
		return ""
	}
	best := m.Photo[0]
	for _, p := range m.Photo {
		if p.Width*p.Height > best.Width*best.Height {
			best = p
		}
	}
	return best.FileID
}

// keepPhoto downloads a customer's photo and keeps it in the media store,
// turning the message into an image (its caption the text). When it cannot
// (the file is gone or too large for the Bot API, the store is down, the
// content is no image) the message stays the description with the file id:
// the agent still learns a photo was sent, and nothing is lost.
func (a *Adapter) keepPhoto(ctx context.Context, act *action) {
	if a.media == nil || act.photo == "" {
		return
	}
	data, err := a.download(ctx, act.photo)
	if err == nil {
		var key string
		key, err = a.media.Save(ctx, "telegram", act.msg.User, act.msg.ID, data)
		if err == nil {
			act.msg.Kind, act.msg.Media, act.msg.Text = bot.KindImage, key, act.caption
			return
		}
	}
	a.log.Warn("telegram photo not kept; the agent gets its description", "user", act.msg.User, "msg_id", act.msg.ID,
		"err", a.redact(err.Error()))
}

// download fetches a file by its id (getFile, then the file link, which
// holds the bot token: never logged, redacted from errors).
func (a *Adapter) download(ctx context.Context, fileID string) ([]byte, error) {
	if err := a.limit.Wait(ctx); err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	f, err := a.api.GetFile(cctx, &tgbot.GetFileParams{FileID: fileID})
	if err != nil {
		return nil, a.apiError("getFile", ErrSendFailed, err)
	}
	if f.FilePath == "" {
		return nil, errors.New("getFile: no file path (file too large for the Bot API?)")
	}
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, a.api.FileDownloadLink(f), nil)
	if err != nil {
		return nil, errors.New(a.redact(err.Error()))
	}
	res, err := a.client.Do(req)
	if err != nil {
		return nil, errors.New("download: " + a.redact(err.Error()))
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("download: HTTP %d", res.StatusCode)
	}
	max := a.media.MaxBytes()
	b, err := io.ReadAll(io.LimitReader(res.Body, max+1))
	if err != nil {
		return nil, errors.New("download: " + a.redact(err.Error()))
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("download: %w", media.ErrTooLarge)
	}
	return b, nil
}

// sendPhoto sends an agent's image (with its caption) to a chat.
func (a *Adapter) sendPhoto(ctx context.Context, chat int64, key, caption string, thread int) error {
	if a.media == nil {
		return fmt.Errorf("%w: no media store for an image", ErrSendFailed)
	}
	data, _, err := a.media.Read(ctx, key)
	if err != nil {
		return fmt.Errorf("%w: read image: %v", ErrSendFailed, err)
	}
	if len([]rune(caption)) > maxCaption {
		caption = string([]rune(caption)[:maxCaption])
	}
	p := &tgbot.SendPhotoParams{ChatID: chat, Caption: caption, MessageThreadID: thread,
		Photo: &models.InputFileUpload{Filename: path.Base(key), Data: bytes.NewReader(data)}}
	return a.call(ctx, chat, "sendPhoto", true, func(ctx context.Context) error {
		p.Photo = &models.InputFileUpload{Filename: path.Base(key), Data: bytes.NewReader(data)} // a retry reads it again
		_, err := a.api.SendPhoto(ctx, p)
		return err
	})
}

// maxCaption is Telegram's limit on a photo's caption (characters).
const maxCaption = 1024

// captionOf is the caption of a message, without the bot's mention.
func captionOf(m *models.Message, me identity) string {
	return strings.TrimSpace(stripMention(m.Caption, me.username))
}
