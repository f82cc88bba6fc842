package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/kefu-dev/kefu/bot"
)

// The WebSocket protocol, JSON text frames.
//
// Connect to /ws?token=T&after=ID (after: the last transcript id the page
// has; empty for everything). The server sends
//
//	{"type":"entries","entries":[Entry…]}  what the page has not seen, then every new entry
//	{"type":"typing","on":true|false}       the bot is working on a reply
//	{"type":"error","id":…,"error":code,"message":…}  a message was refused (nothing stored)
//	{"type":"token","token":…}              first, when the page's token is due for replacement: keep this one
//	{"type":"in_progress","id":…}           a resent message is being handled elsewhere: its replies will come
//
// and the page sends {"type":"message", …inbound fields}.
//
// Open sockets are capped per visitor and per client address (counted in
// Redis with a lease, renewed at each ping): over a cap the upgrade is
// refused with 429 and Retry-After.

type client struct {
	id      string // the socket's own id (its place in the caps' sets)
	user    string
	tok     token
	addr    string
	counted bool // in the caps' sets
	wakeC   chan struct{}
	cancel  context.CancelFunc
}

// poke wakes the client's writer without blocking; one pending wake is enough
// since the writer reads everything after its last id.
func (c *client) poke() {
	select {
	case c.wakeC <- struct{}{}:
	default:
	}
}

type frame struct {
	Type    string  `json:"type"`
	Token   string  `json:"token,omitempty"`
	Entries []Entry `json:"entries,omitempty"`
	On      *bool   `json:"on,omitempty"`
	ID      string  `json:"id,omitempty"`
	Error   string  `json:"error,omitempty"`
	Message string  `json:"message,omitempty"`
}

type clientFrame struct {
	Type string `json:"type"`
	inbound
}

func (a *Adapter) socket(w http.ResponseWriter, r *http.Request) {
	t, after, ok := a.transcriptRequest(w, r, true)
	if !ok {
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	c := &client{id: newVisitorID(), user: t.id, tok: t, addr: a.clientAddr(r), wakeC: make(chan struct{}, 1), cancel: cancel}
	if err := a.openSocket(ctx, c); err != nil {
		if !errors.Is(err, ErrRateLimited) {
			a.log.Error("socket open", "user", c.user, "err", err)
			err = ErrUnavailable
		}
		a.fail(w, r, err)
		return
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		a.closeSocket(cctx, c)
	}()
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: a.cfg.AllowedOrigins})
	if err != nil {
		return // Accept has answered the request
	}
	conn.SetReadLimit(a.maxBody())
	a.conns.Add(1)
	defer a.conns.Done()
	if nt := a.refreshed(t); nt != "" {
		if err := a.write(ctx, conn, frame{Type: "token", Token: nt}); err != nil {
			conn.Close(websocket.StatusGoingAway, "")
			return
		}
	}
	a.addClient(c) // before the first read of the transcript, so no push is missed
	defer a.removeClient(c)
	c.poke()

	go a.readLoop(ctx, conn, c)
	err = a.writeLoop(ctx, conn, c, after)
	if errors.Is(err, context.Canceled) || websocket.CloseStatus(err) != -1 {
		conn.Close(websocket.StatusGoingAway, "")
		return
	}
	conn.Close(websocket.StatusInternalError, "")
}

// writeLoop sends what the page has not seen each time the customer's
// conversation changes, and pings to keep proxies from closing the socket.
func (a *Adapter) writeLoop(ctx context.Context, conn *websocket.Conn, c *client, after string) error {
	ping := time.NewTicker(socketPing)
	defer ping.Stop()
	first := true // the first frame goes out even when empty: the page knows it is up to date
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
			if err := a.renewSocket(ctx, c); err != nil {
				a.log.Warn("socket renew", "user", c.user, "err", err) // the next ping retries
			}
		case <-c.wakeC:
			es, err := a.entries(ctx, c.user, after)
			if err != nil {
				a.log.Warn("transcript", "user", c.user, "err", err)
				continue // the next push or reconnect retries
			}
			if len(es) == 0 && !first {
				continue
			}
			first = false
			if err := a.write(ctx, conn, frame{Type: "entries", Entries: es}); err != nil {
				return err
			}
			if len(es) > 0 {
				after = es[len(es)-1].ID
			}
		}
	}
}

func (a *Adapter) write(ctx context.Context, conn *websocket.Conn, f frame) error {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return wsjson.Write(wctx, conn, f)
}

// readLoop takes the customer's messages, one at a time.
func (a *Adapter) readLoop(ctx context.Context, conn *websocket.Conn, c *client) {
	defer c.cancel()
	for {
		var f clientFrame
		typ, b, err := conn.Read(ctx)
		if err != nil {
			return
		}
		if typ != websocket.MessageText || json.Unmarshal(b, &f) != nil {
			_ = a.write(ctx, conn, frame{Type: "error", Error: "bad_request", Message: ErrBadRequest.Error()})
			continue
		}
		if f.Type != "message" {
			continue
		}
		on, off := true, false
		_ = a.write(ctx, conn, frame{Type: "typing", On: &on})
		_, err = a.accept(ctx, c.tok, c.addr, f.inbound)
		_ = a.write(ctx, conn, frame{Type: "typing", On: &off})
		if errors.Is(err, bot.ErrInFlight) {
			_ = a.write(ctx, conn, frame{Type: "in_progress", ID: f.ID})
		}
		if err != nil && !errors.Is(err, bot.ErrDuplicate) {
			_, e := a.apiErr(err)
			_ = a.write(ctx, conn, frame{Type: "error", ID: f.ID, Error: e.Error, Message: e.Message})
		}
	}
}
