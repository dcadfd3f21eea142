package mail_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/mail"
	"github.com/alertd/alertd/internal/mail/mailtest"
)

var now = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

func testSettings() mail.Settings {
	return mail.Settings{
		ServiceName:       "Research Centre Reports",
		From:              "Report Alerts <alerts@reports.example.org>",
		ListID:            "Report alerts <alerts.reports.example.org>",
		UnsubscribeMailto: "unsubscribe@reports.example.org",
		BaseURL:           "https://reports.example.org/",
	}
}

func newComposer(t *testing.T, s mail.Settings) *mail.Composer {
	t.Helper()
	c, err := mail.NewComposer(s, alertd.Templates())
	if err != nil {
		t.Fatalf("NewComposer: %v", err)
	}
	return c
}

// plainSMTP returns a transport to srv without TLS, as the tests' server
// speaks plain text unless asked otherwise.
func plainSMTP(t *testing.T, srv *mailtest.Server) *mail.SMTPTransport {
	t.Helper()
	tr, err := mail.NewSMTPTransport(mail.SMTPSettings{
		Host: srv.Host, Port: srv.Port, TLS: mail.TLSNone, Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatalf("NewSMTPTransport: %v", err)
	}
	return tr
}

func dial(t *testing.T, tr mail.Transport) mail.Conn {
	t.Helper()
	conn, err := tr.Dial(context.Background())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// deliver sends m through a fresh connection to a fresh server and returns
// what the server received.
func deliver(t *testing.T, m mail.Message) mailtest.Message {
	t.Helper()
	srv := mailtest.NewServer(t)
	conn := dial(t, plainSMTP(t, srv))
	if err := conn.Send(context.Background(), m, nil); err != nil {
		t.Fatalf("Send: %v", err)
	}
	return srv.Wait(t, 1)[0]
}

// confirmation is a confirmation mail to to, ready to send.
func confirmation(t *testing.T, c *mail.Composer, to string) mail.Message {
	t.Helper()
	m, err := c.Confirmation(mail.Confirmation{
		To: to, ConfirmURL: "https://reports.example.org/confirm/tok", ExpiresAt: now.Add(72 * time.Hour),
	}, now)
	if err != nil {
		t.Fatalf("Confirmation: %v", err)
	}
	return m
}

var urlPattern = regexp.MustCompile(`(?:https?|mailto|javascript):[^\s"'<>]+`)

func urls(s string) []string {
	return urlPattern.FindAllString(s, -1)
}
