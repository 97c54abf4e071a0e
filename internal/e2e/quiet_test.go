package e2e_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/afterhours-go/afterhours"
)

// The simulation steps the shared clock only when the system is quiet:
// nothing left to do until the clock moves. Three things together say so
// (see [sim.quiet]):
//
//   - every HTTP request is parked: the only ones open are long-polls the
//     server's handler has entered and not yet left ([requests]);
//   - no executor has a run active (a process may be running while every
//     goroutine waits on it);
//   - no goroutine but the caller's is running, runnable or in a system
//     call (the scheduler's metrics, read before and after the look at
//     the runs; see [goroutinesIdle]);
//
// and the activity counter (every clock call, every request's change of
// state) did not move while they were checked: a goroutine that was
// blocked then can only be woken by a channel send of another (none
// ran), a request or a response on the loopback (counted as not parked)
// or a process's exit (counted as active). Timers cannot wake anything:
// every clock is the simulation's, which fires only when it is set. (Real
// time remains in net/http's idle connections, which wake nothing the
// simulation waits for, and in the process layer's polling while a run
// ends, when the run is still active.)

// requests tracks every agent request from the client's RoundTrip until
// its body is closed, and knows which of them are long-polls parked in the
// server's handler.
type requests struct {
	gen *atomic.Int64

	mu     sync.Mutex
	nextID int64
	open   map[int64]bool // id -> parked
}

const reqHeader = "X-E2e-Request"

func newRequests(gen *atomic.Int64) *requests {
	return &requests{gen: gen, open: map[int64]bool{}}
}

// set records a change of request id: opened (start), parked or not,
// or done. A request already done (its round trip failed when the server
// went down) stays done.
func (rq *requests) set(id int64, parked, done bool) {
	rq.gen.Add(1)
	rq.mu.Lock()
	defer rq.mu.Unlock()
	if done {
		delete(rq.open, id)
		return
	}
	if _, ok := rq.open[id]; ok {
		rq.open[id] = parked
	}
}

func (rq *requests) start(id int64) {
	rq.gen.Add(1)
	rq.mu.Lock()
	defer rq.mu.Unlock()
	rq.open[id] = false
}

// busy returns how many requests are open and not parked.
func (rq *requests) busy() int {
	rq.mu.Lock()
	defer rq.mu.Unlock()
	n := 0
	for _, parked := range rq.open {
		if !parked {
			n++
		}
	}
	return n
}

// transport wraps the agents' transport: it numbers each request and
// keeps it open until its body is closed or the round trip fails.
func (rq *requests) transport(base http.RoundTripper) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		rq.mu.Lock()
		rq.nextID++
		id := rq.nextID
		rq.mu.Unlock()
		r = r.Clone(r.Context())
		r.Header.Set(reqHeader, strconv.FormatInt(id, 10))
		rq.start(id)
		resp, err := base.RoundTrip(r)
		if err != nil {
			rq.set(id, false, true)
			return nil, err
		}
		resp.Body = &trackedBody{ReadCloser: resp.Body, done: func() { rq.set(id, false, true) }}
		return resp, nil
	})
}

// handler wraps the server's handler: a long-poll (?wait=) is parked from
// its entry to its exit, when its answer is on its way again.
func (rq *requests) handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.Header.Get(reqHeader), 10, 64)
		poll := err == nil && r.URL.Query().Get("wait") != ""
		if poll {
			rq.set(id, true, false)
			defer rq.set(id, false, false)
		}
		h.ServeHTTP(w, r)
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type trackedBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *trackedBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.done)
	return err
}

// goroutinesIdle reports whether every goroutine but the caller's is
// blocked. It reads the scheduler's metrics (Go 1.26): the caller's P the
// only one running (a goroutine running, an M spinning to steal one, or
// a system goroutine hold a P too), nothing in a run queue, nothing in a
// system call. They are read under the scheduler's lock but not
// atomically with the run queues, which can only change while a P runs:
// with none but the caller's running, the reading is exact. A runtime
// without them falls back on a dump of every goroutine's state, which
// stops the world and costs some 25 ms with the 3,000 goroutines of 200
// agents; busy names what is not idle.
func goroutinesIdle(buf *[]byte) (idle bool, busy string) {
	s := []metrics.Sample{
		{Name: "/sched/goroutines/running:goroutines"},
		{Name: "/sched/goroutines/runnable:goroutines"},
		{Name: "/sched/goroutines/not-in-go:goroutines"},
	}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		running, runnable, sys := s[0].Value.Uint64(), s[1].Value.Uint64(), s[2].Value.Uint64()
		if running <= 1 && runnable == 0 && sys == 0 {
			return true, ""
		}
		return false, fmt.Sprintf("goroutines: %d running, %d runnable, %d in system calls", running, runnable, sys)
	}
	for {
		n := runtime.Stack(*buf, true)
		if n < len(*buf) {
			*buf = (*buf)[:cap(*buf)]
			return scanIdle((*buf)[:n])
		}
		*buf = make([]byte, 2*len(*buf))
	}
}

// scanIdle reads a goroutine dump: the first goroutine is the caller's.
func scanIdle(dump []byte) (bool, string) {
	first := true
	for _, block := range bytes.Split(dump, []byte("\n\n")) {
		line, _, _ := bytes.Cut(block, []byte("\n"))
		if !bytes.HasPrefix(line, []byte("goroutine ")) {
			continue
		}
		if first {
			first = false
			continue
		}
		_, state, ok := bytes.Cut(line, []byte(" ["))
		if !ok {
			continue
		}
		state, _, _ = bytes.Cut(state, []byte("]"))
		state, _, _ = bytes.Cut(state, []byte(","))
		switch string(state) {
		case "running", "runnable", "syscall", "preempted":
			return false, "goroutine busy: " + string(block)
		}
	}
	return true, ""
}

// activeRuns returns how many runs the executors have active, in any
// cycle of their journals (a command runs in the cycle that was current
// when it started, which may have closed since). It reads no clock, so
// that it does not count as activity.
func activeRuns(execs []*afterhours.Executor) int {
	n := 0
	for _, e := range execs {
		for _, cj := range e.Journal() {
			for _, r := range cj.Records {
				if r.State == afterhours.StateActive {
					n++
				}
			}
		}
	}
	return n
}

// waitQuiet polls until check says the system is quiet, or fails after
// the timeout (real time) with what was last seen busy.
func waitQuiet(timeout time.Duration, check func() (bool, string)) error {
	deadline := time.Now().Add(timeout)
	var why string
	pause := 20 * time.Microsecond
	for i := 0; time.Now().Before(deadline); i++ {
		var ok bool
		if ok, why = check(); ok {
			return nil
		}
		if i < 20 {
			runtime.Gosched()
			continue
		}
		// Polling with a deadline, not synchronisation: the pause grows
		// so that the checks do not take the CPU from what they wait for.
		<-time.After(pause)
		pause = min(2*pause, 2*time.Millisecond)
	}
	return fmt.Errorf("not quiet after %v: %s", timeout, why)
}
