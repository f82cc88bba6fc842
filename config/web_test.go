package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWebLimits: the limits and token lifetimes load from YAML over the
// defaults, and nonsense is refused with every problem named.
func TestWebLimits(t *testing.T) {
	d := Default().Web
	if d.Limits.SessionsPerMinutePerAddr != 30 || d.Limits.HandoffsPerHourPerAddr != 20 || d.Limits.WSPerVisitor != 5 ||
		d.TokenTTL != 30*24*time.Hour || d.TokenRefresh != 24*time.Hour {
		t.Errorf("defaults %+v", d)
	}
	file := filepath.Join(t.TempDir(), "kefu.yaml")
	os.WriteFile(file, []byte("web:\n  limits: {handoffs_per_hour_per_addr: 0, ws_per_addr: 7}\n  token_ttl: 48h\n  v1_tokens_until: \"2027-01-31\"\n"), 0o644)
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if l := c.Web.Limits; l.HandoffsPerHourPerAddr != 0 || l.WSPerAddr != 7 || l.SessionsPerMinutePerAddr != 30 || c.Web.TokenTTL != 48*time.Hour {
		t.Errorf("loaded %+v ttl %v", l, c.Web.TokenTTL)
	}
	c = Default()
	c.Web.Limits.WSPerAddr = -1
	c.Web.TokenRefresh = c.Web.TokenTTL
	c.Web.V1TokensUntil = "next year"
	err = c.Validate()
	for _, want := range []string{"web.limits", "web.token_ttl", "web.v1_tokens_until"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}
