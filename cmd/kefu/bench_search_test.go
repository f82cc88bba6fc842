package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchSearch: kefu bench search fills an empty SQLite archive and
// prints a line per kind of query; a second --generate on it is refused.
func TestBenchSearch(t *testing.T) {
	dir := t.TempDir()
	texts := filepath.Join(dir, "texts.txt")
	if err := os.WriteFile(texts, []byte("我的发票开错了\n查询订单号:[订单x]，商品号:[数字x]\n退款什么时候到账\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dsn := "sqlite://" + filepath.Join(dir, "a.db")
	code, out := runKefu(t, "bench", "search", "--dsn", dsn, "--generate", "300", "--texts", texts, "--queries", "3")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{"generated 300 conversations", "300 conversations archived", "one Chinese word", "order number", "one word, page 50 (cursor)", "one word, page 50 (offset)", "channel + rating ≤ 2 + 90 days", "load average after"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out = runKefu(t, "bench", "search", "--dsn", dsn, "--generate", "10", "--texts", texts)
	if code == 0 || !strings.Contains(out, "wants an empty archive") {
		t.Errorf("a second --generate: exit %d:\n%s", code, out)
	}
}
