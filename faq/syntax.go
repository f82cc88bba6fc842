package faq

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A YAML syntax error is the one problem an editor meets most (one space too
// many), and yaml.v3 reports it badly: a line only, often the line where the
// enclosing block started rather than the line at fault, and in the parser's
// words. syntaxProblem finds the line and column an editor should look at
// and says what is wrong in plain words, keeping the parser's own words at
// the end for searching.

var yamlLineRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// syntaxProblem turns yaml.v3's error for file name (content b) into one
// Problem with line, column and a hint.
func syntaxProblem(name string, b []byte, err error) Problem {
	msg := strings.SplitN(err.Error(), "\n", 2)[0]
	parserLine := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		parserLine, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	lines := strings.Split(string(b), "\n")
	if is, ok := locateIndent(lines); ok && is.line >= parserLine {
		return Problem{Pos: Pos{File: name, Line: is.line, Column: is.col},
			Msg: fmt.Sprintf("YAML syntax error: %s (the YAML parser says: %s)", is.hint, msg)}
	}
	p := Pos{File: name, Line: parserLine}
	if parserLine >= 1 && parserLine <= len(lines) {
		p.Column = firstColumn(lines[parserLine-1])
	}
	return Problem{Pos: p, Msg: fmt.Sprintf("YAML syntax error: %s (the YAML parser says: %s)", parserHint(msg), msg)}
}

// parserHint says in plain words what yaml.v3's message usually means in a
// FAQ file.
func parserHint(msg string) string {
	switch {
	case strings.Contains(msg, "mapping values are not allowed"):
		return `a line is indented further than the line above it, or a text contains ": " — line the keys of one block up in one column, and put such a text in quotes`
	case strings.Contains(msg, "did not find expected key"):
		return "check the indentation around this line: the keys of one block must start in the same column"
	case strings.Contains(msg, "did not find expected '-' indicator"):
		return "check the indentation around this line: the items of one list must each start with - in the same column"
	case strings.Contains(msg, "cannot start any token"):
		return "a character YAML does not allow here, often a tab: indent with spaces only, or put the text in quotes"
	case strings.Contains(msg, "could not find expected ':'"):
		return "a key has no colon after it, or a text runs over several lines: put the text in quotes"
	case strings.Contains(msg, "unexpected end of stream"), strings.Contains(msg, "expected ',' or ']'"),
		strings.Contains(msg, "expected ',' or '}'"):
		return "a quote or bracket opened here is never closed"
	case strings.Contains(msg, "did not find expected node content"):
		return "a value is missing, or starts with a character YAML reserves (@ ` | > % *): put the text in quotes"
	case strings.Contains(msg, "escape"):
		return `a backslash in a text in double quotes: use single quotes, or write \\`
	}
	return "check the indentation and the quotes on this line and the lines just above it"
}

// firstColumn is the 1-based column of a line's first character that is not
// a space (1 for an empty line).
func firstColumn(line string) int {
	return len(line) - len(strings.TrimLeft(line, " ")) + 1
}

// indentIssue is a line whose indentation no YAML block can have.
type indentIssue struct {
	line, col int
	hint      string
}

// level is one open block: a mapping's keys or a list's dashes, all starting
// in one column.
type level struct {
	indent int
	line   int
	key    string // the first key at this level, or "-" for a list
}

var (
	// keyRE matches "key:" or "key: value" (a key plain, single- or
	// double-quoted); group 1 is the key, group 2 the value.
	keyRE = regexp.MustCompile(`^("[^"]*"|'[^']*'|[^\s#'"\[\]{},&*!|>%@` + "`" + `-][^#]*?|-[^\s][^#]*?)\s*:(?:\s+(.*))?$`)
	// blockScalarRE matches the value of a key that starts a block scalar.
	blockScalarRE = regexp.MustCompile(`^[|>][-+0-9]*\s*(#.*)?$`)
)

// locateIndent walks the lines of a block-style YAML file as the FAQ is
// written (mappings, lists, block and flow scalars) and returns the first
// line whose indentation matches no open block, or that continues a value
// with a key. It is only asked after the parser failed, so it is a guide to
// the parser's error, not a parser: what it does not understand it skips.
func locateIndent(lines []string) (indentIssue, bool) {
	var stack []level
	opens := false    // the previous line ended with "key:" (a nested block follows)
	value := false    // the previous line had a plain value (a continuation may follow)
	blockIndent := -1 // inside a block scalar: lines indented more than this are text
	flowDepth := 0    // inside a flow collection spanning lines
	flowLine, flowCol := 0, 0
	for i, raw := range lines {
		n := i + 1
		line := strings.TrimRight(raw, "\r")
		trimmed := strings.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		if blockIndent >= 0 {
			if strings.TrimSpace(trimmed) == "" || indent > blockIndent {
				continue
			}
			blockIndent = -1
		}
		if flowDepth > 0 {
			flowDepth += flowBalance(trimmed)
			continue
		}
		if strings.TrimSpace(trimmed) == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasPrefix(trimmed, "\t") {
			return indentIssue{line: n, col: indent + 1, hint: "a tab in the indentation: YAML allows only spaces there"}, true
		}
		if strings.HasPrefix(trimmed, "---") || strings.HasPrefix(trimmed, "...") {
			stack, opens, value = nil, false, false
			continue
		}
		dash := trimmed == "-" || strings.HasPrefix(trimmed, "- ")
		key := lineKey(trimmed)
		switch {
		case len(stack) == 0:
			stack = append(stack, level{indent: indent, line: n, key: key})
		case opens && (indent > stack[len(stack)-1].indent || indent == stack[len(stack)-1].indent && dash):
			if indent == stack[len(stack)-1].indent {
				break // a list written at its key's column: allowed
			}
			stack = append(stack, level{indent: indent, line: n, key: key})
		case value && indent > stack[len(stack)-1].indent:
			if !dash && key == "" {
				continue // the value goes on on this line
			}
			top := stack[len(stack)-1]
			return indentIssue{line: n, col: indent + 1, hint: misaligned(key, indent, top)}, true
		default:
			j := len(stack) - 1
			for j >= 0 && stack[j].indent > indent {
				j--
			}
			if j < 0 || stack[j].indent != indent {
				return indentIssue{line: n, col: indent + 1, hint: misaligned(key, indent, nearest(stack, key, indent))}, true
			}
			stack = stack[:j+1]
		}
		// What this line opens.
		rest := trimmed
		restIndent := indent
		for rest == "-" || strings.HasPrefix(rest, "- ") {
			inner := strings.TrimLeft(rest[1:], " ")
			restIndent += len(rest) - len(inner)
			rest = inner
			if rest != "" {
				stack = append(stack, level{indent: restIndent, line: n, key: lineKey(rest)})
			}
		}
		opens, value = false, false
		if rest == "" || strings.HasPrefix(rest, "#") {
			opens = true // "-" alone: the item follows on the next lines
			continue
		}
		v := rest
		if m := keyRE.FindStringSubmatch(rest); m != nil {
			v = strings.TrimSpace(m[2])
			if v == "" || strings.HasPrefix(v, "#") {
				opens = true
				continue
			}
		}
		switch {
		case blockScalarRE.MatchString(v):
			blockIndent = restIndent
		case strings.HasPrefix(v, "[") || strings.HasPrefix(v, "{"):
			if d := flowBalance(v); d > 0 {
				flowDepth = d
				flowLine, flowCol = n, utf8.RuneCountInString(line[:len(line)-len(v)])+1
			}
		case strings.HasPrefix(v, `"`) || strings.HasPrefix(v, `'`):
			// a quoted text; one spanning lines is not followed
		default:
			value = true
		}
	}
	if flowDepth > 0 {
		return indentIssue{line: flowLine, col: flowCol, hint: "this [ or { is never closed: end the list with ] (or the mapping with })"}, true
	}
	return indentIssue{}, false
}

// lineKey is the key a line (after any "- ") starts with, or "" when it
// starts with none; "-" for a list item.
func lineKey(s string) string {
	if s == "-" || strings.HasPrefix(s, "- ") {
		return "-"
	}
	if m := keyRE.FindStringSubmatch(s); m != nil {
		return strings.Trim(m[1], `"'`)
	}
	return ""
}

// nearest is the open block the editor most likely meant a line starting
// with key at indent to be in: of the same kind (keys with keys, list items
// with list items) when there is one, the closest in column, the deeper on a
// tie.
func nearest(stack []level, key string, indent int) level {
	kind := func(k string) int {
		switch k {
		case "":
			return 0
		case "-":
			return 1
		}
		return 2
	}
	best, found := stack[len(stack)-1], false
	for _, l := range stack {
		if kind(l.key) != kind(key) {
			continue
		}
		if !found || abs(l.indent-indent) <= abs(best.indent-indent) {
			best, found = l, true
		}
	}
	if found {
		return best
	}
	for _, l := range stack {
		if abs(l.indent-indent) <= abs(best.indent-indent) {
			best = l
		}
	}
	return best
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// misaligned says which column a line at indent should start in.
func misaligned(key string, indent int, want level) string {
	what := "this line"
	if key != "" && key != "-" {
		what = strconv.Quote(key)
	} else if key == "-" {
		what = "this list item"
	}
	like := fmt.Sprintf("like %q on line %d", want.key, want.line)
	if want.key == "-" {
		like = fmt.Sprintf("like the list item on line %d", want.line)
	} else if want.key == "" {
		like = fmt.Sprintf("like line %d", want.line)
	}
	return fmt.Sprintf("%s is indented %d spaces, but the block it belongs to is indented %d, %s: the lines of one block must start in the same column",
		what, indent, want.indent, like)
}

// flowBalance counts the brackets a line of a flow collection opens minus
// those it closes, outside quotes.
func flowBalance(s string) int {
	d := 0
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case r == '#':
			return d
		case r == '[' || r == '{':
			d++
		case r == ']' || r == '}':
			d--
		}
	}
	return d
}

// declaredIDRE finds "id: x" lines in a file the parser could not read.
var declaredIDRE = regexp.MustCompile(`(?m)^[ \t]*(?:-[ \t]+)?id[ \t]*:[ \t]*["']?([a-z][a-z0-9_]*)["']?[ \t]*(?:#.*)?\r?$`)

// declaredIDs are the intent ids a file seems to declare, read as plain text:
// when the file cannot be parsed, references to them elsewhere are not
// reported, since they only follow from its syntax error.
func declaredIDs(b []byte) []string {
	var ids []string
	for _, m := range declaredIDRE.FindAllSubmatch(b, -1) {
		ids = append(ids, string(m[1]))
	}
	return ids
}
