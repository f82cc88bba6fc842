package faq

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCannedLoad(t *testing.T) {
	f, err := ParseFile("canned.yaml", []byte(`canned:
  - title: 退款进度
    groups: [after_sales, payments]
    text: |-
      {{customer.name|亲}}，{{ order | 您的订单 }}的退款已提交。
  - title: 问候
    groups: pre_sales
    text: 您好，我是{{agent.name}}。
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Canned) != 2 {
		t.Fatalf("got %d canned replies, want 2", len(f.Canned))
	}
	c := f.Canned[0]
	if c.Title != "退款进度" || c.Pos.Line != 2 || !cmp.Equal(c.Groups, []string{"after_sales", "payments"}) {
		t.Errorf("first reply: %+v", c)
	}
	if !cmp.Equal(f.Canned[1].Groups, []string{"pre_sales"}) {
		t.Errorf("one group written as text: %v", f.Canned[1].Groups)
	}
	got := FillVars(c.Text, map[string]string{VarCustomerName: "王芳"})
	if want := "王芳， 您的订单 的退款已提交。"; got != want {
		t.Errorf("fill with order missing: got %q, want %q", got, want)
	}
	got = FillVars(c.Text, map[string]string{VarOrder: "2023112312345678"})
	if want := "亲，2023112312345678的退款已提交。"; got != want {
		t.Errorf("fill with name missing: got %q, want %q", got, want)
	}
	if got := FillVars("您好{{customer.name}}！", nil); got != "您好！" {
		t.Errorf("no value, no fallback: got %q", got)
	}
}

// TestCannedProblems: an unknown variable is reported at the line and
// column it is written on (inside a block text too), a duplicate title at the
// second reply with the first's place, and an unclosed {{ where it opens.
// (ParseFile leaves the rules across replies last; Load sorts.)
func TestCannedProblems(t *testing.T) {
	_, err := ParseFile("canned.yaml", []byte(`canned:
  - title: 问候
    text: 您好{{customer.name}}
  - title: 退款
    text: |
      您好，
      订单{{order_no|您的订单}}已退款，{{agent}}为您服务。
  - title: 问候！
    text: 再次问候
  - title: 坏的
    text: "请稍等{{order"
  - title: 多余
    text: 好的
    color: red
`))
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("want Problems, got %v", err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	want := []string{
		`canned.yaml:7:9: canned reply "退款": unknown variable {{order_no}} (allowed: {{customer.name}}, {{agent.name}}, {{order}}, each with an optional fallback: {{order|您的订单}})`,
		`canned.yaml:7:30: canned reply "退款": unknown variable {{agent}} (allowed: {{customer.name}}, {{agent.name}}, {{order}}, each with an optional fallback: {{order|您的订单}})`,
		`canned.yaml:11:15: canned reply "坏的": {{ is not closed with }}`,
		`canned.yaml:14:5: unknown key "color" in canned reply (allowed: title, text, groups)`,
		`canned.yaml:8:5: duplicate canned reply title "问候！" (first at canned.yaml:2)`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestCannedDuplicateAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yaml", "canned:\n  - title: 稍等\n    text: 请稍等。\n")
	write("b.yaml", "\ncanned:\n  - title: 稍等\n    text: 马上就好。\n")
	_, err := Load(dir)
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 1 || ps[0].String() != `b.yaml:3:5: duplicate canned reply title "稍等" (first at a.yaml:2)` {
		t.Errorf("got %v", err)
	}
}

// TestCannedGroups: with the configuration's groups given, a reply scoped
// to another group is reported at the group's place.
func TestCannedGroups(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "c.yaml"), []byte("canned:\n  - title: 退款\n    groups: [after_sales, refunds]\n    text: 好的\n  - title: 发票\n    groups: billing\n    text: 好的\n"), 0o644)
	_, err := LoadWith(dir, Options{Groups: []string{"pre_sales", "after_sales"}})
	var ps Problems
	if !errors.As(err, &ps) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("want Problems, got %v", err)
	}
	want := []string{
		`c.yaml:3:27: canned reply "退款": unknown group "refunds" (the configuration's handoff.groups: pre_sales, after_sales)`,
		`c.yaml:6:13: canned reply "发票": unknown group "billing" (the configuration's handoff.groups: pre_sales, after_sales)`,
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := LoadWith(dir, Options{Groups: []string{"after_sales", "refunds", "billing"}}); err != nil {
		t.Errorf("all groups known: %v", err)
	}
	if _, err := Load(dir); err != nil {
		t.Errorf("no groups given, none checked: %v", err)
	}
}

func TestSampleCanned(t *testing.T) {
	// The default configuration's groups.
	f, err := LoadSampleWith(Options{Groups: []string{"pre_sales", "after_sales", "payments"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Canned) < 5 {
		t.Fatalf("sample has %d canned replies", len(f.Canned))
	}
}
