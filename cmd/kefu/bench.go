package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kefu-dev/kefu/config"
	"github.com/kefu-dev/kefu/faq"
	"github.com/kefu-dev/kefu/intents"
)

// cmdBenchWeb drives the web chat's JSON API with many concurrent customers
// on loopback and prints throughput and latency percentiles, next to the
// matcher alone on the same messages so the gateway's own cost is visible.
func cmdBenchWeb(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench web", flag.ContinueOnError)
	url := fs.String("url", "", "a running gateway (default: start one in this process on REDIS_URL)")
	customers := fs.Int("customers", 64, "concurrent customers")
	messages := fs.Int("messages", 50, "messages per customer")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	f, err := faq.LoadSample()
	if err != nil {
		return err
	}
	var texts []string
	for _, in := range f.Intents {
		texts = append(texts, in.Questions...)
	}

	// The matcher alone, same messages, same concurrency.
	live, err := intents.NewLive(f, "", intents.DefaultConfig())
	if err != nil {
		return err
	}
	m := live.Matcher()
	mr := drive(*customers, *messages, texts, func(_ int, _ int, text string) error {
		m.Match(text)
		return nil
	})
	fmt.Fprintf(stdout, "matcher alone: %s\n", mr)

	base := *url
	if base == "" {
		if os.Getenv("REDIS_URL") == "" && os.Getenv("KEFU_REDIS_URL") == "" {
			fmt.Fprintln(stderr, "bench: REDIS_URL is not set; measuring on the in-process Redis (not representative)")
		}
		cfg, err := config.Load("")
		if err != nil {
			return err
		}
		cfg.Web.RatePerSecond, cfg.Web.Burst = 1e6, 1e6 // the customers here are machines
		cfg.Web.Limits = config.WebLimits{}             // all from one address: no limit per address
		cfg.Server.LogLevel = "warn"
		s, err := newServer(cfg, newLogger(cfg.Server, stderr))
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		ln.Close()
		s.cfg.Server.Addr = ln.Addr().String()
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- s.run(sctx, io.Discard) }()
		defer func() { cancel(); <-done }()
		base = "http://" + s.cfg.Server.Addr
		if err := waitReady(ctx, base); err != nil {
			return err
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *customers * 2}, Timeout: 30 * time.Second}
	tokens := make([]string, *customers)
	for i := range tokens {
		var s struct{ Token string }
		if err := post(ctx, client, base+"/api/session", "", nil, &s); err != nil {
			return err
		}
		tokens[i] = s.Token
	}
	var refused atomic.Int64
	run := time.Now().UnixNano()
	gr := drive(*customers, *messages, texts, func(c, i int, text string) error {
		var r struct {
			Replies []json.RawMessage
		}
		body := map[string]string{"id": fmt.Sprintf("b%d-%d", run, i), "text": text}
		err := post(ctx, client, base+"/api/messages", tokens[c], body, &r)
		if err != nil {
			refused.Add(1)
		}
		return err
	})
	fmt.Fprintf(stdout, "gateway (JSON API, %d customers): %s\n", *customers, gr)
	if n := refused.Load(); n > 0 {
		return fmt.Errorf("%d requests failed", n)
	}
	return nil
}

// result of one drive.
type result struct {
	n        int
	elapsed  time.Duration
	p50, p99 time.Duration
	max      time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("%d messages in %v: %.0f msg/s, p50 %v, p99 %v, max %v", r.n, r.elapsed.Round(time.Millisecond),
		float64(r.n)/r.elapsed.Seconds(), r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.max.Round(time.Microsecond))
}

// drive runs customers goroutines, each sending messages one after the
// other (a customer waits for the reply before writing again).
func drive(customers, messages int, texts []string, send func(c, i int, text string) error) result {
	lat := make([][]time.Duration, customers)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range customers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range messages {
				text := texts[(c*messages+i)%len(texts)]
				t0 := time.Now()
				if send(c, i, text) == nil {
					lat[c] = append(lat[c], time.Since(t0))
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := slices.Concat(lat...)
	slices.Sort(all)
	r := result{n: len(all), elapsed: elapsed}
	if len(all) > 0 {
		r.p50, r.p99, r.max = all[len(all)/2], all[len(all)*99/100], all[len(all)-1]
	}
	return r
}

func post(ctx context.Context, c *http.Client, url, token string, body, out any) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %d %s", url, resp.StatusCode, data)
	}
	return json.Unmarshal(data, out)
}

func waitReady(ctx context.Context, base string) error {
	for range 100 {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New("bench: the gateway did not become ready")
}
