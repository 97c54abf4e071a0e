package afterhours

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/afterhours-go/afterhours/internal/browsertest"
)

// svgScreenshot is the picture of the example's drawing as Chromium renders
// it, rewritten with -update.
var svgScreenshot = filepath.Join("testdata", "plan.svg.png")

// browserBar is a step's bar as the browser lays it out, in CSS pixels.
type browserBar struct {
	Task   string  `json:"task"`
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
}

const browserBarsJS = `Array.from(document.querySelectorAll('rect.step')).map(r => {
	const b = r.getBoundingClientRect();
	return {task: r.getAttribute('data-task'), x: b.x, y: b.y, width: b.width, height: b.height};
})`

// TestWriteSVGInChromium renders each drawing in headless Chromium and
// reads back where the browser put each step's bar: its x and width must be
// the plan's start and end on the axis, within half a pixel, and the pixels
// of the screenshot inside it must have the colour of its kind.
func TestWriteSVGInChromium(t *testing.T) {
	ctx := browsertest.New(t)

	drawings := map[string][]byte{}
	plans := map[string]*Plan{}
	for _, tc := range svgCases {
		_, plan := svgCasePlan(t, tc.profile, tc.now)
		var b bytes.Buffer
		require.NoError(t, plan.WriteSVG(&b))
		drawings["/"+tc.name+".svg"], plans[tc.name] = b.Bytes(), plan
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, ok := drawings[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/svg+xml")
		_, _ = w.Write(data)
	}))
	defer srv.Close()

	for _, tc := range svgCases {
		t.Run(tc.name, func(t *testing.T) {
			plan := plans[tc.name]
			root, ax := parseSVG(t, drawings["/"+tc.name+".svg"])
			width, height := int(root.num(t, "width")), int(root.num(t, "height"))
			require.NoError(t, chromedp.Do(ctx,
				chromedp.EmulateViewport(int64(width), int64(height)),
				chromedp.Navigate(srv.URL+"/"+tc.name+".svg"),
			))
			bars, err := chromedp.Run(ctx, chromedp.Evaluate[[]browserBar](browserBarsJS))
			require.NoError(t, err)
			shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
			require.NoError(t, err)
			require.Len(t, bars, len(plan.Steps), "step bars in the rendered drawing")
			img, err := png.Decode(bytes.NewReader(shot))
			require.NoError(t, err)
			require.Equal(t, image.Pt(width, height), img.Bounds().Size(), "screenshot size")

			byTask := map[string]browserBar{}
			for _, b := range bars {
				byTask[b.Task] = b
			}
			for _, s := range plan.Steps {
				b, ok := byTask[s.Task.Name]
				require.True(t, ok, "no rendered bar for %s", s.Task.Name)
				x := ax.x0 + s.Start.Sub(ax.from).Minutes()*ax.ppm
				w := s.End.Sub(s.Start).Minutes() * ax.ppm
				require.InDelta(t, x, b.X, 0.5, "x of %s", s.Task.Name)
				require.InDelta(t, w, b.Width, 0.5, "width of %s", s.Task.Name)
				if b.Width >= 4 {
					// The bar's top left corner, clear of its label and of the
					// hairline at its start.
					got := img.At(int(b.X+2.5), int(b.Y+2.5))
					requireColour(t, svgKindFill(s.Task.Kind()), got, "pixel of %s's bar", s.Task.Name)
				}
			}
			if tc.name == "example" && *update {
				require.NoError(t, os.WriteFile(svgScreenshot, shot, 0o644))
			}
		})
	}
}

// requireColour checks that a pixel has the colour "#rrggbb", give or take
// anti-aliasing.
func requireColour(t *testing.T, want string, got interface{ RGBA() (r, g, b, a uint32) }, msgAndArgs ...any) {
	t.Helper()
	v, err := strconv.ParseUint(want[1:], 16, 32)
	require.NoError(t, err)
	r, g, b, _ := got.RGBA()
	wr, wg, wb := uint32(v>>16&0xff), uint32(v>>8&0xff), uint32(v&0xff)
	dist := func(a, b uint32) uint32 {
		if a > b {
			return a - b
		}
		return b - a
	}
	if dist(r>>8, wr) > 24 || dist(g>>8, wg) > 24 || dist(b>>8, wb) > 24 {
		require.Fail(t, fmt.Sprintf("colour #%02x%02x%02x, want %s", r>>8, g>>8, b>>8, want), msgAndArgs...)
	}
}
