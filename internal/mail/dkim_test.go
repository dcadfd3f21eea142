package mail_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/alertd/alertd/internal/mail"
)

// TestDKIMSignatureVerifiesAndCoversTheUnsubscribeHeaders signs a welcome
// mail with an RSA and an Ed25519 key and verifies it the way a receiving
// mail server would: the signature holds, it covers List-Unsubscribe and
// List-Unsubscribe-Post (RFC 8058 §4), and tampering with the one-click link
// breaks it.
func TestDKIMSignatureVerifiesAndCoversTheUnsubscribeHeaders(t *testing.T) {
	for _, tc := range dkimKeys(t) {
		t.Run(tc.name, func(t *testing.T) {
			signer := dkimSigner(t, tc.key)
			m, err := newComposer(t, testSettings()).Welcome(mail.Welcome{
				To: "reader@example.com", UnsubscribeURL: "https://reports.example.org/unsubscribe/42.abc",
				Reports: hostileReports(),
			}, now)
			if err != nil {
				t.Fatal(err)
			}
			// The file transport writes exactly what the SMTP one sends.
			dir := t.TempDir()
			transport := mail.NewFileTransport(dir)
			transport.DKIM = signer
			if err := dial(t, transport).Send(context.Background(), m, nil); err != nil {
				t.Fatal(err)
			}
			files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
			if err != nil || len(files) != 1 {
				t.Fatalf("files %v, %v", files, err)
			}
			written, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			raw := bytes.NewBuffer(written)
			lookup := func(domain string) ([]string, error) {
				if domain != "alertd._domainkey.reports.example.org" {
					t.Errorf("looked up %q", domain)
				}
				return []string{dkimRecord(t, tc.key)}, nil
			}
			verifications, err := dkim.VerifyWithOptions(bytes.NewReader(raw.Bytes()), &dkim.VerifyOptions{LookupTXT: lookup})
			if err != nil || len(verifications) != 1 {
				t.Fatalf("verify: %v, %d signatures", err, len(verifications))
			}
			v := verifications[0]
			if v.Err != nil {
				t.Fatalf("signature does not verify: %v", v.Err)
			}
			keys := strings.ToLower(strings.Join(v.HeaderKeys, ":"))
			for _, h := range []string{"from", "to", "subject", "date", "message-id", "mime-version", "content-type", "list-unsubscribe", "list-unsubscribe-post"} {
				if !slices.Contains(strings.Split(keys, ":"), h) {
					t.Errorf("signature does not cover %s (h=%s)", h, keys)
				}
			}

			tampered := bytes.Replace(raw.Bytes(), []byte("/unsubscribe/42.abc"), []byte("/unsubscribe/43.abc"), 1)
			verifications, err = dkim.VerifyWithOptions(bytes.NewReader(tampered), &dkim.VerifyOptions{LookupTXT: lookup})
			if err != nil || len(verifications) != 1 || verifications[0].Err == nil {
				t.Fatal("a changed List-Unsubscribe still verifies")
			}
		})
	}
}

func TestDKIMSignerRefusesABadKey(t *testing.T) {
	for name, key := range map[string][]byte{
		"not PEM":       []byte("hello"),
		"wrong type":    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}),
		"broken PKCS#8": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
	} {
		if _, err := mail.NewDKIMSigner("example.org", "s", key); err == nil || !strings.Contains(err.Error(), "DKIM private key") {
			t.Errorf("%s: err = %v, want a clear error about the DKIM private key", name, err)
		}
	}
}

// dkimKey is a signing key of a kind dkim.private_key_file may hold.
type dkimKey struct {
	name string
	key  crypto.Signer
}

// dkimKeys are a fresh key of each kind alertd signs with.
func dkimKeys(tb testing.TB) []dkimKey {
	tb.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return []dkimKey{{"rsa-2048", rsaKey}, {"ed25519", edKey}}
}

// dkimSigner is a signer for reports.example.org, selector alertd, with key
// read from PEM as from dkim.private_key_file.
func dkimSigner(tb testing.TB, key crypto.Signer) *mail.DKIMSigner {
	tb.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	signer, err := mail.NewDKIMSigner("reports.example.org", "alertd", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err != nil {
		tb.Fatal(err)
	}
	return signer
}

// dkimRecord is the DNS TXT record that publishes key's public half.
func dkimRecord(t *testing.T, key crypto.Signer) string {
	t.Helper()
	switch public := key.Public().(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(public)
		if err != nil {
			t.Fatal(err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(public)
	}
	t.Fatalf("no DKIM record for a %T key", key)
	return ""
}
