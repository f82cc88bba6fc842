// Package archive owns the archive's SQL schema: the conversations, their
// messages (with the segmented words that full-text search reads and the
// entities that exact search reads) and every lifecycle event, in PostgreSQL
// (production, shared by every instance) or in an SQLite file (the embedded
// default). Nothing else writes these tables; the migrations under
// migrations/ (goose, one folder per dialect) are applied at Open.
//
// It writes events it is given (Write, idempotent on the event id), answers
// searches (Search) and transcripts (Show), and exports and purges one
// customer's conversations (Export, Purge). It does not read the lifecycle
// stream (package archiver does), and it imports none of bot, channels,
// console or handoff: the event types and field names are package conv's.
package archive

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations
var migrations embed.FS

// Dialect is the SQL database behind a DB.
type Dialect string

// The dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Segmenter cuts text into words, as the bot's tokenizer does
// (intents.Tokenizer satisfies it). It must be safe for concurrent use.
type Segmenter interface {
	Cut(text string) []string
}

// IndexSegmenter is a Segmenter that also cuts text for the index: the
// words Cut gives plus the dictionary words inside the longer ones (开发票
// also gives 开发 and 发票), so a query word finds a message that has it
// inside a longer word. intents.JiebaTokenizer has it (gojieba's
// CutForSearch). Messages are indexed with it when the segmenter has it;
// queries are always cut with Cut.
type IndexSegmenter interface {
	Segmenter
	CutForSearch(text string) []string
}

// fieldsSegmenter splits on spaces only: enough for English, not for
// Chinese.
type fieldsSegmenter struct{}

func (fieldsSegmenter) Cut(text string) []string { return strings.Fields(text) }

// DB is an open archive.
type DB struct {
	db      *sql.DB // writes (and, on PostgreSQL, reads)
	read    *sql.DB // reads: on SQLite a pool whose transactions take no write lock
	dialect Dialect
	seg     Segmenter
	extract func(text string) []string // entities in a message's text; nil: none
	rollups Rollups                    // tables kept in step with the events; nil: none
	genSeq  int64                      // Generate on SQLite: the last seq given

	genEventsOnly bool // Generate's EventsOnly, for its batches
}

// Rollups keeps tables derived from the events (package report's) in step
// with them, inside the transaction that changes the events, so that they
// never disagree: Write calls Apply with the conversations that got new
// events (each once, after the events are stored), Purge calls Forget with
// the conversations it is about to delete (their events still there).
// Both see the transaction's own writes; an error fails the transaction.
type Rollups interface {
	Apply(ctx context.Context, tx *sql.Tx, d Dialect, convs []string) error
	Forget(ctx context.Context, tx *sql.Tx, d Dialect, convs []string) error
}

// WithRollups makes Write and Purge keep r's tables in step with the
// events.
func WithRollups(r Rollups) Option {
	return func(d *DB) { d.rollups = r }
}

// SQL is the connections for a package that owns tables of its own in the
// archive (package report): write takes the writers' lock on SQLite, read
// never waits for it.
func (d *DB) SQL() (write, read *sql.DB) { return d.db, d.read }

// Rebind turns the ? placeholders of stmt into the dialect's (for
// statements without ? inside literals).
func Rebind(d Dialect, stmt string) string { return rebind(d, stmt) }

// Option changes how Open sets a DB up.
type Option func(*DB)

// WithEntities makes Write index, besides the entities an event names, those
// extract finds in each message's text (order, tracking and phone numbers:
// intents.ExtractEntities does it for the bot). extract must be safe for
// concurrent use.
func WithEntities(extract func(text string) []string) Option {
	return func(d *DB) { d.extract = extract }
}

// sqliteBusyTimeout is how long an SQLite writer waits for another one
// (another instance's archiver, a purge from the command line) before
// failing with SQLITE_BUSY.
const sqliteBusyTimeout = 5 * time.Second

// Open connects to the archive at dsn and applies the migrations it lacks.
// dsn is postgres://… (or postgresql://…) for PostgreSQL, or sqlite://PATH
// or a plain file path for SQLite (the file and its folder are created;
// WAL mode, so the command line can read it while the server writes). seg
// segments messages at write time and queries at search time, the same
// way (messages with CutForSearch when seg is an IndexSegmenter); nil
// splits on spaces only.
//
// Errors never contain dsn: it may hold a password.
func Open(ctx context.Context, dsn string, seg Segmenter, opts ...Option) (*DB, error) {
	if seg == nil {
		seg = fieldsSegmenter{}
	}
	dialect, writeDSN, readDSN, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	driver := "pgx"
	if dialect == SQLite {
		driver = "sqlite"
	}
	db, err := sql.Open(driver, writeDSN)
	if err != nil {
		return nil, fmt.Errorf("open archive (%s): %w", dialect, err)
	}
	if dialect == SQLite {
		// SQLite has one writer at a time: in this process they queue for
		// the one connection instead of polling for the lock.
		db.SetMaxOpenConns(1)
	}
	if err := prepare(ctx, db, dialect); err != nil {
		db.Close()
		return nil, err
	}
	read := db
	if dialect == SQLite {
		if read, err = sql.Open(driver, readDSN); err != nil {
			db.Close()
			return nil, fmt.Errorf("open archive (%s): %w", dialect, err)
		}
	}
	d := &DB{db: db, read: read, dialect: dialect, seg: seg}
	for _, o := range opts {
		o(d)
	}
	return d, nil
}

// parseDSN tells the dialect and the driver's own DSNs for writing and for
// reading.
func parseDSN(dsn string) (d Dialect, write, read string, err error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return Postgres, dsn, dsn, nil
	case strings.Contains(dsn, "://") && !strings.HasPrefix(dsn, "sqlite://"):
		return "", "", "", fmt.Errorf("%w: want postgres://… or an SQLite file path (sqlite://PATH)", ErrBadDSN)
	}
	path := strings.TrimPrefix(dsn, "sqlite://")
	if path == "" || strings.ContainsAny(path, "?#") {
		return "", "", "", fmt.Errorf("%w: an SQLite file path may not be empty or contain ? or #", ErrBadDSN)
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", "", "", fmt.Errorf("open archive: %w", err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	read = "file:" + path + "?" + q.Encode()
	// _txlock=immediate: a writing transaction takes the write lock when it
	// begins, so waiting for another writer (another process) goes through
	// busy_timeout instead of failing at once when a read would be upgraded.
	// Readers keep deferred transactions: in WAL mode they never wait.
	q.Set("_txlock", "immediate")
	return SQLite, "file:" + path + "?" + q.Encode(), read, nil
}

// Redacted is dsn fit for a log line: a password in it is replaced.
func Redacted(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		if strings.Contains(dsn, "://") {
			return "(unparsable dsn)"
		}
		return dsn
	}
	return u.Redacted()
}

// prepare checks the connection and applies the migrations. SQLite has no
// lock to hold across goose's transactions, so processes opening a new file
// together (the server and the command line) may collide: switching to WAL
// or creating a table another one just created fails. Each migration is one
// transaction, so the loser tries again and finds it applied.
func prepare(ctx context.Context, db *sql.DB, dialect Dialect) error {
	var err error
	for attempt := 1; ; attempt++ {
		if err = db.PingContext(ctx); err != nil {
			err = fmt.Errorf("open archive (%s): %w", dialect, err)
		} else if err = migrate(ctx, db, dialect); err == nil {
			return nil
		}
		if dialect != SQLite || attempt == sqliteOpenAttempts {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
		}
	}
}

// sqliteOpenAttempts bounds prepare's tries on SQLite.
const sqliteOpenAttempts = 5

// migrationLockID is the PostgreSQL advisory lock that migrations hold
// (the digits of "kefu" in ASCII, apart from goose's default).
const migrationLockID = 0x6b656675

// migrate applies the dialect's migrations it lacks. On PostgreSQL an
// advisory lock lets every instance start at once.
func migrate(ctx context.Context, db *sql.DB, dialect Dialect) error {
	sub, err := fs.Sub(migrations, "migrations/"+string(dialect))
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	// Migration numbers are handed out to parallel work, which may land in
	// any order: a database already past a number that lands later still
	// gets it.
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true), goose.WithAllowOutofOrder(true)}
	gd := goose.DialectSQLite3
	if dialect == Postgres {
		gd = goose.DialectPostgres
		// Instances that start together wait for the first one's
		// migrations, checking every second for up to five minutes.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID), lock.WithLockTimeout(1, 300))
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(gd, db, sub, opts...)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Dialect is the database behind d.
func (d *DB) Dialect() Dialect { return d.dialect }

// Version is the schema version applied (the last migration's number).
func (d *DB) Version(ctx context.Context) (int64, error) {
	var v int64
	err := d.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

// Close closes the connections.
func (d *DB) Close() error {
	err := d.db.Close()
	if d.read != d.db {
		err = errors.Join(err, d.read.Close())
	}
	return err
}

// query builds a statement with the dialect's placeholders.
type query struct {
	d    Dialect
	sb   strings.Builder
	args []any
}

// arg adds v and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	if q.d == Postgres {
		return fmt.Sprintf("$%d", len(q.args))
	}
	return "?"
}

func (q *query) add(s string) *query { q.sb.WriteString(s); return q }

// rebind turns ? placeholders into the dialect's (for fixed statements
// without ? inside literals).
func rebind(d Dialect, stmt string) string {
	if d != Postgres {
		return stmt
	}
	var sb strings.Builder
	n := 0
	for _, r := range stmt {
		if r == '?' {
			n++
			fmt.Fprintf(&sb, "$%d", n)
			continue
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
