package faq

import (
	"embed"
	"io/fs"
)

//go:embed sample/*.yaml
var sampleFS embed.FS

// SampleFS is the sample FAQ shipped in the binary: a general online shop, in
// Chinese, with sample policies. It serves when no FAQ folder is configured.
func SampleFS() fs.FS {
	sub, err := fs.Sub(sampleFS, "sample")
	if err != nil {
		panic(err) // the embed pattern guarantees the folder
	}
	return sub
}

// LoadSample loads the embedded sample FAQ.
func LoadSample() (*FAQ, error) {
	return LoadSampleWith(Options{})
}

// LoadSampleWith is LoadSample with Options.
func LoadSampleWith(o Options) (*FAQ, error) {
	f, err := LoadFSWith(SampleFS(), o)
	if f != nil {
		f.Dir = "(embedded sample)"
	}
	return f, err
}
