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

// BenchmarkStoreUpdate measures transactions of one put each, the shape of
// a report or an acknowledgement, through one replica.
func BenchmarkStoreUpdate(b *testing.B) {
	s, err := etcd.NewStore(etcdtest.Client(b), etcdtest.Prefix(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	value := make([]byte, 512)
	b.ResetTimer()
	for i := range b.N {
		if err := s.Update(func(tx server.Tx) error {
			return tx.Put(fmt.Sprintf("reports/c-%d", i%1000), value)
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "txn/s")
}

// BenchmarkWatchLatency measures how long a change committed by one
// replica takes to reach another replica's watch (two clients, one etcd),
// with its p50 and p99.
func BenchmarkWatchLatency(b *testing.B) {
	prefix := etcdtest.Prefix(b)
	a, err := etcd.NewStore(etcdtest.Client(b), prefix)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	other, err := etcd.NewStore(etcdtest.Client(b), prefix)
	if err != nil {
		b.Fatal(err)
	}
	defer other.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seen := other.Watch(ctx, "config")
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		if err := a.Update(func(tx server.Tx) error { return tx.Put("config", []byte(fmt.Sprint(i))) }); err != nil {
			b.Fatal(err)
		}
		<-seen
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
