package testkit

import (
	"fmt"
	"strings"
	"testing"
)

// recordingTB records what Missing asks of a test instead of ending it.
type recordingTB struct {
	testing.TB
	fatal, skip string
}

func (r *recordingTB) Helper()                           {}
func (r *recordingTB) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }
func (r *recordingTB) Skipf(format string, args ...any)  { r.skip = fmt.Sprintf(format, args...) }

func TestMissing(t *testing.T) {
	for _, tc := range []struct {
		name, ci, all string
		fail          bool
	}{
		{"laptop", "", "", false},
		{"CI=true", "true", "", true},
		{"CI=1", "1", "", true},
		{"CI=false", "false", "", false},
		{"KEFU_REQUIRE_ALL=1", "", "1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			t.Setenv("KEFU_REQUIRE_ALL", tc.all)
			t.Setenv("KEFU_TEST_REDIS_URL", "")
			r := &recordingTB{TB: t}
			RedisURL(r)
			if tc.fail && (r.fatal == "" || r.skip != "") || !tc.fail && (r.skip == "" || r.fatal != "") {
				t.Fatalf("fatal %q, skip %q; want fail=%v", r.fatal, r.skip, tc.fail)
			}
			msg := r.fatal + r.skip
			for _, want := range []string{"KEFU_TEST_REDIS_URL", "scripts/test.sh"} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q lacks %q", msg, want)
				}
			}
		})
	}
	t.Run("chromium", func(t *testing.T) {
		t.Setenv("CI", "true")
		t.Setenv("KEFU_CHROMIUM", "")
		t.Setenv("PATH", t.TempDir())
		r := &recordingTB{TB: t}
		Chromium(r)
		if !strings.Contains(r.fatal, "Chromium") || !strings.Contains(r.fatal, "apt-get install chromium") {
			t.Errorf("fatal %q", r.fatal)
		}
	})
}
