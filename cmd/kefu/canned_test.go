package main

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFAQLintCanned: kefu faq lint reports the canned replies' unknown
// variables, duplicate titles and unknown groups at file:line:column; the
// groups are the configuration's (--config).
func TestFAQLintCanned(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "canned.yaml"), []byte(`canned:
  - title: 问候
    text: 您好{{customer.name|}}，我是{{agent.name}}
  - title: 退款
    groups: [after_sales, vip]
    text: |
      订单{{order_id}}的退款已提交。
  - title: 问候
    text: 再见
`), 0o644)
	code, out := runKefu(t, "faq", "lint", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{
		`canned.yaml:5:27: canned reply "退款": unknown group "vip"`,
		`canned.yaml:7:9: canned reply "退款": unknown variable {{order_id}}`,
		`canned.yaml:8:5: duplicate canned reply title "问候" (first at canned.yaml:2)`,
		"3 problem(s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lint output lacks %q:\n%s", want, out)
		}
	}
	cfg := filepath.Join(t.TempDir(), "kefu.yaml")
	os.WriteFile(cfg, []byte("handoff:\n  groups: [after_sales, vip]\n  default_group: after_sales\n  categories: {}\n"), 0o644)
	code, out = runKefu(t, "faq", "lint", "--config", cfg, dir)
	if code != 1 || strings.Contains(out, `unknown group`) || !strings.Contains(out, "2 problem(s)") {
		t.Errorf("with vip configured: exit %d\n%s", code, out)
	}
	code, out = runKefu(t, "faq", "lint", "../../faq/sample")
	if code != 0 || !strings.Contains(out, "canned replies") {
		t.Errorf("sample: exit %d\n%s", code, out)
	}
}

// TestServeCannedHotReload: a canned reply added to the FAQ folder reaches
// the agents' picker without a restart; an edit naming a group the
// configuration does not have is refused and the picker keeps the last
// good replies.
func TestServeCannedHotReload(t *testing.T) {
	mustRedisEnv(t)
	dir := t.TempDir()
	src, _ := filepath.Glob("../../faq/sample/*.yaml")
	for _, f := range src {
		b, _ := os.ReadFile(f)
		os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644)
	}
	g := mustServe(t, "--faq", dir, "--config", agentConfig(t, ""))
	alice := mustAgent(t, g, "alice", "alice-pw")
	type items struct {
		Items []struct{ Kind, Title, Text string }
	}
	search := func(q string) items {
		var b items
		if code := alice.call("GET", "canned?q="+url.QueryEscape(q), nil, &b); code != 200 {
			t.Fatalf("canned?q=%s: %d", q, code)
		}
		return b
	}
	if b := search("wh"); len(b.Items) == 0 || b.Items[0].Title != "问候" || !strings.Contains(b.Items[0].Text, "我是客服小王") {
		t.Fatalf("the sample's greeting: %+v", b.Items)
	}
	has := func(q, title string) bool {
		for _, it := range search(q).Items {
			if it.Kind == "canned" && it.Title == title {
				return true
			}
		}
		return false
	}
	if has("xpys", "新品预售") {
		t.Fatal("新品预售 before it is written")
	}
	extra := filepath.Join(dir, "canned_extra.yaml")
	os.WriteFile(extra, []byte("canned:\n  - title: 新品预售\n    groups: [pre_sales]\n    text: 新品预售将于本周五开始，{{agent.name}}会第一时间通知您。\n"), 0o644)
	waitFor(t, func() bool { return has("xpys", "新品预售") })

	os.WriteFile(extra, []byte("canned:\n  - title: 新品预售\n    groups: [vip]\n    text: 改了\n  - title: 另一条\n    text: 好的\n"), 0o644)
	waitFor(t, func() bool { return strings.Contains(g.logs.String(), `unknown group \"vip\"`) })
	if !has("xpys", "新品预售") || has("lyt", "另一条") {
		t.Errorf("after a refused edit the picker has %+v", search("xpys").Items)
	}
}
