//go:build unix

package mail_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/alertd/alertd/internal/alerttest"
	"github.com/alertd/alertd/internal/mail"
)

// TestFileTransportFilesAreTheOwnersAlone proves that the messages (they
// carry confirmation links) and the directories made for them are private
// whatever the umask.
func TestFileTransportFilesAreTheOwnersAlone(t *testing.T) {
	alerttest.PermissiveUmask(t)
	root := filepath.Join(t.TempDir(), "mail")
	conn := dial(t, mail.NewFileTransport(filepath.Join(root, "out")))
	if err := conn.Send(context.Background(), confirmation(t, newComposer(t, testSettings()), "a@example.com"), nil); err != nil {
		t.Fatal(err)
	}
	alerttest.PrivateModes(t, root)
}
