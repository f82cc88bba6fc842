package testkit

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Monitor counts the commands a piece of code makes Redis run on one key
// prefix, commands run inside Lua scripts included, through the server's
// MONITOR stream. Other clients' commands on other prefixes are ignored, so
// it works on the shared test server. A count, not a time: Count waits for a
// marker command of its own to come through the stream.
type Monitor struct {
	tb     testing.TB
	rdb    redis.UniversalClient
	prefix string
	rd     *bufio.Reader
	conn   net.Conn
}

var markSeq atomic.Int64

// NewMonitor opens a MONITOR connection to the test redis-server for the
// keys under prefix (closed when the test ends). rdb writes the markers.
func NewMonitor(tb testing.TB, rdb redis.UniversalClient, prefix string) *Monitor {
	tb.Helper()
	opt, err := redis.ParseURL(RedisURL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", opt.Addr, 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	m := &Monitor{tb: tb, rdb: rdb, prefix: prefix, rd: bufio.NewReaderSize(conn, 1<<20), conn: conn}
	if opt.Password != "" {
		fmt.Fprintf(conn, "AUTH %s\r\n", opt.Password)
		m.line()
	}
	fmt.Fprintf(conn, "MONITOR\r\n")
	if l := m.line(); l != "+OK" {
		tb.Fatalf("monitor: %q", l)
	}
	m.mark() // from here on, every command is seen in order
	return m
}

// line reads one line of the stream (a deadline guards against a hang).
func (m *Monitor) line() string {
	m.tb.Helper()
	_ = m.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	l, err := m.rd.ReadString('\n')
	if err != nil {
		m.tb.Fatalf("monitor: %v", err)
	}
	return strings.TrimRight(l, "\r\n")
}

// mark writes a marker command and reads the stream up to it, returning the
// commands on the prefix seen before it (their "command" "arg"… part).
func (m *Monitor) mark() []string {
	m.tb.Helper()
	key := fmt.Sprintf("%smonitor-mark:%d", m.prefix, markSeq.Add(1))
	if err := m.rdb.Exists(context.Background(), key).Err(); err != nil {
		m.tb.Fatal(err)
	}
	var got []string
	for {
		l := m.line()
		if strings.Contains(l, `"`+key+`"`) {
			return got
		}
		if strings.Contains(l, m.prefix) {
			if _, cmd, ok := strings.Cut(l, `] `); ok {
				got = append(got, cmd)
			}
		}
	}
}

// Count runs f and returns the commands Redis ran on the prefix meanwhile,
// in order, each as `"name" "arg"…` (scripts' commands included).
func (m *Monitor) Count(f func()) []string {
	m.tb.Helper()
	m.mark()
	f()
	return m.mark()
}
