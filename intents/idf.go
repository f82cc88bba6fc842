package intents

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Lexicon holds the general-language statistics shipped with gojieba: the IDF
// of about 260,000 Chinese words and the stop-word list. It is read-only after
// LoadLexicon and shared by every matcher built from the same dictionaries.
type Lexicon struct {
	idf     map[string]float32
	medIDF  float32
	maxIDF  float32
	stop    map[string]bool
	DictDir string
}

// LoadLexicon reads idf.utf8 and stop_words.utf8 from dictDir ("" means the
// bundled dictionaries).
func LoadLexicon(dictDir string) (*Lexicon, error) {
	if dictDir == "" {
		d, err := DefaultDictDir()
		if err != nil {
			return nil, err
		}
		dictDir = d
	}
	if err := CheckDictDir(dictDir); err != nil {
		return nil, err
	}
	lx := &Lexicon{idf: make(map[string]float32, 270000), stop: make(map[string]bool, 1600), DictDir: dictDir}
	f, err := os.Open(filepath.Join(dictDir, IDFFile))
	if err != nil {
		return nil, fmt.Errorf("load idf: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var all []float32
	for sc.Scan() {
		w, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 32)
		if err != nil {
			continue
		}
		lx.idf[strings.ToLower(w)] = float32(x)
		all = append(all, float32(x))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("load idf: %w", err)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("load idf: %s has no entries", filepath.Join(dictDir, IDFFile))
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	lx.medIDF = all[len(all)/2]
	lx.maxIDF = all[len(all)-1]
	sw, err := os.ReadFile(filepath.Join(dictDir, StopWordsFile))
	if err != nil {
		return nil, fmt.Errorf("load stop words: %w", err)
	}
	for _, l := range strings.Split(string(sw), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lx.stop[strings.ToLower(l)] = true
		}
	}
	// Words the generic list calls stop words but that carry the meaning of a
	// customer's question: negation, and the question words that tell
	// "where is it" from "how long" or "how much".
	for _, w := range keepWords {
		delete(lx.stop, w)
	}
	return lx, nil
}

var keepWords = []string{
	"不", "没", "无", "不是", "不能", "不要", "不了", "没有", "未", "别",
	"多少", "几", "多久", "哪里", "哪儿", "哪", "什么时候", "何时", "为什么", "能否",
	"怎么办", "要", "有", "还", "再", "取消", "打", "换", "到",
}

// IDF returns the general-language IDF of a word; unknown words (product
// names, typos, English) get the median, neither noise nor a keyword.
func (lx *Lexicon) IDF(w string) float64 {
	if v, ok := lx.idf[w]; ok {
		return float64(v)
	}
	return float64(lx.medIDF)
}

// Known reports whether w is in the general dictionary.
func (lx *Lexicon) Known(w string) bool { _, ok := lx.idf[w]; return ok }

// Stop reports whether w is a stop word.
func (lx *Lexicon) Stop(w string) bool { return lx.stop[w] }
