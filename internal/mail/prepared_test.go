package mail_test

import (
	"bytes"
	"testing"

	"github.com/alertd/alertd/internal/mail"
	"github.com/alertd/alertd/internal/mail/mailtest"
	gomail "github.com/wneessen/go-mail"
)

// TestPreparedDigestMatchesAFreshRendering proves that filling a digest
// rendered once gives every recipient exactly what rendering it for them
// would, headers included, even for an address that HTML must escape.
func TestPreparedDigestMatchesAFreshRendering(t *testing.T) {
	c := newComposer(t, testSettings())
	d := mail.Digest{Subject: "New reports: 5 publications", Reports: hostileReports(), More: 3}
	prepared, err := c.PrepareDigest(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{"reader@example.com", "o'brien&sons@example.com"} {
		unsubscribe := "https://reports.example.org/unsubscribe/42.Ab-_c"
		fresh := d
		fresh.To, fresh.UnsubscribeURL = to, unsubscribe
		want := parse(t)(c.Digest(fresh, now))
		got := parse(t)(prepared.Message(to, unsubscribe, now))
		if got.Text != want.Text || got.HTML != want.HTML || got.Subject != want.Subject {
			t.Errorf("prepared copy for %s differs from a fresh rendering", to)
		}
		for _, h := range []string{"To", "List-Unsubscribe", "List-Unsubscribe-Post", "List-Id", "Precedence", "Auto-Submitted"} {
			if got.Header.Get(h) != want.Header.Get(h) {
				t.Errorf("%s: %s = %q, want %q", to, h, got.Header.Get(h), want.Header.Get(h))
			}
		}
	}
}

// parse returns a function taking a composer's results, so that a call
// can be passed to it directly.
func parse(t *testing.T) func(*gomail.Msg, error) mailtest.Parsed {
	return func(m *gomail.Msg, err error) mailtest.Parsed {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := m.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		return mailtest.Message{Data: buf.Bytes()}.Parse(t)
	}
}
