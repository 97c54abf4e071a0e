package agentlink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/server"
)

// reportsKey is the store key of the report sequence numbers.
const reportsKey = "agentlink.reports"

// sent is what the link last reported of a cycle: its sequence number and
// the signature of what triggered it.
type sent struct {
	Seq int64  `json:"seq"`
	Sig string `json:"sig,omitempty"`
}

// reportLoop posts a cycle report when a cycle closes, when it has a new
// failure, and when the killswitch turns on or off. It watches the
// executor's events and reads its journal; a sequence number per cycle is
// saved in the store before each post, so that a retried post repeats the
// same (cycle, seq), which the server keeps once, and a later report,
// even after a restart, has a higher one.
func (l *Link) reportLoop(ctx context.Context) error {
	events, unsubscribe := l.exec.Subscribe()
	defer unsubscribe()
	seqs := map[string]sent{}
	if data, err := l.store.Load(reportsKey); err == nil {
		if err := json.Unmarshal(data, &seqs); err != nil {
			l.log.Error("agentlink: report sequence numbers unreadable; starting again", "err", err)
			seqs = map[string]sent{}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		l.log.Error("agentlink: load report sequence numbers", "err", err)
	}
	for {
		if err := l.sendReports(ctx, seqs); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-events:
		}
	}
}

// sendReports posts a report of each cycle whose signature changed.
func (l *Link) sendReports(ctx context.Context, seqs map[string]sent) error {
	killed := l.exec.Status().Killed
	journal := l.exec.Journal()
	kept := map[string]bool{}
	for i, cj := range journal {
		kept[cj.Day] = true
		rep := server.Report{Cycle: cj.Day, Counts: map[afterhours.State]int{}, Closed: cj.Closed}
		for _, r := range cj.Records {
			rep.Counts[r.State]++
			if r.State == afterhours.StateFailed {
				rep.Failed = append(rep.Failed, server.FailedRun{Task: r.Task, Kind: r.Kind, Command: r.Command,
					Error: r.Error, ExitCode: r.ExitCode, Start: r.Start, End: r.End, Interrupted: r.Interrupted})
			}
			if r.Kind == afterhours.Shared && !r.Start.IsZero() {
				rep.Shared = append(rep.Shared, server.SharedRun{Task: r.Task, State: r.State, Start: r.Start, End: r.End})
			}
		}
		rep.Killed = killed && i == len(journal)-1 && !cj.Closed
		sig := fmt.Sprintf("closed=%t failed=%d killed=%t", rep.Closed, len(rep.Failed), rep.Killed)
		old, ok := seqs[cj.Day]
		if ok && old.Sig == sig || !ok && !rep.Closed && !rep.Killed && len(rep.Failed) == 0 {
			continue
		}
		rep.Seq = old.Seq + 1
		seqs[cj.Day] = sent{Seq: rep.Seq}
		l.saveSeqs(seqs)
		rep.Sent = l.clk.Now().UTC()
		body, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		err = l.retry(ctx, "report "+cj.Day, func() error {
			resp, err := l.do(ctx, http.MethodPost, l.clientPath()+"/reports", body, nil, http.StatusOK)
			if err != nil {
				var se *statusError
				if errors.As(err, &se) && se.code == http.StatusBadRequest {
					l.log.Error("agentlink: report refused by the server", "cycle", cj.Day, "err", err)
					return nil
				}
				return err
			}
			resp.Body.Close()
			return nil
		})
		if err != nil {
			return err
		}
		l.log.Info("agentlink: report sent", "cycle", cj.Day, "seq", rep.Seq, "what", sig)
		seqs[cj.Day] = sent{Seq: rep.Seq, Sig: sig}
		l.saveSeqs(seqs)
	}
	for day := range seqs {
		if !kept[day] {
			delete(seqs, day)
		}
	}
	return nil
}

func (l *Link) saveSeqs(seqs map[string]sent) {
	data, _ := json.Marshal(seqs)
	if err := l.store.Save(reportsKey, data); err != nil {
		l.log.Error("agentlink: save report sequence numbers", "err", err)
	}
}
