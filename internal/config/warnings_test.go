package config

import (
	"strings"
	"testing"
)

// TestWarnings proves that a configuration still sending from the default
// address, or signing for a domain that does not align with From's under
// DMARC's relaxed rule, is warned about, and that an aligned one is not.
func TestWarnings(t *testing.T) {
	dkim := func(domain, from string) map[string]string {
		vars := map[string]string{"ALERTD_MAIL_FROM": from}
		if domain != "" {
			vars["ALERTD_DKIM_DOMAIN"] = domain
			vars["ALERTD_DKIM_SELECTOR"] = "alertd"
			vars["ALERTD_DKIM_PRIVATE_KEY_FILE"] = "/etc/alertd/dkim.pem"
		}
		return vars
	}
	tests := []struct {
		name string
		vars map[string]string
		want []string // the start of each warning
	}{
		{"the defaults", nil, []string{`mail.from is still the default "Report Alerts <alerts@localhost>"`}},
		{"the default address under another name", dkim("", "Alerts <alerts@localhost>"), []string{"mail.from is still the default"}},
		{"signed for example.org, sent from localhost", dkim("example.org", "Report Alerts <alerts@localhost>"),
			[]string{"mail.from is still the default", `dkim.domain "example.org" does not align with the From domain "localhost"`}},
		{"another domain", dkim("example.net", "alerts@example.org"), []string{`dkim.domain "example.net" does not align with the From domain "example.org"`}},
		{"two registrations under one public suffix", dkim("other.co.uk", "alerts@reports.co.uk"), []string{`dkim.domain "other.co.uk" does not align`}},
		{"the same domain", dkim("example.org", "Report Alerts <alerts@example.org>"), nil},
		{"the same domain in other case", dkim("Example.ORG.", "alerts@example.org"), nil},
		{"a parent of From's domain", dkim("example.org", "alerts@news.example.org"), nil},
		{"a subdomain of From's domain", dkim("mail.example.org", "alerts@example.org"), nil},
		{"a sibling in the same organisation", dkim("mail.example.co.uk", "alerts@news.example.co.uk"), nil},
		{"a public suffix is no organisation", dkim("co.uk", "alerts@news.example.co.uk"), []string{`dkim.domain "co.uk" does not align`}},
		{"From's domain in other case", dkim("example.org", "alerts@NEWS.Example.org"), nil},
		{"an IDN signed as its A-label", dkim("xn--bcher-kva.example", "alerts@bücher.example"), nil},
		{"an IDN's subdomain signed in Unicode", dkim("Bücher.example", "alerts@news.xn--bcher-kva.example"), nil},
		{"two IDNs", dkim("xn--bcher-kva.example", "alerts@bucher.example"), []string{`dkim.domain "xn--bcher-kva.example" does not align`}},
		{"no DKIM", dkim("", "alerts@example.org"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Load("", env(tc.vars))
			if err != nil {
				t.Fatal(err)
			}
			got := cfg.Warnings()
			if len(got) != len(tc.want) {
				t.Fatalf("warnings %q; want %d starting %q", got, len(tc.want), tc.want)
			}
			for i, want := range tc.want {
				if !strings.HasPrefix(got[i], want) {
					t.Errorf("warning %d is %q; want it to start %q", i+1, got[i], want)
				}
			}
		})
	}
}

// An internationalised DKIM domain is signed in its ASCII form, the name
// receivers look the key up under.
func TestDKIMDomainInASCII(t *testing.T) {
	cfg, err := Load("", env(map[string]string{"ALERTD_DKIM_DOMAIN": "Bücher.Example.", "ALERTD_DKIM_SELECTOR": "alertd", "ALERTD_DKIM_PRIVATE_KEY_FILE": "/etc/alertd/dkim.pem"}))
	if err != nil || cfg.DKIM.Domain != "xn--bcher-kva.example" {
		t.Errorf("dkim.domain read as %q, %v; want xn--bcher-kva.example", cfg.DKIM.Domain, err)
	}
}
