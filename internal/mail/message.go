package mail

import (
	"bytes"
	"fmt"

	gomail "github.com/wneessen/go-mail"
)

// Message is a finished e-mail, what the Composer makes and a Conn sends:
// its envelope and its content as it goes on the wire, before
// dot-stuffing and DKIM signing, which the connection that carries it does.
type Message struct {
	// From and To are the envelope's paths as MAIL FROM and RCPT TO take
	// them: "<reader@example.org>".
	From, To string
	// Data is the RFC 5322 message with CRLF line endings; a connection
	// may use its spare capacity.
	Data []byte
}

// encode writes a go-mail message out as a Message for one recipient.
func encode(m *gomail.Msg) (Message, error) {
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
