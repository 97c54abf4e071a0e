// Package trust decides whether a file or directory holds state that only
// this process's user could have written: the rule the executor's
// FileStore, the fleet server's data directory and the agent's state
// directory share, because what they hold decides what runs, often as
// root.
package trust

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// Why returns why the file described by fi (from Lstat, or Stat of an open
// file) cannot be trusted, or "" when it can: it must be a directory when
// dir is set, else a regular file; not a symbolic link; owned by this
// process's effective user; and not writable by group or others. The
// reason reads after "refusing PATH: ".
func Why(fi fs.FileInfo, dir bool) string {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return "it is a symbolic link"
	case dir && !fi.IsDir():
		return "it is not a directory"
	case !dir && !fi.Mode().IsRegular():
		return "it is not a regular file"
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "its owner cannot be read"
	}
	if euid := os.Geteuid(); st.Uid != uint32(euid) {
		return fmt.Sprintf("it is owned by uid %d, not by this process's uid %d", st.Uid, euid)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Sprintf("it is writable by group or others (mode %04o)", perm)
	}
	return ""
}
