package faq

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copySample writes the sample FAQ into a temporary folder and returns it.
func copySample(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(SampleFS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(SampleFS(), p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, p), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// editLine replaces the first line of file that equals old with new.
func editLine(t *testing.T, file, old, new string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if l == old {
			lines[i] = new
			if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("%s has no line %q", file, old)
}

// TestSyntaxErrorIssueCase is issue 16's case as a new editor met it: one
// space too many before "category" in one file of the sample FAQ gave the
// parser's error without a column and 13 "is not an intent id" complaints
// from tests.yaml about intents that were fine but unreadable. Now: one
// problem, at the line and column of the misplaced key, in plain words.
func TestSyntaxErrorIssueCase(t *testing.T) {
	dir := copySample(t)
	editLine(t, filepath.Join(dir, "invoice_promotion.yaml"), "    category: invoice", "     category: invoice")
	_, err := Load(dir)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("want Problems, got %v", err)
	}
	if len(ps) != 1 {
		t.Fatalf("got %d problems, want 1:\n%v", len(ps), err)
	}
	got := ps[0].String()
	for _, want := range []string{
		`invoice_promotion.yaml:4:6: YAML syntax error: "category" is indented 5 spaces`,
		`indented 4, like "id" on line 3`,
		"the lines of one block must start in the same column",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problem %q lacks %q", got, want)
		}
	}
}

// TestSyntaxErrorKeepsRealProblems: references to the unreadable file's
// intents are left out, but a reference to an id no file declares is still
// reported, as are other files' own problems.
func TestSyntaxErrorKeepsRealProblems(t *testing.T) {
	dir := copySample(t)
	editLine(t, filepath.Join(dir, "invoice_promotion.yaml"), "    category: invoice", "     category: invoice")
	f, err := os.OpenFile(filepath.Join(dir, "tests.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("  - text: 发票抬头写错了\n    expect: invoice_mistake\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = Load(dir)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("want Problems, got %v", err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	if len(got) != 2 || !strings.HasPrefix(got[0], "invoice_promotion.yaml:4:6: YAML syntax error") ||
		!strings.Contains(got[1], `expect "invoice_mistake" is not an intent id`) {
		t.Errorf("got:\n%s", strings.Join(got, "\n"))
	}
}

func TestSyntaxErrorPositions(t *testing.T) {
	const good = "intents:\n  - id: a\n    category: c\n    questions:\n      - x\n      - y\n    answer:\n      text: |\n        ok\n          more\n"
	tests := []struct {
		name, file, want, hint string
	}{
		{"key indented less", strings.Replace(good, "    category", "   category", 1), "x.yaml:3:4:", `"category" is indented 3 spaces`},
		{"key indented more after a block", strings.Replace(good, "    answer", "     answer", 1), "x.yaml:7:6:", `"answer" is indented 5 spaces, but the block it belongs to is indented 4`},
		{"nested key after a value", strings.Replace(good, "    questions", "      questions", 1), "x.yaml:4:7:", `"questions" is indented 6 spaces`},
		{"list item out of line", strings.Replace(good, "      - y", "     - y", 1), "x.yaml:6:6:", "this list item is indented 5 spaces"},
		{"tab", strings.Replace(good, "    category", "\tcategory", 1), "x.yaml:3:", "tab"},
		{"unclosed list", "intents:\n  - id: a\n    questions: [x, y\n", "x.yaml:3:16:", "never closed"},
		{"unclosed quote", "intents:\n  - id: a\n    category: \"c\n", "x.yaml:", "never closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFile("x.yaml", []byte(tt.file))
			var ps Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("got %v, want problems", err)
			}
			got := ps[0].String()
			if !strings.HasPrefix(got, tt.want) || !strings.Contains(got, "YAML syntax error") || !strings.Contains(got, tt.hint) {
				t.Errorf("got %q, want %q… with %q", got, tt.want, tt.hint)
			}
		})
	}
	if _, err := ParseFile("x.yaml", []byte(good)); err == nil || strings.Contains(err.Error(), "YAML syntax") {
		t.Errorf("the good file must parse (only its question count fails): %v", err)
	}
}

// TestLocateIndentValidFiles: on files the parser reads, the locator finds
// nothing (it would otherwise point editors at a line that is fine).
func TestLocateIndentValidFiles(t *testing.T) {
	files, _ := filepath.Glob("sample/*.yaml")
	more, _ := filepath.Glob("testdata/valid/*.yaml")
	files = append(files, more...)
	if len(files) < 5 {
		t.Fatalf("found %d files", len(files))
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if is, ok := locateIndent(strings.Split(string(b), "\n")); ok {
			t.Errorf("%s: found %+v in a valid file", p, is)
		}
	}
}

// TestJoinedItem: a "- " indented two spaces too far parses, as the text of
// the item above it; the editor is told which line to move.
func TestJoinedItem(t *testing.T) {
	file := "intents:\n  - id: a\n    category: c\n    questions:\n      - 我的快递到哪了\n        - 查物流\n      - 包裹在哪\n      - 物流 - 怎么查\n    answer: ok\n"
	_, err := ParseFile("x.yaml", []byte(file))
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("got %v", err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], `x.yaml:6:9: this - is indented further than the item above it, so YAML joins the two into one text "我的快递到哪了 - 查物流": line it up with the - on line 5`) {
		t.Errorf("got:\n%s", strings.Join(got, "\n"))
	}
}
