package afterhours

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// A cycle's journal in a store that is an [Appender] is a snapshot (the
// key's data: the cycle as marshal writes it) and a log: one entry per
// write since the snapshot, holding the records set since the write
// before (by index in the cycle's records: an index one past the last
// adds a record) and the cycle's flags. Every write, snapshot or entry,
// has a sequence number; a snapshot holds every entry up to its own, so
// that the entries a crash left between a snapshot's Save and the log's
// truncation are skipped when the journal is read again. An entry is one
// record of the log, so a write is whole or absent after a crash, as a
// Save is.
//
// A write is an entry, at a cost that depends on what changed and not on
// the size of the cycle, except when the records were reordered or
// dropped (a plan), when the cycle closes, and when the log has grown past
// compactFactor times its snapshot (plus compactSlack): then it is a
// snapshot, which empties the log. A cycle's log holds a few entries per
// record at most (a run's start, its process, its end), so the size rule
// only bounds what a cycle whose records change over and over makes the
// next start read; the snapshots of a cycle cost, together, a constant
// factor of its entries.
const (
	compactFactor = 8
	compactSlack  = 1 << 20
)

// written is what the store holds of a cycle, for the writes to an
// Appender.
type written struct {
	stored bool   // the store has a snapshot of the cycle
	seq    uint64 // the sequence number of the last write tried
	n      int    // the records Records[:n] are in the store
	// dirty holds the records touched since the last write.
	dirty map[*Record]struct{}
	// idx is the index of each record of Records[:n]; nil until needed.
	idx map[*Record]int
	// reordered is set when the records were reordered or dropped since
	// the last snapshot.
	reordered bool
	// noticed is WindowNoticed as stored.
	noticed bool
	// snapBytes and logBytes are the sizes of the snapshot and the log.
	snapBytes, logBytes int
}

// logEntry is one write of a cycle to its log.
type logEntry struct {
	Seq uint64      `json:"seq"`
	Set []setRecord `json:"set,omitempty"`
	// WindowNoticed is set by the write that sets it in the cycle (it is
	// never cleared; the write that closes the cycle is a snapshot).
	WindowNoticed bool `json:"window_noticed,omitempty"`
}

// setRecord sets the record at index I.
type setRecord struct {
	I int     `json:"i"`
	R *Record `json:"r"`
}

// hold makes saveCycle put its writes off until release (or saveMeta,
// which makes them first: the cycles are never behind the meta state), so
// that the writes of several events share one.
func (j *journal) hold() { j.held = []*cycleLog{} }

// release makes the writes put off since hold, one per cycle, and returns
// the first error.
func (j *journal) release() error {
	held := j.held
	j.held = nil
	var first error
	for _, c := range held {
		if err := j.saveCycle(c); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// saveCycle writes what changed in c since its last write: an entry
// appended to its log when the store is an Appender, else the whole cycle.
func (j *journal) saveCycle(c *cycleLog) error {
	if j.held != nil {
		if !slices.Contains(j.held, c) {
			j.held = append(j.held, c)
		}
		return nil
	}
	key := cyclePrefix + c.Day
	a, ok := j.store.(Appender)
	if !ok {
		data, err := c.marshal(true)
		if err != nil {
			return err
		}
		if err := j.store.Save(key, data); err != nil {
			return err
		}
		clear(c.w.dirty)
		return nil
	}
	w := &c.w
	if !w.stored || w.reordered || c.Closed {
		return j.compact(a, c)
	}
	set := c.changed()
	if len(set) == 0 && w.noticed == c.WindowNoticed {
		return nil // nothing to write
	}
	w.seq++
	entry, err := json.Marshal(logEntry{Seq: w.seq, Set: set, WindowNoticed: c.WindowNoticed && !w.noticed})
	if err != nil {
		return err
	}
	if err := a.Append(key, entry); err != nil {
		return err
	}
	if w.idx != nil {
		for i := w.n; i < len(c.Records); i++ {
			w.idx[c.Records[i]] = i
		}
	}
	w.n = len(c.Records)
	w.noticed = c.WindowNoticed
	w.logBytes += len(entry)
	clear(w.dirty)
	if w.logBytes > compactFactor*w.snapBytes+compactSlack {
		return j.compact(a, c)
	}
	return nil
}

// changed returns the records of c set since its last write, by index.
func (c *cycleLog) changed() []setRecord {
	w := &c.w
	var set []setRecord
	if len(w.dirty) > 0 {
		if w.idx == nil {
			w.idx = make(map[*Record]int, w.n)
			for i, r := range c.Records[:w.n] {
				w.idx[r] = i
			}
		}
		for r := range w.dirty {
			// A record dropped from the cycle is not written, and one
			// added since the last write is written below.
			if i, ok := w.idx[r]; ok {
				set = append(set, setRecord{I: i, R: r})
			}
		}
		slices.SortFunc(set, func(a, b setRecord) int { return a.I - b.I })
	}
	for i := w.n; i < len(c.Records); i++ {
		set = append(set, setRecord{I: i, R: c.Records[i]})
	}
	return set
}

// compact saves the snapshot of c, then empties its log.
func (j *journal) compact(a Appender, c *cycleLog) error {
	key := cyclePrefix + c.Day
	c.w.seq++ // past any entry tried, whether it reached the log or not
	data, err := c.marshal(false)
	if err != nil {
		return err
	}
	if err := a.Save(key, data); err != nil {
		return err
	}
	dirty := c.w.dirty
	clear(dirty)
	c.w = written{stored: true, seq: c.w.seq, n: len(c.Records), dirty: dirty, noticed: c.WindowNoticed,
		snapBytes: len(data), logBytes: c.w.logBytes}
	if err := a.TruncateLog(key); err != nil {
		return err
	}
	c.w.logBytes = 0
	return nil
}

// replay brings c, read from the snapshot of key (size bytes), up to date
// with the log of key when the store is an Appender: the entries after the
// snapshot's, in order.
func (c *cycleLog) replay(store Store, key string, size int) error {
	c.w.stored, c.w.snapBytes = true, size
	if a, ok := store.(Appender); ok {
		recs, err := a.Log(key)
		if err != nil {
			return loadError(logWhere(store, key), err)
		}
		base := c.w.seq
		for i, data := range recs {
			c.w.logBytes += len(data)
			seq, err := c.apply(data, base)
			if err != nil {
				return &StateError{Where: logWhere(store, key), Err: fmt.Errorf("corrupt: record %d: %w", i, err)}
			}
			c.w.seq = max(c.w.seq, seq)
		}
	}
	c.w.n, c.w.noticed = len(c.Records), c.WindowNoticed
	c.byTask, c.indexed = nil, 0 // records were replaced
	return nil
}

// apply applies the log entry data to c unless the snapshot read, of
// sequence number base, holds it already; it returns the entry's sequence
// number.
func (c *cycleLog) apply(data []byte, base uint64) (uint64, error) {
	var e logEntry
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return 0, err
	}
	if e.Seq == 0 {
		return 0, fmt.Errorf("no sequence number")
	}
	if e.Seq <= base {
		return e.Seq, nil
	}
	for _, s := range e.Set {
		switch {
		case s.R == nil || s.R.Task == "":
			return 0, fmt.Errorf("record %d: no task", s.I)
		case s.I >= 0 && s.I < len(c.Records):
			c.Records[s.I] = s.R
		case s.I == len(c.Records):
			c.Records = append(c.Records, s.R)
		default:
			return 0, fmt.Errorf("record %d of a cycle of %d", s.I, len(c.Records))
		}
	}
	c.WindowNoticed = c.WindowNoticed || e.WindowNoticed
	return e.Seq, nil
}

// logWhere names the log of key in errors.
func logWhere(s Store, key string) string {
	if l, ok := s.(interface{ logPath(string) string }); ok {
		return l.logPath(key)
	}
	return where(s, key) + " (log)"
}

// checkpoint replaces the log of every cycle that has one by a snapshot,
// so that the next start reads snapshots alone: Run does it when it ends.
func (j *journal) checkpoint() error {
	a, ok := j.store.(Appender)
	if !ok {
		return nil
	}
	for _, c := range j.cycles {
		if c.w.logBytes > 0 {
			if err := j.compact(a, c); err != nil {
				return err
			}
		}
	}
	return nil
}
