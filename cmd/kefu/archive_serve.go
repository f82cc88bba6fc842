package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kefu-dev/kefu/archive"
	"github.com/kefu-dev/kefu/archiver"
	"github.com/kefu-dev/kefu/config"
	"github.com/kefu-dev/kefu/handoff"
	"github.com/kefu-dev/kefu/intents"
	"github.com/kefu-dev/kefu/notify"
	"github.com/kefu-dev/kefu/report"
	"github.com/kefu-dev/kefu/tickets"
)

// dataDir is the folder the process keeps its files in: the configured
// one, else $XDG_DATA_HOME/kefu, else ~/.local/share/kefu.
func dataDir(cfg config.Config) (string, error) {
	if cfg.DataDir != "" {
		return cfg.DataDir, nil
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "kefu"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("data folder: %w (set --data or KEFU_DATA_DIR)", err)
	}
	return filepath.Join(home, ".local", "share", "kefu"), nil
}

// archiveDSN is the archive's DSN: archive.dsn, else archive.db in the data
// folder.
func archiveDSN(cfg config.Config) (string, error) {
	if cfg.Archive.DSN != "" {
		return cfg.Archive.DSN, nil
	}
	dir, err := dataDir(cfg)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "archive.db"), nil
}

// openArchive opens the configured archive. seg segments messages (nil:
// spaces only).
func openArchive(ctx context.Context, cfg config.Config, seg archive.Segmenter) (*archive.DB, string, error) {
	rep, err := newReporter(cfg)
	if err != nil {
		return nil, "", err
	}
	db, where, err := openArchiveWith(ctx, cfg, seg, rep)
	if err != nil {
		return nil, "", err
	}
	// The rollups are built from the archived events at the first open,
	// and rebuilt when how they count changed (report.Version, the zone,
	// the reopen window).
	if _, err := rep.Prepare(ctx, db, nil); err != nil {
		db.Close()
		return nil, "", err
	}
	return db, where, nil
}

// openArchiveWith opens the configured archive with rep keeping its
// rollups (not built yet: rep.Prepare).
func openArchiveWith(ctx context.Context, cfg config.Config, seg archive.Segmenter, rep *report.Reporter) (*archive.DB, string, error) {
	dsn, err := archiveDSN(cfg)
	if err != nil {
		return nil, "", err
	}
	db, err := archive.Open(ctx, dsn, seg, archive.WithEntities(entities), archive.WithRollups(rep))
	if err != nil {
		return nil, "", err
	}
	return db, archive.Redacted(dsn), nil
}

// newReporter is the reports as configured.
func newReporter(cfg config.Config) (*report.Reporter, error) {
	loc, err := cfg.Report.Location(cfg)
	if err != nil {
		return nil, err
	}
	h := cfg.Handoff.Hours
	days, err := h.Weekdays()
	if err != nil {
		return nil, err
	}
	hours, err := handoff.NewCalendar(handoff.Hours{Timezone: h.Timezone, Days: days, Open: h.Open, Close: h.Close,
		Holidays: h.Holidays})
	if err != nil {
		return nil, fmt.Errorf("handoff.hours: %w", err)
	}
	return report.New(report.Config{Location: loc, ReopenWindow: cfg.Report.ReopenWindow, Hours: hours})
}

// entities are the order, tracking and phone numbers in a message, found as
// the bot finds them.
func entities(text string) []string {
	_, ents := intents.ExtractEntities(intents.Fold(text))
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		out = append(out, e.Value)
	}
	return out
}

// liveSegmenter cuts text with the tokenizer of the matcher in service: the
// archive indexes messages as the bot reads them.
type liveSegmenter struct{ live *intents.Live }

func (s liveSegmenter) tok() intents.Tokenizer { return s.live.Matcher().Tokenizer() }

func (s liveSegmenter) Cut(text string) []string { return s.tok().Cut(text) }

func (s liveSegmenter) CutForSearch(text string) []string {
	if t, ok := s.tok().(archive.IndexSegmenter); ok {
		return t.CutForSearch(text)
	}
	return s.tok().Cut(text)
}

var _ archive.IndexSegmenter = liveSegmenter{}

// startArchive opens the archive and starts the archiver and the idle
// sweeper, in every instance.
func (s *server) startArchive(ctx context.Context) error {
	rep, err := newReporter(s.cfg)
	if err != nil {
		return err
	}
	for _, c := range rep.Collectors() {
		if err := s.metrics.reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return err
			}
		}
	}
	db, where, err := openArchiveWith(ctx, s.cfg, liveSegmenter{s.live}, rep)
	if err != nil {
		return err
	}
	s.reports = rep
	s.archive = db
	s.log.Info("archive open", "dialect", db.Dialect(), "dsn", where)
	// Building the rollups of a large archive takes minutes (BENCHMARKS.md,
	// "Reports"): it runs beside the archiver, whose writes it agrees with,
	// and reports count what it has done so far.
	pctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.stopPrepare = func() { cancel(); <-done }
	go func() {
		defer close(done)
		t0, last := time.Now(), time.Now()
		rebuilt, err := rep.Prepare(pctx, db, func(n int) {
			if time.Since(last) > 30*time.Second {
				last = time.Now()
				s.log.Info("building the report rollups", "conversations", n)
			}
		})
		switch {
		case err != nil && pctx.Err() == nil:
			s.log.Error("report rollups", "err", err)
		case rebuilt:
			s.log.Info("report rollups built from the archive", "took", time.Since(t0).Round(time.Millisecond))
		}
	}()
	s.tickets = tickets.New(db, func() time.Time { return s.now() })
	// A customer writing again within the window reopens their solved
	// ticket (from the lifecycle stream, off the conversation path).
	reopen := s.cfg.Tickets.ReopenWindow
	if reopen <= 0 {
		reopen = s.cfg.Report.ReopenWindow
	}
	var w archiver.Writer = tickets.ReopenWriter{Next: db, Store: s.tickets, Window: reopen}
	if t := s.cfg.Tickets; t.LowRatingMax > 0 {
		// A low rating opens a second-contact ticket, once per rated event.
		w = tickets.RatingWriter{Next: w, Store: s.tickets,
			Rule: tickets.LowRating{MaxScore: t.LowRatingMax, Owner: t.LowRatingOwner, Due: t.LowRatingDue}}
	}
	s.archiver = archiver.New(s.rdb, w, archiver.Config{Prefix: s.cfg.Redis.Prefix,
		Retention: s.cfg.Retention.Redis, Log: s.log})
	for _, c := range s.archiver.Collectors() {
		if err := s.metrics.reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return err
			}
		}
	}
	if err := s.archiver.Start(ctx); err != nil {
		return err
	}
	// Left messages become tickets (before any message is taken).
	s.engine.Messages = leaveTaker{s}
	s.startTicketNotices()
	var push func(context.Context, tickets.Reminder)
	if len(s.cfg.Notify.Hooks) > 0 {
		var hooks []notify.Hook
		for name, h := range s.cfg.Notify.Hooks {
			hooks = append(hooks, notify.Hook{Name: name, Kind: h.Kind, URL: h.URL, Secret: h.Secret, Groups: h.Groups})
		}
		loc, err := s.cfg.Report.Location(s.cfg)
		if err != nil {
			return err
		}
		n, err := notify.New(s.rdb, notify.Config{Prefix: s.cfg.Redis.Prefix, Hooks: hooks, Log: s.log, Location: loc,
			Names: s.cfg.Console.Names.Groups})
		if err != nil {
			return err
		}
		push = n.Ticket
		// The notifier reads the lifecycle stream in a group of its own.
		s.notifier = archiver.New(s.rdb, n, archiver.Config{Prefix: s.cfg.Redis.Prefix, Group: notify.Group, Log: s.log})
		if err := s.notifier.Start(ctx); err != nil {
			return err
		}
	}
	// Tickets due soon, overdue and new: claimed once in the archive by
	// whichever instance sweeps first, pushed to the department's hooks.
	host, _ := os.Hostname()
	s.reminders = tickets.NewReminders(s.tickets, tickets.RemindConfig{Lead: s.cfg.Tickets.RemindLead,
		Every: s.cfg.Tickets.RemindEvery, Instance: host + ":" + strconv.Itoa(os.Getpid()), Push: push, Log: s.log})
	s.reminders.Start(ctx)
	s.startDispatch(ctx)
	s.sweeper = archiver.NewSweeper(s.rdb, archiver.SweeperConfig{Prefix: s.cfg.Redis.Prefix,
		Idle: s.cfg.Retention.Idle, Now: func() time.Time { return s.now() }, Log: s.log})
	return s.sweeper.Start(ctx)
}

// closeArchive stops the sweeper and the archiver, then closes the archive.
func (s *server) closeArchive() {
	if s.reminders != nil {
		s.reminders.Close()
	}
	if s.stopDispatch != nil {
		s.stopDispatch()
	}
	if s.sweeper != nil {
		s.sweeper.Close()
	}
	if s.archiver != nil {
		s.archiver.Close()
	}
	if s.notifier != nil {
		s.notifier.Close()
	}
	if s.ticketNotices != nil {
		s.ticketNotices.Close()
	}
	if s.stopPrepare != nil {
		s.stopPrepare()
	}
	if s.archive != nil {
		s.archive.Close()
	}
}

// consoleArchive is the console's view of the archive, which run opens
// after the console is built: it reads s.archive when asked.
type consoleArchive struct{ s *server }

var errNoArchive = errors.New("the archive is not open")

func (a consoleArchive) db() (*archive.DB, error) {
	if a.s.archive == nil {
		return nil, errNoArchive
	}
	return a.s.archive, nil
}

func (a consoleArchive) Search(ctx context.Context, q archive.Query) (archive.Results, error) {
	db, err := a.db()
	if err != nil {
		return archive.Results{}, err
	}
	return db.Search(ctx, q)
}

func (a consoleArchive) Conversation(ctx context.Context, id string) (archive.Result, error) {
	db, err := a.db()
	if err != nil {
		return archive.Result{}, err
	}
	return db.Conversation(ctx, id)
}

func (a consoleArchive) Show(ctx context.Context, id string) (archive.Transcript, error) {
	db, err := a.db()
	if err != nil {
		return archive.Transcript{}, err
	}
	return db.Show(ctx, id)
}

// consoleReports is the console's Reports page over the archive's rollups.
type consoleReports struct{ s *server }

func (c consoleReports) Report(ctx context.Context, q report.Query) (*report.Report, error) {
	if c.s.archive == nil || c.s.reports == nil {
		return nil, errNoArchive
	}
	return c.s.reports.Report(ctx, c.s.archive, q)
}

// consoleTickets is the console's view of the tickets, which run opens
// after the console is built: it reads s.tickets when asked.
type consoleTickets struct{ s *server }

func (c consoleTickets) store() (*tickets.Store, error) {
	if c.s.tickets == nil {
		return nil, errNoArchive
	}
	return c.s.tickets, nil
}

func (c consoleTickets) Create(ctx context.Context, n tickets.NewTicket) (tickets.Ticket, bool, error) {
	st, err := c.store()
	if err != nil {
		return tickets.Ticket{}, false, err
	}
	return st.Create(ctx, n)
}

func (c consoleTickets) Get(ctx context.Context, id int64) (tickets.Ticket, error) {
	st, err := c.store()
	if err != nil {
		return tickets.Ticket{}, err
	}
	return st.Get(ctx, id)
}

func (c consoleTickets) List(ctx context.Context, f tickets.Filter) ([]tickets.Ticket, error) {
	st, err := c.store()
	if err != nil {
		return nil, err
	}
	return st.List(ctx, f)
}

func (c consoleTickets) Move(ctx context.Context, id int64, to tickets.State, waitingOn, by, detail string) (tickets.Ticket, error) {
	st, err := c.store()
	if err != nil {
		return tickets.Ticket{}, err
	}
	return st.Move(ctx, id, to, waitingOn, by, detail)
}

func (c consoleTickets) Assign(ctx context.Context, id int64, owner, department, by string) (tickets.Ticket, error) {
	st, err := c.store()
	if err != nil {
		return tickets.Ticket{}, err
	}
	return st.Assign(ctx, id, owner, department, by)
}

func (c consoleTickets) AddNote(ctx context.Context, id int64, author, text string) (tickets.Ticket, error) {
	st, err := c.store()
	if err != nil {
		return tickets.Ticket{}, err
	}
	return st.AddNote(ctx, id, author, text)
}
