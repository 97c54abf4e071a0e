package server

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/afterhours-go/afterhours/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/page.png")

// pageScreenshot is the page as Chromium shows it, rewritten with -update.
var pageScreenshot = filepath.Join("testdata", "page.png")

// pageBar is a step's bar of the inline plan drawing, as the browser lays
// it out, with the drawing's axis as its data attributes give it.
type pageBar struct {
	Task  string  `json:"task"`
	X     float64 `json:"x"`
	Width float64 `json:"width"`
}

type pagePlan struct {
	Client string    `json:"client"`
	SVGX   float64   `json:"svgX"`
	From   string    `json:"from"`
	X0     float64   `json:"x0"`
	PPM    float64   `json:"ppm"`
	Bars   []pageBar `json:"bars"`
}

const pagePlanJS = `(() => {
	const svg = document.querySelector('#plan svg');
	const box = svg.getBoundingClientRect();
	return {
		client: svg.getAttribute('data-client'),
		svgX: box.x,
		from: svg.getAttribute('data-from'),
		x0: parseFloat(svg.getAttribute('data-x0')),
		ppm: parseFloat(svg.getAttribute('data-px-per-minute')),
		bars: Array.from(svg.querySelectorAll('rect.step')).map(r => {
			const b = r.getBoundingClientRect();
			return {task: r.getAttribute('data-task'), x: b.x, width: b.width};
		}),
	};
})()`

// TestWebPageInChromium drives the page in headless Chromium against a
// real server on a bbolt file: it types the token, waits for the tables,
// finds the failed client and task listed, opens that client's plan and
// checks each step's bar where the plan's start and end put it on the
// drawing's axis, and finds a load chart per token.
func TestWebPageInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	testenv.Require(t, err == nil, "chromium is not installed (apt-get install -y chromium)")

	o := newOpsFleet(t)
	require.Equal(t, http.StatusOK, o.report("leeds-1", fmt.Sprintf(failedReport, 1, false)).status)
	require.Equal(t, http.StatusOK, o.report("austin-1", `{"cycle": "2026-11-24", "seq": 1, "counts": {"completed": 2, "to-do": 3}}`).status)

	// The plan the page should show, from the API.
	r := o.call("GET", "/v1/clients/leeds-1/plan", viewToken, "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var plan struct {
		Steps []struct {
			Task  string    `json:"task"`
			Start time.Time `json:"start"`
			End   time.Time `json:"end"`
		} `json:"steps"`
	}
	require.NoError(t, json.Unmarshal(r.body, &plan))
	require.NotEmpty(t, plan.Steps)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
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
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(ctx)
	defer cancelBrowser()

	wait := func(what, expr string) {
		t.Helper()
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second)))
		require.NoError(t, err, "waiting for %s", what)
	}
	eval := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		require.NoError(t, err, expr)
		return v
	}

	// A wrong token: the form again, with a message.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(o.srv.URL+"/"),
		chromedp.WaitVisible("#token"),
		chromedp.SendKeys("#token", "not-a-token-of-this-server"),
		chromedp.Click("#signin"),
	))
	wait("the refusal", `document.querySelector('#login-error').textContent.includes('refused') && !document.querySelector('#login').hidden`)

	// The view token: the tables.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys("#token", viewToken),
		chromedp.Click("#signin"),
	))
	wait("the clients table", `document.querySelectorAll('#clients tbody tr').length === 3`)
	require.Equal(t, "austin-1,leeds-1,leeds-2", eval(`Array.from(document.querySelectorAll('#clients tbody tr')).map(r => r.dataset.client).join()`))
	require.Equal(t, "failed", eval(`document.querySelector('#clients tr[data-client="leeds-1"]').dataset.state`))
	require.Equal(t, "3 clients|1 in cycle|1 failed|1 never seen", eval(`Array.from(document.querySelectorAll('#states li')).map(l => l.textContent).join('|')`))
	require.Equal(t, "view-token-0123456789", eval(`sessionStorage.getItem('afterhours-token')`))

	// The failed list: the client and the task, with the exit code.
	wait("the failed list", `document.querySelectorAll('#failed tbody tr').length === 1`)
	require.Equal(t, "leeds-1|2026-11-24|vacuum-db|housekeeping|exit status 2|2|2026-11-24 23:00:00Z|2026-11-24 23:20:00Z",
		eval(`Array.from(document.querySelectorAll('#failed tbody td')).map(c => c.textContent).join('|')`))

	// One load chart per token, with its capacity line.
	wait("the load charts", `document.querySelectorAll('#load svg.load-chart').length === 2`)
	require.Equal(t, "pkg-repo:2,lan:1", eval(`Array.from(document.querySelectorAll('#load svg.load-chart')).map(s => s.dataset.token + ':' + s.querySelector('line.capacity').dataset.capacity).join()`))
	require.Equal(t, "0", eval(`String(document.querySelectorAll('#load rect.over').length)`))

	// The panels whose endpoints this server lacks (404) are hidden.
	require.Equal(t, "true,true", eval(`[document.querySelector('#downtimes-panel').hidden, document.querySelector('#killswitch-panel').hidden].join()`))
	require.Contains(t, eval(`document.querySelector('#refreshed').textContent`), "Refreshed at")

	// The failed client's plan, inline: each step's bar where its start and
	// end lie on the axis.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(`#clients button[data-client="leeds-1"]`)))
	wait("the plan", `document.querySelectorAll('#plan svg rect.step').length > 0`)
	got, err := chromedp.Run(ctx, chromedp.Evaluate[pagePlan](pagePlanJS))
	require.NoError(t, err)
	require.Equal(t, "leeds-1", got.Client)
	from, err := time.Parse(time.RFC3339, got.From)
	require.NoError(t, err)
	require.Positive(t, got.PPM)
	require.Len(t, got.Bars, len(plan.Steps))
	byTask := map[string]pageBar{}
	for _, b := range got.Bars {
		byTask[b.Task] = b
	}
	for _, s := range plan.Steps {
		b, ok := byTask[s.Task]
		require.True(t, ok, "no bar for %s", s.Task)
		x := got.SVGX + got.X0 + s.Start.Sub(from).Minutes()*got.PPM
		w := s.End.Sub(s.Start).Minutes() * got.PPM
		require.InDelta(t, x, b.X, 1, "x of %s", s.Task)
		require.InDelta(t, w, b.Width, 1, "width of %s", s.Task)
	}
	require.NotContains(t, byTask, "vacuum-db", "the failed task is not planned again")

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.Greater(t, len(shot), 10_000)
	if *update {
		require.NoError(t, os.WriteFile(pageScreenshot, shot, 0o644))
	}
	_, err = os.Stat(pageScreenshot)
	require.NoError(t, err, "the screenshot is kept in testdata (go test -run TestWebPageInChromium -update)")
}
