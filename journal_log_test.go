package afterhours

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/internal/fakeclock"
)

// countingStore counts what a store receives: the bytes of its Saves and
// of its Appends, and the Appends.
type countingStore struct {
	*MemoryStore
	saved, appended, appends int
	entries                  [][]byte // what was appended
}

func (s *countingStore) Save(key string, data []byte) error {
	s.saved += len(data)
	return s.MemoryStore.Save(key, data)
}

func (s *countingStore) Append(key string, recs ...[]byte) error {
	s.appends++
	for _, r := range recs {
		s.appended += len(r)
		s.entries = append(s.entries, r)
	}
	return s.MemoryStore.Append(key, recs...)
}

// Issue 15: the bytes a store receives per event do not grow with the
// runs of the cycle. A cycle of 100 and one of 5,000 no-op steps: the
// bytes of a write (an Append) are the same within 10%, and so are all
// the bytes received per run, snapshots included (the cycle's snapshots,
// at its plan and at Run's end, grow with it, as the runs do). A journal
// that saved the whole cycle at every event wrote 50 times as much per
// event at 5,000 runs as at 100.
func TestJournalBytesPerEvent(t *testing.T) {
	type figures struct{ perWrite, perRun float64 }
	measure := func(runs int) figures {
		s := &countingStore{MemoryStore: NewMemoryStore()}
		clk := fakeclock.NewManual(time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC))
		runCycle(t, noopSteps(t, runs), clk, s, runs)
		if s.appends < 2*runs {
			t.Fatalf("%d runs: %d appends, want one at each start and end at least", runs, s.appends)
		}
		f := figures{float64(s.appended) / float64(s.appends), float64(s.saved+s.appended) / float64(runs)}
		t.Logf("%d runs: %d appends of %.0f bytes on average, %d bytes saved, %.0f bytes per run in all", runs, s.appends, f.perWrite, s.saved, f.perRun)
		return f
	}
	small, large := measure(100), measure(5000)
	if r := large.perWrite / small.perWrite; r < 0.9 || r > 1.1 {
		t.Errorf("bytes per write: %.0f at 5,000 runs, %.0f at 100 (x%.2f), want the same within 10%%", large.perWrite, small.perWrite, r)
	}
	if r := large.perRun / small.perRun; r < 0.9 || r > 1.1 {
		t.Errorf("bytes per run: %.0f at 5,000 runs, %.0f at 100 (x%.2f), want the same within 10%%", large.perRun, small.perRun, r)
	}
}

// What a restarted executor reads (snapshots and logs) is the journal, at
// every instant the executor sleeps: three days of the example profile (a
// quarter-hourly timer, slots, commands), checked at every idle wake.
func TestJournalReplaysToTheJournal(t *testing.T) {
	p := exampleNoopProfile(t)
	start := time.Date(2026, 11, 16, 12, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 0, 3)
	store := NewMemoryStore()
	clk := fakeclock.NewManual(start)
	e, err := NewExecutor(p, WithClock(clk), WithStore(store))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	checks, withLog, closed := 0, 0, 0
	e.idleHook = func(at time.Time) {
		j, err := loadJournal(store, DefaultRetention)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(snapshots(j))
		want, _ := json.Marshal(e.Journal())
		if string(got) != string(want) {
			t.Fatalf("at %v, the store holds\n%s\nthe journal is\n%s", clk.Now(), got, want)
		}
		checks++
		store.mu.Lock()
		for _, l := range store.logs {
			if len(l) > 0 {
				withLog++
				break
			}
		}
		// A closed cycle is a snapshot, its log empty.
		for _, c := range e.Journal() {
			if !c.Closed {
				continue
			}
			closed++
			if l := store.logs[cyclePrefix+c.Day]; len(l) > 0 {
				t.Fatalf("at %v, closed cycle %s has a log of %d records", clk.Now(), c.Day, len(l))
			}
		}
		store.mu.Unlock()
		if at.IsZero() || !at.Before(end) {
			cancel()
			return
		}
		clk.AdvanceTo(at)
	}
	if err := e.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if checks < 100 || withLog < checks/2 || closed == 0 {
		t.Fatalf("%d checks, %d of them with a log, %d closed cycles seen: the test shows nothing", checks, withLog, closed)
	}
	t.Logf("%d checks, %d with a log", checks, withLog)
}

// A crash in the middle of a journal write leaves its entry torn: for
// every length of the log cut in its last entry, the journal read back is
// the journal as it was before that write.
func TestJournalTornLastEntry(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	j, err := loadJournal(s, DefaultRetention)
	if err != nil {
		t.Fatal(err)
	}
	site := mustParse(t, smallShopRun).Site
	l, err := j.cycle(site.Cycle(DateOf(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC)
	for i := range 3 {
		l.Records = append(l.Records, &Record{Task: "t" + string(rune('a'+i)), Kind: Housekeeping, State: StateToDo, ExitCode: -1})
	}
	if err := j.saveCycle(l); err != nil { // the snapshot
		t.Fatal(err)
	}
	var before []byte // the journal before the last write
	for i, r := range l.Records {
		before, _ = json.Marshal(l.snapshot())
		r.State, r.Start = StateActive, at.Add(time.Duration(i)*time.Minute)
		l.touch(r)
		if i == 2 {
			l.Records = append(l.Records, &Record{Task: "cmd", Kind: CommandKind, Command: "c1", State: StateToDo, ExitCode: -1})
		}
		if err := j.saveCycle(l); err != nil {
			t.Fatal(err)
		}
	}
	after, _ := json.Marshal(l.snapshot())
	s.Close()
	path := filepath.Join(dir, cyclePrefix+"2026-11-23.log")
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, _, _ := decodeLog(whole)
	if len(recs) != 3 {
		t.Fatalf("%d entries in the log, want 3", len(recs))
	}
	last := len(whole) - frameHeader - len(recs[2])
	read := func(data []byte) string {
		t.Helper()
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := OpenFileStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		j, err := loadJournal(s, DefaultRetention)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(j.cycles[0].snapshot())
		return string(got)
	}
	if got := read(whole); got != string(after) {
		t.Fatalf("the whole log reads\n%s\nwant\n%s", got, after)
	}
	for n := last; n < len(whole); n++ {
		if got := read(whole[:n]); got != string(before) {
			t.Fatalf("cut at %d of %d: reads\n%s\nwant\n%s", n, len(whole), got, before)
		}
	}
}

// Runs due at one instant are written as active in one write, before any
// of them starts (group commit): 50 timer runs due at once cost one
// Append for their starts; their ends, as they come back together, share
// writes too.
func TestRunsDueShareOneWrite(t *testing.T) {
	const timers = 50
	src := `{"client": "b", "site": {"timezone": "UTC", "business_hours": {"mon": ["08:00-18:00"]}}, "timers": [`
	for i := range timers {
		if i > 0 {
			src += ","
		}
		src += `{"name": "t` + string(rune('A'+i%26)) + string(rune('a'+i/26)) + `", "repeat": "daily", "start": "2026-11-23T19:30:00Z", "run": ["/bin/true"], "estimate": "1s"}`
	}
	p := profileWith(t, src+`]}`, nil, nil, nil)
	for _, task := range p.Timers {
		task.Action = noop{}
	}
	s := &countingStore{MemoryStore: NewMemoryStore()}
	clk := fakeclock.NewManual(time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC))
	e, err := NewExecutor(p, WithClock(clk), WithStore(s))
	if err != nil {
		t.Fatal(err)
	}
	due := time.Date(2026, 11, 23, 19, 30, 0, 0, time.UTC)
	ctx, cancel := context.WithCancel(context.Background())
	var before int
	e.idleHook = func(time.Time) {
		if clk.Now().Before(due) {
			before = s.appends
			clk.AdvanceTo(due)
			return
		}
		cancel()
	}
	if err := e.Run(ctx); err != nil {
		t.Fatal(err)
	}
	js := e.Journal()
	if n := len(js[len(js)-1].Completed()); n != timers {
		t.Fatalf("%d runs completed, want %d", n, timers)
	}
	if n := s.appends - before; n < 2 || n > timers+1 {
		t.Errorf("%d appends for %d runs due at once, want one for the starts and at most one for each end", n, timers)
	}
	var starts logEntry
	if err := json.Unmarshal(s.entries[before], &starts); err != nil {
		t.Fatal(err)
	}
	active := 0
	for _, sr := range starts.Set {
		if sr.R.State == StateActive {
			active++
		}
	}
	if active != timers {
		t.Errorf("the first write at the instant has %d runs active, want all %d", active, timers)
	}
	t.Logf("%d appends for %d runs", s.appends-before, timers)
}
