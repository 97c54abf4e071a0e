package fleet

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/internal/fakeclock"
)

// snapshot copies the status file at path and its claims log to dir, as a
// crash at this instant would leave them, and returns the copy's path.
func snapshot(t *testing.T, path, dir string) string {
	t.Helper()
	for _, suffix := range []string{"", ClaimsSuffix} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Error(err)
			return ""
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(path)+suffix), b, 0o600); err != nil {
			t.Error(err)
		}
	}
	return filepath.Join(dir, filepath.Base(path))
}

// TestResumeBudgetAcrossCrash: the failures before a crash count against
// the budget of the resumed rollout, even those the status file had not
// shown yet. Targets fail the first time they run (a failure does not
// always recur), budget 3: three fail before the crash, which happens
// while t006 runs and before the status file is written again; the
// resumed rollout stops at the fourth failure, and runs neither a target
// that failed nor the one running at the crash again.
func TestResumeBudgetAcrossCrash(t *testing.T) {
	dir, crashed := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "status.json")
	clk := fakeclock.NewManual(t0)
	var mu sync.Mutex
	runs := map[string]int{}
	var ran []string
	var crash string
	var r1 *Rollout
	act := func(ctx context.Context, tg Target) error {
		mu.Lock()
		defer mu.Unlock()
		runs[tg.ID]++
		ran = append(ran, tg.ID)
		if tg.ID == "t006" && crash == "" {
			crash = snapshot(t, path, crashed)
			r1.Kill("the process dies here") // nothing after the crash counts
			return ctx.Err()
		}
		if slices.Contains([]string{"t001", "t003", "t005", "t008"}, tg.ID) && runs[tg.ID] == 1 {
			return errBoom
		}
		return nil
	}
	opts := []Option{WithClock(clk), WithErrorBudget(Count(3)), WithStatusFile(path, time.Hour)}
	r1 = mustRollout(t, makeTargets(12, 0), one(act), opts...)
	if err := r1.Run(context.Background()); !errors.Is(err, ErrKilled) {
		t.Fatalf("the run that crashes: %v", err)
	}

	prev, err := LoadReport(crash)
	if err != nil {
		t.Fatal(err)
	}
	got := byOutcome(prev)
	if !slices.Equal(got[Failed], []string{"t001", "t003", "t005"}) || !slices.Equal(got[Interrupted], []string{"t006"}) ||
		!slices.Equal(got[Succeeded], []string{"t000", "t002", "t004"}) || prev.Status.Counts.Failed != 3 {
		t.Fatalf("report at the crash: %v, counts %+v", got, prev.Status.Counts)
	}
	ran = nil
	r2 := mustRollout(t, makeTargets(12, 0), one(act), WithClock(clk), WithErrorBudget(Count(3)),
		WithStatusFile(filepath.Join(crashed, "resumed.json"), time.Hour), WithResume(prev))
	err = r2.Run(context.Background())
	if !errors.Is(err, ErrBudgetExhausted) || !strings.Contains(err.Error(), "4 failures, budget 3") {
		t.Errorf("resumed run = %v, want the budget of 3 exhausted by the 4th failure", err)
	}
	if !slices.Equal(ran, []string{"t007", "t008"}) {
		t.Errorf("the resumed rollout ran %v, want t007 and t008", ran)
	}
	st := r2.Status()
	if st.Counts.Failures() != 4 || st.Counts.Interrupted != 1 || st.Counts.Pending != 3 {
		t.Errorf("resumed status %+v", st.Counts)
	}
}

// TestResumeIdempotent: which targets a resumed rollout runs again, by
// their outcome in the report and the phase they were in, for the phases
// drain (idempotent), patch (not) and verify (idempotent).
func TestResumeIdempotent(t *testing.T) {
	noop := func(context.Context, Target) error { return nil }
	phases := []Phase{
		{Name: "drain", Idempotent: true, Run: noop},
		{Name: "patch", Run: noop},
		{Name: "verify", Idempotent: true, Run: noop},
	}
	allIdem := slices.Clone(phases)
	allIdem[1].Idempotent = true
	prev := &Report{Targets: []Record{
		{ID: "t000", Outcome: Interrupted, Phase: "drain"},
		{ID: "t001", Outcome: Interrupted, Phase: "patch"},
		{ID: "t002", Outcome: Interrupted, Phase: "verify"},
		{ID: "t003", Outcome: Abandoned, Phase: "drain"},
		{ID: "t004", Outcome: Abandoned, Phase: "patch"},
		{ID: "t005", Outcome: Running, Phase: "drain"},
		{ID: "t006", Outcome: Interrupted, Phase: "gone"},
		{ID: "t007", Outcome: Killed, Phase: "patch"},
		{ID: "t008", Outcome: Failed, Phase: "patch"},
	}}
	for _, c := range []struct {
		name   string
		phases []Phase
		rerun  []string
	}{
		{"patch not idempotent", phases, []string{"t000", "t003", "t007", "t009"}},
		{"all idempotent", allIdem, []string{"t000", "t001", "t002", "t003", "t004", "t005", "t007", "t009"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := mustRollout(t, makeTargets(10, 0), c.phases, WithResume(prev), WithErrorBudget(Count(5)))
			rep := r.Report()
			if got := byOutcome(rep)[Pending]; !slices.Equal(got, c.rerun) {
				t.Errorf("to run again: %v, want %v", got, c.rerun)
			}
			for _, rec := range rep.Targets {
				if rec.ID == "t005" && rec.Outcome != Pending && rec.Outcome != Interrupted {
					t.Errorf("a target running in the report is %v, want interrupted", rec.Outcome)
				}
			}
			if rep.Status.Counts.Failures() != 1 {
				t.Errorf("%d failures; an interrupted target is not one", rep.Status.Counts.Failures())
			}
		})
	}
}

// TestClaimsLogTorn: a claims log whose last line was torn by a crash
// reads as if the line had never been written; a damaged line followed by
// good ones is an error. A log of another run of the status file is not
// read, and neither is the log of a rollout that still runs.
func TestClaimsLogTorn(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "status.json")
	status := `{"status":{"state":"running","run_id":"r1","total":3,"counts":{"pending":1,"running":2}},"stats":{},
	  "targets":[{"id":"a","outcome":"running","phase":"patch"},{"id":"b","outcome":"running","phase":"patch"},{"id":"c","outcome":"pending"}]}`
	if err := os.WriteFile(path, []byte(status), 0o600); err != nil {
		t.Fatal(err)
	}
	head := `{"kind":"open","run":"r1"}` + "\n" +
		`{"kind":"claim","target":"a","phase":"patch","at":"2026-11-24T01:00:00Z"}` + "\n" +
		`{"kind":"end","target":"a","outcome":"succeeded","phase":"patch","attempts":1,"at":"2026-11-24T01:00:00Z","end":"2026-11-24T01:01:00Z"}` + "\n" +
		`{"kind":"claim","target":"c","phase":"patch","at":"2026-11-24T01:01:00Z"}` + "\n"
	for _, c := range []struct {
		name string
		log  string
		want map[Outcome][]string
		err  bool
	}{
		{"whole", head, map[Outcome][]string{Succeeded: {"a"}, Pending: {"b"}, Interrupted: {"c"}}, false},
		{"torn claim", head + `{"kind":"claim","target":"b","pha`, map[Outcome][]string{Succeeded: {"a"}, Pending: {"b"}, Interrupted: {"c"}}, false},
		{"torn end", head + `{"kind":"end","target":"c","outcome":"succ`, map[Outcome][]string{Succeeded: {"a"}, Pending: {"b"}, Interrupted: {"c"}}, false},
		{"zeros at the end", head + "\x00\x00\x00\x00", map[Outcome][]string{Succeeded: {"a"}, Pending: {"b"}, Interrupted: {"c"}}, false},
		{"damaged in the middle", head + "{\"kind\":\n" + `{"kind":"claim","target":"b","phase":"patch"}` + "\n", nil, true},
		{"another run", strings.Replace(head, `"r1"`, `"r0"`, 1), map[Outcome][]string{Running: {"a", "b"}, Pending: {"c"}}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(path+ClaimsSuffix, []byte(c.log), 0o600); err != nil {
				t.Fatal(err)
			}
			rep, err := LoadReport(path)
			if c.err {
				if !errors.Is(err, ErrInvalidReport) {
					t.Errorf("LoadReport = %v, want ErrInvalidReport", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := byOutcome(rep)
			for o, ids := range c.want {
				if !slices.Equal(got[o], ids) {
					t.Errorf("%v: %v, want %v", o, got[o], ids)
				}
			}
			if n := rep.Status.Counts.Total(); n != 3 {
				t.Errorf("counts %+v", rep.Status.Counts)
			}
		})
	}
	// While a rollout holds the log, its running targets are running.
	os.WriteFile(path+ClaimsSuffix, []byte(head), 0o600)
	f, err := lockClaims(path + ClaimsSuffix)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := LoadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := byOutcome(rep); !slices.Equal(got[Running], []string{"a", "b"}) {
		t.Errorf("a live rollout's report: %v", got)
	}
	// And no other rollout runs it meanwhile.
	r := mustRollout(t, makeTargets(2, 0), one(func(context.Context, Target) error { t.Error("ran"); return nil }), WithStatusFile(path, 0))
	if err := r.Run(context.Background()); !errors.Is(err, syscall.EWOULDBLOCK) {
		t.Errorf("Run beside a running rollout of the same status file = %v", err)
	}
}

// TestClaimsLogFails: when the claims log cannot be written, no target
// starts on the strength of a claim that is not durable: the rollout
// stops starting targets, in state record-failed, and Run says why.
func TestClaimsLogFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "status.json")
	var r *Rollout
	var ran []string
	act := func(_ context.Context, tg Target) error {
		ran = append(ran, tg.ID)
		if tg.ID == "t001" {
			r.claims.f.Close() // as a full or failing disk would
		}
		return nil
	}
	r = mustRollout(t, makeTargets(5, 0), one(act), WithStatusFile(path, time.Hour))
	err := r.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "claims log") {
		t.Fatalf("Run = %v, want the claims log's error", err)
	}
	st := r.Status()
	if st.State != StateRecordFailed || !slices.Equal(ran, []string{"t000", "t001"}) || st.Counts.Pending != 3 {
		t.Errorf("ran %v; status %v %+v", ran, st.State, st.Counts)
	}
}

// FuzzParseClaims: whatever a claims log holds (a crash, a full disk, a
// hand edit), reading it never panics, and what it reads is either an
// error wrapping ErrInvalidReport or states with a claim or an end.
func FuzzParseClaims(f *testing.F) {
	f.Add([]byte(`{"kind":"open","run":"r1"}` + "\n" + `{"kind":"claim","target":"a","phase":"patch","at":"2026-11-24T01:00:00Z"}` + "\n"))
	f.Add([]byte(`{"kind":"open","run":"r1"}` + "\n" + `{"kind":"end","target":"a","outcome":"failed","error":"boom"}` + "\n" + `{"kind":"cl`))
	f.Add([]byte("\x00\x00\n{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, states, err := parseClaims("fuzz.claims", data)
		if err != nil {
			if !errors.Is(err, ErrInvalidReport) {
				t.Fatalf("error %v does not wrap ErrInvalidReport", err)
			}
			return
		}
		for id, st := range states {
			if st.claimed == (st.end != nil) && (st.claimed || st.phase != "") {
				t.Fatalf("%q: state %+v", id, st)
			}
		}
	})
}
