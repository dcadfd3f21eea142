package config

import (
	"fmt"
	"net/mail"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// Warnings are what a valid configuration still gets wrong for its mail to
// be delivered, each naming its key; `alertd check` prints them. Call it on
// a configuration Load has checked.
func (cfg *Config) Warnings() []string {
	var warnings []string
	from := addressDomain(cfg.Mail.From)
	if from == addressDomain(defaults().Mail.From) {
		warnings = append(warnings, fmt.Sprintf("mail.from is still the default %q: receivers refuse or bin mail from a domain that is not yours; set it to an address at your domain", cfg.Mail.From))
	}
	if cfg.DKIM.Enabled() && from != "" && !aligned(cfg.DKIM.Domain, from) {
		warnings = append(warnings, fmt.Sprintf("dkim.domain %q does not align with the From domain %q: DMARC then fails and receivers that check it reject or bin the mail; sign for %s or a parent or subdomain of it in the same organisational domain", cfg.DKIM.Domain, from, from))
	}
	return warnings
}

// addressDomain is the domain of an address like "Name <a@example.org>",
// lower case, or "" when it has none.
func addressDomain(s string) string {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return ""
	}
	at := strings.LastIndexByte(a.Address, '@')
	return normalDomain(a.Address[at+1:])
}

// normalDomain is d as DMARC compares domains: lower case, without a
// trailing dot, and an internationalised name in its ASCII form
// ("bücher.example" is "xn--bcher-kva.example"), so that either spelling
// of one name aligns with the other.
func normalDomain(d string) string {
	d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
	if ascii, err := idna.Lookup.ToASCII(d); err == nil {
		return ascii
	}
	return d
}

// aligned is DMARC's relaxed alignment of a DKIM signing domain with the
// From domain: the two are the same, or share their organisational domain,
// the registered name under a public suffix (news.example.org and
// example.org do; example.org and example.net, or two names under co.uk,
// do not).
func aligned(dkimDomain, from string) bool {
	a, b := normalDomain(dkimDomain), normalDomain(from)
	if a == b {
		return true
	}
	orgA, errA := publicsuffix.EffectiveTLDPlusOne(a)
	orgB, errB := publicsuffix.EffectiveTLDPlusOne(b)
	return errA == nil && errB == nil && orgA == orgB
}
