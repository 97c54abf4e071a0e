package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// balancer is a round-robin HTTP load balancer in front of the replicas,
// as a real one would be: a backend that refuses connections is skipped
// (and left alone for a second), and the request goes to the next; a
// request that reached a backend is never sent again (it may have changed
// something), its failure is the client's 502.
type balancer struct {
	backends []string // base URLs
	next     atomic.Uint64
	downMu   sync.Mutex
	down     map[string]time.Time
	tr       *http.Transport
}

func newBalancer(backends []string) *balancer {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4096
	tr.MaxIdleConns = 0
	return &balancer{backends: backends, down: map[string]time.Time{}, tr: tr}
}

func (b *balancer) isDown(be string) bool {
	b.downMu.Lock()
	defer b.downMu.Unlock()
	return time.Now().Before(b.down[be])
}

func (b *balancer) markDown(be string) {
	b.downMu.Lock()
	defer b.downMu.Unlock()
	b.down[be] = time.Now().Add(time.Second)
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	first := b.next.Add(1)
	for i := range uint64(len(b.backends)) {
		be := b.backends[(first+i)%uint64(len(b.backends))]
		if b.isDown(be) {
			continue
		}
		req, err := http.NewRequestWithContext(r.Context(), r.Method, be+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := b.tr.RoundTrip(req)
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			b.markDown(be)
			continue
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
		resp.Body.Close()
		return
	}
	http.Error(w, "no backend", http.StatusServiceUnavailable)
}

// simAgent is a lightweight agent: a direct HTTP client of the agent API
// (through the balancer) that enrols, long-polls its profile and its
// commands, "runs" each command once (deduplicating by ID, as the
// executor's journal does) and acknowledges it, and posts reports. It
// records what a check needs: the ETag it holds, how often each command
// ran and was delivered, the deliveries after an acknowledgement the server
// had answered 200 (which would run a command twice on an agent that did
// not deduplicate), and the reports the server stored.
type simAgent struct {
	id, token string
	c         *http.Client
	base      string

	mu        sync.Mutex
	etag      string
	ran       map[string]int
	delivered map[string]int
	ackStored map[string]bool
	afterAck  []string
	stored    map[string]int64 // cycle: highest seq the server answered "stored" or "duplicate"
}

func newSimAgent(c *http.Client, base, id string) *simAgent {
	return &simAgent{id: id, c: c, base: base, ran: map[string]int{}, delivered: map[string]int{},
		ackStored: map[string]bool{}, stored: map[string]int64{}}
}

// do makes one request; it returns the status, the ETag header and the
// body, or an error.
func (a *simAgent) do(ctx context.Context, method, path, token, body string, hdr ...string) (int, string, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return 0, "", nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := a.c.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("ETag"), data, err
}

// pause waits a random 20 to 120 ms before a retry, or until ctx is done.
func pause(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(time.Duration(20+rand.IntN(100)) * time.Millisecond):
	}
}

// retry makes the request until the server answers want, or ctx ends.
func (a *simAgent) retry(ctx context.Context, want int, method, path, token, body string) ([]byte, error) {
	for {
		st, _, data, err := a.do(ctx, method, path, token, body)
		if err == nil && st == want {
			return data, nil
		}
		// A client error is final, but for those a failover may cause.
		final := err == nil && st >= 400 && st < 500 && st != http.StatusConflict && st != http.StatusTooManyRequests && st != http.StatusRequestTimeout
		if final || ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %d %s %v", method, path, st, data, err)
		}
		pause(ctx)
	}
}

// errCodeUsed is enrol's error when the server refuses the code as unknown
// or used: when the answer to an enrolment that succeeded was lost (its
// replica died), the code is spent, and the operator registers the client
// again for a new one, as with a real agent.
var errCodeUsed = errors.New("enrolment code refused")

// enrol exchanges code for the client's token.
func (a *simAgent) enrol(ctx context.Context, code string) error {
	data, err := a.retry(ctx, http.StatusOK, "POST", "/v1/agent/enroll", "", `{"code":"`+code+`"}`)
	if err != nil {
		if strings.Contains(err.Error(), ": 401 ") {
			return fmt.Errorf("%w: %v", errCodeUsed, err)
		}
		return err
	}
	var e struct{ Client, Token string }
	if err := json.Unmarshal(data, &e); err != nil || e.Client != a.id {
		return fmt.Errorf("enrolment of %s: %s", a.id, data)
	}
	a.mu.Lock()
	a.token = e.Token
	a.mu.Unlock()
	return nil
}

// Etag returns the ETag of the profile the agent holds.
func (a *simAgent) ETag() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.etag
}

// pollProfile long-polls the profile until ctx ends.
func (a *simAgent) pollProfile(ctx context.Context) {
	for ctx.Err() == nil {
		path := "/v1/agent/clients/" + a.id + "/profile"
		etag := a.ETag()
		if etag != "" {
			path += "?wait=20s"
		}
		st, tag, _, err := a.do(ctx, "GET", path, a.token, "", "If-None-Match", etag)
		switch {
		case err == nil && st == http.StatusOK:
			a.mu.Lock()
			a.etag = tag
			a.mu.Unlock()
		case err == nil && st == http.StatusNotModified:
		default:
			pause(ctx)
		}
	}
}

// pollCommands long-polls the commands until ctx ends, running each once
// and acknowledging it.
func (a *simAgent) pollCommands(ctx context.Context) {
	for ctx.Err() == nil {
		st, _, data, err := a.do(ctx, "GET", "/v1/agent/clients/"+a.id+"/commands?wait=20s", a.token, "")
		if err != nil || st != http.StatusOK {
			pause(ctx)
			continue
		}
		var cmds []struct{ ID string }
		if err := json.Unmarshal(data, &cmds); err != nil {
			pause(ctx)
			continue
		}
		for _, c := range cmds {
			a.mu.Lock()
			a.delivered[c.ID]++
			if a.ackStored[c.ID] {
				a.afterAck = append(a.afterAck, c.ID)
			}
			if a.ran[c.ID] == 0 { // the journal's deduplication by ID
				a.ran[c.ID]++
			}
			a.mu.Unlock()
			st, _, _, err := a.do(ctx, "POST", "/v1/agent/clients/"+a.id+"/commands/"+c.ID+"/ack", a.token, `{"result":"accepted"}`)
			if err == nil && st == http.StatusOK {
				a.mu.Lock()
				a.ackStored[c.ID] = true
				a.mu.Unlock()
			}
			// Otherwise the command comes again, and is acknowledged then.
		}
	}
}

// report posts the report of cycle with seq until the server answers.
func (a *simAgent) report(ctx context.Context, cycle string, seq int64) error {
	body := fmt.Sprintf(`{"cycle":%q,"seq":%d,"counts":{"completed":%d}}`, cycle, seq, seq)
	data, err := a.retry(ctx, http.StatusOK, "POST", "/v1/agent/clients/"+a.id+"/reports", a.token, body)
	if err != nil {
		return err
	}
	var res struct{ Result string }
	json.Unmarshal(data, &res)
	if res.Result != "stored" && res.Result != "duplicate" {
		return fmt.Errorf("report %s %s/%d: %s", a.id, cycle, seq, data)
	}
	a.mu.Lock()
	a.stored[cycle] = max(a.stored[cycle], seq)
	a.mu.Unlock()
	return nil
}
