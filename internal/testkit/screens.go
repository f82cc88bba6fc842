package testkit

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"
)

// EnvScreenshots names the folder the browser tests save their screenshots
// in (README: docs/screenshots). Unset, nothing is written, so a CI run
// never rewrites the committed pictures; the checks at each width run
// either way.
const EnvScreenshots = "KEFU_SCREENSHOTS"

// Screen is a width a page is looked at, with its height: a desktop and a
// phone.
type Screen struct{ Width, Height int64 }

// Screens are the widths every page is checked and shot at.
var Screens = []Screen{{1280, 800}, {375, 812}}

// jsOverflow is what sticks out of the page sideways at the current width:
// the document wider than the window (a sideways scroll), and each visible
// table, form or list wider than the box that holds it: clipped at any
// width, or scrolled sideways at a desktop's (a phone may scroll a wide
// table, and so may a box marked data-scroll-x at any width), as "tag#id"
// names.
const jsOverflow = `(() => {
  const out = [];
  const w = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > w + 1) out.push('document ' + document.documentElement.scrollWidth + '>' + w);
  for (const n of document.querySelectorAll('table, form, header, .list, pre, canvas')) {
    if (!n.offsetParent) continue;
    const p = n.parentElement;
    const ox = p ? getComputedStyle(p).overflowX : 'visible';
    const byDesign = p && p.hasAttribute('data-scroll-x'); // a wide table meant to scroll (the reports' figures)
    if (p && n.scrollWidth > p.clientWidth + 1 && (ox === 'hidden' || ox === 'clip' || (w >= 1000 && ox !== 'visible' && !byDesign))) out.push(n.tagName.toLowerCase() + (n.id ? '#' + n.id : '') + ' wider than its box ' + n.scrollWidth + '>' + p.clientWidth);
  }
  return out.join('; ');
})()`

// LookAt shows the page of ctx at each of Screens and fails the test when
// something sticks out sideways (jsOverflow); with EnvScreenshots set, it
// saves each as <folder>/<name>-<width>.png. ready, run after each resize,
// waits until the page has laid itself out again (nil: nothing to wait
// for). The page is left at the first (desktop) width.
func LookAt(tb testing.TB, ctx context.Context, name string, ready func()) {
	tb.Helper()
	dir := os.Getenv(EnvScreenshots)
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	for _, s := range append(Screens[1:], Screens[0]) {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(s.Width, s.Height)); err != nil {
			tb.Fatalf("%s at %d px: %v", name, s.Width, err)
		}
		if ready != nil {
			ready()
		}
		over, err := chromedp.Run(ctx, chromedp.Evaluate[string](jsOverflow))
		if err != nil {
			tb.Fatalf("%s at %d px: %v", name, s.Width, err)
		}
		if over != "" {
			tb.Errorf("%s at %d px: sticks out sideways: %s", name, s.Width, over)
		}
		if dir == "" {
			continue
		}
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			tb.Fatalf("%s at %d px: screenshot: %v", name, s.Width, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+"-"+strconv.FormatInt(s.Width, 10)+".png"), png, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}
