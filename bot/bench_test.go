package bot

import (
	"context"
	"fmt"
	"testing"

	"github.com/kefu-dev/kefu/internal/testkit"
	"github.com/kefu-dev/kefu/internal/testkit/sampletest"
)

// BenchmarkHandleAnswer: one answered message of a returning customer,
// claim to recorded reply (two scripts, with their lifecycle events), on
// the test redis-server.
func BenchmarkHandleAnswer(b *testing.B) {
	rdb := testkit.Redis(b, 0)
	e := &Engine{Store: NewStore(rdb, testkit.Prefix(b)), Matcher: sampletest.Live(b).Matcher, Texts: DefaultTexts()}
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		m := Message{Channel: "web", User: fmt.Sprint("b", i%100), ID: fmt.Sprint(i), Text: "快递到哪了"}
		if _, err := e.Handle(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
}
