// Package browsertest starts headless Chromium for the tests that look at
// what a person sees (the SVG drawing, the server's web page).
package browsertest

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/internal/testenv"
	"github.com/chromedp/chromedp"
)

// New starts Debian's chromium, headless and without its sandbox (CI runs
// as root), with a profile in t.TempDir(), and returns the context of a
// tab; everything stops when t ends, or after two minutes. Without
// chromium on PATH the test skips, or fails under .ci/run
// (testenv.Require).
func New(t *testing.T) context.Context {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	testenv.Require(t, err == nil, "chromium is not installed (apt-get install -y chromium)")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	t.Cleanup(cancelAlloc)
	ctx, cancelBrowser := chromedp.NewContext(ctx)
	t.Cleanup(cancelBrowser)
	return ctx
}
