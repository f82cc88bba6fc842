package intents

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

//go:embed dict/*.gz
var dictFS embed.FS

// Dictionary file names inside a dictionary directory, as cppjieba names them.
const (
	DictFile      = "jieba.dict.utf8"
	HMMFile       = "hmm_model.utf8"
	IDFFile       = "idf.utf8"
	StopWordsFile = "stop_words.utf8"
)

var dictFiles = []string{DictFile, HMMFile, IDFFile, StopWordsFile}

var (
	extractOnce sync.Once
	extractDir  string
	extractErr  error
)

// DefaultDictDir returns a directory holding the bundled gojieba dictionaries,
// writing them out of the binary on first use. The directory name carries a
// hash of the embedded content, so a new binary never reads stale files and
// several processes can share one directory.
//
// The base directory is $KEFU_DICT_CACHE, else the user cache directory, else
// the system temporary directory.
func DefaultDictDir() (string, error) {
	extractOnce.Do(func() { extractDir, extractErr = extractDicts() })
	return extractDir, extractErr
}

func extractDicts() (string, error) {
	h := sha256.New()
	for _, name := range dictFiles {
		b, err := dictFS.ReadFile("dict/" + name + ".gz")
		if err != nil {
			return "", fmt.Errorf("embedded dictionary %s: %w", name, err)
		}
		h.Write(b)
	}
	base := os.Getenv("KEFU_DICT_CACHE")
	if base == "" {
		if d, err := os.UserCacheDir(); err == nil {
			base = filepath.Join(d, "kefu")
		} else {
			base = filepath.Join(os.TempDir(), "kefu")
		}
	}
	dir := filepath.Join(base, "dict-"+hex.EncodeToString(h.Sum(nil))[:12])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("dictionary directory: %w", err)
	}
	for _, name := range dictFiles {
		dst := filepath.Join(dir, name)
		if st, err := os.Stat(dst); err == nil && st.Size() > 0 {
			continue // written by an earlier run; renames below make it complete
		}
		gz, _ := dictFS.ReadFile("dict/" + name + ".gz")
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			return "", fmt.Errorf("embedded dictionary %s: %w", name, err)
		}
		tmp, err := os.CreateTemp(dir, name+".*.tmp")
		if err != nil {
			return "", fmt.Errorf("write dictionary: %w", err)
		}
		_, err = io.Copy(tmp, zr)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), dst)
		}
		if err != nil {
			os.Remove(tmp.Name())
			return "", fmt.Errorf("write dictionary %s: %w", name, err)
		}
	}
	return dir, nil
}

// CheckDictDir reports a clear error when dir lacks one of the dictionary
// files gojieba needs (gojieba itself panics on a missing file).
func CheckDictDir(dir string) error {
	for _, name := range dictFiles {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("dictionary directory %s: %w", dir, err)
		}
		if st.IsDir() || st.Size() == 0 {
			return fmt.Errorf("dictionary directory %s: %s is empty or not a file", dir, name)
		}
	}
	return nil
}
