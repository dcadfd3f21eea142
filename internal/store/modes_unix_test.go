//go:build unix

package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/alerttest"
	"github.com/alertd/alertd/internal/store"
)

// TestDatabaseFilesAreTheOwnersAlone proves that the database, its WAL and
// shared memory, the sent logs, the backups and the directories made for
// them are private whatever the umask: they hold the secret, every address
// and live tokens.
func TestDatabaseFilesAreTheOwnersAlone(t *testing.T) {
	alerttest.PermissiveUmask(t)
	root := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(root, "db", "alertd.db")
	st, err := store.Open(context.Background(), path, alertd.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	seed(t, st, []fixtureReport{{guid: "r", published: day0}}, []fixtureSubscriber{{email: "a@example.org", status: alertd.StatusConfirmed}})
	log, err := st.OpenSentLog()
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close(context.Background(), day0)
	if err := os.Mkdir(filepath.Join(root, "backups"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := st.Backup(context.Background(), filepath.Join(root, "backups", "copy.db")); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if _, err := os.Stat(path + suffix); err != nil {
			t.Errorf("%s: %v", path+suffix, err)
		}
	}
	if logs := sentLogs(t, path); len(logs) != 1 {
		t.Errorf("sent logs %v, want one", logs)
	}
	alerttest.PrivateModes(t, root)
}
