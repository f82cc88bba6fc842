package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kefu-dev/kefu/internal/realip"
)

// Two client addresses, as a trusted proxy on loopback reports them.
const (
	addrA = "203.0.113.7"
	addrB = "198.51.100.9"
)

// trustProxies makes the console read client addresses through realip with
// cidrs as the trusted proxies (the test server's peer is 127.0.0.1).
func trustProxies(tb testing.TB, cidrs ...string) func(*Deps) {
	tb.Helper()
	res, err := realip.New(cidrs)
	if err != nil {
		tb.Fatal(err)
	}
	return func(d *Deps) { d.ClientIP = res.ClientIP }
}

// attempt is the outcome of one sign-in.
type attempt struct {
	Status     int
	Code       string // the error's code; "" on 200
	RetryAfter string // the Retry-After header
}

// trySignIn signs in as id with password, the request forwarded for xff
// ("": no X-Forwarded-For). It returns an error instead of failing the test,
// so that goroutines may call it.
func (e *env) trySignIn(id, password, xff string) (attempt, error) {
	b, _ := json.Marshal(signInReq{ID: id, Password: password})
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, "POST", e.srv.URL+e.con.Path()+"/api/signin", bytes.NewReader(b))
	if err != nil {
		return attempt{}, err
	}
	if xff != "" {
		r.Header.Set("X-Forwarded-For", xff)
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		return attempt{}, fmt.Errorf("sign in %s: %w", id, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return attempt{}, fmt.Errorf("sign in %s: %w", id, err)
	}
	got := attempt{Status: res.StatusCode, RetryAfter: res.Header.Get("Retry-After")}
	if res.StatusCode != 200 {
		var ae apiError
		if err := json.Unmarshal(body, &ae); err != nil {
			return attempt{}, fmt.Errorf("sign in %s: status %d, body %q", id, res.StatusCode, body)
		}
		got.Code = ae.Error.Code
	}
	return got, nil
}

// signInFrom is trySignIn failing the test on a transport error.
func (e *env) signInFrom(tb testing.TB, id, password, xff string) attempt {
	tb.Helper()
	got, err := e.trySignIn(id, password, xff)
	if err != nil {
		tb.Fatal(err)
	}
	return got
}

var (
	ok200     = attempt{Status: 200}
	wrong401  = attempt{Status: 401, Code: "bad_credentials"}
	locked429 = func(retryAfter string) attempt {
		return attempt{Status: 429, Code: "rate_limited", RetryAfter: retryAfter}
	}
)

// expect signs in and compares the outcome.
func (e *env) expect(tb testing.TB, what string, want attempt, id, password, xff string) {
	tb.Helper()
	if diff := cmp.Diff(want, e.signInFrom(tb, id, password, xff)); diff != "" {
		tb.Fatalf("%s: sign in %s from %q (-want +got):\n%s", what, id, xff, diff)
	}
}

// 64 agents of one office sign in at the same moment from one address:
// successes never count, so every one of them gets in, even with limits of
// one failure per pair and two per address (which do apply to failures).
func TestSignInConcurrentSuccesses(t *testing.T) {
	const n = 64
	e := MustEnv(t, func(c *Config) {
		c.SignInFailures, c.SignInFailuresPerIP = 1, 2
		h := c.Agents[0].PasswordHash
		for i := range n {
			c.Agents = append(c.Agents, Agent{ID: fmt.Sprintf("office%02d", i), PasswordHash: h,
				Groups: []string{"pre_sales"}, MaxChats: 1})
		}
	})
	// One failure from the office already: one more locks the address.
	e.expect(t, "a typo", wrong401, "alice", "typo", "")

	start := make(chan struct{})
	var wg sync.WaitGroup
	got := make([]attempt, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			got[i], errs[i] = e.trySignIn(fmt.Sprintf("office%02d", i), testPassword, "")
		})
	}
	close(start)
	wg.Wait()
	statuses := map[int]int{}
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		statuses[got[i].Status]++
	}
	if diff := cmp.Diff(map[int]int{200: n}, statuses); diff != "" {
		t.Fatalf("%d concurrent correct sign-ins from one address: statuses (-want +got):\n%s", n, diff)
	}
	// The limit is live: the office's second failure locks the address, for
	// everyone there.
	e.expect(t, "second failure", wrong401, "bob", "typo", "")
	e.expect(t, "after the address's lock", locked429("60"), "carol", testPassword, "")
}

// Wrong tries for alice from address A lock the pair (alice, A) only: alice
// signs in from B, bob from A. A lock refuses even the right password, and
// does not count the tries it refuses; a success clears its pair.
func TestSignInPairLock(t *testing.T) {
	e := MustEnvDeps(t, func(c *Config) { c.SignInFailures, c.SignInFailuresPerIP = 3, 10 },
		trustProxies(t, "127.0.0.1/32"))
	for i := range 3 {
		e.expect(t, fmt.Sprint("guess ", i), wrong401, "alice", "guess", addrA)
	}
	e.expect(t, "right password at A, locked", locked429("60"), "alice", testPassword, addrA)
	for i := range 5 {
		e.expect(t, fmt.Sprint("guess under the lock ", i), locked429("60"), "alice", "guess", addrA)
	}
	e.expect(t, "alice from B", ok200, "alice", testPassword, addrB)
	e.expect(t, "bob from A", ok200, "bob", testPassword, addrA)

	// A success clears its pair: two failures, a success, two failures
	// again, and alice still gets in from B.
	e.expect(t, "typo 1 at B", wrong401, "alice", "typo", addrB)
	e.expect(t, "typo 2 at B", wrong401, "alice", "typo", addrB)
	e.expect(t, "alice from B", ok200, "alice", testPassword, addrB)
	e.expect(t, "typo 3 at B", wrong401, "alice", "typo", addrB)
	e.expect(t, "typo 4 at B", wrong401, "alice", "typo", addrB)
	e.expect(t, "alice from B after a success and two typos", ok200, "alice", testPassword, addrB)

	// The lock at A ends after a minute; the refused tries did not extend it.
	e.clk.Advance(59 * time.Second)
	e.expect(t, "a second before the end", locked429("1"), "alice", testPassword, addrA)
	e.clk.Advance(time.Second)
	e.expect(t, "lock over", ok200, "alice", testPassword, addrA)
}

// Wrong tries across agent ids from one address lock that address (every
// agent there, nobody elsewhere), with a back-off that doubles with each
// failure after a lock, up to the cap; the counts have a lifetime.
func TestSignInAddressBackoff(t *testing.T) {
	e := MustEnvDeps(t, func(c *Config) {
		c.SignInFailures, c.SignInFailuresPerIP = 3, 4
		c.SignInLock, c.SignInMaxLock = time.Minute, 3*time.Minute
	}, trustProxies(t, "127.0.0.1/32"))
	for _, id := range []string{"x1", "x2", "alice", "x3"} { // unknown ids count too
		e.expect(t, "guess "+id, wrong401, id, "guess", addrA)
	}
	e.expect(t, "bob at A, first lock", locked429("60"), "bob", testPassword, addrA)
	e.expect(t, "bob at B", ok200, "bob", testPassword, addrB)

	e.clk.Advance(61 * time.Second)
	e.expect(t, "bob at A after the first lock", ok200, "bob", testPassword, addrA)
	e.expect(t, "one more guess", wrong401, "x4", "guess", addrA)
	e.expect(t, "second lock", locked429("120"), "bob", testPassword, addrA)
	e.clk.Advance(61 * time.Second)
	e.expect(t, "second lock, later", locked429("59"), "bob", testPassword, addrA)
	e.clk.Advance(60 * time.Second)
	e.expect(t, "one more guess", wrong401, "x5", "guess", addrA)
	e.expect(t, "third lock, capped", locked429("180"), "bob", testPassword, addrA)

	ttl, err := e.rdb.PTTL(context.Background(), e.con.cfg.KeyPrefix+"signin:ip:"+addrA).Result()
	if err != nil || ttl <= 0 || ttl > 3*time.Minute+e.con.cfg.SignInWindow {
		t.Fatalf("the address's count lives %v (%v), want at most the lock and the window", ttl, err)
	}
}

// Behind a trusted proxy the counted address is the one it forwards; a
// client that is not a trusted proxy cannot choose its address with the
// header.
func TestSignInTrustedProxy(t *testing.T) {
	t.Run("trusted", func(t *testing.T) {
		e := MustEnvDeps(t, func(c *Config) { c.SignInFailures = 2 }, trustProxies(t, "127.0.0.1/32"))
		e.expect(t, "guess", wrong401, "alice", "guess", addrA)
		e.expect(t, "guess", wrong401, "alice", "guess", addrA)
		e.expect(t, "alice at A", locked429("60"), "alice", testPassword, addrA)
		e.expect(t, "alice at B", ok200, "alice", testPassword, addrB)
	})
	t.Run("untrusted", func(t *testing.T) {
		e := MustEnvDeps(t, func(c *Config) { c.SignInFailures = 2 }, trustProxies(t, "10.0.0.0/8"))
		e.expect(t, "guess", wrong401, "alice", "guess", addrA)
		e.expect(t, "guess", wrong401, "alice", "guess", addrA)
		// The header is ignored: both tries came from 127.0.0.1, and so
		// does this one, whatever it claims.
		e.expect(t, "alice claiming B", locked429("60"), "alice", testPassword, addrB)
		e.expect(t, "alice without the header", locked429("60"), "alice", testPassword, "")
	})
}

// An IPv6 client picks any address of its /64 at will: its guesses count
// as one address (and pair), whatever the last 64 bits say.
func TestSignInIPv6Subnet(t *testing.T) {
	e := MustEnvDeps(t, func(c *Config) { c.SignInFailures = 2 }, trustProxies(t, "127.0.0.1/32"))
	e.expect(t, "guess", wrong401, "alice", "guess", "2001:db8:1:2::1")
	e.expect(t, "guess", wrong401, "alice", "guess", "2001:db8:1:2::2")
	e.expect(t, "another address of the /64", locked429("60"), "alice", testPassword, "2001:db8:1:2::3")
	e.expect(t, "another /64", ok200, "alice", testPassword, "2001:db8:1:3::1")
}

// A burst of concurrent guesses gets no more than the limit checked: Redis
// counts failures one at a time, and those that meet the lock placed by the
// earlier ones are refused uncounted (so the back-off does not run away
// either), as is a right password that meets it.
func TestSignInBurst(t *testing.T) {
	const n = 40
	e := MustEnvDeps(t, func(c *Config) { c.SignInFailures, c.SignInFailuresPerIP = 3, 100 },
		trustProxies(t, "127.0.0.1/32"))
	start := make(chan struct{})
	var wg sync.WaitGroup
	got := make([]attempt, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			got[i], errs[i] = e.trySignIn("alice", fmt.Sprint("guess-", i), addrA)
		})
	}
	close(start)
	wg.Wait()
	counts := map[string]int{}
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		counts[fmt.Sprint(got[i].Status, " ", got[i].Code)]++
	}
	want := map[string]int{"401 bad_credentials": 3, "429 rate_limited": n - 3}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Fatalf("%d concurrent guesses (-want +got):\n%s", n, diff)
	}
	// A right password checked after the lock was placed is refused too.
	keys := e.con.signInKeys("alice", addrA)
	if err := e.con.signInAdmitted(context.Background(), keys); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("admitted under the lock: %v", err)
	}
	e.clk.Advance(time.Minute)
	e.expect(t, "after the first lock", ok200, "alice", testPassword, addrA)
}
