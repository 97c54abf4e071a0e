package etcd_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/etcd"
	"github.com/afterhours-go/afterhours/etcd/etcdtest"
	"github.com/afterhours-go/afterhours/server"
)

// fixedLeadership is a server.Leadership that does not change.
type fixedLeadership struct {
	self bool
	url  string
}

func (l fixedLeadership) Leader() (bool, string)   { return l.self, l.url }
func (l fixedLeadership) Changed() <-chan struct{} { return nil }

// BenchmarkReplicaChange measures how long a replica takes to serve a
// change made on another: two fleets on two etcd stores (two clients) of
// one prefix, the leader changes a set's task (every client's profile
// changes), and the follower's long-poll of a client's profile returns the
// new ETag. It reports the latency's median and 99th percentile, from the
// return of the leader's change to the follower's answer.
func BenchmarkReplicaChange(b *testing.B) {
	for _, clients := range []int{100, 1000} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) { benchReplicaChange(b, clients) })
	}
}

func benchReplicaChange(b *testing.B, clients int) {
	prefix := etcdtest.Prefix(b)
	open := func(lead server.Leadership) *server.Fleet {
		s, err := etcd.NewStore(etcdtest.Client(b), prefix)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		f, err := server.OpenFleet(s, server.WithLeadership(lead))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		return f
	}
	leader := open(fixedLeadership{self: true})
	if err := leader.SetConfig([]byte(limitsConfig)); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < clients; i += 100 {
		var batch []server.Client
		for j := i; j < min(i+100, clients); j++ {
			batch = append(batch, server.Client{ID: fmt.Sprintf("shop-%05d", j), Site: "leeds"})
		}
		if _, err := leader.Register(batch...); err != nil {
			b.Fatal(err)
		}
	}
	follower := open(fixedLeadership{url: "http://leader:8080"})
	const watched = "shop-00000"
	ctx := context.Background()
	// The follower serves the fleet as it is before the first change.
	_, lead, err := leader.Profile(watched)
	if err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		_, tag, err := follower.Profile(watched)
		if err == nil && tag == lead {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the follower never served the leader's profile: %v", err)
		}
		if err == nil {
			_, _, _, err = follower.WaitProfile(ctx, watched, tag, time.Second)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	var lat []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		_, before, err := follower.Profile(watched)
		if err != nil {
			b.Fatal(err)
		}
		served := make(chan time.Time, 1)
		errs := make(chan error, 1)
		go func() {
			_, tag, changed, err := follower.WaitProfile(ctx, watched, before, time.Minute)
			switch {
			case err != nil:
				errs <- err
			case !changed || tag == before:
				errs <- fmt.Errorf("no change within a minute")
			default:
				served <- time.Now()
			}
		}()
		set := fmt.Sprintf(`{"name": "base", "housekeeping": [{"name": "rotate-logs", "run": ["/usr/sbin/logrotate", "--round=%d"], "estimate": "2m"}]}`, i)
		if err := leader.PutSet("base", []byte(set)); err != nil {
			b.Fatal(err)
		}
		changed := time.Now()
		select {
		case at := <-served:
			lat = append(lat, max(0, at.Sub(changed)))
		case err := <-errs:
			b.Fatal(err)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
