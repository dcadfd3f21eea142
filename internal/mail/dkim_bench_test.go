package mail

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd"
)

// BenchmarkDKIMSign measures signing one digest copy (about 8 kB), which
// every connection does per message when dkim.* is set.
func BenchmarkDKIMSign(b *testing.B) {
	c, err := NewComposer(Settings{ServiceName: "Reports", From: "Alerts <alerts@reports.example.org>", BaseURL: "https://reports.example.org"}, alertd.Templates())
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
	prepared, err := c.PrepareDigest(Digest{Reports: reports})
	if err != nil {
		b.Fatal(err)
	}
	m, err := prepared.Message("reader@example.com", "https://reports.example.org/unsubscribe/42.Ab-_c", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	for _, bench := range []struct {
		name string
		key  crypto.Signer
	}{{"rsa-2048", rsaKey}, {"ed25519", edKey}} {
		b.Run(bench.name, func(b *testing.B) {
			der, err := x509.MarshalPKCS8PrivateKey(bench.key)
			if err != nil {
				b.Fatal(err)
			}
			signer, err := NewDKIMSigner("reports.example.org", "alertd", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(m.Data)))
			for b.Loop() {
				if _, err := sign(m.Data, signer); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
