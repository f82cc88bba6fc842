package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Dir is a Store in a local folder: one file per key (its slashes are
// sub-folders), written to a temporary file and renamed, so a reader never
// sees half a file.
type Dir struct{ root string }

// NewDir makes the folder when missing.
func NewDir(root string) (*Dir, error) {
	if err := os.MkdirAll(root, 0o750); err != nil {
		return nil, fmt.Errorf("media dir: %w", err)
	}
	return &Dir{root: root}, nil
}

// Name says where the files are.
func (d *Dir) Name() string { return "dir " + d.root }

func (d *Dir) path(key string) (string, error) {
	if !ValidKey(key) {
		return "", fmt.Errorf("%w: %q", ErrBadKey, key)
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// Put writes data under key.
func (d *Dir) Put(_ context.Context, key string, data []byte, _ string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return fmt.Errorf("media put %s: %w", key, err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".put-*")
	if err != nil {
		return fmt.Errorf("media put %s: %w", key, err)
	}
	_, werr := io.Copy(f, bytes.NewReader(data))
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), p)
	}
	if werr != nil {
		os.Remove(f.Name())
		return fmt.Errorf("media put %s: %w", key, werr)
	}
	return nil
}

// Delete removes the file under key (none: no error).
func (d *Dir) Delete(_ context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("media delete %s: %w", key, err)
	}
	return nil
}

// Get opens the file under key.
func (d *Dir) Get(_ context.Context, key string) (io.ReadCloser, Info, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, Info{}, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Info{}, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err != nil {
		return nil, Info{}, fmt.Errorf("media get %s: %w", key, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, Info{}, fmt.Errorf("media get %s: %w", key, err)
	}
	return f, Info{ContentType: ContentTypeOf(key), Size: st.Size()}, nil
}
