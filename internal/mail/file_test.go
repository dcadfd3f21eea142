package mail_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alertd/alertd/internal/mail"
	"github.com/alertd/alertd/internal/mail/mailtest"
)

func TestFileTransportWritesOneParsableFilePerMessage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not", "there", "yet")
	conn := dial(t, mail.NewFileTransport(dir))
	c := newComposer(t, testSettings())
	recipients := []string{"a@example.com", "b@example.com", "c@example.com"}
	for _, to := range recipients {
		if err := conn.Send(context.Background(), confirmation(t, c, to), nil); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(recipients) {
		t.Fatalf("%d files in %s, want %d", len(entries), dir, len(recipients))
	}
	for i, e := range entries { // names start with the time: listed in order
		if !strings.HasSuffix(e.Name(), ".eml") || strings.HasPrefix(e.Name(), ".") {
			t.Errorf("file %q is not a finished .eml", e.Name())
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		p := mailtest.Message{Data: data}.Parse(t)
		if !strings.Contains(p.Header.Get("To"), recipients[i]) || !strings.Contains(p.Text, "confirm/tok") {
			t.Errorf("file %s: To %q, want %s with the confirmation text", e.Name(), p.Header.Get("To"), recipients[i])
		}
	}
}
