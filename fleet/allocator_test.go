package fleet

import (
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

// An Allocator started from clients holds what Allocate returns for them.
func TestNewAllocatorIsAllocate(t *testing.T) {
	for _, pc := range propertyCases {
		t.Run(pc.name, func(t *testing.T) {
			clients := propertyFleet(t, pc)
			y, m, d := pc.from()
			want, err := Allocate(clients, pc.res, date(y, m, d), nil)
			if err != nil {
				t.Fatal(err)
			}
			a, err := NewAllocator(clients, pc.res, date(y, m, d), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Allocation(); !reflect.DeepEqual(got, want) {
				t.Fatal("NewAllocator holds another allocation than Allocate returns")
			}
			if a.Len() != len(clients) {
				t.Fatalf("Len %d, want %d", a.Len(), len(clients))
			}
		})
	}
}

func propertyFleet(t *testing.T, pc propertyCase) []Client {
	zones, shapes := pc.zones, testShapes
	if zones == nil {
		zones = testZones
	} else {
		shapes = []shape{testShapes[4], testShapes[3], testShapes[0]}
	}
	return testFleet(t, pc.seed, pc.sites, pc.clients, zones, shapes)
}

// Placing clients one at a time moves no client held, gives each the base
// Allocate gives it beside the others' bases, and keeps the windows and
// capacities; removing clients moves nobody and gives the capacity freed
// to the clients that waited for it, as Allocate would.
func TestAllocatorPlaceRemove(t *testing.T) {
	for _, pc := range propertyCases {
		t.Run(pc.name, func(t *testing.T) {
			t.Parallel()
			all := propertyFleet(t, pc)
			y, m, d := pc.from()
			from := date(y, m, d)
			held, joining := all[:len(all)*4/5], all[len(all)*4/5:]
			a, err := NewAllocator(held, pc.res, from, nil)
			if err != nil {
				t.Fatal(err)
			}
			clients := slices.Clone(held)
			for i, c := range joining {
				before := a.Allocation().Bases()
				got := a.Place([]Client{c}, nil)
				clients = append(clients, c)
				after := a.Allocation()
				afterBases := after.Bases()
				for id, base := range before {
					if afterBases[id] != base {
						t.Fatalf("placing %s moved %s from %s to %s", c.ID, id, base, afterBases[id])
					}
				}
				if i%20 != 0 {
					continue
				}
				want, err := Allocate(clients, pc.res, from, before)
				if err != nil {
					t.Fatal(err)
				}
				if !maps.Equal(want.Bases(), after.Bases()) {
					t.Fatalf("after placing %s: the bases differ from Allocate's given the previous ones", c.ID)
				}
				if len(got.Assigned)+len(got.Unplaced) != 1 {
					t.Fatalf("Place returned %d outcomes for one client", len(got.Assigned)+len(got.Unplaced))
				}
				if b, ok := want.Bases()[c.ID]; ok && (len(got.Assigned) != 1 || got.Assigned[0].Base != b) {
					t.Fatalf("%s: Place says %+v, Allocate %s", c.ID, got, b)
				}
			}
			full := a.Allocation()
			checkAllocation(t, clients, full, pc.wantFull)

			rng := rand.New(rand.NewPCG(pc.seed, 9))
			for range 12 {
				k := rng.IntN(len(clients))
				gone := clients[k]
				clients = slices.Delete(clients, k, k+1)
				before := a.Allocation().Bases()
				got := a.Remove(gone.ID)
				after := a.Allocation()
				afterBases := after.Bases()
				for id, base := range before {
					if id != gone.ID && afterBases[id] != base {
						t.Fatalf("removing %s moved %s from %s to %s", gone.ID, id, base, afterBases[id])
					}
				}
				if _, ok := afterBases[gone.ID]; ok {
					t.Fatalf("%s still held", gone.ID)
				}
				want, err := Allocate(clients, pc.res, from, before)
				if err != nil {
					t.Fatal(err)
				}
				if !maps.Equal(want.Bases(), after.Bases()) {
					t.Fatalf("after removing %s: the bases differ from Allocate's given the previous ones", gone.ID)
				}
				for _, as := range got.Assigned {
					if _, ok := before[as.Client]; ok {
						t.Fatalf("Remove reports %s, which had a base", as.Client)
					}
				}
			}
			if a.Len() != len(clients) {
				t.Fatalf("Len %d, want %d", a.Len(), len(clients))
			}
			checkAllocation(t, clients, a.Allocation(), false)
		})
	}
}

// A client placed again under its ID (its LAN changed) keeps its base when
// it still fits; IDs given twice are unplaced; an ID not held is ignored.
func TestAllocatorReplace(t *testing.T) {
	clients := testFleet(t, 11, 10, 200, testZones, testShapes)
	res := Resource{Token: "pkg-repo", Duration: 20 * time.Minute, Buffer: 10 * time.Minute, Capacity: 30, LANCapacity: 2}
	a, err := NewAllocator(clients, res, date(2026, 1, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	first := a.Allocation().Assigned[0]
	var c Client
	for _, cl := range clients {
		if cl.ID == first.Client {
			c = cl
		}
	}
	c.LAN = "a-new-lan"
	got := a.Place([]Client{c}, nil)
	if len(got.Assigned) != 1 || got.Assigned[0].Base != first.Base || !got.Assigned[0].Kept {
		t.Fatalf("replaced %s: %+v, want base %s kept", c.ID, got, first.Base)
	}
	if a.Len() != len(clients) {
		t.Fatalf("Len %d after a replacement, want %d", a.Len(), len(clients))
	}
	twice := []Client{{ID: "twin", Site: c.Site}, {ID: "twin", Site: c.Site}}
	got = a.Place(twice, nil)
	if len(got.Unplaced) != 2 || got.Unplaced[0].Reason != ReasonDuplicate {
		t.Fatalf("an ID given twice: %+v", got)
	}
	if got := a.Remove("no-such-client"); len(got.Assigned)+len(got.Unplaced) != 0 {
		t.Fatalf("removing a client not held: %+v", got)
	}
	a.Remove("twin")
	if a.Len() != len(clients) {
		t.Fatalf("Len %d after removing the twins, want %d", a.Len(), len(clients))
	}
	if from, to := a.Period(); from != date(2026, 1, 1) || to != date(2027, 1, 1) || a.Resource() != res {
		t.Fatalf("Period %v to %v, Resource %+v", from, to, a.Resource())
	}
	if _, err := NewAllocator(nil, Resource{}, date(2026, 1, 1), nil); err == nil {
		t.Fatal("no error for an invalid resource")
	}
}

// A LAN over sites of several zones keeps its zones right as members leave
// and join: a member of a zone the LAN lost and regained is counted with
// it, and the bases are Allocate's.
func TestAllocatorLANAcrossZones(t *testing.T) {
	london := mustSite(t, "Europe/London", officeShape, nil)
	kathmandu := mustSite(t, "Asia/Kathmandu", officeShape, nil)
	res := Resource{Token: "lan-update", Zone: "site", Duration: 30 * time.Minute, LANCapacity: 1}
	from := date(2026, 3, 1)
	clients := []Client{
		{ID: "a", Site: london, LAN: "wan"},
		{ID: "b", Site: london, LAN: "wan"},
		{ID: "c", Site: kathmandu, LAN: "wan"},
	}
	a, err := NewAllocator(clients, res, from, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.Remove("c") // the last to join: the LAN is in London only now
	clients = clients[:2]
	for _, c := range []Client{{ID: "d", Site: kathmandu, LAN: "wan"}, {ID: "e", Site: london, LAN: "wan"}, {ID: "f", Site: kathmandu, LAN: "wan"}} {
		before := a.Allocation().Bases()
		a.Place([]Client{c}, nil)
		clients = append(clients, c)
		want, err := Allocate(clients, res, from, before)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Allocation(); !maps.Equal(got.Bases(), want.Bases()) {
			t.Fatalf("after placing %s: %v, Allocate gives %v", c.ID, got.Bases(), want.Bases())
		}
	}
	checkAllocation(t, clients, a.Allocation(), false)
}
