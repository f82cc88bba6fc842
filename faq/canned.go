package faq

import (
	"slices"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Canned is a canned reply (快捷回复): a text agents insert in the reply box,
// kept by editors under the key `canned` of any FAQ file.
type Canned struct {
	Title  string
	Text   string   // may hold variables: {{customer.name}}, {{agent.name|我}}, {{order|您的订单}}
	Groups []string // only agents of these groups see it; empty: everyone
	Pos    Pos      // where the reply starts
	// groupPos is where each of Groups is written (for Options.Groups).
	groupPos []Pos
}

// The variables a canned reply may use.
const (
	VarCustomerName = "customer.name" // the customer's name, when known
	VarAgentName    = "agent.name"    // the agent's display name
	VarOrder        = "order"         // the conversation's (latest) order number
)

// CannedVars are the variables a canned reply may use, in the order the
// editors' documentation lists them.
var CannedVars = []string{VarCustomerName, VarAgentName, VarOrder}

// Var is one variable in a canned reply's text.
type Var struct {
	Name     string
	Fallback string // the text used when the value is not known ("" when none is given)
	Start    int    // byte offsets of the whole {{…}} in the text
	End      int
}

// ParseVars returns the variables in a text, in order, and the byte offset
// of a "{{" that is never closed (-1 when none). A variable is written
// {{name}} or {{name|fallback}}; spaces around the name are allowed.
func ParseVars(text string) (vars []Var, unclosed int) {
	for i := 0; ; {
		j := strings.Index(text[i:], "{{")
		if j < 0 {
			return vars, -1
		}
		start := i + j
		k := strings.Index(text[start+2:], "}}")
		if k < 0 {
			return vars, start
		}
		end := start + 2 + k + 2
		inner := text[start+2 : end-2]
		name, fallback, _ := strings.Cut(inner, "|")
		vars = append(vars, Var{Name: strings.TrimSpace(name), Fallback: fallback, Start: start, End: end})
		i = end
	}
}

// FillVars replaces the variables of a text with their values; a variable
// whose value is empty takes its fallback, or nothing when it has none.
func FillVars(text string, values map[string]string) string {
	vars, _ := ParseVars(text)
	if len(vars) == 0 {
		return text
	}
	var b strings.Builder
	last := 0
	for _, v := range vars {
		b.WriteString(text[last:v.Start])
		if val := strings.TrimSpace(values[v.Name]); val != "" {
			b.WriteString(val)
		} else {
			b.WriteString(v.Fallback)
		}
		last = v.End
	}
	b.WriteString(text[last:])
	return b.String()
}

func (l *loader) canned(n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		l.add(l.pos(n), "each canned reply must be a mapping with title and text (and groups)")
		return
	}
	c := &Canned{Pos: l.pos(n)}
	var textNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "title":
			s, _ := l.str(v, "title")
			c.Title = strings.TrimSpace(s)
		case "text":
			s, _ := l.str(v, "text")
			c.Text = strings.TrimSpace(s)
			if v.Kind == yaml.ScalarNode {
				textNode = v
			}
		case "groups":
			c.Groups = l.strings(v, "groups")
			if v.Kind == yaml.SequenceNode {
				for _, g := range v.Content {
					c.groupPos = append(c.groupPos, l.pos(g))
				}
			} else {
				c.groupPos = append(c.groupPos, l.pos(v))
			}
		default:
			l.add(l.pos(k), "unknown key %q in canned reply (allowed: title, text, groups)", k.Value)
		}
	}
	if c.Title == "" {
		l.add(c.Pos, "canned reply has no title")
	}
	if c.Text == "" {
		l.add(c.Pos, "canned reply %q: no text", c.Title)
	}
	if textNode != nil {
		l.cannedVars(c, textNode)
	}
	l.f.Canned = append(l.f.Canned, c)
}

// cannedVars reports unknown and unclosed variables at the line and column
// they are written on.
func (l *loader) cannedVars(c *Canned, n *yaml.Node) {
	vars, unclosed := ParseVars(n.Value)
	from := Pos{File: l.file_, Line: n.Line, Column: n.Column}
	for _, v := range vars {
		if slices.Contains(CannedVars, v.Name) {
			continue
		}
		p := l.find(n.Value[v.Start:v.End], &from, n)
		l.add(p, "canned reply %q: unknown variable {{%s}} (allowed: {{%s}}, each with an optional fallback: {{order|您的订单}})",
			c.Title, v.Name, strings.Join(CannedVars, "}}, {{"))
	}
	if unclosed >= 0 {
		rest := n.Value[unclosed:]
		if i := strings.IndexAny(rest[2:], "\n"); i >= 0 {
			rest = rest[:2+i]
		}
		p := l.find(rest, &from, n)
		l.add(p, "canned reply %q: {{ is not closed with }}", c.Title)
	}
}

// find returns where s is written in the file being read, searching from
// *from on and moving *from past it; the node's own position when the text
// is not found as written (escapes in a quoted string).
func (l *loader) find(s string, from *Pos, n *yaml.Node) Pos {
	for line := from.Line; line >= 1 && line <= len(l.lines); line++ {
		text := l.lines[line-1]
		startByte := 0
		if line == from.Line {
			startByte = byteOfColumn(text, from.Column)
		}
		if i := strings.Index(text[startByte:], s); i >= 0 {
			col := utf8.RuneCountInString(text[:startByte+i]) + 1
			*from = Pos{File: l.file_, Line: line, Column: col + utf8.RuneCountInString(s)}
			return Pos{File: l.file_, Line: line, Column: col}
		}
	}
	return l.pos(n)
}

// byteOfColumn is the byte offset of a 1-based character column in a line.
func byteOfColumn(line string, col int) int {
	i := 0
	for c := 1; c < col && i < len(line); c++ {
		_, size := utf8.DecodeRuneInString(line[i:])
		i += size
	}
	return i
}

// validateCanned applies the rules across canned replies: one title, one reply.
func (l *loader) validateCanned() {
	seen := map[string]*Canned{}
	for _, c := range l.f.Canned {
		k := QuestionKey(c.Title)
		if k == "" {
			if c.Title != "" {
				l.add(c.Pos, "canned reply title %q has no letters or digits", c.Title)
			}
			continue
		}
		if first, dup := seen[k]; dup {
			l.add(c.Pos, "duplicate canned reply title %q (first at %s:%d)", c.Title, first.Pos.File, first.Pos.Line)
			continue
		}
		seen[k] = c
	}
	if l.groups == nil {
		return
	}
	for _, c := range l.f.Canned {
		for i, g := range c.Groups {
			if slices.Contains(l.groups, g) {
				continue
			}
			p := c.Pos
			if i < len(c.groupPos) {
				p = c.groupPos[i]
			}
			l.add(p, "canned reply %q: unknown group %q (the configuration's handoff.groups: %s)", c.Title, g, strings.Join(l.groups, ", "))
		}
	}
}
