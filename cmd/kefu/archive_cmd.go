package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/config"
	"github.com/kefu-dev/kefu/conv"
	"github.com/kefu-dev/kefu/intents"
)

// archiveFlags are the flags every `kefu archive` subcommand takes.
type archiveFlags struct {
	common
	data string
	json bool
}

func (a *archiveFlags) register(fs *flag.FlagSet) {
	a.common.register(fs)
	fs.StringVar(&a.data, "data", "", "data folder of the embedded archive (default $XDG_DATA_HOME/kefu or ~/.local/share/kefu)")
	fs.BoolVar(&a.json, "json", false, "print JSON")
}

// config loads the configuration the flags name.
func (a *archiveFlags) config() (config.Config, error) {
	cfg, err := config.Load(a.common.config)
	if err != nil {
		return cfg, err
	}
	if a.data != "" {
		cfg.DataDir = a.data
	}
	if a.faqDir != "" {
		cfg.FAQDir = a.faqDir
	}
	if a.dictDir != "" {
		cfg.DictDir = a.dictDir
	}
	return cfg, nil
}

// open opens the archive the server writes (also while it runs); seg nil
// splits on spaces.
func (a *archiveFlags) open(ctx context.Context, cfg config.Config, seg archive.Segmenter) (*archive.DB, error) {
	db, _, err := openArchive(ctx, cfg, seg)
	return db, err
}

func cmdArchive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError{2}
	}
	switch args[0] {
	case "search":
		return cmdArchiveSearch(ctx, args[1:], stdout)
	case "show":
		return cmdArchiveShow(ctx, args[1:], stdout)
	case "export":
		return cmdArchiveExport(ctx, args[1:], stdout)
	case "purge":
		return cmdArchivePurge(ctx, args[1:], stdout)
	}
	fmt.Fprint(stderr, usage)
	return exitError{2}
}

// cmdArchiveSearch finds archived conversations, newest first.
func cmdArchiveSearch(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("archive search", flag.ContinueOnError)
	var f archiveFlags
	f.register(fs)
	var q archive.Query
	fs.StringVar(&q.Customer, "customer", "", "customer (thread) id, e.g. web:v1")
	fs.StringVar(&q.Agent, "agent", "", "agent id")
	fs.StringVar(&q.Channel, "channel", "", "channel: web, wechat, telegram")
	fs.StringVar(&q.Entity, "entity", "", "an order, tracking or phone number, exactly")
	fs.StringVar(&q.Label, "label", "", "a label agents put on it (console.labels) or its wrap-up label, by id")
	from := fs.String("from", "", "started on or after this day (YYYY-MM-DD, in handoff.hours.timezone)")
	to := fs.String("to", "", "started on or before this day (YYYY-MM-DD, in handoff.hours.timezone)")
	fs.IntVar(&q.Limit, "limit", archive.DefaultLimit, fmt.Sprintf("results per page (at most %d)", archive.MaxLimit))
	fs.StringVar(&q.After, "after", "", `the page after this cursor (the "next" of the page before)`)
	fs.IntVar(&q.Offset, "offset", 0, "skip this many results")
	words, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	q.Words = strings.Join(words, " ")
	cfg, err := f.config()
	if err != nil {
		return err
	}
	loc, err := time.LoadLocation(cfg.Handoff.Hours.Timezone)
	if err != nil {
		loc = time.Local
	}
	if q.From, err = day(*from, loc, "--from"); err != nil {
		return err
	}
	if q.To, err = day(*to, loc, "--to"); err != nil {
		return err
	}
	if !q.To.IsZero() {
		q.To = q.To.AddDate(0, 0, 1) // the whole day
	}
	var seg archive.Segmenter
	if q.Words != "" {
		// Queries are cut as the messages were: with the bot's segmenter
		// and the FAQ's words.
		fq, err := loadFAQ(cfg.FAQDir)
		if err != nil {
			return err
		}
		live, err := intents.NewLive(fq, cfg.DictDir, cfg.Matcher)
		if err != nil {
			return err
		}
		seg = liveSegmenter{live}
	}
	db, err := f.open(ctx, cfg, seg)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := db.Search(ctx, q)
	if err != nil {
		return err
	}
	if f.json {
		return writeJSON(stdout, res)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED\tCONVERSATION\tCHANNEL\tAGENT\tRATING\tOUTCOME\tSNIPPET")
	for _, r := range res.Results {
		rating := "-"
		if r.Rating != nil {
			rating = fmt.Sprint(*r.Rating)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Started.In(loc).Format("2006-01-02 15:04"), r.Conv, r.Channel,
			dash(r.Agent), rating, dash(r.Outcome), oneLine(r.Snippet))
	}
	tw.Flush()
	more := ""
	if res.Capped {
		more = "+"
	}
	fmt.Fprintf(stdout, "%d of %d%s conversations\n", len(res.Results), res.Total, more)
	if res.Next != "" {
		fmt.Fprintf(stdout, "next page: --after %s\n", res.Next)
	}
	return nil
}

// day parses YYYY-MM-DD as the start of that day in loc; "" is no day.
func day(s string, loc *time.Location, flagName string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(time.DateOnly, s, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: want YYYY-MM-DD", flagName, s)
	}
	return t, nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// cmdArchiveShow prints one archived conversation: its transcript and its
// events.
func cmdArchiveShow(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("archive show", flag.ContinueOnError)
	var f archiveFlags
	f.register(fs)
	ids, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return errors.New("archive show: name one conversation (e.g. web:v1#3, from kefu archive search)")
	}
	cfg, err := f.config()
	if err != nil {
		return err
	}
	db, err := f.open(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	tr, err := db.Show(ctx, ids[0])
	if err != nil {
		return err
	}
	if f.json {
		return writeJSON(stdout, tr)
	}
	loc, err := time.LoadLocation(cfg.Handoff.Hours.Timezone)
	if err != nil {
		loc = time.Local
	}
	printTranscript(stdout, tr, loc)
	return nil
}

func printTranscript(w io.Writer, tr archive.Transcript, loc *time.Location) {
	fmt.Fprintf(w, "conversation %s  customer %s  channel %s\n\n", tr.Conv, tr.Customer, tr.Channel)
	for _, e := range tr.Entries {
		who := "customer"
		switch {
		case e.Dir == archive.DirNote:
			who = "note by " + e.Agent
		case e.Dir == archive.DirOut && e.Agent != "":
			who = "agent " + e.Agent
		case e.Dir == archive.DirOut:
			who = "bot"
			if e.Intent != "" {
				who += " (" + e.Intent + ")"
			}
		}
		text := e.Text
		if e.Kind != "" && e.Kind != "text" {
			text = "[" + e.Kind + "] " + text
		}
		fmt.Fprintf(w, "%s  %s: %s\n", e.At.In(loc).Format("2006-01-02 15:04:05"), who, text)
	}
	fmt.Fprintf(w, "\nevents:\n")
	for _, e := range tr.Events {
		var kv []string
		for _, k := range sortedKeys(e.Fields) {
			if k == conv.EvText {
				continue // in the transcript above
			}
			kv = append(kv, k+"="+e.Fields[k])
		}
		fmt.Fprintf(w, "%s  %s %s\n", e.At.In(loc).Format("2006-01-02 15:04:05"), e.Type, strings.Join(kv, " "))
	}
}

// customerCmd is what `kefu archive export` and `purge` start from: their
// flags, the configuration and the open archive.
type customerCmd struct {
	flags    archiveFlags
	customer string
	cfg      config.Config
	db       *archive.DB
}

// openForCustomer parses the flags of `kefu archive NAME` (the archive's and
// the required --customer ID) and opens the archive. The caller closes db.
func openForCustomer(ctx context.Context, name string, args []string) (*customerCmd, error) {
	fs := flag.NewFlagSet("archive "+name, flag.ContinueOnError)
	c := &customerCmd{}
	c.flags.register(fs)
	fs.StringVar(&c.customer, "customer", "", "customer (thread) id, e.g. web:v1 or wechat:<openid>")
	if _, err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if c.customer == "" {
		return nil, fmt.Errorf("archive %s: --customer is required", name)
	}
	var err error
	if c.cfg, err = c.flags.config(); err != nil {
		return nil, err
	}
	if c.db, err = c.flags.open(ctx, c.cfg, nil); err != nil {
		return nil, err
	}
	return c, nil
}

// customerExport is everything kept about one customer.
type customerExport struct {
	Customer string `json:"customer"`
	// Conversations: every archived conversation, with its transcript and
	// events; Summaries: the same conversations as search lists them.
	Conversations []archive.Transcript `json:"conversations"`
	Summaries     []archive.Result     `json:"summaries"`
	// Redis: what the gateways' Redis holds now (the live conversation and
	// its transcript); null when no REDIS_URL is set (the embedded Redis
	// lives inside the server and keeps nothing across restarts).
	Redis *redisExport `json:"redis"`
}

type redisExport struct {
	Conversation map[string]string `json:"conversation"`
	Transcript   []redisEntry      `json:"transcript"`
}

type redisEntry struct {
	ID     string         `json:"id"`
	Fields map[string]any `json:"fields"`
}

// cmdArchiveExport prints, as JSON, everything kept about one customer (a
// data request under 个人信息保护法).
func cmdArchiveExport(ctx context.Context, args []string, stdout io.Writer) error {
	cc, err := openForCustomer(ctx, "export", args)
	if err != nil {
		return err
	}
	defer cc.db.Close()
	cfg, db, customer := cc.cfg, cc.db, cc.customer
	out := customerExport{Customer: customer, Conversations: []archive.Transcript{}, Summaries: []archive.Result{}}
	ids, err := db.Conversations(ctx, customer)
	if err != nil {
		return err
	}
	for _, id := range ids {
		tr, err := db.Show(ctx, id)
		if err != nil {
			return err
		}
		out.Conversations = append(out.Conversations, tr)
	}
	for q := (archive.Query{Customer: customer, Limit: archive.MaxLimit}); ; {
		res, err := db.Search(ctx, q)
		if err != nil {
			return err
		}
		out.Summaries = append(out.Summaries, res.Results...)
		if q.After = res.Next; q.After == "" {
			break
		}
	}
	if rdb, err := redisFor(cfg); err != nil {
		return err
	} else if rdb != nil {
		defer rdb.Close()
		h, err := rdb.HGetAll(ctx, conv.Key(cfg.Redis.Prefix, customer)).Result()
		if err != nil {
			return fmt.Errorf("export: redis: %w", err)
		}
		msgs, err := rdb.XRange(ctx, conv.TxKey(cfg.Redis.Prefix, customer), "-", "+").Result()
		if err != nil {
			return fmt.Errorf("export: redis: %w", err)
		}
		re := &redisExport{Conversation: h, Transcript: []redisEntry{}}
		for _, m := range msgs {
			re.Transcript = append(re.Transcript, redisEntry{ID: m.ID, Fields: m.Values})
		}
		out.Redis = re
	}
	return writeJSON(stdout, out)
}

// redisFor connects to the gateways' Redis; nil when none is configured.
func redisFor(cfg config.Config) (*redis.Client, error) {
	if cfg.Redis.URL == "" {
		return nil, nil
	}
	opt, err := redis.ParseURL(cfg.Redis.URL)
	if err != nil {
		return nil, errors.New("REDIS_URL: not a valid redis URL") // the URL may hold a password
	}
	return redis.NewClient(opt), nil
}

// cmdArchivePurge deletes everything kept about one customer, in Redis and
// in the archive (see purgeRedis and archive.Purge for what goes).
func cmdArchivePurge(ctx context.Context, args []string, stdout io.Writer) error {
	cc, err := openForCustomer(ctx, "purge", args)
	if err != nil {
		return err
	}
	defer cc.db.Close()
	cfg, db, customer, f := cc.cfg, cc.db, cc.customer, cc.flags
	// Redis first: its lifecycle entries would otherwise be archived again
	// after the archive's rows are gone.
	var rp redisPurged
	rdb, err := redisFor(cfg)
	if err != nil {
		return err
	}
	// The images the customer's messages carry (and the agents' images sent
	// to them), from the transcript and the archive, go from the file store.
	files, err := mediaOf(ctx, rdb, cfg, db, customer)
	if err != nil {
		return err
	}
	if rdb != nil {
		defer rdb.Close()
		if rp, err = purgeRedis(ctx, rdb, cfg, customer); err != nil {
			return err
		}
	}
	ap, err := db.Purge(ctx, customer)
	if err != nil {
		return err
	}
	nfiles, err := purgeMedia(ctx, cfg, files)
	if err != nil {
		return err
	}
	if f.json {
		return writeJSON(stdout, map[string]any{"customer": customer, "archive": ap, "redis": rp, "redis_checked": rdb != nil,
			"media": nfiles})
	}
	if nfiles > 0 {
		fmt.Fprintf(stdout, "media: %d files deleted\n", nfiles)
	}
	fmt.Fprintf(stdout, "purged %s: archive: %d conversations, %d messages, %d events, %d entities\n",
		customer, ap.Conversations, ap.Messages, ap.Events, ap.Entities)
	if rdb == nil {
		fmt.Fprintln(stdout, "redis: not configured (REDIS_URL unset): the embedded Redis keeps nothing across restarts")
	} else {
		fmt.Fprintf(stdout, "redis: %d keys deleted, %d set and queue memberships removed, %d stream entries deleted\n",
			rp.Keys, rp.Members, rp.Entries)
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
