// Package realip tells the address of the client behind an HTTP request:
// the connection's peer, or, when that peer is one of the operator's trusted
// reverse proxies (server.trusted_proxies), the address the proxy reports in
// X-Forwarded-For or X-Real-IP. A header from an untrusted peer is ignored,
// so a client cannot choose the address its limits are counted under.
//
// It owns no data. It wraps echo's IP extractors (which walk
// X-Forwarded-For from the right, skipping trusted hops) with every implicit
// trust switched off: only the configured CIDRs are proxies.
package realip

import (
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// Resolver finds the client address of a request. The zero value and a nil
// *Resolver trust no proxy: the address is the connection's peer.
type Resolver struct {
	xff, realIP echo.IPExtractor
}

// New returns a resolver that trusts the proxies in cidrs ("10.0.0.0/8",
// "127.0.0.1/32"; a bare address is one host). An entry that does not parse
// is an error naming it.
func New(cidrs []string) (*Resolver, error) {
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, c := range cidrs {
		n, err := ParseCIDR(c)
		if err != nil {
			return nil, err
		}
		opts = append(opts, echo.TrustIPRange(n))
	}
	if len(cidrs) == 0 {
		return &Resolver{}, nil
	}
	return &Resolver{xff: echo.ExtractIPFromXFFHeader(opts...), realIP: echo.ExtractIPFromRealIPHeader(opts...)}, nil
}

// ParseCIDR parses one trusted-proxy entry: a CIDR or a single address.
func ParseCIDR(s string) (*net.IPNet, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("trusted proxy %q: not an address or CIDR", s)
		}
		bits := 128
		if ip.To4() != nil {
			ip, bits = ip.To4(), 32
		}
		return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
	}
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		return nil, fmt.Errorf("trusted proxy %q: not an address or CIDR", s)
	}
	return n, nil
}

// ClientIP returns the client's address: X-Forwarded-For when present,
// else X-Real-IP, each read only through trusted proxies; otherwise the
// host of r.RemoteAddr.
func (res *Resolver) ClientIP(r *http.Request) string {
	if res == nil || res.xff == nil {
		return peer(r)
	}
	if len(r.Header.Values(echo.HeaderXForwardedFor)) > 0 {
		return res.xff(r)
	}
	return res.realIP(r)
}

func peer(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

// Key is the part of a client address that limits per address count: an
// IPv4 address, or an IPv6 address's /64 (one subscriber's network: a
// client picks any address in it at will).
func Key(addr string) string {
	ip := net.ParseIP(addr)
	switch {
	case ip == nil:
		if len(addr) > 64 {
			addr = addr[:64]
		}
		return addr
	case ip.To4() != nil:
		return ip.To4().String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
