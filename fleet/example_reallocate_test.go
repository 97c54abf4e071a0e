package fleet_test

import (
	"fmt"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/fleet"
)

// A yearly reallocation from the previous bases: a client whose base still
// fits keeps it, even when others leave or arrive; a client whose site's
// hours changed so that its base left the windows is placed again, and
// Moved says why; no other client moves.
func ExampleAllocate_previous() {
	site := func(open string) *afterhours.Site {
		s := &afterhours.Site{Timezone: "Europe/London", BusinessHours: map[string][]string{
			"mon": {open}, "tue": {open}, "wed": {open}, "thu": {open}, "fri": {open}, "sat": {open}, "sun": {open}}}
		if err := s.Validate(); err != nil {
			panic(err)
		}
		return s
	}
	shops, late := site("08:00-18:00"), site("08:00-23:00") // late: open until 23:00 from now on
	repo := fleet.Resource{Token: "pkg-repo", Zone: "UTC", Duration: 20 * time.Minute, Buffer: 10 * time.Minute, Capacity: 1}
	year := afterhours.Date{Year: 2027, Month: time.January, Day: 1}
	previous := map[string]string{ // last year's bases; shop-0002 has left
		"shop-0001": "19:00", "shop-0002": "20:00", "shop-0003": "21:00", "shop-0004": "22:00",
	}
	clients := []fleet.Client{
		{ID: "shop-0001", Site: shops},
		{ID: "shop-0003", Site: late},
		{ID: "shop-0004", Site: shops},
		{ID: "shop-0005", Site: shops}, // new
	}
	a, err := fleet.Allocate(clients, repo, year, previous)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, as := range a.Assigned {
		fmt.Printf("%s %s kept=%t moved=%q\n", as.Client, as.Base, as.Kept, as.Moved)
	}
	// Output:
	// shop-0001 19:00 kept=true moved=""
	// shop-0003 23:36 kept=false moved="no-window"
	// shop-0004 22:00 kept=true moved=""
	// shop-0005 01:29 kept=false moved=""
}
