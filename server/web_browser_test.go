package server

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/afterhours-go/afterhours/internal/browsertest"
)

var updateScreenshot = flag.Bool("update", false, "rewrite testdata/page.png")

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
	ctx := browsertest.New(t)

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
	wait := func(what, expr string) { t.Helper(); pollPage(t, ctx, what, expr) }
	eval := func(expr string) string { t.Helper(); return evalPage(t, ctx, expr) }

	// A wrong token: the form again, with a message.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(o.srv.URL+"/"),
		chromedp.WaitVisible("#token"),
		// Anything the page does from here that the CSP blocks is recorded.
		chromedp.Evaluate[chromedp.Void](`window.cspViolations = []; document.addEventListener('securitypolicyviolation', e => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI))`),
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

	// Another date's load.
	require.Equal(t, "on 2026-11-24 (UTC)", eval(`document.querySelector('#load-date').textContent`))
	require.NoError(t, chromedp.Do(ctx, chromedp.SetValue("#load-day", "2026-11-25"), chromedp.Evaluate[chromedp.Void](`document.querySelector('#load-day').dispatchEvent(new Event('change'))`)))
	wait("the load of 2026-11-25", `document.querySelector('#load-date').textContent === 'on 2026-11-25 (UTC)'`)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#load-today")))
	wait("the load of today", `document.querySelector('#load-date').textContent === 'on 2026-11-24 (UTC)'`)

	// A panel whose endpoint answers 404 is hidden, and shown otherwise.
	for panel, path := range map[string]string{"#downtimes-panel": "/v1/resources", "#killswitch-panel": "/v1/killswitch"} {
		missing := o.call("GET", path, viewToken, "").status == http.StatusNotFound
		require.Equal(t, fmt.Sprint(missing), eval(`String(document.querySelector('`+panel+`').hidden)`), panel)
	}
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

	// The page refreshes on its own within 15 s: a report that arrives
	// now shows without a click (polled with a deadline, in real time).
	require.Equal(t, http.StatusOK, o.report("leeds-2", `{"cycle": "2026-11-24", "seq": 1, "counts": {"to-do": 5}}`).status)
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('#clients tr[data-client="leeds-2"]').dataset.state === 'in cycle'`,
		chromedp.WithPollingTimeout(25*time.Second), chromedp.WithPollingInterval(250*time.Millisecond)))
	// (A refresh under way when the report came may be the one that shows
	// it, so the state, not the refresh's time stamp, is what proves it.)
	require.NoError(t, err, "the page did not refresh on its own")
	require.NotEmpty(t, eval(`document.body.dataset.refreshed`))
	wait("the plan again", `document.querySelectorAll('#plan svg rect.step').length > 0`)

	require.Equal(t, "", eval(`window.cspViolations.join('; ')`), "the page breaks its own Content-Security-Policy")
	// The record works: an inline script is blocked, and recorded.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`(() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1'; document.body.appendChild(s); s.remove(); })()`))
	require.NoError(t, err)
	wait("the blocked inline script recorded", `window.cspViolations.some(v => v.startsWith('script-src')) && window.ran === undefined`)

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.Greater(t, len(shot), 10_000)
	if *updateScreenshot {
		require.NoError(t, os.WriteFile(pageScreenshot, shot, 0o644))
	}
	_, err = os.Stat(pageScreenshot)
	require.NoError(t, err, "the screenshot is kept in testdata (go test -run TestWebPageInChromium -update)")
}

// pollPage waits, up to 30 s, for the expression to be true in the page.
func pollPage(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second)))
	require.NoError(t, err, "waiting for %s", what)
}

// evalPage returns the string the expression gives in the page.
func evalPage(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	require.NoError(t, err, expr)
	return v
}

// The resources and killswitch endpoints are built elsewhere, against this
// contract; panelContract answers it, in front of the real server.
const (
	resourcesContract = `{"resources": [{"name": "db", "set": "kiosk",
  "downtimes": [{"index": 0, "action": "postpone", "from": "01:00", "to": "03:00", "dates": ["2026-11-24"], "days": [],
    "occurrences": [{"site": "austin", "start": "2026-11-24T07:00:00Z", "end": "2026-11-24T09:00:00Z", "running": true}],
    "clients": ["austin-1"],
    "tasks": [{"name": "<img src=x id=injected>", "kind": "housekeeping"}]}]}]}`
	killswitchContract = `{"fleet": {"reason": "<b id=bold>incident</b> 42", "since": "2026-11-24T11:00:00Z"},
  "tags": {"uk": {"reason": "storm", "since": "2026-11-24T10:00:00Z"}}}`
)

// The downtimes and killswitch panels show what their endpoints answer,
// as text: markup in a name or reason is shown, not run.
func TestWebPagePanelsInChromium(t *testing.T) {
	ctx := browsertest.New(t)
	o := newOpsFleet(t)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body string
		switch r.URL.Path {
		case "/v1/resources":
			body = resourcesContract
		case "/v1/killswitch":
			body = killswitchContract
		default:
			o.h.ServeHTTP(w, r)
			return
		}
		if bearer(r) != viewToken {
			writeError(w, http.StatusUnauthorized, "unknown token", nil)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body))
	}))
	defer front.Close()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(front.URL+"/"),
		chromedp.WaitVisible("#token"),
		chromedp.SendKeys("#token", viewToken),
		chromedp.Click("#signin"),
	))
	pollPage(t, ctx, "the downtimes", `document.querySelectorAll('#downtimes tbody tr').length === 1`)
	require.Equal(t, "db|kiosk|postpone|01:00–03:00|2026-11-24|running at austin|austin-1|<img src=x id=injected> (housekeeping)",
		evalPage(t, ctx, `Array.from(document.querySelectorAll('#downtimes tbody td')).map(c => c.textContent).join('|')`))
	require.Equal(t, "The whole fleet is killed since 2026-11-24 11:00:00Z: <b id=bold>incident</b> 42",
		evalPage(t, ctx, `document.querySelector('#killswitch').textContent`))
	require.Equal(t, "Tag uk: killed since 2026-11-24 10:00:00Z: storm",
		evalPage(t, ctx, `document.querySelector('#killswitch-tags').textContent`))
	require.Equal(t, "false,false,true", evalPage(t, ctx,
		`[document.querySelector('#downtimes-panel').hidden, document.querySelector('#killswitch-panel').hidden, document.getElementById('injected') === null && document.getElementById('bold') === null].join()`))

	// Forgetting the token shows the form, and the token is gone.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#signout")))
	pollPage(t, ctx, "the form", `!document.querySelector('#login').hidden && document.querySelector('#app').hidden`)
	require.Equal(t, "", evalPage(t, ctx, `sessionStorage.getItem('afterhours-token') || ''`))
}
