package mail

import (
	"fmt"
	"html"
	netmail "net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Stand-ins for the per-recipient parts of a prepared digest. They pass
// through the templates (and html/template's escaping) unchanged, and no
// real address or link contains them.
const (
	recipientStandIn   = "alertd-recipient@recipient.invalid"
	unsubscribeStandIn = "https://unsubscribe.invalid/alertd-unsubscribe-link"
)

// PreparedDigest is a digest rendered once for all who receive the same
// reports; only the recipient's address and unsubscribe link are filled in
// per message, so a million copies cost a million string replacements, not
// a million template executions.
type PreparedDigest struct {
	composer            *Composer
	subject, text, html string
}

// PrepareDigest renders d (its To and UnsubscribeURL are ignored) for
// Message to fill in. Templates may show .To and .UnsubscribeURL as they
// are; transforming them (say, upper-casing the address) would transform
// the stand-in instead.
func (c *Composer) PrepareDigest(d Digest) (*PreparedDigest, error) {
	d.To, d.UnsubscribeURL = recipientStandIn, unsubscribeStandIn
	data := c.digestData(d)
	subject, err := c.subject(digestMail, data)
	if err != nil {
		return nil, err
	}
	data.Subject = subject
	text, html, err := c.render(digestMail, data)
	if err != nil {
		return nil, err
	}
	return &PreparedDigest{composer: c, subject: subject, text: text, html: html}, nil
}

// Message fills in one recipient's copy.
func (p *PreparedDigest) Message(to, unsubscribeURL string, now time.Time) (*gomail.Msg, error) {
	rcpt, err := netmail.ParseAddress(to)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrBadAddress, to, err)
	}
	text := strings.NewReplacer(recipientStandIn, to, unsubscribeStandIn, unsubscribeURL).Replace(p.text)
	body := strings.NewReplacer(recipientStandIn, html.EscapeString(to), unsubscribeStandIn, html.EscapeString(unsubscribeURL)).Replace(p.html)
	m := p.composer.build(rcpt, p.subject, text, body, now)
	p.composer.setListHeaders(m, unsubscribeURL)
	return m, nil
}
