package server

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
)

var benchZones = []string{"Europe/London", "America/Chicago", "Asia/Kolkata", "Australia/Sydney", "UTC", "America/Sao_Paulo"}

// benchConfig returns a config of n sites in six zones, with three shapes
// of business hours, and a fleet-wide token.
func benchConfig(nSites, nClients int) []byte {
	hours := []map[string][]string{
		{"mon": {"08:00-18:00"}, "tue": {"08:00-18:00"}, "wed": {"08:00-18:00"}, "thu": {"08:00-18:00"}, "fri": {"08:00-18:00"}},
		{"mon": {"07:00-22:00"}, "tue": {"07:00-22:00"}, "wed": {"07:00-22:00"}, "thu": {"07:00-22:00"}, "fri": {"07:00-22:00"}, "sat": {"07:00-22:00"}, "sun": {"07:00-22:00"}},
		{"mon": {"09:00-17:30"}, "tue": {"09:00-17:30"}, "wed": {"09:00-17:30"}, "thu": {"09:00-17:30"}, "fri": {"09:00-17:30"}, "sat": {"10:00-16:00"}},
	}
	type site struct {
		Name          string              `json:"name"`
		Timezone      string              `json:"timezone"`
		Tags          []string            `json:"tags"`
		BusinessHours map[string][]string `json:"business_hours"`
		Grace         string              `json:"grace"`
	}
	cfg := map[string]any{
		"sharing": []map[string]any{{"token": "pkg-repo", "duration": "20m", "buffer": "10m", "uses": []string{"network"},
			"capacity": nClients / 25, "lan_capacity": 4, "tasks": []map[string]any{{"name": "fetch", "run": []string{"/x"}}}}},
		"sets": []map[string]any{{"name": "all", "housekeeping": []map[string]any{{"name": "rotate", "run": []string{"/x"}}}}},
	}
	var sites []site
	for i := range nSites {
		sites = append(sites, site{Name: fmt.Sprintf("site-%03d", i), Timezone: benchZones[i%len(benchZones)],
			Tags: []string{"retail"}, BusinessHours: hours[(i/len(benchZones)+i)%len(hours)], Grace: "30m"})
	}
	cfg["sites"] = sites
	data, _ := json.Marshal(cfg)
	return data
}

func heapBytes() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkFleetPlaceOne places one more client in a fleet of many (and,
// off the clock, removes it again): the placement, with the fleet's
// fleet.Allocators, and the store's transaction. Sites hold 200 clients
// each, in LANs of 20. heap-MiB is the memory the fleet holds, measured
// after placing the clients. The sub-benchmark part=placement times the
// placement alone: the rest of a Register is the store's transaction
// (and, for bolt, its fsync).
func BenchmarkFleetPlaceOne(b *testing.B) {
	const nClients, nSites = 100_000, 500
	for _, storeName := range []string{"mem", "bolt", "placement"} {
		name := fmt.Sprintf("clients=%d/sites=%d/store=%s", nClients, nSites, storeName)
		if storeName == "placement" {
			name = fmt.Sprintf("clients=%d/sites=%d/part=placement", nClients, nSites)
		}
		b.Run(name, func(b *testing.B) {
			var store Store = NewMemStore()
			if storeName == "bolt" {
				s, err := OpenBoltStore(filepath.Join(b.TempDir(), "fleet.db"))
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				store = s
			}
			before := heapBytes()
			f := testFleet(b, store, string(benchConfig(nSites, nClients)))
			clients := make([]Client, nClients)
			for i := range clients {
				si := (i * 7919) % nSites
				clients[i] = Client{ID: fmt.Sprintf("client-%07d", i), Site: fmt.Sprintf("site-%03d", si), LAN: fmt.Sprintf("lan-%d-%d", si, (i/nSites)%10)}
			}
			if _, err := f.Register(clients...); err != nil {
				b.Fatal(err)
			}
			held := heapBytes() - before
			unplaced := 0
			for _, c := range f.Clients() {
				if c.Placements["pkg-repo"].Unplaced != "" {
					unplaced++
				}
			}
			one := Client{ID: "client-new", Site: "site-042", LAN: "lan-42-0"}
			b.ReportAllocs()
			if storeName == "placement" {
				f.wmu.Lock()
				defer f.wmu.Unlock()
				changed := map[string]*clientRecord{one.ID: {Client: one}}
				for b.Loop() {
					next, err := f.placeJoining(changed)
					if err != nil || len(next[one.ID]) == 0 {
						b.Fatal("not placed: ", err)
					}
					b.StopTimer()
					// What committing and removing the client would do.
					for _, al := range f.allocs.byToken {
						al.Remove(one.ID)
					}
					f.allocs.clients--
					b.StartTimer()
				}
			} else {
				for b.Loop() {
					if _, err := f.Register(one); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if err := f.Remove(one.ID); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(held)/(1<<20), "heap-MiB")
			b.ReportMetric(float64(unplaced), "unplaced")
			runtime.KeepAlive(f)
		})
	}
}
