// Package config owns kefu's configuration: the YAML file, the environment
// overrides (KEFU_...), defaults, and validation that lists every problem at
// once. It holds settings only; it starts nothing.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/kefu-dev/kefu/intents"
)

// Config is the whole configuration of a kefu process.
type Config struct {
	// FAQDir is the folder of FAQ YAML files; empty means the sample FAQ
	// embedded in the binary (no hot reload).
	FAQDir string `yaml:"faq_dir"`
	// DictDir holds gojieba's dictionaries; empty means the bundled ones,
	// written out to the user cache directory on first start.
	DictDir string `yaml:"dict_dir"`
	// Matcher: decision thresholds and word lists.
	Matcher intents.Config `yaml:"matcher"`
}

// Default returns the configuration used when no file is given.
func Default() Config {
	return Config{Matcher: intents.DefaultConfig()}
}

// Load reads a YAML file over the defaults (unknown keys are an error), then
// applies environment overrides, then validates. path "" means defaults plus
// environment.
func Load(path string) (Config, error) {
	c := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("load config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return c, fmt.Errorf("load config %s: %w", path, err)
		}
	}
	if err := c.applyEnv(os.LookupEnv); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// applyEnv overrides settings from the environment.
func (c *Config) applyEnv(lookup func(string) (string, bool)) error {
	var errs []error
	str := func(name string, dst *string) {
		if v, ok := lookup(name); ok {
			*dst = v
		}
	}
	num := func(name string, dst *float64) {
		if v, ok := lookup(name); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: not a number", name, v))
				return
			}
			*dst = f
		}
	}
	str("KEFU_FAQ_DIR", &c.FAQDir)
	str("KEFU_DICT_DIR", &c.DictDir)
	num("KEFU_ANSWER_THRESHOLD", &c.Matcher.AnswerThreshold)
	num("KEFU_CLARIFY_THRESHOLD", &c.Matcher.ClarifyThreshold)
	return errors.Join(errs...)
}

// Validate reports every problem in the configuration at once.
func (c Config) Validate() error {
	var errs []error
	m := c.Matcher
	if m.AnswerThreshold <= 0 || m.AnswerThreshold > 1 {
		errs = append(errs, fmt.Errorf("matcher.answer_threshold %v: must be in (0, 1]", m.AnswerThreshold))
	}
	if m.ClarifyThreshold <= 0 || m.ClarifyThreshold > 1 {
		errs = append(errs, fmt.Errorf("matcher.clarify_threshold %v: must be in (0, 1]", m.ClarifyThreshold))
	}
	if m.ClarifySpan < 0 || m.ClarifySpan > 1 {
		errs = append(errs, fmt.Errorf("matcher.clarify_span %v: must be in [0, 1]", m.ClarifySpan))
	}
	if m.MaxChoices < 0 || m.MaxChoices > 5 {
		errs = append(errs, fmt.Errorf("matcher.max_choices %d: must be 1 to 5", m.MaxChoices))
	}
	if c.FAQDir != "" {
		if st, err := os.Stat(c.FAQDir); err != nil || !st.IsDir() {
			errs = append(errs, fmt.Errorf("faq_dir %q: not a folder", c.FAQDir))
		}
	}
	if c.DictDir != "" {
		if err := intents.CheckDictDir(c.DictDir); err != nil {
			errs = append(errs, fmt.Errorf("dict_dir: %w", err))
		}
	}
	return errors.Join(errs...)
}
