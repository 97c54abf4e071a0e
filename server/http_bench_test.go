package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkProfileFetch fetches profiles over HTTP (loopback, keep-alive)
// with the ETag the agent has, so every answer is a 304: the agents'
// steady state. It reports fetches per second and the p99 latency; the
// client and the server share the machine's cores.
func BenchmarkProfileFetch(b *testing.B) {
	const nClients = 1000
	b.Run(fmt.Sprintf("clients=%d/etag=hit", nClients), func(b *testing.B) { benchProfileFetch(b, nClients) })
}

func benchProfileFetch(b *testing.B, nClients int) {
	h, err := New(NewMemStore(), WithClock(fixedClock()))
	b.Cleanup(func() { h.Close() })
	if err != nil {
		b.Fatal(err)
	}
	if err := h.Fleet().SetConfig([]byte(testConfig)); err != nil {
		b.Fatal(err)
	}
	clients := make([]Client, nClients)
	for i := range clients {
		clients[i] = Client{ID: fmt.Sprintf("c-%04d", i), Site: []string{"leeds", "austin"}[i%2], LAN: fmt.Sprintf("lan-%d", i%50)}
	}
	codes, err := h.Fleet().Register(clients...)
	if err != nil {
		b.Fatal(err)
	}
	type agent struct{ id, token, etag string }
	agents := make([]agent, nClients)
	for i, code := range codes {
		id, token, err := h.Fleet().Enroll(code)
		if err != nil {
			b.Fatal(err)
		}
		_, etag, err := h.Fleet().Profile(id)
		if err != nil {
			b.Fatal(err)
		}
		agents[i] = agent{id, token, etag}
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var next atomic.Int64
	var mu sync.Mutex
	var latencies []time.Duration
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			a := agents[int(next.Add(1))%nClients]
			req, _ := http.NewRequest("GET", srv.URL+"/v1/agent/clients/"+a.id+"/profile", nil)
			req.Header.Set("Authorization", "Bearer "+a.token)
			req.Header.Set("If-None-Match", a.etag)
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			mine = append(mine, time.Since(t0))
			if resp.StatusCode != http.StatusNotModified {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
		mu.Lock()
		latencies = append(latencies, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(latencies) == 0 {
		return
	}
	slices.Sort(latencies)
	b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "fetches/s")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
}
