package mail

import (
	"bytes"
	"fmt"

	gomail "github.com/wneessen/go-mail"
)

// Message is a finished message: its envelope and its content as it goes
// on the wire, before dot-stuffing and DKIM signing, which the connection
// that carries it does.
type Message struct {
	// From and To are the envelope's paths as MAIL FROM and RCPT TO take
	// them: "<reader@example.org>".
	From, To string
	// Data is the RFC 5322 message with CRLF line endings.
	Data []byte
	// BeforeEnd, when set, is called once the connection has handed the
	// relay all of Data but not yet the end of the data, the mark at which
	// the relay takes the message; the worker waits there until the
	// previous message's outcome is recorded, so that the recording
	// overlaps with this message's transfer.
	BeforeEnd func()
}

// Encode writes a go-mail message out as a Message for one recipient.
func Encode(m *gomail.Msg) (Message, error) {
	from, err := m.GetSender(false)
	if err != nil {
		return Message{}, fmt.Errorf("message sender: %w", err)
	}
	rcpts, err := m.GetRecipients()
	if err != nil {
		return Message{}, fmt.Errorf("message recipients: %w", err)
	}
	if len(rcpts) != 1 {
		return Message{}, fmt.Errorf("message has %d recipients, want 1", len(rcpts))
	}
	var raw bytes.Buffer
	if _, err := m.WriteTo(&raw); err != nil {
		return Message{}, fmt.Errorf("write the message: %w", err)
	}
	return Message{From: from, To: rcpts[0], Data: raw.Bytes()}, nil
}
