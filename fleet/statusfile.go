package fleet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/afterhours-go/afterhours/internal/atomicfile"
)

// writeEvery writes the status file every interval of the clock until stop
// is closed.
func (r *Rollout) writeEvery(stop <-chan struct{}) {
	for {
		select {
		case <-r.cfg.clock.After(r.cfg.statusEvery):
			_ = r.writeStatus() // recorded in Status.FileError and logged
		case <-stop:
			return
		}
	}
}

// writeStatus writes the rollout's report to the status file.
func (r *Rollout) writeStatus() error {
	err := r.Report().WriteFile(r.cfg.statusFile)
	if err != nil {
		err = fmt.Errorf("fleet: status file: %w", err)
		r.cfg.logger.Error("writing the status file failed", "path", r.cfg.statusFile, "err", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fileErr = ""
	if err != nil {
		r.fileErr = err.Error()
	}
	r.emitLocked(Event{Kind: EventStatusFile, At: r.cfg.clock.Now(), Err: err})
	return err
}

// WriteFile writes rep as indented JSON to path atomically: to a temporary
// file in the same directory, synced to disk, then renamed over path, and
// the directory synced, so that a reader (or a crash) sees the old file or
// the new one, never a mix. The file's mode is 0600.
func (rep *Report) WriteFile(path string) (err error) {
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		return err
	}
	return atomicfile.Write(path, buf.Bytes(), 0o600, nil)
}

// WriteJSON writes rep as indented JSON, as the status file holds it.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// ReadReport reads a report written by [Report.WriteJSON] or a status
// file. Errors wrap [ErrInvalidReport].
func ReadReport(r io.Reader) (*Report, error) {
	var rep Report
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidReport, err)
	}
	seen := make(map[string]bool, len(rep.Targets))
	for i, rec := range rep.Targets {
		if rec.ID == "" || seen[rec.ID] {
			return nil, fmt.Errorf("%w: targets[%d]: empty or repeated ID %q", ErrInvalidReport, i, rec.ID)
		}
		seen[rec.ID] = true
	}
	return &rep, nil
}

// LoadReport reads the status file at path, as a rollout wrote it with
// [WithStatusFile], to resume it with [WithResume], and brings it up to
// date with the durable record of claims and results beside it (path with
// [ClaimsSuffix]) when that record is of the run that wrote the file: a
// target that ended has its result even if the file was written before it
// ended, a target that was running when the process died is
// [Interrupted], and a target the file shows running that had not begun
// its first action is pending. A torn last line of the record (a crash in
// the middle of a write) is ignored. Without a record of that run, the
// report is as the file has it. Errors of the record wrap
// [ErrInvalidReport], or are the file system's.
func LoadReport(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rep, err := ReadReport(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := mergeClaims(rep, path+ClaimsSuffix); err != nil {
		return nil, err
	}
	return rep, nil
}
