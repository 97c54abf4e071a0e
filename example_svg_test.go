package afterhours_test

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"time"

	"github.com/afterhours-go/afterhours"
)

// A program reads a drawing back: the root element carries the axis' scale,
// and each step's bar its task, lane and instants, so that where a bar must
// lie can be computed from the plan.
func ExamplePlan_WriteSVG() {
	p, err := afterhours.ParseProfile([]byte(shop))
	if err != nil {
		fmt.Println(err)
		return
	}
	plan, err := afterhours.PlanAt(p, time.Date(2026, 11, 24, 21, 0, 0, 0, time.UTC))
	if err != nil {
		fmt.Println(err)
		return
	}
	var b bytes.Buffer
	if err := plan.WriteSVG(&b); err != nil {
		fmt.Println(err)
		return
	}

	type element struct {
		XMLName xml.Name
		Class   string    `xml:"class,attr"`
		Task    string    `xml:"data-task,attr"`
		Lane    string    `xml:"data-lane,attr"`
		Start   string    `xml:"data-start,attr"`
		X       string    `xml:"x,attr"`
		Width   string    `xml:"width,attr"`
		From    string    `xml:"data-from,attr"`
		X0      string    `xml:"data-x0,attr"`
		PPM     string    `xml:"data-px-per-minute,attr"`
		Inner   []element `xml:",any"`
	}
	var root element
	if err := xml.Unmarshal(b.Bytes(), &root); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("axis from %s, x0 %s, %s px a minute\n", root.From, root.X0, root.PPM)
	x0, _ := strconv.ParseFloat(root.X0, 64)
	ppm, _ := strconv.ParseFloat(root.PPM, 64)
	from, _ := time.Parse(time.RFC3339, root.From)
	var walk func(e element)
	walk = func(e element) {
		if e.Class == "step" {
			start, _ := time.Parse(time.RFC3339, e.Start)
			fmt.Printf("%-15s lane %s x %-6s width %-4s (start on the axis: %g)\n",
				e.Task, e.Lane, e.X, e.Width, x0+start.Sub(from).Minutes()*ppm)
		}
		for _, c := range e.Inner {
			walk(c)
		}
	}
	walk(root)
	// Output:
	// axis from 2026-11-24T17:00:00Z, x0 196, 1 px a minute
	// rotate-logs     lane 1 x 436    width 2    (start on the axis: 436)
	// vacuum-db       lane 1 x 438    width 20   (start on the axis: 438)
	// sync-catalogue  lane 1 x 736    width 360  (start on the axis: 736)
}
