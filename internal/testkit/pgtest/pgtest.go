// Package pgtest gives a test a PostgreSQL database of its own on the test
// server (testkit.PostgresURL), dropped when the test ends. Only tests import
// it; it is apart from testkit so that tests without PostgreSQL do not link
// its driver.
package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver

	"github.com/kefu-dev/kefu/internal/testkit"
)

var seq atomic.Int64

// Database creates an empty database for this test and returns its URL. The
// test is skipped when there is no test server, or fails under
// testkit.Required.
func Database(tb testing.TB) string {
	tb.Helper()
	admin := testkit.PostgresURL(tb)
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("KEFU_TEST_POSTGRES_URL does not parse")
	}
	db, err := sql.Open("pgx", admin)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	name := fmt.Sprintf("kefutest_%s_%d_%d", sanitize(tb.Name()), time.Now().UnixNano()%1e9, seq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		tb.Fatalf("create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		db, err := sql.Open("pgx", admin)
		if err != nil {
			tb.Error(err)
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			tb.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// sanitize keeps the letters and digits of a test name, short enough for
// PostgreSQL's 63-byte identifiers.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
		if b.Len() >= 30 {
			break
		}
	}
	return b.String()
}
