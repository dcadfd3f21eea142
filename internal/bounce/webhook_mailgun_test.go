package bounce

import (
	"testing"

	"github.com/alertd/alertd"
)

func TestParseMailgunReadsTheEnvelopeSender(t *testing.T) {
	// Mailgun's documented event-data carries the envelope it sent with,
	// which is what tells alertd's mail from other mail of the account.
	body := `{"signature":{},"event-data":{"id":"Ase7i2zsRYeDXztHGENqRA","timestamp":1772438340.1,"event":"failed","severity":"permanent","recipient":"gone@example.com",` +
		`"envelope":{"sender":"bounces+7-abcdefghijklmnop@bounces.example.org","transport":"smtp","targets":"gone@example.com"},` +
		`"delivery-status":{"code":550,"message":"5.1.1 No such user","enhanced-code":"5.1.1"}}}`
	got, err := ParseMailgun([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ReturnPath != "bounces+7-abcdefghijklmnop@bounces.example.org" {
		t.Errorf("parsed %+v", got)
	}
}

func TestProviderPermanentFailuresFollowTheStatusRules(t *testing.T) {
	// A provider's "permanent" covers more than a dead address: only
	// 5.1.x and 5.2.1 are hard; a full mailbox (5.2.2) or a relay that
	// gave up on a temporary failure (4.x.x) is soft, as in a DSN.
	mailgun := func(code string) string {
		return `{"signature":{},"event-data":{"id":"e-` + code + `","event":"failed","severity":"permanent","reason":"old","recipient":"r@example.com",` +
			`"delivery-status":{"code":421,"message":"` + code + ` try later","enhanced-code":"` + code + `"}}}`
	}
	postmark := func(details string) string {
		return `{"RecordType":"Bounce","ID":42,"Type":"HardBounce","Email":"r@example.com","Details":"` + details + `"}`
	}
	sendgrid := func(status string) string {
		return `[{"email":"r@example.com","event":"bounce","type":"bounce","status":"` + status + `","sg_event_id":"s-` + status + `"}]`
	}
	for _, tt := range []struct {
		name  string
		parse func([]byte) ([]alertd.Bounce, error)
		body  string
		want  alertd.BounceKind
	}{
		{"mailgun 4.4.7", ParseMailgun, mailgun("4.4.7"), alertd.BounceSoft},
		{"mailgun 5.1.1", ParseMailgun, mailgun("5.1.1"), alertd.BounceHard},
		{"postmark 5.2.2", ParsePostmark, postmark("smtp;552 5.2.2 mailbox full"), alertd.BounceSoft},
		{"postmark 5.2.1", ParsePostmark, postmark("smtp;550 5.2.1 mailbox disabled"), alertd.BounceHard},
		{"postmark no code", ParsePostmark, postmark("unknown user"), alertd.BounceHard},
		{"sendgrid 5.3.0", ParseSendGrid, sendgrid("5.3.0"), alertd.BounceSoft},
		{"sendgrid 5.7.1", ParseSendGrid, sendgrid("5.7.1"), alertd.BouncePolicy},
	} {
		got, err := tt.parse([]byte(tt.body))
		if err != nil || len(got) != 1 || got[0].Kind != tt.want {
			t.Errorf("%s: %+v (%v), want one %s", tt.name, got, err, tt.want)
		}
	}
}
