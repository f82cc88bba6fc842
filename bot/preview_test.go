package bot

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kefu-dev/kefu/internal/testkit"
)

// TestPreviewWrittenWithTheMessage: the customer's last message (cut to
// PreviewLen characters) and its time are on the conversation hash from the
// moment the message is in the transcript, in the same script; a message
// without text and a repeated delivery leave it as it was.
func TestPreviewWrittenWithTheMessage(t *testing.T) {
	rdb := testkit.Redis(t, 0)
	clk := testkit.NewClock(time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC))
	s := NewStore(rdb, testkit.PrefixOn(t, rdb), WithClock(clk.Now))
	ctx := context.Background()
	preview := func() (string, time.Time) {
		t.Helper()
		v, err := rdb.HMGet(ctx, s.convKey(ConvID("web", "p1")), FieldLastIn, FieldLastInAt).Result()
		if err != nil {
			t.Fatal(err)
		}
		text, _ := v[0].(string)
		ms, _ := v[1].(string)
		n, _ := strconv.ParseInt(ms, 10, 64)
		return text, time.UnixMilli(n)
	}
	claim := func(id, kind, text string) {
		t.Helper()
		if _, _, err := s.Ingest(ctx, Message{Channel: "web", User: "p1", ID: id, Kind: kind, Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	claim("1", KindText, "第一条")
	first := clk.Now()
	clk.Advance(time.Minute)
	claim("2", KindText, "订单还没到")
	if text, at := preview(); text != "订单还没到" || !at.Equal(clk.Now()) || at.Equal(first) {
		t.Fatalf("preview %q at %v, want the second message at %v", text, at, clk.Now())
	}
	clk.Advance(time.Minute)
	claim("3", KindStart, "")
	claim("2", KindText, "订单还没到") // a repeated delivery: nothing written
	if text, at := preview(); text != "订单还没到" || !at.Equal(clk.Now().Add(-time.Minute)) {
		t.Fatalf("after a message without text and a repeat: %q at %v", text, at)
	}
	long := strings.Repeat("长", PreviewLen+50)
	claim("4", KindText, long)
	if text, _ := preview(); text != strings.Repeat("长", PreviewLen)+"…" {
		t.Fatalf("long message: preview of %d characters", len([]rune(text)))
	}
	tx, err := s.Transcript(ctx, ConvID("web", "p1"), "")
	if err != nil || len(tx) != 4 || tx[3].Text != long {
		t.Fatalf("transcript %d entries %v: the message itself is kept whole", len(tx), err)
	}
}
