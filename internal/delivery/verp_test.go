package delivery_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/alertd/alertd/internal/bounce"
	"github.com/alertd/alertd/internal/delivery"
	"github.com/alertd/alertd/internal/store"
)

// TestEnvelopeSenderNamesTheMessage proves that with a bounce domain each
// message's MAIL FROM is a VERP address whose reference verifies to that
// very message, sent to that subscriber, while the From header stays.
func TestEnvelopeSenderNamesTheMessage(t *testing.T) {
	signer, err := bounce.NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, 5, fastSettings(), func(m *delivery.MailRenderer) {
		m.ReturnPath = func(id int64) string { return signer.Address(id, "bounces.example.org") }
	})
	r.deliver(t, r.digest, nil)
	msgs := r.smtp.Messages()
	if len(msgs) != 5 {
		t.Fatalf("relay got %d messages, want 5", len(msgs))
	}
	seen := map[int64]bool{}
	for _, m := range msgs {
		id, ok := signer.AddressMessage(m.From)
		if !ok {
			t.Fatalf("MAIL FROM %q carries no verified reference", m.From)
		}
		if seen[id] {
			t.Errorf("two messages name outbox message %d", id)
		}
		seen[id] = true
		var subscriberID int64
		if err := r.store.Read(context.Background(), func(tx *store.Tx) error {
			var err error
			subscriberID, _, err = tx.MessageRecipient(id)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if subscriberID != r.ids[m.To[0]] {
			t.Errorf("MAIL FROM %q names subscriber %d, but went to %s (%d)", m.From, subscriberID, m.To[0], r.ids[m.To[0]])
		}
		if !bytes.Contains(m.Data, []byte("\r\nFrom: \"Research Alerts\" <alerts@example.org>\r\n")) {
			t.Errorf("From header changed:\n%s", m.Data[:400])
		}
	}
}

// TestEnvelopeSenderIsTheFromAddressWithoutBounceDomain proves nothing
// changes while no bounce domain is set.
func TestEnvelopeSenderIsTheFromAddressWithoutBounceDomain(t *testing.T) {
	r := newRig(t, 2, fastSettings())
	r.deliver(t, r.digest, nil)
	for _, m := range r.smtp.Messages() {
		if m.From != "alerts@example.org" {
			t.Errorf("MAIL FROM %q, want alerts@example.org", m.From)
		}
	}
}
