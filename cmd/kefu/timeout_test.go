package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// TestServeSlowBody: a client that sends its headers and a few bytes of a
// promised body, then nothing, is cut off by server.read_timeout on every
// endpoint that reads a body (the web chat's API, the console's sign-in,
// WeChat's server URL), so it cannot hold a handler and its goroutine. The
// WebSocket and the console's event stream, which outlive the timeout,
// still work after it.
func TestServeSlowBody(t *testing.T) {
	mustRedisEnv(t)
	t.Setenv("KEFU_WECHAT_APP_ID", "wx0123456789abcdef")
	t.Setenv("KEFU_WECHAT_APP_SECRET", "app-secret-not-logged")
	t.Setenv("KEFU_WECHAT_TOKEN", "tok3n")
	g := mustServe(t, "--config", agentConfig(t, "server:\n  read_timeout: 300ms\n"))
	addr := strings.TrimPrefix(g.URL, "http://")
	c := mustCustomer(t, g)

	for _, path := range []string{"/api/session", "/api/messages", "/console/api/signin", "/wechat?signature=x&timestamp=1&nonce=n"} {
		t.Run(strings.Trim(strings.SplitN(path, "?", 2)[0], "/"), func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAuthorization: Bearer %s\r\nContent-Length: 100\r\n\r\n{\"text\": \"ab", path, addr, c.token)
			// A hang guard, not a timed assertion: without the read
			// timeout the server waits for the rest of the body forever.
			_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, err = io.Copy(io.Discard, bufio.NewReader(conn))
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the server still holds the connection of a client that stopped sending its body")
			}
		})
	}

	// The WebSocket outlives the read timeout: a message sent after it is
	// answered.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws?token="+c.token, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close(websocket.StatusNormalClosure, "")
	time.Sleep(time.Second) // past read_timeout: the socket must still be open
	if err := wsjson.Write(ctx, ws, map[string]any{"type": "message", "id": "late1", "text": "怎么退货"}); err != nil {
		t.Fatal(err)
	}
	for answered := false; !answered; {
		var f struct {
			Type    string
			Entries []entryJSON
		}
		if err := wsjson.Read(ctx, ws, &f); err != nil {
			t.Fatalf("socket after the read timeout: %v", err)
		}
		for _, e := range f.Entries {
			answered = answered || e.Dir == "out"
		}
	}

	// The console's event stream outlives it too: an event that happens
	// after it arrives.
	a := mustAgent(t, g, "alice", "alice-pw")
	req, _ := http.NewRequestWithContext(ctx, "GET", g.URL+"/console/api/events", nil)
	resp, err := a.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("events: %d", resp.StatusCode)
	}
	lines := bufio.NewScanner(resp.Body)
	next := func() string {
		for lines.Scan() {
			if l, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
				return l
			}
		}
		t.Fatalf("event stream ended: %v", lines.Err())
		return ""
	}
	if l := next(); !strings.Contains(l, `"ready"`) {
		t.Fatalf("first event %s", l)
	}
	time.Sleep(time.Second) // past read_timeout
	if code, _ := c.say("h1", map[string]any{"text": "转人工"}); code != 200 {
		t.Fatalf("hand-off: %d", code)
	}
	for l := next(); !strings.Contains(l, "enqueued") && !strings.Contains(l, "offer"); l = next() {
	}
}
