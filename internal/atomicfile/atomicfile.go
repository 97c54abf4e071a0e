// Package atomicfile replaces files atomically and durably: the one way
// the library writes a file that a crash must never leave half written
// (the executor's FileStore, a rollout's status file).
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// Write replaces the file at path with data: it writes a new temporary
// file in path's directory (".NAME.RANDOM.tmp", created with O_EXCL and
// O_NOFOLLOW, mode perm, so never an existing file and never through a
// symbolic link), syncs it, renames it over path (which replaces a
// symbolic link at path rather than following it), and syncs the
// directory, so that a reader, or a crash at any point, sees the old file
// or the new one, never a mix, and the new one survives a power loss once
// Write returns. On an error the temporary file is removed.
//
// beforeRename, when not nil, runs after the temporary file is written and
// closed, before the rename: crash tests use it to stop there.
func Write(path string, data []byte, perm fs.FileMode, beforeRename func()) (err error) {
	dir := filepath.Dir(path)
	f, tmp, err := createTemp(dir, filepath.Base(path), perm)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if beforeRename != nil {
		beforeRename()
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// createTemp creates a new temporary file for name in dir.
func createTemp(dir, name string, perm fs.FileMode) (*os.File, string, error) {
	for range 100 {
		tmp := filepath.Join(dir, "."+name+"."+strconv.FormatUint(rand.Uint64(), 36)+".tmp")
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, tmp, err
	}
	return nil, "", fmt.Errorf("no free temporary file name in %s", dir)
}

// SyncDir makes the entries made or renamed in dir durable. It opens dir
// without following a symbolic link.
func SyncDir(dir string) error {
	d, err := os.OpenFile(dir, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
