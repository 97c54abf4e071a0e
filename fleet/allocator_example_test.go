package fleet_test

import (
	"fmt"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/fleet"
)

func ExampleAllocator() {
	leeds := &afterhours.Site{
		Timezone: "Europe/London",
		BusinessHours: map[string][]string{
			"mon": {"08:00-18:00"}, "tue": {"08:00-18:00"}, "wed": {"08:00-18:00"},
			"thu": {"08:00-18:00"}, "fri": {"08:00-18:00"}, "sat": {"09:00-13:00"},
		},
		Grace: afterhours.Duration(30 * time.Minute),
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
	// One client of the fleet at a time: the nights hold a few dozen
	// slots of 20 minutes.
	repo := fleet.Resource{Token: "pkg-repo", Duration: 20 * time.Minute, Capacity: 1}
	a, err := fleet.NewAllocator(clients, repo, afterhours.Date{Year: 2026, Month: time.January, Day: 1}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Joining shops are placed beside the others, who do not move, until
	// the nights are full.
	for i := 4; i <= 40; i++ {
		got := a.Place([]fleet.Client{{ID: fmt.Sprintf("shop-%04d", i), Site: leeds, LAN: "leeds"}}, nil)
		if i == 4 {
			fmt.Println(got.Assigned[0].Client, got.Assigned[0].Base)
		}
	}
	all := a.Allocation()
	fmt.Println(len(all.Assigned), "placed,", len(all.Unplaced), "waiting:", all.Unplaced[0].Client, all.Unplaced[0].Reason)

	// A shop that leaves frees its time for shops that waited.
	for _, as := range a.Remove("shop-0002").Assigned {
		fmt.Println(as.Client, as.Base)
	}
	fmt.Println(a.Len(), "held")
	// Output:
	// shop-0004 20:19
	// 31 placed, 9 waiting: shop-0032 capacity
	// shop-0032 03:25
	// shop-0033 03:45
	// 39 held
}
