package mail_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/mail"
)

// BenchmarkPreparedDigestMessage measures one copy of a digest of three
// reports (about 8 kB): spliced, as most copies are, and written by go-mail,
// as copies to an address that needs quoting are and every copy was before.
func BenchmarkPreparedDigestMessage(b *testing.B) {
	c, err := mail.NewComposer(testSettings(), alertd.Templates())
	if err != nil {
		b.Fatal(err)
	}
	prepared, err := c.PrepareDigest(benchDigest())
	if err != nil {
		b.Fatal(err)
	}
	const link = "https://reports.example.org/unsubscribe/42.Ab-_cXyZ0123456789"
	for _, bench := range []struct{ name, to string }{
		{"spliced", "reader@example.com"},
		{"written by go-mail", `"john doe"@example.com`},
	} {
		b.Run(bench.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := prepared.Message(bench.to, link, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchDigest() mail.Digest {
	abstract := strings.Repeat("Productivity growth in the euro area slowed markedly after 2008. ", 5)
	var reports []alertd.Report
	for i := range 3 {
		reports = append(reports, alertd.Report{
			Title:       fmt.Sprintf("Trade, tariffs and the Müller–Chen model of supply chains, part %d", i+1),
			URL:         fmt.Sprintf("https://reports.example.org/r/%d", 100+i),
			PublishedAt: time.Date(2026, 2, 20+i, 0, 0, 0, 0, time.UTC),
			Series:      "Research Report",
			Number:      fmt.Sprintf("No. %d, 2026", 20+i),
			Authors:     []string{"Ana Müller", "Bo Chen", "Carla Diaz"},
			Abstract:    abstract,
		})
	}
	return mail.Digest{Subject: "New reports: 3 publications", Reports: reports}
}
