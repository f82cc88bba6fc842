package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/kefu-dev/kefu/config"
	"github.com/kefu-dev/kefu/console"
	"github.com/kefu-dev/kefu/faq"
	"github.com/kefu-dev/kefu/internal/rediskeys"
)

// cmdBenchPeak is a 双11 peak on a real redis-server: thousands of web-chat
// customers writing at a sustained rate, a long queue kept topped up, and
// agents with the console's event stream open who refresh their queue view
// on every group event (as the page does) and claim, hold and close
// conversations. Every component is the real one, in this process, over
// loopback HTTP. It prints latencies, Redis commands per customer message
// (INFO commandstats deltas, commands run inside scripts included) and
// Redis memory.
func cmdBenchPeak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench peak", flag.ContinueOnError)
	redisURL := fs.String("redis", "", "URL of a real redis-server (required; the bench starts none), e.g. redis://127.0.0.1:6379/0")
	customers := fs.Int("customers", 5000, "web-chat customers")
	waiting := fs.Int("waiting", 2000, "conversations kept waiting in the queue")
	agents := fs.Int("agents", 200, "agents with the console's event stream open")
	chats := fs.Int("chats", 3, "concurrent chats per agent")
	rate := fs.Float64("rate", 200, "customer messages per second")
	duration := fs.Duration("duration", 30*time.Second, "length of the measured run")
	hold := fs.Duration("hold", 20*time.Second, "how long an agent keeps a conversation before closing it")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *redisURL == "" {
		fmt.Fprintln(stderr, "bench peak: -redis is required: a real redis-server, e.g.\n"+
			"  redis-server --port 16379 --save '' --appendonly no --daemonize yes\n"+
			"  kefu bench peak -redis redis://127.0.0.1:16379/0")
		return exitError{2}
	}
	if *customers < *waiting+1 || *agents < 1 || *rate <= 0 || *chats < 1 {
		return errors.New("bench peak: want customers > waiting, agents >= 1, chats >= 1, rate > 0")
	}
	p, err := newPeak(*redisURL, *agents, *chats, stderr)
	if err != nil {
		return err
	}
	defer p.close()
	plan := peakPlan{customers: *customers, waiting: *waiting, agents: *agents, rate: *rate, duration: *duration, hold: *hold}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		plan.profile = f
	}
	return p.run(ctx, stdout, plan)
}

type peakPlan struct {
	customers, waiting, agents int
	rate                       float64
	duration, hold             time.Duration
	profile                    io.Writer // a CPU profile of the run, when set
}

// peak is one run: a gateway on its own key prefix, and the people using it.
type peak struct {
	s       *server
	ts      *httptest.Server
	rdb     *redis.Client // the bench's own connection, for INFO and ZCARD
	prefix  string
	texts   []string
	client  *http.Client // requests
	streams *http.Client // the consoles' event streams (no timeout)
	lat     map[string]*latencies
	stopped bool
}

const peakPassword = "peak-bench-password"

func newPeak(url string, agents, chats int, stderr io.Writer) (*peak, error) {
	cfg, err := config.Load("")
	if err != nil {
		return nil, err
	}
	cfg.Redis.URL = url
	prefix := fmt.Sprintf("{kefupeak%d}:", time.Now().UnixNano())
	cfg.Redis.Prefix = prefix
	cfg.Web.RatePerSecond, cfg.Web.Burst = 1e6, 1e6 // the customers here are machines
	cfg.Web.Limits = config.WebLimits{}             // all from one address: no limit per address
	cfg.Server.LogLevel = "error"
	cfg.Handoff.AutoAssign = true
	cfg.Console.SignInFailuresPerIP = 1 << 30 // every agent signs in from loopback
	// The cheapest bcrypt: 200 sign-ins are set-up, not what is measured.
	hash, err := bcrypt.GenerateFromPassword([]byte(peakPassword), bcrypt.MinCost)
	if err != nil {
		return nil, err
	}
	cfg.Console.Agents = nil
	for i := range agents {
		cfg.Console.Agents = append(cfg.Console.Agents, console.Agent{ID: fmt.Sprintf("agent%03d", i),
			PasswordHash: string(hash), Groups: cfg.Handoff.Groups, MaxChats: chats})
	}
	s, err := newServer(cfg, newLogger(cfg.Server, stderr))
	if err != nil {
		return nil, err
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		s.closeRedis()
		return nil, errors.New("bench peak: -redis: not a valid redis URL")
	}
	f, err := faq.LoadSample()
	if err != nil {
		s.closeRedis()
		return nil, err
	}
	p := &peak{s: s, rdb: redis.NewClient(opt), prefix: prefix,
		client:  &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2048}},
		streams: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2048}},
		lat:     map[string]*latencies{"reply": {}, "view": {}, "claim": {}}}
	for _, in := range f.Intents {
		p.texts = append(p.texts, in.Questions...)
	}
	return p, nil
}

func (p *peak) close() {
	if p.ts != nil {
		p.s.console.Close()
		p.ts.Close()
		p.s.reaper.Close()
		p.s.web.Close()
	}
	dropKeys(p.rdb, p.prefix)
	p.rdb.Close()
	p.s.closeRedis()
}

// dropKeys deletes the run's keys.
func dropKeys(rdb *redis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _ = rediskeys.Drop(ctx, rdb, prefix)
}

func (p *peak) run(ctx context.Context, out io.Writer, plan peakPlan) error {
	s := p.s
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	version, mem0 := p.info(ctx, "server", "redis_version"), p.info(ctx, "memory", "used_memory")
	fmt.Fprintf(out, "kefu bench peak: redis-server %s, %d customers, %d waiting, %d agents × %d chats, %.0f msg/s for %v, hold %v\n",
		version, plan.customers, plan.waiting, plan.agents, s.cfg.Console.Agents[0].MaxChats, plan.rate, plan.duration, plan.hold)
	if err := s.web.Start(ctx); err != nil {
		return err
	}
	p.ts = httptest.NewServer(s.echo)

	// Customers, and the queue filled by asking for a person.
	t0 := time.Now()
	tokens, convs := make([]string, plan.customers), make([]string, plan.customers)
	err := parallel(ctx, 32, plan.customers, func(i int) error {
		var r struct{ Token, Conv string }
		if err := post(ctx, p.client, p.ts.URL+"/api/session", "", nil, &r); err != nil {
			return err
		}
		tokens[i], convs[i] = r.Token, r.Conv
		return nil
	})
	if err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	var seq atomic.Int64
	send := func(ctx context.Context, c int, text string) error {
		var r struct{ Replies []json.RawMessage }
		body := map[string]string{"id": fmt.Sprintf("m%d", seq.Add(1)), "text": text}
		return post(ctx, p.client, p.ts.URL+"/api/messages", tokens[c], body, &r)
	}
	if err := parallel(ctx, 32, plan.waiting, func(i int) error { return send(ctx, i, "转人工") }); err != nil {
		return fmt.Errorf("fill the queue: %w", err)
	}
	n, err := p.waitingNow(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "set-up: %d sessions, %d waiting (%v)\n", plan.customers, n, time.Since(t0).Round(time.Millisecond))
	if n < int64(plan.waiting) {
		return fmt.Errorf("bench peak: only %d of %d customers are waiting", n, plan.waiting)
	}

	// The message path alone: no console open, no reaper.
	calib := max(50, int(plan.rate*5))
	c0, err := p.commandStats(ctx)
	if err != nil {
		return err
	}
	pace(ctx, plan.rate, calib, func(i int) {
		c := rand.IntN(plan.customers)
		_ = send(ctx, c, p.texts[rand.IntN(len(p.texts))])
	})
	c1, err := p.commandStats(ctx)
	if err != nil {
		return err
	}
	alone := totalCalls(c1) - totalCalls(c0)
	fmt.Fprintf(out, "message path alone (%d messages, %d waiting, no console, no reaper): %.1f Redis commands/message\n",
		calib, n, float64(alone)/float64(calib))
	printTop(out, c0, c1, calib, "  ")

	// Agents sign in and open their event streams; the housekeeping runs
	// (the reaper and the recoverer, as in every instance).
	if err := s.reaper.Start(ctx); err != nil {
		return err
	}
	if err := s.recoverer.Start(ctx); err != nil {
		return err
	}
	defer s.recoverer.Close()
	actx, stopAgents := context.WithCancel(ctx)
	defer stopAgents()
	freed := make(chan string, 4096) // conversations closed by agents: those customers may queue again
	var claims, views, claimFails atomic.Int64
	var wg sync.WaitGroup
	for i := range plan.agents {
		a, err := p.signIn(ctx, fmt.Sprintf("agent%03d", i))
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.live(actx, p, plan.hold, freed, &claims, &views, &claimFails)
		}()
	}

	// The run: a sustained customer message rate. A message from a customer
	// with the bot asks for a person while the queue is short of its size.
	conv2c := make(map[string]int, plan.customers)
	for i, cid := range convs {
		conv2c[cid] = i
	}
	var fmu sync.Mutex
	free := make([]int, 0, plan.customers)
	for i := plan.waiting; i < plan.customers; i++ {
		free = append(free, i)
	}
	var queued atomic.Int64
	queued.Store(n)
	minQ, maxQ := n, n
	done := make(chan struct{})
	go func() { // track the queue's length; give back customers agents closed
		defer close(done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-actx.Done():
				return
			case cid := <-freed:
				if c, ok := conv2c[cid]; ok {
					fmu.Lock()
					free = append(free, c)
					fmu.Unlock()
				}
			case <-t.C:
				if n, err := p.waitingNow(actx); err == nil {
					queued.Store(n)
					minQ, maxQ = min(minQ, n), max(maxQ, n)
				}
			}
		}
	}()
	// Warm-up, not measured: 200 agents signing in within a second open
	// their streams, load their views and fill their slots at once, which a
	// real peak (agents long signed in) does not do.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(min(5*time.Second, plan.duration/2)):
	}
	c2, err := p.commandStats(ctx)
	if err != nil {
		return err
	}
	claims.Store(0)
	views.Store(0)
	claimFails.Store(0)
	for _, l := range p.lat {
		l.reset()
	}
	if plan.profile != nil {
		if err := pprof.StartCPUProfile(plan.profile); err != nil {
			return err
		}
	}
	cpu0, rcpu0, load0 := processCPU(), p.redisCPU(ctx), loadAvg()
	seq0, _ := p.rdb.Get(ctx, p.prefix+"seq").Int64()
	var sent, failed, skipped atomic.Int64
	inflight := make(chan struct{}, 1024)
	var mwg sync.WaitGroup
	start := time.Now()
	pace(ctx, plan.rate, int(plan.rate*plan.duration.Seconds()), func(int) {
		select {
		case inflight <- struct{}{}:
		default:
			skipped.Add(1) // more than 1,024 customers already waiting for a reply
			return
		}
		c, text := rand.IntN(plan.customers), p.texts[rand.IntN(len(p.texts))]
		if queued.Load() < int64(plan.waiting) {
			fmu.Lock()
			if len(free) > 0 {
				j := rand.IntN(len(free))
				c, text = free[j], "转人工"
				free[j] = free[len(free)-1]
				free = free[:len(free)-1]
				queued.Add(1)
			}
			fmu.Unlock()
		}
		mwg.Add(1)
		go func() {
			defer mwg.Done()
			defer func() { <-inflight }()
			t := time.Now()
			if err := send(ctx, c, text); err != nil {
				failed.Add(1)
				return
			}
			sent.Add(1)
			p.lat["reply"].add(time.Since(t))
		}()
	})
	mwg.Wait()
	elapsed := time.Since(start)
	cpu1, rcpu1, load1 := processCPU(), p.redisCPU(ctx), loadAvg()
	seq1, _ := p.rdb.Get(ctx, p.prefix+"seq").Int64() // the queue's enqueue counter
	if plan.profile != nil {
		pprof.StopCPUProfile()
	}
	c3, err := p.commandStats(ctx)
	if err != nil {
		return err
	}
	nClaims, nViews := claims.Load(), views.Load()
	stopAgents()
	wg.Wait()
	<-done
	mem1 := p.info(ctx, "memory", "used_memory")

	msgs := sent.Load() + failed.Load()
	fmt.Fprintf(out, "run: %d customer messages in %v (%.0f/s; %d failed, %d not sent: too many in flight), "+
		"%d hand-offs, %d claims (%d refused: empty or failed), %d queue views, %d waiting (min %d, max %d)\n",
		msgs, elapsed.Round(time.Millisecond), float64(msgs)/elapsed.Seconds(), failed.Load(), skipped.Load(),
		seq1-seq0, nClaims, claimFails.Load(), nViews, queued.Load(), minQ, maxQ)
	fmt.Fprintf(out, "customer reply  %s\n", p.lat["reply"])
	fmt.Fprintf(out, "queue view      %s\n", p.lat["view"])
	fmt.Fprintf(out, "claim           %s\n", p.lat["claim"])
	if msgs > 0 {
		fmt.Fprintf(out, "Redis commands per customer message, everything in the run (consoles' streams and views, claims, reaper, offers, notices): %.1f\n",
			float64(totalCalls(c3)-totalCalls(c2))/float64(msgs))
		printTop(out, c2, c3, int(msgs), "  ")
	}
	u0, _ := strconv.ParseFloat(mem0, 64)
	u1, _ := strconv.ParseFloat(mem1, 64)
	fmt.Fprintf(out, "CPU during the run: this process %.2f cores (gateway and the simulated people), redis-server %.2f cores; "+
		"machine load average %s at the start, %s at the end (2 cores, shared)\n",
		(cpu1-cpu0).Seconds()/elapsed.Seconds(), (rcpu1-rcpu0)/elapsed.Seconds(), load0, load1)
	fmt.Fprintf(out, "Redis used_memory %.1f MB (%+.1f MB during the bench)\n", u1/1e6, (u1-u0)/1e6)
	return nil
}

// processCPU is the CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU is the CPU time (s) the redis-server has used.
func (p *peak) redisCPU(ctx context.Context) float64 {
	u, _ := strconv.ParseFloat(p.info(ctx, "cpu", "used_cpu_user"), 64)
	s, _ := strconv.ParseFloat(p.info(ctx, "cpu", "used_cpu_sys"), 64)
	return u + s
}

// loadAvg is the machine's 1-minute load average.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f, _, _ := strings.Cut(string(b), " ")
	return f
}

// waitingNow is how many conversations wait, over every group.
func (p *peak) waitingNow(ctx context.Context) (int64, error) {
	var cmds []*redis.IntCmd
	_, err := p.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for _, g := range p.s.queue.Config().Groups {
			cmds = append(cmds, pl.ZCard(ctx, p.prefix+"wait:"+g))
		}
		return nil
	})
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n, err
}

func (p *peak) info(ctx context.Context, section, key string) string {
	s, _ := p.rdb.Info(ctx, section).Result()
	for _, line := range strings.Split(s, "\r\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return v
		}
	}
	return "?"
}

// commandStats is INFO commandstats: calls by command.
func (p *peak) commandStats(ctx context.Context) (map[string]int64, error) {
	s, err := p.rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, fmt.Errorf("info commandstats: %w", err)
	}
	m := map[string]int64{}
	for _, line := range strings.Split(s, "\r\n") {
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":calls=")
		if !ok {
			continue
		}
		v, _, _ := strings.Cut(rest, ",")
		m[name], _ = strconv.ParseInt(v, 10, 64)
	}
	return m, nil
}

// totalCalls adds up the calls, the bench's own INFO left out.
func totalCalls(m map[string]int64) int64 {
	var n int64
	for k, v := range m {
		if k != "info" {
			n += v
		}
	}
	return n
}

// printTop prints the commands that grew most between a and b, per message.
func printTop(out io.Writer, a, b map[string]int64, msgs int, indent string) {
	type kv struct {
		k string
		v int64
	}
	var d []kv
	for k, v := range b {
		if x := v - a[k]; x > 0 && k != "info" {
			d = append(d, kv{k, x})
		}
	}
	slices.SortFunc(d, func(x, y kv) int { return int(y.v - x.v) })
	var parts []string
	for i, x := range d {
		if i == 10 {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.1f", x.k, float64(x.v)/float64(msgs)))
	}
	fmt.Fprintf(out, "%sper message: %s\n", indent, strings.Join(parts, ", "))
}

// pace calls f n times, spread evenly at rate per second (f must not block).
func pace(ctx context.Context, rate float64, n int, f func(i int)) {
	start := time.Now()
	for i := range n {
		if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		}
		f(i)
	}
}

// parallel runs f(0..n-1) on k goroutines; the first error stops it.
func parallel(ctx context.Context, k, n int, f func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// latencies collects durations.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) reset() {
	l.mu.Lock()
	l.d = l.d[:0]
	l.mu.Unlock()
}

func (l *latencies) String() string {
	l.mu.Lock()
	d := slices.Clone(l.d)
	l.mu.Unlock()
	if len(d) == 0 {
		return "none"
	}
	slices.Sort(d)
	r := func(x time.Duration) time.Duration { return x.Round(10 * time.Microsecond) }
	return fmt.Sprintf("p50 %v  p99 %v  max %v  (n=%d)", r(d[len(d)/2]), r(d[len(d)*99/100]), r(d[len(d)-1]), len(d))
}

// benchAgent is one signed-in console.
type benchAgent struct {
	id, cookie, csrf string
	hbEvery          time.Duration
}

func (p *peak) signIn(ctx context.Context, id string) (*benchAgent, error) {
	b, _ := json.Marshal(map[string]string{"id": id, "password": peakPassword})
	req, err := http.NewRequestWithContext(ctx, "POST", p.ts.URL+p.s.console.Path()+"/api/signin", strings.NewReader(string(b)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var me struct {
		CSRF        string `json:"csrf"`
		HeartbeatMS int64  `json:"heartbeat_ms"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&me); err != nil || resp.StatusCode != 200 {
		return nil, fmt.Errorf("sign in %s: %d %v", id, resp.StatusCode, err)
	}
	a := &benchAgent{id: id, csrf: me.CSRF, hbEvery: time.Duration(me.HeartbeatMS) * time.Millisecond}
	for _, c := range resp.Cookies() {
		a.cookie = c.Name + "=" + c.Value
	}
	if a.hbEvery <= 0 {
		a.hbEvery = 10 * time.Second
	}
	return a, nil
}

// call makes a console API call; code is the error code of a refusal.
func (a *benchAgent) call(ctx context.Context, p *peak, method, path string, body, out any) (code string, err error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, p.ts.URL+p.s.console.Path()+"/api/"+path, r)
	if err != nil {
		return "", err
	}
	req.Header.Set("Cookie", a.cookie)
	req.Header.Set("X-CSRF-Token", a.csrf)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != 200 {
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		return e.Error.Code, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		return "", json.Unmarshal(data, out)
	}
	return "", nil
}

// live is the agent at work until ctx ends: the event stream open, the
// queue view refreshed 150 ms after a group event (the page's debounce),
// heartbeats, and claims held for hold then closed.
func (a *benchAgent) live(ctx context.Context, p *peak, hold time.Duration, freed chan<- string,
	claims, views, claimFails *atomic.Int64) {
	events := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { // the event stream
		defer wg.Done()
		req, err := http.NewRequestWithContext(ctx, "GET", p.ts.URL+p.s.console.Path()+"/api/events", nil)
		if err != nil {
			return
		}
		req.Header.Set("Cookie", a.cookie)
		resp, err := p.streams.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "data: ") && (strings.Contains(line, `"stream":"group"`) || strings.Contains(line, `"type":"ready"`)) {
				select {
				case events <- struct{}{}:
				default:
				}
			}
		}
	}()
	go func() { // the queue view
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-events:
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(150 * time.Millisecond):
			}
			t := time.Now()
			if _, err := a.call(ctx, p, "GET", "queue", nil, nil); err == nil {
				p.lat["view"].add(time.Since(t))
				views.Add(1)
			}
		}
	}()
	go func() { // heartbeats, each page on its own phase (pages open at different moments)
		defer wg.Done()
		select {
		case <-ctx.Done():
			return
		case <-time.After(rand.N(a.hbEvery)):
		}
		_, _ = a.call(ctx, p, "POST", "heartbeat", struct{}{}, nil)
		t := time.NewTicker(a.hbEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_, _ = a.call(ctx, p, "POST", "heartbeat", struct{}{}, nil)
			}
		}
	}()
	// Claims: take the next until at capacity; close each after hold.
	closed := make(chan struct{}, 16)
	var held sync.WaitGroup
	defer func() { held.Wait(); wg.Wait() }()
	for ctx.Err() == nil {
		var r struct{ Conv string }
		t := time.Now()
		code, err := a.call(ctx, p, "POST", "claim", map[string]string{"conv": ""}, &r)
		wait := time.Duration(0)
		switch {
		case err == nil:
			p.lat["claim"].add(time.Since(t))
			claims.Add(1)
			held.Add(1)
			go func() {
				defer held.Done()
				select {
				case <-ctx.Done():
					return
				case <-time.After(hold/2 + rand.N(hold)):
				}
				if _, err := a.call(ctx, p, "POST", "convs/"+r.Conv+"/close", struct{}{}, nil); err == nil {
					select {
					case freed <- r.Conv:
					default:
					}
				}
				select {
				case closed <- struct{}{}:
				default:
				}
			}()
		case code == "capacity":
			p.lat["claim"].add(time.Since(t))
			wait = -1 // until a close
		default: // empty, taken, a failure
			p.lat["claim"].add(time.Since(t))
			claimFails.Add(1)
			wait = 500 * time.Millisecond
		}
		var after <-chan time.Time
		if wait > 0 {
			after = time.After(wait)
		}
		if wait != 0 {
			select {
			case <-ctx.Done():
			case <-closed:
			case <-after:
			}
		}
	}
}
