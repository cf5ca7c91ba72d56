// Package browsertest drives Debian's Chromium, headless, for the tests of
// the web console.
package browsertest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium is where Debian's chromium package puts the browser.
const Chromium = "/usr/bin/chromium"

// Browser is a headless Chromium with a fresh profile, on one tab.
type Browser struct {
	t   testing.TB
	Ctx context.Context // the tab; chromedp.Run on it
}

// New starts the browser for one test; it stops when ctx ends or the test
// does. Without Chromium the test fails, saying how to install it.
func New(t testing.TB, ctx context.Context) *Browser {
	t.Helper()
	if _, err := os.Stat(Chromium); err != nil {
		t.Fatalf("the browser test needs Chromium at %s; install it (apt-get install chromium): %v", Chromium, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	b, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	if err := chromedp.Do(b); err != nil { // starts the browser on b, which has no timeout of its own
		t.Fatalf("start %s: %v", Chromium, err)
	}
	return &Browser{t: t, Ctx: b}
}

// Step runs actions within 20 seconds; if they fail, it shows the page.
func (b *Browser) Step(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		dctx, cancel := context.WithTimeout(b.Ctx, 5*time.Second)
		defer cancel()
		html, _ := chromedp.Run(dctx, chromedp.OuterHTML(chromedp.CSS("body")))
		b.t.Fatalf("%s: %v\npage:\n%s", what, err, html)
	}
}

// Screenshot saves the whole page as a PNG at path, for people to look at.
func (b *Browser) Screenshot(path string) {
	b.t.Helper()
	shot, err := chromedp.Run(b.Ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(path, shot, 0o644)
	}
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", path, err)
	}
}
