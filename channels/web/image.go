package web

import (
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/kefu-dev/kefu/media"
)

// ErrNotImage: an upload that is not an image of an accepted type (read from
// its content), or cannot be decoded.
var ErrNotImage = errors.New("not an image of an accepted type (JPEG, PNG, GIF, WebP)")

// imagePath is where the page uploads a customer's image.
const imagePath = "/api/images"

// postImage takes a customer's image: POST /api/images, multipart/form-data
// with the parts id (the client's message id, as for /api/messages), lang,
// text (an optional caption) and file (the image). The limits are those of
// a message, checked before the file is kept; the file is sniffed, limited
// (media.max_bytes, 413 too_large) and re-encoded without its metadata
// (package media), stored under its message's key (a retry stores it again
// under the same key), and the message (kind image) goes the way of any
// other: deduplicated by its id, answered once, shown by the transcript.
// The answer is /api/messages'.
func (a *Adapter) postImage(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Media == nil {
		http.NotFound(w, r)
		return
	}
	t, ok := a.visitor(r, false, false)
	if !ok {
		a.fail(w, r, ErrNoVisitor)
		return
	}
	in, data, err := a.readImage(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	in.Kind, in.image = "image", data
	a.answer(w, r, t, in)
}

// readImage reads the upload's parts.
func (a *Adapter) readImage(r *http.Request) (inbound, []byte, error) {
	var in inbound
	mr, err := r.MultipartReader()
	if err != nil {
		return in, nil, ErrBadRequest
	}
	var data []byte
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return in, nil, readErr(err)
		}
		switch p.FormName() {
		case "id":
			in.ID, err = smallPart(p, 64)
		case "lang":
			in.Lang, err = smallPart(p, 64)
		case "text":
			in.Text, err = smallPart(p, 4*a.cfg.MaxMessageLen+4)
		case "file":
			max := a.cfg.Media.MaxBytes()
			data, err = io.ReadAll(io.LimitReader(p, max+1))
			if err == nil && int64(len(data)) > max {
				err = ErrBodyTooBig
			}
		}
		p.Close()
		if err != nil {
			return in, nil, readErr(err)
		}
	}
	if len(data) == 0 {
		return in, nil, ErrEmpty
	}
	return in, data, nil
}

// smallPart reads a text part of at most n bytes.
func smallPart(p *multipart.Part, n int) (string, error) {
	b, err := io.ReadAll(io.LimitReader(p, int64(n)+1))
	if err != nil {
		return "", err
	}
	if len(b) > n {
		return "", ErrBadRequest
	}
	return strings.TrimSpace(string(b)), nil
}

func readErr(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe), errors.Is(err, ErrBodyTooBig):
		return ErrBodyTooBig
	case errors.Is(err, ErrBadRequest):
		return ErrBadRequest
	}
	return ErrBadRequest
}

// mediaErr maps what the media service refused to the API's errors.
func mediaErr(err error) error {
	switch {
	case errors.Is(err, media.ErrTooLarge):
		return ErrBodyTooBig
	case errors.Is(err, media.ErrNotImage), errors.Is(err, media.ErrBadImage), errors.Is(err, media.ErrTooBig):
		return errors.Join(ErrNotImage, err)
	}
	return errors.Join(ErrUnavailable, err)
}
