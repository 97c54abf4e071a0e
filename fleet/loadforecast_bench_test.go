package fleet

import (
	"fmt"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
)

func BenchmarkLoadForecast(b *testing.B) {
	const n = 100_000
	clients := benchFleet(b, n, 500)
	res := Resource{Token: "pkg-repo", Duration: 20 * time.Minute, Buffer: 10 * time.Minute, Capacity: n / 25, LANCapacity: 4}
	a, err := Allocate(clients, res, date(2026, 1, 1), nil)
	if err != nil {
		b.Fatal(err)
	}
	// Every client's profile: the placed with their base, the others (whose
	// sites have no base that fits all year) at bases round the clock, void
	// on some days.
	bases := a.Bases()
	ps := make([]*afterhours.Profile, 0, n)
	for i, c := range clients {
		base, ok := bases[c.ID]
		if !ok {
			base = baseNames[i*7%minutesPerDay]
		}
		tok := res.Entry(base)
		tok.Tasks = []*afterhours.Task{{Name: "fetch", Run: []string{"/usr/lib/agent/fetch"}}}
		p := &afterhours.Profile{Client: c.ID, Site: *c.Site, Sharing: []*afterhours.Token{tok}}
		if err := p.Validate(); err != nil {
			b.Fatal(err)
		}
		ps = append(ps, p)
	}
	b.Run(fmt.Sprintf("profiles=%d", len(ps)), func(b *testing.B) {
		var l *Load
		b.ReportAllocs()
		for b.Loop() {
			if l, err = LoadForecast(ps, date(2026, 3, 29)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(l.Token("pkg-repo").Peak), "peak")
		b.ReportMetric(float64(l.Token("pkg-repo").Void), "void")
	})
}
