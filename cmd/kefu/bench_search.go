package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/intents"
)

// cmdBenchSearch fills an archive with synthetic conversations (optional)
// and measures archive.Search on typical queries: p50 and p95 per kind.
//
//	kefu bench search --dsn DSN [--generate N] [--texts FILE,FILE] [--queries N] [--dict DIR]
func cmdBenchSearch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench search", flag.ContinueOnError)
	dsn := fs.String("dsn", "", "the archive: postgres://… or an SQLite file path (required)")
	gen := fs.Int("generate", 0, "first write this many synthetic conversations (into an empty archive)")
	texts := fs.String("texts", "", "customer texts for --generate, comma-separated files: CSV (two sentence columns, BQ) or one text per line")
	queries := fs.Int("queries", 40, "queries per kind")
	dict := fs.String("dict", "", "gojieba dictionary folder (default: bundled)")
	seed := fs.Uint64("seed", 1, "random seed (the archive and the queries)")
	slow := fs.Duration("slow", 0, "print each measured query slower than this, to see which values cost")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dsn == "" {
		return errors.New("bench search: --dsn is required")
	}
	t0 := time.Now()
	seg, err := intents.NewJiebaTokenizer(*dict, nil)
	if err != nil {
		return err
	}
	db, err := archive.Open(ctx, *dsn, seg)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(stdout, "archive %s (%s), segmenter loaded in %s\n", archive.Redacted(*dsn), db.Dialect(), time.Since(t0).Round(time.Millisecond))

	var corpus []string
	if *texts != "" {
		for _, f := range strings.Split(*texts, ",") {
			ts, err := readTexts(f)
			if err != nil {
				return err
			}
			corpus = append(corpus, ts...)
		}
	}
	if *gen > 0 {
		if res, err := db.Search(ctx, archive.Query{Limit: 1, ExactTotal: true}); err != nil {
			return err
		} else if res.Total > 0 {
			return fmt.Errorf("bench search: --generate wants an empty archive; this one has %d conversations", res.Total)
		}
		if len(corpus) == 0 {
			return errors.New("bench search: --generate needs --texts")
		}
		start := time.Now()
		last := start
		err := db.Generate(ctx, archive.GenerateConfig{Conversations: *gen, Texts: corpus, Seed: *seed, End: time.Now(),
			Batch: 10000,
			Progress: func(done int) {
				if time.Since(last) > 30*time.Second || done == *gen {
					last = time.Now()
					el := time.Since(start)
					fmt.Fprintf(stderr, "  %d conversations in %s (%.0f/s)\n", done, el.Round(time.Second), float64(done)/el.Seconds())
				}
			}})
		if err != nil {
			return err
		}
		el := time.Since(start)
		fmt.Fprintf(stdout, "generated %d conversations in %s (%.0f conversations/s)\n", *gen, el.Round(time.Second), float64(*gen)/el.Seconds())
	}

	all, err := db.Search(ctx, archive.Query{Limit: 1, ExactTotal: true})
	if err != nil {
		return err
	}
	if all.Total == 0 {
		return errors.New("bench search: the archive is empty (use --generate N)")
	}
	fmt.Fprintf(stdout, "%d conversations archived\n", all.Total)
	if *queries <= 0 {
		return nil
	}
	suite, err := benchSuite(ctx, db, seg, corpus, *queries, *seed)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "load average before: %s\n", loadAvg())
	defer func() { fmt.Fprintf(stdout, "load average after: %s\n", loadAvg()) }()
	// A first pass warms the caches; the second is measured.
	for pass := range 2 {
		if pass == 1 {
			fmt.Fprintf(stdout, "%-32s %4s %9s %9s %9s %11s %7s\n", "query", "n", "p50", "p95", "max", "mean total", "capped")
		}
		for _, k := range suite {
			var lat []time.Duration
			total, capped := 0, 0
			for _, q := range k.queries {
				t := time.Now()
				res, err := db.Search(ctx, q)
				if err != nil {
					return fmt.Errorf("%s: %+v: %w", k.name, q, err)
				}
				el := time.Since(t)
				lat = append(lat, el)
				if pass == 1 && *slow > 0 && el > *slow {
					fmt.Fprintf(stdout, "  slow: %s %s words=%q from=%s to=%s total=%d\n", k.name, archMS(el), q.Words,
						q.From.Format(time.DateOnly), q.To.Format(time.DateOnly), res.Total)
				}
				total += res.Total
				if res.Capped {
					capped++
				}
			}
			if pass == 1 && len(lat) == 0 { // e.g. no word with 50 pages in a small archive
				fmt.Fprintf(stdout, "%-32s %4d %9s %9s %9s %11s %7s\n", k.name, 0, "-", "-", "-", "-", "-")
			} else if pass == 1 {
				slices.Sort(lat)
				fmt.Fprintf(stdout, "%-32s %4d %9s %9s %9s %11d %7d\n", k.name, len(lat), archMS(archPct(lat, 50)), archMS(archPct(lat, 95)), archMS(lat[len(lat)-1]), total/len(lat), capped)
			}
		}
	}
	return nil
}

func archPct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(len(sorted)-1, i-1))]
}

func archMS(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

type benchKind struct {
	name    string
	queries []archive.Query
}

// benchSuite makes n queries of each kind from what the archive holds:
// words customers wrote, order numbers, customers and agents found in it.
func benchSuite(ctx context.Context, db *archive.DB, seg archive.Segmenter, corpus []string, n int, seed uint64) ([]benchKind, error) {
	rnd := rand.New(rand.NewPCG(seed, 7))
	// Conversations at random times: their customers, agents, entities.
	first, err := db.Search(ctx, archive.Query{Limit: 1, ExactTotal: true})
	if err != nil {
		return nil, err
	}
	newest := first.Results[0].Started
	oldestRes, err := db.Search(ctx, archive.Query{Limit: 1, Offset: first.Total - 1, ExactTotal: true})
	if err != nil {
		return nil, err
	}
	oldest := oldestRes.Results[0].Started
	span := newest.Sub(oldest)
	at := func() time.Time { return oldest.Add(time.Duration(rnd.Int64N(int64(span) + 1))) }
	var customers, orders, agentConvs []archive.Result
	var orderNums []string
	for tries := 0; (len(customers) < n || len(orderNums) < n || len(agentConvs) < n) && tries < 50*n; tries++ {
		res, err := db.Search(ctx, archive.Query{From: at(), Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(res.Results) == 0 {
			continue
		}
		r := res.Results[len(res.Results)-1]
		if len(customers) < n {
			customers = append(customers, r)
		}
		if r.Agent != "" && len(agentConvs) < n {
			agentConvs = append(agentConvs, r)
		}
		if len(orderNums) < n {
			tr, err := db.Show(ctx, r.Conv)
			if err != nil {
				return nil, err
			}
			for _, e := range tr.Events {
				if v := strings.Fields(e.Fields[conv.EvEntities]); len(v) > 0 {
					orderNums = append(orderNums, v[0])
					orders = append(orders, r)
					break
				}
			}
		}
	}
	// Words: cut texts customers wrote; keep Chinese words of two or more
	// characters (what an agent types into a search box).
	if len(corpus) == 0 {
		corpus = []string{"发票", "退款", "订单", "快递", "还款", "额度"}
	}
	word := func() []string {
		for {
			var ws []string
			for _, w := range seg.Cut(corpus[rnd.IntN(len(corpus))]) {
				if len([]rune(w)) >= 2 && unicode.Is(unicode.Han, []rune(w)[0]) && !slices.Contains(ws, w) {
					ws = append(ws, w)
				}
			}
			if len(ws) > 0 {
				rnd.Shuffle(len(ws), func(i, j int) { ws[i], ws[j] = ws[j], ws[i] })
				return ws
			}
		}
	}
	var one, two, page50, page50Offset, agentView, wordDates, agentDates, filterDates, custs, ents []archive.Query
	for len(one) < n {
		ws := word()
		one = append(one, archive.Query{Words: ws[0]})
		agentView = append(agentView, archive.Query{Words: ws[0], Groups: []string{"pre_sales", "after_sales"}})
		from := at()
		wordDates = append(wordDates, archive.Query{Words: ws[0], From: from, To: from.Add(90 * 24 * time.Hour)})
		if len(ws) >= 2 {
			two = append(two, archive.Query{Words: ws[0] + " " + ws[1]})
		}
		// Page 50: by the cursor of page 49 (as the console and the command
		// line page), and by offset. A word with fewer than 50 pages is
		// left out of both.
		q := archive.Query{Words: ws[0], Limit: archive.DefaultLimit}
		for p := 1; p < 50; p++ {
			res, err := db.Search(ctx, q)
			if err != nil {
				return nil, err
			}
			if q.After = res.Next; q.After == "" {
				break
			}
		}
		if q.After != "" {
			page50 = append(page50, q)
			page50Offset = append(page50Offset, archive.Query{Words: ws[0], Limit: archive.DefaultLimit, Offset: 49 * archive.DefaultLimit})
		}
	}
	channels := []string{"web", "wechat", "telegram"}
	for i := range n {
		from := at()
		filterDates = append(filterDates, archive.Query{Channel: channels[i%len(channels)], RatingMax: 2, From: from, To: from.Add(90 * 24 * time.Hour)})
	}
	for _, r := range customers {
		custs = append(custs, archive.Query{Customer: r.Customer})
	}
	for _, r := range agentConvs {
		from := r.Started.Add(-15 * 24 * time.Hour)
		agentDates = append(agentDates, archive.Query{Agent: r.Agent, From: from, To: from.Add(30 * 24 * time.Hour)})
	}
	for _, v := range orderNums {
		ents = append(ents, archive.Query{Entity: v})
	}
	return []benchKind{
		{"one Chinese word", one},
		{"two words", two},
		{"order number", ents},
		{"customer", custs},
		{"agent + 30 days", agentDates},
		{"channel + rating ≤ 2 + 90 days", filterDates},
		{"one word + 90 days", wordDates},
		{"one word, page 50 (cursor)", page50},
		{"one word, page 50 (offset)", page50Offset},
		{"one word, an agent's groups", agentView},
	}, nil
}

// readTexts reads customer texts: from a CSV with sentence columns (the BQ
// corpus: sentence1, sentence2, label) or one text per line.
func readTexts(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	if strings.HasSuffix(path, ".csv") {
		r := csv.NewReader(bufio.NewReader(f))
		r.FieldsPerRecord = -1
		recs, err := r.ReadAll()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for i, rec := range recs {
			if i == 0 {
				continue // header
			}
			for _, s := range rec[:min(2, len(rec))] {
				if s = strings.TrimSpace(s); s != "" {
					out = append(out, s)
				}
			}
		}
		return out, nil
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			out = append(out, s)
		}
	}
	return out, sc.Err()
}
