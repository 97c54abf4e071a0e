package afterhours

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Appender is a [Store] that also keeps a log beside each key: records
// appended one after another, each Append durable before it returns, at a
// cost that depends on what is appended and not on what the key already
// holds. [MemoryStore] and [FileStore] implement it.
//
// The executor's journal uses it when its store has it: each write of a
// cycle's journal (a run started or ended, a deferral, a command's record,
// ...) is one record appended to the cycle's log, and the log is replaced
// by a snapshot of the cycle (Save, then TruncateLog) when the cycle
// closes or the log has grown far past the snapshot. Without it, every
// write saves the whole cycle, at a cost that grows with the cycle.
//
// Save and Delete keep their meanings: Save replaces the data of a key and
// leaves its log as it is (the journal's records say which snapshot they
// follow, so that a crash between a Save and a TruncateLog loses nothing);
// Delete removes the key's data and its log. Keys lists the keys that have
// data.
type Appender interface {
	Store
	// Append adds recs, in order, to the end of the log of key, creating
	// it if need be, and returns once they are durable. A crash during
	// Append leaves a prefix of recs in the log, each record whole or
	// absent. An empty record is an error.
	Append(key string, recs ...[]byte) error
	// Log returns the records of the log of key, oldest first: none (and
	// no error) when it has no log. A record that a crash during an Append
	// left torn is dropped, with whatever follows it.
	Log(key string) ([][]byte, error)
	// TruncateLog empties the log of key; a key without a log is not an
	// error.
	TruncateLog(key string) error
}

// Append adds copies of recs to the log of key.
func (m *MemoryStore) Append(key string, recs ...[]byte) error {
	if !validKey(key) {
		return fmt.Errorf("memory store: invalid key %q", key)
	}
	for _, r := range recs {
		if len(r) == 0 {
			return fmt.Errorf("memory store: append to %s: empty record", key)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.logs == nil {
		m.logs = map[string][][]byte{}
	}
	for _, r := range recs {
		m.logs[key] = append(m.logs[key], slices.Clone(r))
	}
	return nil
}

// Log returns copies of the records of the log of key.
func (m *MemoryStore) Log(key string) ([][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out [][]byte
	for _, r := range m.logs[key] {
		out = append(out, slices.Clone(r))
	}
	return out, nil
}

// TruncateLog empties the log of key.
func (m *MemoryStore) TruncateLog(key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.logs, key)
	return nil
}

// The log of a FileStore key is the file KEY.log: logMagic, then one frame
// per record: the record's length (4 bytes, little-endian), the CRC-32C of
// the length and the record (4 bytes), the record. A crash in the middle of
// an Append leaves the file ending in part of a frame, or (on file systems
// that extend a file before its data reach the disk) in a frame whose CRC
// does not match: the reader stops at the first frame that is incomplete or
// does not match, and the next Append truncates the file there first.
const (
	logMagic    = "ahlog1\n\x00"
	frameHeader = 8
	// maxLogRecord bounds a record's length, so that a damaged length
	// never makes the reader allocate much.
	maxLogRecord = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendFrame appends the frame of rec to buf.
func appendFrame(buf, rec []byte) []byte {
	var h [frameHeader]byte
	binary.LittleEndian.PutUint32(h[:4], uint32(len(rec)))
	crc := crc32.Update(crc32.Checksum(h[:4], castagnoli), castagnoli, rec)
	binary.LittleEndian.PutUint32(h[4:], crc)
	return append(append(buf, h[:]...), rec...)
}

// decodeLog returns the records of a log file's content, and the length of
// its whole part: the rest is what a crash in the middle of an Append left,
// and is dropped. It fails only for data that is not a log at all.
func decodeLog(data []byte) (recs [][]byte, whole int, err error) {
	if len(data) < len(logMagic) {
		if !strings.HasPrefix(logMagic, string(data)) {
			return nil, 0, errors.New("not an afterhours log")
		}
		return nil, 0, nil // torn while it was being created
	}
	if string(data[:len(logMagic)]) != logMagic {
		return nil, 0, errors.New("not an afterhours log")
	}
	off := len(logMagic)
	for len(data)-off >= frameHeader {
		n := binary.LittleEndian.Uint32(data[off:])
		if n == 0 || n > maxLogRecord || uint64(len(data)-off-frameHeader) < uint64(n) {
			break
		}
		end := off + frameHeader + int(n)
		crc := crc32.Update(crc32.Checksum(data[off:off+4], castagnoli), castagnoli, data[off+frameHeader:end])
		if crc != binary.LittleEndian.Uint32(data[off+4:]) {
			break
		}
		recs = append(recs, data[off+frameHeader:end:end])
		off = end
	}
	return recs, off, nil
}

// logPath returns the path of the log of key.
func (s *FileStore) logPath(key string) string { return filepath.Join(s.dir, key+".log") }

// Append writes the frames of recs to the log of key in one write, then
// syncs it (and, when the write created the log, the directory). The log
// is opened with O_APPEND and O_NOFOLLOW, created with mode 0600, and
// checked as the store's other files are (see [FileStore]): an untrusted
// one is a *[StateError] matching [ErrUnsafeState]. The first Append to a
// log since the store opened drops the part a crash left torn.
func (s *FileStore) Append(key string, recs ...[]byte) error {
	if !validKey(key) {
		return fmt.Errorf("file store: invalid key %q", key)
	}
	size := 0
	for _, r := range recs {
		if len(r) == 0 {
			return fmt.Errorf("file store: append to %s: empty record", key)
		}
		if len(r) > maxLogRecord {
			return fmt.Errorf("file store: append to %s: record of %d bytes", key, len(r))
		}
		size += frameHeader + len(r)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkDir(); err != nil {
		return err
	}
	path := s.logPath(key)
	f, err := openNoFollow(path, os.O_CREATE|os.O_RDWR|os.O_APPEND)
	if err != nil {
		return fmt.Errorf("file store: append to %s: %w", key, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := trusted(path, fi, false); err != nil {
		return err
	}
	end := fi.Size()
	if known, ok := s.logEnds[key]; !ok || known != end {
		// First Append since the store opened, or the file is not as we
		// left it: find where its whole part ends, and cut what follows.
		if end, err = s.cutTorn(f, path); err != nil {
			return err
		}
	}
	buf := make([]byte, 0, len(logMagic)+size)
	if end == 0 {
		buf = append(buf, logMagic...)
	}
	for _, r := range recs {
		buf = appendFrame(buf, r)
	}
	written := int64(len(buf))
	if s.appendHook != nil {
		// Crash tests stop in the middle of the write.
		half := len(buf) / 2
		if _, err := f.Write(buf[:half]); err != nil {
			delete(s.logEnds, key)
			return err
		}
		s.appendHook(key)
		buf = buf[half:]
	}
	if _, err := f.Write(buf); err != nil {
		delete(s.logEnds, key)
		return fmt.Errorf("file store: append to %s: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		delete(s.logEnds, key)
		return fmt.Errorf("file store: append to %s: %w", key, err)
	}
	if end == 0 {
		if err := s.syncDir(); err != nil {
			delete(s.logEnds, key)
			return err
		}
	}
	if s.logEnds == nil {
		s.logEnds = map[string]int64{}
	}
	s.logEnds[key] = end + written
	return nil
}

// cutTorn truncates the log f at the end of its whole part, and returns
// that length.
func (s *FileStore) cutTorn(f *os.File, path string) (int64, error) {
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		return 0, err
	}
	_, whole, err := decodeLog(data)
	if err != nil {
		return 0, &StateError{Where: path, Err: fmt.Errorf("corrupt: %w", err)}
	}
	if whole < len(data) {
		if err := f.Truncate(int64(whole)); err != nil {
			return 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
	}
	return int64(whole), nil
}

// Log reads the log of key, after checking the directory and the file as
// Load does.
func (s *FileStore) Log(key string) ([][]byte, error) {
	if !validKey(key) {
		return nil, fmt.Errorf("file store: invalid key %q", key)
	}
	if err := s.checkDir(); err != nil {
		return nil, err
	}
	path := s.logPath(key)
	data, err := readTrusted(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	recs, _, err := decodeLog(data)
	if err != nil {
		return nil, &StateError{Where: path, Err: fmt.Errorf("corrupt: %w", err)}
	}
	return recs, nil
}

// TruncateLog empties the log of key, durably.
func (s *FileStore) TruncateLog(key string) error {
	if !validKey(key) {
		return fmt.Errorf("file store: invalid key %q", key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkDir(); err != nil {
		return err
	}
	path := s.logPath(key)
	f, err := openNoFollow(path, os.O_WRONLY)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if err := checkOpen(path, f); err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if s.logEnds == nil {
		s.logEnds = map[string]int64{}
	}
	s.logEnds[key] = 0
	return nil
}

// removeLog removes the log of key; the caller holds s.mu.
func (s *FileStore) removeLog(key string) error {
	delete(s.logEnds, key)
	if err := os.Remove(s.logPath(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// checkLogs checks every log file in the store's directory as OpenFileStore
// checks the records, and removes the logs of keys without data, which
// only a crash in the middle of a Delete leaves.
func (s *FileStore) checkLogs() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		key, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok || !validKey(key) {
			continue
		}
		path := s.logPath(key)
		fi, err := os.Lstat(path)
		if err == nil {
			err = trusted(path, fi, false)
		}
		if err != nil {
			return err
		}
		if _, err := os.Lstat(s.Where(key)); errors.Is(err, fs.ErrNotExist) {
			if err := os.Remove(path); err != nil {
				return err
			}
		}
	}
	return nil
}
