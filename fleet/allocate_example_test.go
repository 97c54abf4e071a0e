package fleet_test

import (
	"fmt"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/fleet"
)

func ExampleAllocate() {
	leeds := &afterhours.Site{
		Timezone: "Europe/London",
		BusinessHours: map[string][]string{
			"mon": {"08:00-18:00"}, "tue": {"08:00-18:00"}, "wed": {"08:00-18:00"},
			"thu": {"08:00-18:00"}, "fri": {"08:00-18:00"}, "sat": {"09:00-13:00"},
		},
		Closed: []string{"2026-12-25"},
		Grace:  afterhours.Duration(30 * time.Minute),
	}
	if err := leeds.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	clients := []fleet.Client{
		{ID: "shop-0001", Site: leeds, LAN: "leeds"},
		{ID: "shop-0002", Site: leeds, LAN: "leeds"},
		{ID: "shop-0003", Site: leeds, LAN: "leeds"},
	}
	repo := fleet.Resource{Token: "pkg-repo", Zone: "UTC", Duration: 20 * time.Minute, Buffer: 10 * time.Minute,
		Capacity: 500, LANCapacity: 1}
	year := afterhours.Date{Year: 2026, Month: time.January, Day: 1}
	a, err := fleet.Allocate(clients, repo, year, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Leeds is after hours from 18:30 to 08:00 local time, which is 17:30
	// to 07:00 UTC in summer: UTC bases from 18:30 to 06:40 fit all year.
	// One client of the LAN at a time, spread over that time.
	for _, as := range a.Assigned {
		fmt.Println(as.Client, as.Base)
	}

	// A new shop moves nobody.
	clients = append(clients, fleet.Client{ID: "shop-0004", Site: leeds, LAN: "leeds"})
	b, err := fleet.Allocate(clients, repo, year, a.Bases())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, as := range b.Assigned {
		fmt.Println(as.Client, as.Base, as.Kept)
	}
	// Output:
	// shop-0001 20:32
	// shop-0002 06:30
	// shop-0003 04:27
	// shop-0001 20:32 true
	// shop-0002 06:30 true
	// shop-0003 04:27 true
	// shop-0004 18:46 false
}
