package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/url"
	"path"

	"github.com/silenceper/wechat/v2/officialaccount/message"
	"github.com/silenceper/wechat/v2/util"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/media"
)

// The temporary media APIs: download a customer's image by its MediaId,
// upload an agent's image for a customer-service image message.
const (
	mediaGetURL    = "https://api.weixin.qq.com/cgi-bin/media/get"
	mediaUploadURL = "https://api.weixin.qq.com/cgi-bin/media/upload"
)

// SetMedia gives the channel the media store: customers' images are then
// downloaded (temporary media API, by MediaId) and kept, reaching the agent
// as images, and agents' images are uploaded as temporary media and sent
// as customer-service image messages. Without it images reach the agent as
// a description with MediaId and PicUrl. Call before Start.
func (a *Adapter) SetMedia(m *media.Service) { a.media = m }

// keepImage downloads a customer's image and keeps it, turning the message
// into an image; when it cannot, the message stays the description (the
// agent still learns an image was sent, nothing is lost).
func (a *Adapter) keepImage(ctx context.Context, m bot.Message, mediaID string) bot.Message {
	if a.media == nil || mediaID == "" {
		return m
	}
	data, err := a.downloadMedia(ctx, mediaID)
	if err == nil {
		var key string
		if key, err = a.media.Save(ctx, Name, m.User, m.ID, data); err == nil {
			m.Kind, m.Media, m.Text = bot.KindImage, key, ""
			return m
		}
	}
	a.log.Warn("wechat image not kept; the agent gets its description", "user", m.User, "msg_id", m.ID, "err", err)
	return m
}

// downloadMedia fetches a temporary medium by its id.
func (a *Adapter) downloadMedia(ctx context.Context, mediaID string) ([]byte, error) {
	token, err := a.oa.GetAccessTokenContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrToken, a.redact(err, ""))
	}
	q := url.Values{"access_token": {token}, "media_id": {mediaID}}
	b, err := util.HTTPGetContext(ctx, mediaGetURL+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("%w: media/get: %s", ErrTransport, a.redact(err, token))
	}
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) { // an error, as JSON
		var res util.CommonError
		_ = json.Unmarshal(b, &res)
		return nil, &APIError{Code: res.ErrCode, Msg: res.ErrMsg}
	}
	if max := a.media.MaxBytes(); int64(len(b)) > max {
		return nil, media.ErrTooLarge
	}
	return b, nil
}

// sendImage sends an agent's image: uploaded as a temporary medium, then a
// customer-service image message, within the window and quota as a text.
func (a *Adapter) sendImage(ctx context.Context, user, key string) error {
	if a.media == nil {
		return fmt.Errorf("%w: no media store for an image", ErrAPI)
	}
	data, _, err := a.media.Read(ctx, key)
	if err != nil {
		return fmt.Errorf("%w: read image: %v", ErrAPI, err)
	}
	if err := a.permit(ctx, user); err != nil {
		return err
	}
	mediaID, err := a.uploadImage(ctx, path.Base(key), data)
	if err == nil {
		err = a.post(ctx, message.NewCustomerImgMessage(user, mediaID))
	}
	return a.settle(ctx, user, err)
}

// uploadImage uploads a temporary image medium and returns its media_id.
func (a *Adapter) uploadImage(ctx context.Context, name string, data []byte) (string, error) {
	token, err := a.oa.GetAccessTokenContext(ctx)
	if err != nil {
		return "", fmt.Errorf("%w: %s", ErrToken, a.redact(err, ""))
	}
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	fw, err := w.CreateFormFile("media", name)
	if err == nil {
		_, err = fw.Write(data)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrTransport, err)
	}
	q := url.Values{"access_token": {token}, "type": {"image"}}
	b, err := util.HTTPPostContext(ctx, mediaUploadURL+"?"+q.Encode(), body.Bytes(),
		map[string]string{"Content-Type": w.FormDataContentType()})
	if err != nil {
		return "", fmt.Errorf("%w: media/upload: %s", ErrTransport, a.redact(err, token))
	}
	var res struct {
		util.CommonError
		MediaID string `json:"media_id"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return "", fmt.Errorf("%w: media/upload: unreadable answer", ErrTransport)
	}
	if res.ErrCode != 0 || res.MediaID == "" {
		return "", &APIError{Code: res.ErrCode, Msg: res.ErrMsg}
	}
	return res.MediaID, nil
}
