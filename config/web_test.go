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

// TestWebIdentity: the identity secret comes from the environment only (in
// the file it is refused),
// required and max age from YAML; requiring identities without a secret, a
// short secret and a nonsense max age are refused.
func TestWebIdentity(t *testing.T) {
	if d := Default().Web; d.IdentityMaxAge != 24*time.Hour || d.IdentityRequired || d.IdentitySecret != "" {
		t.Errorf("defaults %+v", d)
	}
	file := filepath.Join(t.TempDir(), "kefu.yaml")
	// A secret in the file is refused, not silently ignored.
	os.WriteFile(file, []byte("web:\n  identity_secret: 0123456789abcdef-in-a-file\n"), 0o644)
	if _, err := Load(file); err == nil || !strings.Contains(err.Error(), "identity_secret") {
		t.Errorf("a secret in the file: %v", err)
	}
	os.WriteFile(file, []byte("web:\n  identity_required: true\n  identity_max_age: 10m\n"), 0o644)
	t.Setenv("KEFU_WEB_IDENTITY_SECRET", "0123456789abcdef-shared")
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Web; !w.IdentityRequired || w.IdentityMaxAge != 10*time.Minute || w.IdentitySecret != "0123456789abcdef-shared" {
		t.Errorf("loaded %+v", w)
	}
	c = Default()
	c.Web.IdentityRequired = true
	c.Web.IdentityMaxAge = time.Second
	err = c.Validate()
	for _, want := range []string{"web.identity_required", "web.identity_max_age"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	c = Default()
	c.Web.IdentitySecret = "short"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "KEFU_WEB_IDENTITY_SECRET") || strings.Contains(err.Error(), "short") {
		t.Errorf("short secret: %v (and the secret must not be in the error)", err)
	}
}
