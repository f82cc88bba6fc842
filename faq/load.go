package faq

import (
	"github.com/kefu-dev/kefu/priority"

	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/width"
	"gopkg.in/yaml.v3"
)

// MaxFileSize bounds one FAQ file; a larger one is refused, not read.
const MaxFileSize = 4 << 20

// Load reads every .yaml/.yml file below dir and validates the whole FAQ. On
// any content problem it returns the Problems (every one, with positions) and
// no FAQ.
func Load(dir string) (*FAQ, error) {
	return LoadWith(dir, Options{})
}

// Options are what a load checks besides the files themselves.
type Options struct {
	// Groups, when not nil, are the agents' groups (the configuration's
	// handoff.groups): a canned reply scoped to another is a problem.
	Groups []string
}

// LoadWith is Load with Options.
func LoadWith(dir string, o Options) (*FAQ, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("load faq: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("load faq: %s is not a folder", dir)
	}
	f, err := LoadFSWith(os.DirFS(dir), o)
	if f != nil {
		f.Dir = dir
	}
	return f, err
}

// LoadFS is Load over a file system (the sample FAQ is embedded in the binary).
func LoadFS(fsys fs.FS) (*FAQ, error) {
	return LoadFSWith(fsys, Options{})
}

// LoadFSWith is LoadFS with Options.
func LoadFSWith(fsys fs.FS, o Options) (*FAQ, error) {
	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir // .git and editor folders
			}
			return nil
		}
		if ext := path.Ext(p); (ext == ".yaml" || ext == ".yml") && !strings.HasPrefix(d.Name(), ".") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load faq: %w", err)
	}
	sort.Strings(files)
	l := &loader{f: &FAQ{Files: files, byID: map[string]*Intent{}}, groups: o.Groups}
	for _, name := range files {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("load faq: %w", err)
		}
		l.file(name, b)
	}
	if len(files) == 0 {
		l.add(Pos{}, "no .yaml files found")
	}
	l.validate()
	if len(l.problems) > 0 {
		sort.SliceStable(l.problems, func(i, j int) bool {
			a, b := l.problems[i].Pos, l.problems[j].Pos
			if a.File != b.File {
				return a.File < b.File
			}
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Column < b.Column
		})
		return nil, l.problems
	}
	return l.f, nil
}

// ParseFile parses one FAQ file on its own (used by the fuzz test and by
// editors' tooling); cross-file rules are checked as if it were the only file.
func ParseFile(name string, b []byte) (*FAQ, error) {
	l := &loader{f: &FAQ{Files: []string{name}, byID: map[string]*Intent{}}}
	l.file(name, b)
	l.validate()
	if len(l.problems) > 0 {
		return nil, l.problems
	}
	return l.f, nil
}

type loader struct {
	f        *FAQ
	groups   []string // Options.Groups
	problems Problems
	file_    string // the file being read
	choices  []choiceRef
	testRefs []choiceRef
	qs       []qpos
	// unreadIDs are the ids that files the parser could not read seem to
	// declare: a reference to one is not reported, as it only follows from
	// that file's own problem.
	unreadIDs map[string]bool
	lines     []string // the lines of the file being read
}

// joinedItem reports a plain list item that runs onto a following line
// starting with "- ": YAML reads "- a" then "  - b" indented further as the
// one text "a - b", so one space too many silently merges two questions.
func (l *loader) joinedItem(n *yaml.Node) {
	if n.Style != 0 || !strings.Contains(n.Value, " - ") || n.Line < 1 || n.Line > len(l.lines) {
		return
	}
	if strings.Contains(l.lines[n.Line-1], n.Value) {
		return // " - " written on the line itself
	}
	for i := n.Line; i < len(l.lines); i++ {
		t := strings.TrimLeft(l.lines[i], " ")
		if strings.HasPrefix(t, "- ") {
			l.add(Pos{File: l.file_, Line: i + 1, Column: len(l.lines[i]) - len(t) + 1},
				"this - is indented further than the item above it, so YAML joins the two into one text %q: line it up with the - on line %d", n.Value, n.Line)
			return
		}
	}
}

// unread notes the ids a file that could not be parsed seems to declare.
func (l *loader) unread(b []byte) {
	for _, id := range declaredIDs(b) {
		if l.unreadIDs == nil {
			l.unreadIDs = map[string]bool{}
		}
		l.unreadIDs[id] = true
	}
}

type choiceRef struct {
	id  string
	pos Pos
}

func (l *loader) add(p Pos, format string, args ...any) {
	l.problems = append(l.problems, Problem{Pos: p, Msg: fmt.Sprintf(format, args...)})
}

func (l *loader) pos(n *yaml.Node) Pos {
	return Pos{File: l.file_, Line: n.Line, Column: n.Column}
}

func (l *loader) file(name string, b []byte) {
	l.file_ = name
	l.lines = nil
	if len(b) > MaxFileSize {
		l.add(Pos{File: name}, "file is %d bytes, more than the %d allowed", len(b), MaxFileSize)
		return
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // a BOM from Windows editors
	if !utf8.Valid(b) {
		line, col := 1, 1
		for i := 0; i < len(b); {
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			if r == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
			i += size
		}
		l.add(Pos{File: name, Line: line, Column: col}, "invalid UTF-8: save the file as UTF-8")
		l.unread(b)
		return
	}
	l.lines = strings.Split(string(b), "\n")
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		l.problems = append(l.problems, syntaxProblem(name, b, err))
		l.unread(b)
		return
	}
	if len(doc.Content) == 0 {
		return // empty file
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		l.add(l.pos(root), "the file must be a mapping with keys intents, synonyms, words, tests, canned")
		return
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "intents":
			for _, n := range l.seq(v, "intents") {
				l.intent(n)
			}
		case "synonyms":
			for _, n := range l.seq(v, "synonyms") {
				words := l.strings(n, "a synonym group")
				if words != nil {
					l.f.Synonyms = append(l.f.Synonyms, SynonymGroup{Words: words, Pos: l.pos(n)})
				}
			}
		case "words":
			l.f.Words = append(l.f.Words, l.strings(v, "words")...)
		case "tests":
			for _, n := range l.seq(v, "tests") {
				l.test(n)
			}
		case "canned":
			for _, n := range l.seq(v, "canned") {
				l.canned(n)
			}
		default:
			l.add(l.pos(k), "unknown key %q (allowed: intents, synonyms, words, tests, canned)", k.Value)
		}
	}
}

// seq returns the items of a sequence node, reporting anything else.
func (l *loader) seq(n *yaml.Node, what string) []*yaml.Node {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		l.add(l.pos(n), "%s must be a list", what)
		return nil
	}
	return n.Content
}

// str returns a scalar's string value, reporting non-scalars.
func (l *loader) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		l.add(l.pos(n), "%s must be text", what)
		return "", false
	}
	if n.Tag == "!!null" {
		return "", true
	}
	return n.Value, true
}

// strings accepts a list of scalars (or one scalar).
func (l *loader) strings(n *yaml.Node, what string) []string {
	if n.Kind == yaml.ScalarNode {
		if n.Tag == "!!null" {
			return nil
		}
		return []string{n.Value}
	}
	if n.Kind != yaml.SequenceNode {
		l.add(l.pos(n), "%s must be a list of text", what)
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		s, ok := l.str(c, "each item of "+what)
		if !ok {
			continue
		}
		if strings.TrimSpace(s) == "" {
			l.add(l.pos(c), "empty item in %s", what)
			continue
		}
		out = append(out, strings.TrimSpace(s))
	}
	return out
}

func (l *loader) boolean(n *yaml.Node, what string) bool {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		l.add(l.pos(n), "%s must be true or false", what)
		return false
	}
	return n.Value == "true"
}

var (
	idRE   = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	langRE = regexp.MustCompile(`^[a-z]{2}(-[A-Za-z]{2,4})?$`)
)

func (l *loader) intent(n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		l.add(l.pos(n), "each intent must be a mapping with id, category, questions, answer")
		return
	}
	in := &Intent{Pos: l.pos(n)}
	var hasQuestions, hasAnswer bool
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "id":
			in.ID, _ = l.str(v, "id")
			if in.ID != "" && !idRE.MatchString(in.ID) {
				l.add(l.pos(v), "id %q: use lower-case letters, digits and _ (like order_status)", in.ID)
			}
		case "category":
			in.Category, _ = l.str(v, "category")
		case "questions":
			hasQuestions = true
			in.Questions = l.strings(v, "questions")
			l.questionPos(in, v)
		case "answer":
			hasAnswer = true
			l.answer(in, v)
		case "keywords":
			in.Keywords = l.strings(v, "keywords")
		case "handoff":
			in.Handoff = l.boolean(v, "handoff")
		case "priority":
			in.Priority, _ = l.str(v, "priority")
			if _, err := priority.Parse(in.Priority); err != nil {
				l.add(l.pos(v), "priority %q: use low, normal, high or urgent (or leave it out)", in.Priority)
			}
			if in.Priority == "normal" {
				in.Priority = ""
			}
		case "lang":
			in.Lang, _ = l.str(v, "lang")
			if in.Lang != "" && !langRE.MatchString(in.Lang) {
				l.add(l.pos(v), "lang %q: use a language code such as en", in.Lang)
			}
		default:
			l.add(l.pos(k), "unknown key %q in intent (allowed: id, category, questions, answer, keywords, handoff, priority, lang)", k.Value)
		}
	}
	where := in.ID
	if where == "" {
		where = "intent"
		l.add(in.Pos, "intent has no id")
	}
	if in.Category == "" {
		l.add(in.Pos, "%s: no category", where)
	}
	if !hasQuestions {
		l.add(in.Pos, "%s: no questions", where)
	} else if len(in.Questions) < 3 {
		l.add(in.Pos, "%s: has %d question(s), needs at least 3 (the standard question and two paraphrases)", where, len(in.Questions))
	}
	if !hasAnswer {
		l.add(in.Pos, "%s: no answer", where)
	} else if strings.TrimSpace(in.Answer.Text) == "" {
		l.add(in.Pos, "%s: the answer text is empty", where)
	}
	l.f.Intents = append(l.f.Intents, in)
}

// qpos remembers each question's position for the duplicate check.
type qpos struct {
	in  *Intent
	pos Pos
	q   string
}

func (l *loader) questionPos(in *Intent, v *yaml.Node) {
	if v.Kind != yaml.SequenceNode {
		return
	}
	for _, c := range v.Content {
		if c.Kind == yaml.ScalarNode && strings.TrimSpace(c.Value) != "" {
			l.qs = append(l.qs, qpos{in: in, pos: l.pos(c), q: c.Value})
			l.joinedItem(c)
		}
	}
}

func (l *loader) answer(in *Intent, v *yaml.Node) {
	if v.Kind == yaml.ScalarNode {
		in.Answer.Text, _ = l.str(v, "answer")
		in.Answer.Text = strings.TrimSpace(in.Answer.Text)
		return
	}
	if v.Kind != yaml.MappingNode {
		l.add(l.pos(v), "answer must be text or a mapping with text, en, channels, choices")
		return
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, x := v.Content[i], v.Content[i+1]
		switch k.Value {
		case "text":
			s, _ := l.str(x, "answer text")
			in.Answer.Text = strings.TrimSpace(s)
		case "en":
			s, _ := l.str(x, "answer en")
			in.Answer.En = strings.TrimSpace(s)
		case "channels":
			if x.Kind != yaml.MappingNode {
				l.add(l.pos(x), "answer channels must be a mapping such as wechat: text")
				continue
			}
			in.Answer.Channels = map[string]string{}
			for j := 0; j+1 < len(x.Content); j += 2 {
				ck, cv := x.Content[j], x.Content[j+1]
				switch ck.Value {
				case "web", "wechat", "telegram":
				default:
					l.add(l.pos(ck), "unknown channel %q (allowed: web, wechat, telegram)", ck.Value)
					continue
				}
				s, _ := l.str(cv, "channel answer")
				if strings.TrimSpace(s) == "" {
					l.add(l.pos(cv), "the %s answer is empty", ck.Value)
					continue
				}
				in.Answer.Channels[ck.Value] = strings.TrimSpace(s)
			}
		case "choices":
			for _, c := range l.seq(x, "choices") {
				s, ok := l.str(c, "each choice")
				if ok && s != "" {
					in.Answer.Choices = append(in.Answer.Choices, s)
					l.choices = append(l.choices, choiceRef{id: s, pos: l.pos(c)})
				}
			}
		default:
			l.add(l.pos(k), "unknown key %q in answer (allowed: text, en, channels, choices)", k.Value)
		}
	}
}

func (l *loader) test(n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		l.add(l.pos(n), "each test must be a mapping with text and expect")
		return
	}
	tc := TestCase{Pos: l.pos(n)}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "text":
			tc.Text, _ = l.str(v, "test text")
		case "expect":
			s, _ := l.str(v, "expect")
			for _, e := range strings.Split(s, "|") {
				if e = strings.TrimSpace(e); e != "" {
					tc.Expect = append(tc.Expect, e)
					if !strings.HasPrefix(e, "@") {
						l.testRefs = append(l.testRefs, choiceRef{id: e, pos: l.pos(v)})
					} else if e != "@handoff" && e != "@none" {
						l.add(l.pos(v), "expect %q: use an intent id, @handoff or @none", e)
					}
				}
			}
		default:
			l.add(l.pos(k), "unknown key %q in test (allowed: text, expect)", k.Value)
		}
	}
	if strings.TrimSpace(tc.Text) == "" {
		l.add(tc.Pos, "test has no text")
	}
	if len(tc.Expect) == 0 {
		l.add(tc.Pos, "test has no expect")
	}
	l.f.Tests = append(l.f.Tests, tc)
}

// validate applies the rules that span intents and files.
func (l *loader) validate() {
	for _, in := range l.f.Intents {
		if in.ID == "" {
			continue
		}
		if first, dup := l.f.byID[in.ID]; dup {
			l.add(in.Pos, "duplicate id %q (first at %s:%d)", in.ID, first.Pos.File, first.Pos.Line)
			continue
		}
		l.f.byID[in.ID] = in
	}
	seen := map[string]qpos{}
	for _, q := range l.qs {
		k := QuestionKey(q.q)
		if k == "" {
			l.add(q.pos, "question %q has no letters or digits", q.q)
			continue
		}
		if first, dup := seen[k]; dup {
			if first.in == q.in {
				l.add(q.pos, "question %q appears twice in %s (first at line %d)", q.q, q.in.ID, first.pos.Line)
			} else {
				l.add(q.pos, "question %q is under both %s (%s:%d) and %s", q.q, first.in.ID, first.pos.File, first.pos.Line, q.in.ID)
			}
			continue
		}
		seen[k] = q
	}
	wordGroup := map[string]Pos{}
	for _, g := range l.f.Synonyms {
		if len(g.Words) < 2 {
			l.add(g.Pos, "synonym group %v has one word: a group needs at least two", g.Words)
		}
		for _, w := range g.Words {
			k := QuestionKey(w)
			if p, dup := wordGroup[k]; dup {
				l.add(g.Pos, "synonym %q is already in the group at %s:%d", w, p.File, p.Line)
				continue
			}
			wordGroup[k] = g.Pos
		}
	}
	for _, c := range l.choices {
		if l.f.byID[c.id] == nil && !l.unreadIDs[c.id] {
			l.add(c.pos, "choice %q is not an intent id", c.id)
		}
	}
	for _, t := range l.testRefs {
		if l.f.byID[t.id] == nil && !l.unreadIDs[t.id] {
			l.add(t.pos, "expect %q is not an intent id", t.id)
		}
	}
	l.validateCanned()
}

// QuestionKey folds a question for duplicate detection: width, case,
// punctuation and spaces do not make two questions different.
func QuestionKey(s string) string {
	s = width.Fold.String(s)
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}
