package media

import (
	"bytes"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/http"

	"github.com/disintegration/imaging"
	"golang.org/x/image/webp"
)

// Image is an uploaded image made safe to keep: re-encoded from its pixels,
// so that no EXIF (location, camera, owner), XMP, ICC comment or trailing
// bytes of the original survive.
type Image struct {
	Data        []byte
	ContentType string // image/jpeg, image/png or image/gif
	Ext         string // jpg, png, gif
	Width       int
	Height      int
}

// JPEGQuality is the quality of re-encoded JPEGs (and of WebP images, kept
// as JPEG).
const JPEGQuality = 90

// Sniff is the type of data read from its content (the first 512 bytes,
// net/http.DetectContentType's algorithm), never from a name or a header.
func Sniff(data []byte) string { return http.DetectContentType(data) }

// Prepare checks an uploaded file and re-encodes it: at most maxBytes,
// a JPEG, PNG, GIF or WebP by its content, at most maxPixels (checked from
// the header before decoding, so a small file that claims a huge image is
// refused unread). A JPEG is turned upright by its EXIF orientation before
// the EXIF is dropped. Errors: ErrTooLarge, ErrNotImage, ErrTooBig,
// ErrBadImage.
func Prepare(data []byte, maxBytes int64, maxPixels int) (Image, error) {
	if maxBytes > 0 && int64(len(data)) > maxBytes {
		return Image{}, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(data), maxBytes)
	}
	ct := Sniff(data)
	var cfg image.Config
	var err error
	switch ct {
	case "image/jpeg":
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
	case "image/png":
		cfg, err = png.DecodeConfig(bytes.NewReader(data))
	case "image/gif":
		cfg, err = gif.DecodeConfig(bytes.NewReader(data))
	case "image/webp":
		cfg, err = webp.DecodeConfig(bytes.NewReader(data))
	default:
		return Image{}, fmt.Errorf("%w: content is %s", ErrNotImage, ct)
	}
	if err != nil {
		return Image{}, fmt.Errorf("%w: %v", ErrBadImage, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return Image{}, fmt.Errorf("%w: %dx%d", ErrBadImage, cfg.Width, cfg.Height)
	}
	if maxPixels > 0 && int64(cfg.Width)*int64(cfg.Height) > int64(maxPixels) {
		return Image{}, fmt.Errorf("%w: %dx%d, at most %d pixels", ErrTooBig, cfg.Width, cfg.Height, maxPixels)
	}
	var out bytes.Buffer
	img := Image{Width: cfg.Width, Height: cfg.Height}
	switch ct {
	case "image/jpeg":
		// imaging reads the EXIF orientation and applies it to the pixels.
		m, err := imaging.Decode(bytes.NewReader(data), imaging.AutoOrientation(true))
		if err != nil {
			return Image{}, fmt.Errorf("%w: %v", ErrBadImage, err)
		}
		if err := jpeg.Encode(&out, m, &jpeg.Options{Quality: JPEGQuality}); err != nil {
			return Image{}, fmt.Errorf("%w: %v", ErrBadImage, err)
		}
		b := m.Bounds()
		img.ContentType, img.Ext, img.Width, img.Height = "image/jpeg", "jpg", b.Dx(), b.Dy()
	case "image/webp":
		m, err := webp.Decode(bytes.NewReader(data))
		if err != nil {
			return Image{}, fmt.Errorf("%w: %v", ErrBadImage, err)
		}
		if err := jpeg.Encode(&out, m, &jpeg.Options{Quality: JPEGQuality}); err != nil {
			return Image{}, fmt.Errorf("%w: %v", ErrBadImage, err)
		}
		img.ContentType, img.Ext = "image/jpeg", "jpg"
	case "image/png":
		m, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			return Image{}, fmt.Errorf("%w: %v", ErrBadImage, err)
		}
		if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&out, m); err != nil {
			return Image{}, fmt.Errorf("%w: %v", ErrBadImage, err)
		}
		img.ContentType, img.Ext = "image/png", "png"
	case "image/gif":
		// Every frame is kept (an animation stays one); comment and
		// application extensions are not written again.
		g, err := gif.DecodeAll(bytes.NewReader(data))
		if err != nil {
			return Image{}, fmt.Errorf("%w: %v", ErrBadImage, err)
		}
		if maxPixels > 0 && int64(len(g.Image))*int64(cfg.Width)*int64(cfg.Height) > 4*int64(maxPixels) {
			return Image{}, fmt.Errorf("%w: %d frames of %dx%d", ErrTooBig, len(g.Image), cfg.Width, cfg.Height)
		}
		if err := gif.EncodeAll(&out, g); err != nil {
			return Image{}, fmt.Errorf("%w: %v", ErrBadImage, err)
		}
		img.ContentType, img.Ext = "image/gif", "gif"
	}
	img.Data = out.Bytes()
	return img, nil
}

// ContentTypeOf is the type of a key by its extension (what Prepare wrote).
func ContentTypeOf(key string) string {
	switch {
	case hasSuffix(key, ".jpg"):
		return "image/jpeg"
	case hasSuffix(key, ".png"):
		return "image/png"
	case hasSuffix(key, ".gif"):
		return "image/gif"
	}
	return "application/octet-stream"
}

func hasSuffix(s, suf string) bool { return len(s) >= len(suf) && s[len(s)-len(suf):] == suf }
