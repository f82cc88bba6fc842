package console

import (
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/kefu-dev/kefu/bot"
	"github.com/kefu-dev/kefu/media"
)

// Errors of an agent's image.
var (
	// ErrNotImage: the upload is not an image of an accepted type (read
	// from its content) or cannot be decoded.
	ErrNotImage = errors.New("not an image of an accepted type (JPEG, PNG, GIF, WebP)")
	// ErrTooLarge: the upload is over media.max_bytes.
	ErrTooLarge = errors.New("file too large")
	// ErrNoMedia: the gateway keeps no files.
	ErrNoMedia = errors.New("images are not enabled")
)

// link is the signed link of a stored file ("" without one or no media).
func (c *Console) link(key string) string {
	if key == "" || c.deps.Media == nil {
		return ""
	}
	return c.deps.Media.Link(key)
}

// sendImage is an agent's image to the customer: POST convs/{id}/image,
// multipart/form-data with the parts id (the page's message id: a retry is
// written once), text (an optional caption) and file. The file is sniffed,
// limited and re-encoded without metadata (package media), stored, written
// into the transcript as the agent's message carrying it (only by the
// current holder, as a reply), and delivered on the customer's channel.
// The answer is the reply's.
func (c *Console) sendImage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	cid := r.PathValue("id")
	if c.deps.Media == nil {
		c.fail(w, r, ErrNoMedia)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, c.deps.Media.MaxBytes()+64<<10)
	req, data, err := c.readImage(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	cl, err := c.claimOf(ctx, s.agent.ID, cid)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	cv, err := c.deps.Conversations.Load(ctx, cid)
	if err != nil {
		c.fail(w, r, notFound(err))
		return
	}
	msgID := s.agent.ID + ":" + req.ID
	key, err := c.deps.Media.Save(ctx, "agent", s.agent.ID, msgID, data)
	switch {
	case errors.Is(err, media.ErrTooLarge):
		c.fail(w, r, fmt.Errorf("%w: %w", ErrTooLarge, err))
		return
	case errors.Is(err, media.ErrNotImage), errors.Is(err, media.ErrBadImage), errors.Is(err, media.ErrTooBig):
		c.fail(w, r, fmt.Errorf("%w: %w", ErrNotImage, err))
		return
	case err != nil:
		c.fail(w, r, err)
		return
	}
	entry, dup, err := c.deps.Queue.AppendImage(ctx, cl, msgID, req.Text, key)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	out := replyJSON{Entry: entry, Dup: dup}
	if !dup {
		err := c.deps.Deliver(ctx, bot.Outbound{Channel: cv.Channel, User: cv.User, Conv: cid, Kind: bot.OutAgent,
			Agent: s.agent.ID, Text: req.Text, Media: key})
		out.Delivered = err == nil
		if err != nil {
			out.DeliveryError = c.deliveryFailed(ctx, s.agent.ID, cid, entry, "image", err)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// readImage reads an image upload's parts.
func (c *Console) readImage(r *http.Request) (replyReq, []byte, error) {
	var req replyReq
	mr, err := r.MultipartReader()
	if err != nil {
		return req, nil, fmt.Errorf("%w: want multipart/form-data", ErrBadRequest)
	}
	max := c.deps.Media.MaxBytes()
	var data []byte
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return req, nil, uploadErr(err)
		}
		switch p.FormName() {
		case "id":
			req.ID, err = part(p, 100)
		case "text":
			req.Text, err = part(p, 4*c.cfg.MaxReplyLen+4)
		case "file":
			data, err = io.ReadAll(io.LimitReader(p, max+1))
			if err == nil && int64(len(data)) > max {
				err = fmt.Errorf("%w: over %d bytes", ErrTooLarge, max)
			}
		}
		p.Close()
		if err != nil {
			return req, nil, uploadErr(err)
		}
	}
	if len(data) == 0 {
		return req, nil, fmt.Errorf("%w: no file", ErrBadRequest)
	}
	if utf8.RuneCountInString(req.Text) > c.cfg.MaxReplyLen {
		return req, nil, fmt.Errorf("%w: caption over %d characters", ErrBadRequest, c.cfg.MaxReplyLen)
	}
	if req.ID == "" {
		id, err := randomToken()
		if err != nil {
			return req, nil, err
		}
		req.ID = id
	}
	if strings.ContainsAny(req.ID, " \t\r\n") {
		return req, nil, fmt.Errorf("%w: message id", ErrBadRequest)
	}
	return req, data, nil
}

func part(p *multipart.Part, n int) (string, error) {
	b, err := io.ReadAll(io.LimitReader(p, int64(n)+1))
	if err != nil {
		return "", err
	}
	if len(b) > n {
		return "", fmt.Errorf("%w: %s too long", ErrBadRequest, p.FormName())
	}
	return strings.TrimSpace(string(b)), nil
}

func uploadErr(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	case errors.Is(err, ErrTooLarge), errors.Is(err, ErrBadRequest):
		return err
	}
	return fmt.Errorf("%w: %w", ErrBadRequest, err)
}
