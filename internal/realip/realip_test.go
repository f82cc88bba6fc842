package realip

import (
	"net/http/httptest"
	"testing"
)

func TestClientIP(t *testing.T) {
	res, err := New([]string{"10.0.0.0/8", "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, remote, xff, realIP, want string
		res                             *Resolver
	}{
		{name: "direct client", remote: "203.0.113.5:1234", want: "203.0.113.5", res: res},
		{name: "untrusted peer's XFF is ignored", remote: "203.0.113.5:1234", xff: "1.2.3.4", want: "203.0.113.5", res: res},
		{name: "untrusted peer's X-Real-IP is ignored", remote: "203.0.113.5:1234", realIP: "1.2.3.4", want: "203.0.113.5", res: res},
		{name: "trusted proxy's XFF", remote: "10.1.2.3:80", xff: "198.51.100.9", want: "198.51.100.9", res: res},
		{name: "single trusted host", remote: "192.0.2.7:80", xff: "198.51.100.9", want: "198.51.100.9", res: res},
		{name: "spoofed left entry behind the proxy", remote: "10.1.2.3:80", xff: "6.6.6.6, 198.51.100.9", want: "198.51.100.9", res: res},
		{name: "chain of trusted proxies", remote: "10.1.2.3:80", xff: "198.51.100.9, 10.9.9.9", want: "198.51.100.9", res: res},
		{name: "trusted proxy's X-Real-IP", remote: "10.1.2.3:80", realIP: "198.51.100.9", want: "198.51.100.9", res: res},
		{name: "trusted proxy without headers", remote: "10.1.2.3:80", want: "10.1.2.3", res: res},
		{name: "no proxies: loopback is not trusted", remote: "127.0.0.1:80", xff: "1.2.3.4", want: "127.0.0.1", res: &Resolver{}},
		{name: "nil resolver", remote: "127.0.0.1:80", xff: "1.2.3.4", want: "127.0.0.1"},
		{name: "private peer not trusted by default", remote: "172.16.0.1:80", xff: "1.2.3.4", want: "172.16.0.1", res: res},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if tc.realIP != "" {
				r.Header.Set("X-Real-IP", tc.realIP)
			}
			if got := tc.res.ClientIP(r); got != tc.want {
				t.Errorf("ClientIP = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNewRejectsGarbage(t *testing.T) {
	for _, s := range []string{"nope", "10.0.0.0/99", ""} {
		if _, err := New([]string{s}); err == nil {
			t.Errorf("New(%q): no error", s)
		}
	}
}

func TestKey(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":            "203.0.113.7",
		"::ffff:203.0.113.7":     "203.0.113.7",
		"2001:db8:1:2:aaaa::1":   "2001:db8:1:2::/64",
		"2001:db8:1:2:bbbb::999": "2001:db8:1:2::/64", // same subscriber network
		"2001:db8:1:3::1":        "2001:db8:1:3::/64",
		"not-an-ip":              "not-an-ip",
	} {
		if got := Key(in); got != want {
			t.Errorf("Key(%q) = %q, want %q", in, got, want)
		}
	}
}
