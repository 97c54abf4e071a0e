package fleet

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/afterhours-go/afterhours/internal/atomicfile"
)

// The claims log is the durable, append-only record of a rollout run that
// has a status file: a target is claimed in it before its first action
// runs, the first of its phases that is not idempotent is marked in it
// before that phase runs, and the target's result is written to it when
// the target ends; each of these is on disk (written and fsynced) before
// the rollout goes on. The status file is a periodic snapshot; the log is
// what makes a resume exact, so that no target runs twice on its own.
//
// The log is JSON lines beside the status file, named after it with
// ClaimsSuffix. Its first line names the run (Status.RunID), so that a log
// left by another run of the same status file is never read as this one's.
// Entries that arrive together share one write and one fsync (group
// commit): a thousand targets starting at once cost a few fsyncs, not a
// thousand. A crash in the middle of a write leaves a torn last line,
// which a reader drops: nothing in it was acknowledged, so no action ran
// on the strength of it.

// ClaimsSuffix is appended to the status file's path to name the durable
// record of claims and results that a rollout keeps beside its status file
// (see [WithStatusFile]).
const ClaimsSuffix = ".claims"

// errClaimsClosed is the error of an append after the log was closed: only
// a goroutine that Run abandoned still appends then.
var errClaimsClosed = errors.New("claims log closed")

// Kinds of claims log entries.
const (
	entryOpen  = "open"  // the first line: Run
	entryClaim = "claim" // the target starts: Phase is its first, At its start
	entryPhase = "phase" // the target begins Phase, that is not idempotent
	entryEnd   = "end"   // the target ended: the rest of the fields
)

// claimEntry is one line of the claims log.
type claimEntry struct {
	Kind     string    `json:"kind"`
	Run      string    `json:"run,omitempty"`
	Target   string    `json:"target,omitempty"`
	Outcome  Outcome   `json:"outcome,omitempty"`
	Phase    string    `json:"phase,omitempty"`
	Attempts int       `json:"attempts,omitempty"`
	At       time.Time `json:"at,omitzero"`
	End      time.Time `json:"end,omitzero"`
	Error    string    `json:"error,omitempty"`
}

// claimLog appends entries to the claims log with group commit. It is safe
// for concurrent use.
type claimLog struct {
	f      *os.File
	kick   chan struct{} // a commit is wanted; closed by close
	exited chan struct{} // the committer has returned
	syncs  atomic.Int64  // group commits made, for benchmarks

	mu     sync.Mutex
	cur    *commit // the entries not yet handed to the committer
	err    error   // the first failed write or sync: every later one fails
	closed bool
}

// commit is a group of entries written and synced together; done is closed
// when they are durable or have failed with err.
type commit struct {
	buf  []byte
	done chan struct{}
	err  error
}

func newCommit() *commit { return &commit{done: make(chan struct{})} }

// newRunID returns a random identifier for a run of a rollout.
func newRunID() string {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// lockClaims opens the claims log at path, creating it if need be, and
// locks it for this process: the lock says that the rollout of the status
// file beside it runs, so that another process neither runs it at the same
// time nor reads a running target as interrupted. The operating system
// drops the lock when the process dies, however it dies.
func lockClaims(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: a rollout of this status file is running in another process or Rollout: %w", path, err)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// startClaims empties the locked claims log f for the run, dropping the
// entries an earlier run left there (they are in the status file written
// just before, or belong to another rollout), and starts its committer.
// The first line is durable, the file and its directory synced, when it
// returns.
func startClaims(f *os.File, run string) (*claimLog, error) {
	line := appendEntry(nil, claimEntry{Kind: entryOpen, Run: run})
	err := f.Truncate(0)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		_, err = f.Write(append(line, '\n'))
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = atomicfile.SyncDir(filepath.Dir(f.Name()))
	}
	if err != nil {
		return nil, err
	}
	l := &claimLog{f: f, kick: make(chan struct{}, 1), exited: make(chan struct{}), cur: newCommit()}
	go l.commits()
	return l, nil
}

// add appends e to the next commit and returns it; the caller waits on it
// when e must be durable before it goes on.
func (l *claimLog) add(e claimEntry) *commit {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.err != nil {
		c := &commit{done: make(chan struct{}), err: firstErr(l.err, errClaimsClosed)}
		close(c.done)
		return c
	}
	c := l.cur
	c.buf = append(appendEntry(c.buf, e), '\n')
	select {
	case l.kick <- struct{}{}:
	default: // a commit is wanted already; it will take this entry too
	}
	return c
}

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// append appends e and waits until it is durable.
func (l *claimLog) append(e claimEntry) error {
	c := l.add(e)
	<-c.done
	return c.err
}

// commits writes and syncs the pending entries, in one write and one fsync
// for all of those that arrived since the last, until the log is closed.
func (l *claimLog) commits() {
	defer close(l.exited)
	for range l.kick {
		l.flush()
	}
	l.flush()
}

func (l *claimLog) flush() {
	l.mu.Lock()
	c := l.cur
	if len(c.buf) == 0 {
		l.mu.Unlock()
		return
	}
	l.cur = newCommit()
	err := l.err
	l.mu.Unlock()
	if err == nil {
		if _, err = l.f.Write(c.buf); err == nil {
			err = l.f.Sync()
			l.syncs.Add(1)
		}
		if err != nil {
			l.mu.Lock()
			l.err = err
			l.mu.Unlock()
		}
	}
	c.err = err
	close(c.done)
}

// close makes every entry added so far durable and closes the file. Later
// appends fail at once. It returns the first error the log met.
func (l *claimLog) close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return l.err
	}
	l.closed = true
	close(l.kick)
	l.mu.Unlock()
	<-l.exited
	cerr := l.f.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	return firstErr(l.err, cerr)
}

// claimState is what a claims log says of one target: claimed and not
// ended (phase is the last phase the log shows it began), or ended with
// the result in end.
type claimState struct {
	claimed bool
	phase   string
	start   time.Time
	end     *claimEntry
}

// readClaims reads the claims log at path: the run it belongs to and the
// state of every target it names. A torn last line is dropped; a bad line
// followed by good ones is an error wrapping [ErrInvalidReport].
func readClaims(f *os.File) (run string, states map[string]*claimState, err error) {
	data, err := io.ReadAll(f)
	if err != nil {
		return "", nil, err
	}
	return parseClaims(f.Name(), data)
}

// parseClaims parses the claims log data read from path.
func parseClaims(path string, data []byte) (run string, states map[string]*claimState, err error) {
	states = make(map[string]*claimState)
	lines := bytes.Split(data, []byte{'\n'})
	bad := -1 // the first line that did not parse
	for n, line := range lines {
		if len(line) == 0 && n == len(lines)-1 {
			break
		}
		var e claimEntry
		if err := json.Unmarshal(line, &e); err != nil || (n == 0) != (e.Kind == entryOpen) {
			if bad < 0 {
				bad = n
			}
			continue
		}
		if bad >= 0 {
			return "", nil, fmt.Errorf("%w: %s: line %d is damaged, and lines after it are not", ErrInvalidReport, path, bad+1)
		}
		if n == 0 {
			run = e.Run
			continue
		}
		st := states[e.Target]
		if st == nil {
			st = &claimState{}
			states[e.Target] = st
		}
		switch e.Kind {
		case entryClaim:
			*st = claimState{claimed: true, phase: e.Phase, start: e.At}
		case entryPhase:
			if st.claimed {
				st.phase = e.Phase
			}
		case entryEnd:
			*st = claimState{end: &e}
		}
	}
	return run, states, nil
}

// mergeClaims brings rep, read from a status file, up to date with the
// claims log beside it, when the log is of the run that wrote the file:
//
//   - a target the log says ended has the result the log holds;
//   - a target the log says was claimed and did not end, and that the
//     file shows pending or running, is [Interrupted], in the last phase
//     the log shows it began;
//   - a target the file shows running that the log never claimed had not
//     begun its first action: it is pending again.
//
// The counts and statistics are recomputed. Without a log of that run,
// rep is left as the file has it.
//
// While the rollout's process runs (it holds the log's lock), rep is left
// as the file has it too: its running targets are running.
func mergeClaims(rep *Report, path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil // the rollout runs
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	run, states, err := readClaims(f)
	if err != nil {
		return err
	}
	if run == "" || run != rep.Status.RunID {
		return nil
	}
	rep.Status.Counts = Counts{}
	for i := range rep.Targets {
		rec := &rep.Targets[i]
		st := states[rec.ID]
		switch {
		case st != nil && st.end != nil:
			e := st.end
			rec.Outcome, rec.Phase, rec.Attempts, rec.Error = e.Outcome, e.Phase, e.Attempts, e.Error
			rec.Start, rec.End, rec.Resumed = e.At, e.End, false
		case st != nil && st.claimed && (rec.Outcome == Running || rec.Outcome == Pending):
			rec.Outcome, rec.Phase, rec.Start, rec.End, rec.Resumed = Interrupted, st.phase, st.start, time.Time{}, false
			rec.Error = "the rollout's process ended while the target ran: it may have run in part"
		case rec.Outcome == Running && (st == nil || !st.claimed):
			rec.Outcome, rec.Phase, rec.Attempts, rec.Start, rec.End, rec.Error = Pending, "", 0, time.Time{}, time.Time{}, ""
		}
		rep.Status.Counts.add(rec.Outcome, 1)
	}
	rep.Stats = Summarize(rep.Targets)
	return nil
}

// removeTemps removes the temporary files that writes of the status file
// at path, and of nothing else, leave when the process dies in the
// middle: ".<name>.*.tmp" in its directory.
func removeTemps(path string) error {
	temps, err := filepath.Glob(filepath.Join(filepath.Dir(path), "."+globEscape(filepath.Base(path))+".*.tmp"))
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range temps {
		if err := os.Remove(t); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// globEscape escapes the characters filepath.Match treats as special.
func globEscape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', '\\':
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return string(b)
}
