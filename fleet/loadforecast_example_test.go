package fleet_test

import (
	"fmt"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/fleet"
)

func ExampleLoadForecast() {
	kiosk := afterhours.Site{Timezone: "America/New_York"}
	repo := fleet.Resource{Token: "pkg-repo", Duration: 30 * time.Minute}
	var profiles []*afterhours.Profile
	for i, base := range []string{"01:00", "01:20", "01:40"} {
		tok := repo.Entry(base)
		tok.Tasks = []*afterhours.Task{{Name: "fetch", Run: []string{"/usr/lib/agent/fetch"}}}
		p := &afterhours.Profile{Client: fmt.Sprintf("kiosk-%d", i), Site: kiosk, Sharing: []*afterhours.Token{tok}}
		if err := p.Validate(); err != nil {
			fmt.Println(err)
			return
		}
		profiles = append(profiles, p)
	}
	l, err := fleet.LoadForecast(profiles, afterhours.Date{Year: 2026, Month: time.March, Day: 8})
	if err != nil {
		fmt.Println(err)
		return
	}
	pkg := l.Token("pkg-repo")
	fmt.Println(pkg.Holders, "holders, peak", pkg.Peak, "at", pkg.PeakAt.Format("15:04 MST"))
	// Output:
	// 3 holders, peak 2 at 01:20 UTC
}
