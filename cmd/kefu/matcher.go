package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/kefu-dev/kefu/config"
	"github.com/kefu-dev/kefu/faq"
	"github.com/kefu-dev/kefu/intents"
)

// common flags of the matcher commands.
type common struct {
	config, faqDir, dictDir string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", "", "configuration file (YAML)")
	fs.StringVar(&c.faqDir, "faq", "", "FAQ folder (default: the embedded sample FAQ)")
	fs.StringVar(&c.dictDir, "dict", "", "gojieba dictionary folder (default: bundled)")
}

// load reads the config and FAQ the flags name.
func (c *common) load() (config.Config, *faq.FAQ, error) {
	cfg, err := config.Load(c.config)
	if err != nil {
		return cfg, nil, err
	}
	if c.faqDir != "" {
		cfg.FAQDir = c.faqDir
	}
	if c.dictDir != "" {
		cfg.DictDir = c.dictDir
	}
	f, err := loadFAQ(cfg.FAQDir)
	return cfg, f, err
}

func loadFAQ(dir string) (*faq.FAQ, error) {
	return loadFAQWith(dir, faq.Options{})
}

// loadFAQWith is loadFAQ checking the canned replies' groups too.
func loadFAQWith(dir string, o faq.Options) (*faq.FAQ, error) {
	if dir == "" {
		return faq.LoadSampleWith(o)
	}
	return faq.LoadWith(dir, o)
}

// matcher loads everything and builds a matcher.
func (c *common) matcher() (*intents.Matcher, error) {
	cfg, f, err := c.load()
	if err != nil {
		return nil, err
	}
	live, err := intents.NewLive(f, cfg.DictDir, cfg.Matcher)
	if err != nil {
		return nil, err
	}
	return live.Matcher(), nil
}

// parseFlags parses args allowing flags after positional arguments
// (`kefu ask 快递到哪了 --json`).
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(os.Stderr)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, exitError{2}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func pct(n, d int) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(d))
}

// loadParts loads the configuration, the FAQ and the matcher's parts (the
// segmenter with the FAQ's words, the IDF lexicon) for the commands that
// build matchers of their own or score sentence pairs.
func (c *common) loadParts() (config.Config, *faq.FAQ, *intents.JiebaTokenizer, *intents.Lexicon, error) {
	cfg, f, err := c.load()
	if err != nil {
		return cfg, nil, nil, nil, err
	}
	lx, err := intents.LoadLexicon(cfg.DictDir)
	if err != nil {
		return cfg, nil, nil, nil, err
	}
	tok, err := intents.NewJiebaTokenizer(cfg.DictDir, intents.UserWords(f))
	if err != nil {
		return cfg, nil, nil, nil, err
	}
	return cfg, f, tok, lx, nil
}
