package delivery_test

import (
	"context"
	"fmt"
	"html"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/mail/mailtest"
	"github.com/alertd/alertd/internal/store"
)

// TestDigestShowsReportTextThatMimicsTheRecipientPartsAsPublished proves
// that a report whose text holds what looks like the per-recipient parts of
// a digest (the stand-ins a prepared digest once used for the address and
// the unsubscribe link) reaches every reader exactly as published: neither
// the reader's address nor their unsubscribe token is spliced into the
// report's link or title, in either part.
func TestDigestShowsReportTextThatMimicsTheRecipientPartsAsPublished(t *testing.T) {
	const (
		oldRecipient   = "alertd-recipient@recipient.invalid"
		oldUnsubscribe = "https://unsubscribe.invalid/alertd-unsubscribe-link"
	)
	hostile := alertd.Report{
		GUID:        "hostile",
		URL:         "https://evil.example/r?u=" + oldUnsubscribe + "&e=" + oldRecipient,
		Title:       "Mind the gap " + oldRecipient + " " + oldUnsubscribe,
		PublishedAt: time.Now().Add(-time.Hour), CreatedAt: time.Now(),
	}
	r := newRig(t, 3, fastSettings())
	r.deliver(t, r.digest, nil)
	before := len(r.smtp.Messages())

	ctx := context.Background()
	if err := r.store.Write(ctx, func(tx *store.Tx) error {
		_, _, err := tx.AddReport(hostile, false)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	d, created, err := compileDigest(ctx, r.store, time.Now(), 168*time.Hour)
	if err != nil || !created {
		t.Fatalf("compile digest: created=%v %v", created, err)
	}
	checkCounts(t, r.deliver(t, d.ID, nil), counts{sent: len(r.emails)})

	messages := r.smtp.Messages()[before:]
	if len(messages) != len(r.emails) {
		t.Fatalf("%d messages arrived, want %d", len(messages), len(r.emails))
	}
	for _, m := range messages {
		to := m.To[0]
		token := fmt.Sprintf("token-%d", r.ids[to])
		p := mailtest.Message{Data: m.Data}.Parse(t)
		parts := []struct {
			name, body, url, title string
		}{
			{"text", p.Text, "\n  " + hostile.URL + "\n", "* " + hostile.Title + "\n"},
			{"html", p.HTML, `href="` + html.EscapeString(hostile.URL) + `"`, ">" + hostile.Title + "</a>"},
		}
		for _, part := range parts {
			if !strings.Contains(part.body, part.url) {
				t.Errorf("%s: the %s part lacks the report's link as published, %s:\n%s", to, part.name, part.url, part.body)
			}
			if !strings.Contains(part.body, part.title) {
				t.Errorf("%s: the %s part lacks the report's title as published, %s:\n%s", to, part.name, part.title, part.body)
			}
			// The digest shows the address nowhere and the token only in
			// its own unsubscribe link.
			if n := strings.Count(part.body, to); n != 0 {
				t.Errorf("%s: the %s part shows the address %d times, want none:\n%s", to, part.name, n, part.body)
			}
			if n := strings.Count(part.body, token); n != 1 {
				t.Errorf("%s: the %s part shows the token %d times, want once, in the unsubscribe link:\n%s", to, part.name, n, part.body)
			}
		}
	}
}
