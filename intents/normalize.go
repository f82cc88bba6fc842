package intents

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/width"
)

// Entity is a structured value pulled out of a message before matching, so
// that an order number neither pollutes the tokens nor gets lost: the bot
// keeps it on the conversation and an agent sees it.
type Entity struct {
	Type  string `json:"type"` // order, tracking, phone
	Value string `json:"value"`
}

// Entity types.
const (
	EntityOrder    = "order"
	EntityTracking = "tracking"
	EntityPhone    = "phone"
)

// Patterns run on width-folded text, most specific first. Each match is
// blanked out of the text before the next pattern runs.
var entityPatterns = []struct {
	typ      string
	re       *regexp.Regexp
	bracket  []string // re is `\[(?:bracket[0]|…)[a-z0-9]*\]`: found by findBracket
	grp      int      // capture group holding the value
	blankAll bool     // blank the label with the value; else only the value
	digits   int      // the pattern needs a run of at least this many digits
}{
	// Anonymised logs carry placeholders such as [订单x]; treat them as an order
	// reference and drop the other placeholders ([数字x], [地址x] ...) below.
	{EntityOrder, regexp.MustCompile(`\[订单[a-z0-9]*\]`), []string{"订单"}, 0, true, 0},
	// Explicit order label followed by a number.
	{EntityOrder, regexp.MustCompile(`(?i)(?:订单号|订单编号|订单|order(?:\s*(?:no\.?|number|id|#))?)\s*[:：#]?\s*(\d{6,24})`), nil, 1, true, 6},
	// Courier prefix + digits: SF1234567890, YT1234567890123, JDV000123456789.
	{EntityTracking, regexp.MustCompile(`(?i)(?:^|[^a-z0-9])((?:sf|yt|zto|sto|yd|jt|jdv|jdx|jd|ems|db|yz|ky|ane|best|htky)\d{9,15})(?:$|[^0-9])`), nil, 1, false, 9},
	// Explicit tracking-number label followed by a number.
	{EntityTracking, regexp.MustCompile(`(?:运单号|快递单号|物流单号|快递号|单号)\s*[:：]?\s*([a-zA-Z]{0,4}\d{9,20})`), nil, 1, true, 9},
	// Mainland mobile numbers.
	{EntityPhone, regexp.MustCompile(`(?:^|[^0-9])(1[3-9]\d{9})(?:$|[^0-9])`), nil, 1, false, 11},
	// A long bare number is most likely an order number.
	{EntityOrder, regexp.MustCompile(`(?:^|[^0-9a-zA-Z])(\d{12,24})(?:$|[^0-9])`), nil, 1, false, 12},
}

// longestDigitRun is the length of the longest run of ASCII digits in s.
func longestDigitRun(s string) int {
	best, run := 0, 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	return best
}

var placeholderRE = regexp.MustCompile(`\[(?:数字|地址|姓名|电话|站点|链接|金额|日期|时间|邮箱|组织机构|身份证|数字x|url)[a-z0-9]*\]`)

// placeholderNames are placeholderRE's alternatives: blankPlaceholders
// matches it without the regexp engine.
var placeholderNames = []string{"数字", "地址", "姓名", "电话", "站点", "链接", "金额", "日期", "时间", "邮箱", "组织机构", "身份证", "数字x", "url"}

// findBracket is the leftmost match of `\[(?:names[0]|names[1]|…)[a-z0-9]*\]`
// in text, as a regexp finds it (-1, -1: none). Whatever name matches, the
// match ends at the first ']' after the run of [a-z0-9] that follows it.
func findBracket(text string, names []string) (int, int) {
	for i := strings.IndexByte(text, '['); i >= 0; {
		if e := bracketAt(text, i, names); e >= 0 {
			return i, e
		}
		j := strings.IndexByte(text[i+1:], '[')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return -1, -1
}

// bracketAt is the end of a match of findBracket's pattern that starts at
// text[i] ('['), or -1.
func bracketAt(text string, i int, names []string) int {
	rest := text[i+1:]
	for _, n := range names {
		if !strings.HasPrefix(rest, n) {
			continue
		}
		j := i + 1 + len(n)
		for j < len(text) && (text[j] >= 'a' && text[j] <= 'z' || text[j] >= '0' && text[j] <= '9') {
			j++
		}
		if j < len(text) && text[j] == ']' {
			return j + 1
		}
	}
	return -1
}

// blankPlaceholders is placeholderRE.ReplaceAllString(text, " ").
func blankPlaceholders(text string) string {
	s, e := findBracket(text, placeholderNames)
	if s < 0 {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	for s >= 0 {
		b.WriteString(text[:s])
		b.WriteByte(' ')
		text = text[e:]
		s, e = findBracket(text, placeholderNames)
	}
	b.WriteString(text)
	return b.String()
}

// ExtractEntities returns text with entities blanked out, and the entities in
// the order they were found. text should already have been through Fold.
func ExtractEntities(text string) (string, []Entity) {
	var ents []Entity
	// Cheap necessary conditions first: most messages have no long number.
	run := longestDigitRun(text)
	placeholder := strings.IndexByte(text, '[') >= 0
	for _, p := range entityPatterns {
		if run < p.digits || (p.digits == 0 && !placeholder) {
			continue
		}
		for {
			var loc []int
			if p.bracket != nil {
				var at [2]int
				if at[0], at[1] = findBracket(text, p.bracket); at[0] >= 0 {
					loc = at[:]
				}
			} else {
				loc = p.re.FindStringSubmatchIndex(text)
			}
			if loc == nil {
				break
			}
			s, e := loc[2*p.grp], loc[2*p.grp+1]
			v := text[s:e]
			if p.typ == EntityTracking {
				v = strings.ToUpper(v)
			}
			ents = append(ents, Entity{Type: p.typ, Value: v})
			// Blank the value, or the whole match when it is a label and its
			// value, so the label does not become a token either; a space keeps
			// the words on each side apart.
			if p.blankAll {
				s, e = loc[0], loc[1]
			}
			text = text[:s] + " " + text[e:]
		}
	}
	if placeholder {
		text = blankPlaceholders(text)
	}
	return text, ents
}

var (
	t2sOnce sync.Once
	t2s     map[rune]rune
	t2sBMP  [1 << 16 / 64]uint64 // bit set of the BMP runes in t2s
)

func loadT2S() {
	t2s = make(map[rune]rune, 4200)
	gz, err := dictFS.ReadFile("dict/t2s.txt.gz")
	if err != nil {
		panic("intents: embedded t2s table missing: " + err.Error())
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		panic("intents: embedded t2s table: " + err.Error())
	}
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		from, to, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			continue
		}
		f, _ := utf8.DecodeRuneInString(from)
		t, _ := utf8.DecodeRuneInString(to)
		if utf8.RuneCountInString(from) == 1 && utf8.RuneCountInString(to) == 1 && f != t {
			t2s[f] = t
			if f < 1<<16 {
				t2sBMP[f>>6] |= 1 << (f & 63)
			}
		}
	}
}

// Fold maps full-width letters, digits and punctuation to their ASCII forms
// (ＳＦ１２３ -> SF123) and traditional Chinese characters to simplified ones
// (訂單 -> 订单), keeping everything else. Entity patterns run on its output.
func Fold(s string) string {
	t2sOnce.Do(loadT2S)
	if !needsFold(s) {
		return s
	}
	if out, ok := foldCommon(s); ok {
		return out
	}
	s = width.Fold.String(s)
	return strings.Map(func(r rune) rune {
		if s2, ok := t2s[r]; ok {
			return s2
		}
		return r
	}, s)
}

// foldCommon is Fold in one pass for the common case, where the only runes
// to fold are full-width ASCII forms (，？！：), the ideographic space and
// traditional characters; ok is false for any other text (another width
// form, invalid UTF-8), which takes the general path.
func foldCommon(s string) (string, bool) {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
		case r == utf8.RuneError:
			return "", false
		case r >= 0xff01 && r <= 0xff5e: // full-width ASCII
			r -= 0xfee0
		case r == 0x3000: // ideographic space
			r = ' '
		case r < 1<<16 && t2sBMP[r>>6]&(1<<(r&63)) == 0 && r >= 0x4e00 && r <= 0x9fff:
			// a simplified or common CJK ideograph: kept
		default:
			if s2, ok := t2s[r]; ok {
				r = s2
			} else if k := width.LookupRune(r).Kind(); k == width.EastAsianFullwidth || k == width.EastAsianHalfwidth {
				return "", false
			}
		}
		b.WriteRune(r)
	}
	return b.String(), true
}

// needsFold reports whether Fold would change s: a traditional character, or
// a full-width or half-width form. Most messages have neither.
func needsFold(s string) bool {
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			continue
		case r < 1<<16:
			if t2sBMP[r>>6]&(1<<(r&63)) != 0 {
				return true
			}
		default:
			if _, ok := t2s[r]; ok {
				return true
			}
		}
		if r >= 0x4e00 && r <= 0x9fff {
			continue // CJK ideographs are wide already
		}
		if k := width.LookupRune(r).Kind(); k == width.EastAsianFullwidth || k == width.EastAsianHalfwidth {
			return true
		}
	}
	return false
}

// Normalize prepares text for matching: width folding, traditional to
// simplified Chinese, lower case, and every rune that is not a letter or a
// digit (punctuation, emoji, symbols) turned into a single space. It does not
// extract entities; Analyze does both.
func Normalize(s string) string {
	return normalizeFolded(Fold(s))
}

// normalizeFolded is Normalize on text that has been through Fold.
func normalizeFolded(s string) string {
	out, _, _ := normalizeCount(s)
	return out
}

// normalizeCount is normalizeFolded, and counts the Han characters and the
// ASCII letters of its result.
func normalizeCount(s string) (out string, han, latin int) {
	var b strings.Builder
	b.Grow(len(s))
	space := true // collapse runs and trim the start
	for i := 0; i < len(s); {
		// ASCII and the common CJK ideographs (already in their one
		// encoding) are copied without decoding and re-encoding a rune.
		if c := s[i]; c < utf8.RuneSelf {
			i++
			switch {
			case 'a' <= c && c <= 'z':
				latin++
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
				latin++
			case '0' <= c && c <= '9':
			default:
				if !space {
					space = true
					b.WriteByte(' ')
				}
				continue
			}
			space = false
			b.WriteByte(c)
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r >= 0x4e00 && r <= 0x9fff {
			// CJK Unified Ideographs: letters without case, all Han (the
			// common rune; IsLetter would search a table).
			space = false
			han++
			b.WriteString(s[i : i+size])
			i += size
			continue
		}
		i += size
		switch {
		case r == utf8.RuneError:
			r = ' '
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			r = unicode.ToLower(r)
		default:
			r = ' '
		}
		if r == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
			switch {
			case isHan(r):
				han++
			case r < utf8.RuneSelf && unicode.IsLetter(r):
				latin++
			}
		}
		b.WriteRune(r)
	}
	return strings.TrimRight(b.String(), " "), han, latin
}

// isHan reports whether r is a CJK ideograph. The common block is tested
// first: unicode.Is searches a table.
func isHan(r rune) bool {
	switch {
	case r >= 0x4e00 && r <= 0x9fff: // CJK Unified Ideographs, all Han
		return true
	case r < 0x2e80: // below the first Han range
		return false
	}
	return unicode.Is(unicode.Han, r)
}
