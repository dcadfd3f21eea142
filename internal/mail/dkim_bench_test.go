package mail_test

import (
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/mail"
)

// BenchmarkDKIMSign measures signing one digest copy (about 8 kB), which
// every connection does per message when dkim.* is set.
func BenchmarkDKIMSign(b *testing.B) {
	c, err := mail.NewComposer(mail.Settings{ServiceName: "Reports", From: "Alerts <alerts@reports.example.org>", BaseURL: "https://reports.example.org"}, alertd.Templates())
	if err != nil {
		b.Fatal(err)
	}
	var reports []alertd.Report
	for range 3 {
		reports = append(reports, alertd.Report{
			Title: "Trade, tariffs and supply chains", URL: "https://reports.example.org/r/1",
			PublishedAt: time.Now(), Abstract: strings.Repeat("Productivity growth slowed markedly after 2008. ", 8),
		})
	}
	prepared, err := c.PrepareDigest(mail.Digest{Reports: reports})
	if err != nil {
		b.Fatal(err)
	}
	m, err := prepared.Message("reader@example.com", "https://reports.example.org/unsubscribe/42.Ab-_c", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	for _, key := range dkimKeys(b) {
		b.Run(key.name, func(b *testing.B) {
			signer := dkimSigner(b, key.key)
			b.SetBytes(int64(len(m.Data)))
			for b.Loop() {
				if _, err := mail.Sign(m.Data, signer); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
