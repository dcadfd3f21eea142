package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

// TestCheckWarnsOfMailThatWillNotAlign proves that `alertd check` warns,
// and still succeeds, when mail.from is the default or the DKIM domain does
// not align with From's, and says nothing more when they align.
func TestCheckWarnsOfMailThatWillNotAlign(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := writeFile(t, "dkim.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	tests := []struct {
		name     string
		from     string // "" leaves the default
		dkim     string // the DKIM domain; "" signs nothing
		warnings []string
	}{
		{"the default From, signed for example.org", "", "example.org", []string{
			`warning: mail.from is still the default "Report Alerts <alerts@localhost>"`,
			`warning: dkim.domain "example.org" does not align with the From domain "localhost"`,
		}},
		{"From example.org, signed for example.net", "Research Alerts <alerts@example.org>", "example.net", []string{
			`warning: dkim.domain "example.net" does not align with the From domain "example.org"`,
		}},
		{"From a subdomain, signed for its parent", "Research Alerts <alerts@news.example.org>", "example.org", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := cliEnv(t)
			if tc.from == "" {
				delete(env, "ALERTD_MAIL_FROM")
			} else {
				env["ALERTD_MAIL_FROM"] = tc.from
			}
			env["ALERTD_DKIM_DOMAIN"], env["ALERTD_DKIM_SELECTOR"], env["ALERTD_DKIM_PRIVATE_KEY_FILE"] = tc.dkim, "alertd", keyFile
			out := cliOK(t, env, "check")
			var got []string
			for line := range strings.Lines(out) {
				if strings.HasPrefix(line, "warning: ") {
					got = append(got, line)
				}
			}
			if len(got) != len(tc.warnings) {
				t.Fatalf("check printed %d warnings, want %d:\n%s", len(got), len(tc.warnings), out)
			}
			for i, want := range tc.warnings {
				if !strings.HasPrefix(got[i], want) {
					t.Errorf("warning %d is %q; want it to start %q", i+1, got[i], want)
				}
			}
		})
	}
}
