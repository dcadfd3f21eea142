//go:build unix

package alerttest

import (
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"
)

// PermissiveUmask sets the process's umask to 0 until the test ends, so that
// a file's mode is the one it was created with. The umask belongs to the
// whole process: the test must not run in parallel with others.
func PermissiveUmask(t testing.TB) {
	t.Helper()
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
}

// PrivateModes fails the test unless every file under root (root itself
// included) is its owner's alone: directories 0700, files 0600.
func PrivateModes(t testing.TB, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s has mode %v, want %v", path, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
