package mail

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Transport opens connections that carry messages away.
type Transport interface {
	Dial(ctx context.Context) (Conn, error)
}

// Conn sends messages one after another over one connection. A Conn is
// meant for one worker; its methods may be called from several goroutines
// but then run one at a time.
type Conn interface {
	// Send sends m. When beforeContent is not nil, Send calls it once the
	// relay has accepted the envelope, before the content and the end of
	// data, at which the relay takes the message: a delivery worker waits
	// there until the previous message's outcome is recorded, so that the
	// recording overlaps with this message's preparation and envelope, and
	// yet at most one of its messages is ever sent but not recorded.
	// (Waiting later, between the content and the end mark, costs a write
	// and a wake-up of the relay more per message, and more CPU than it
	// saves.)
	Send(ctx context.Context, m Message, beforeContent func()) error
	Close() error
}

// FileTransport writes each message as an .eml file into a directory, for
// development and tests: open the files with any mail client.
type FileTransport struct {
	dir string
	// DKIM signs every message when set, as on the wire.
	DKIM *DKIMSigner
}

// NewFileTransport returns a transport writing into dir, which is created
// on the first Dial if missing.
func NewFileTransport(dir string) *FileTransport {
	return &FileTransport{dir: dir}
}

// Dial makes sure the directory exists. Messages hold confirmation and
// unsubscribe links, so the directory, when alertd creates it, is its
// user's alone (0700), as is each file (os.CreateTemp makes them 0600).
func (t *FileTransport) Dial(ctx context.Context) (Conn, error) {
	if err := os.MkdirAll(t.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create the mail directory (mail.dir): %w", err)
	}
	return fileConn{dir: t.dir, dkim: t.DKIM}, nil
}

type fileConn struct {
	dir  string
	dkim *DKIMSigner
}

// Send writes m to a temporary file and renames it into place, so that a
// reader watching the directory never sees half a message. The name starts
// with the time so a listing shows the messages in order.
func (c fileConn) Send(ctx context.Context, m Message, beforeContent func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(c.dir, ".writing-*.eml")
	if err != nil {
		return fmt.Errorf("write message file: %w", err)
	}
	defer os.Remove(tmp.Name()) // only matters when the rename did not happen
	raw, err := sign(m.Data, c.dkim)
	if err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return fmt.Errorf("write message file %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write message file %s: %w", tmp.Name(), err)
	}
	if beforeContent != nil {
		beforeContent()
	}
	name := time.Now().UTC().Format("20060102T150405.000000000Z") + "-" + rand.Text() + ".eml"
	if err := os.Rename(tmp.Name(), filepath.Join(c.dir, name)); err != nil {
		return fmt.Errorf("write message file: %w", err)
	}
	return nil
}

func (fileConn) Close() error { return nil }
