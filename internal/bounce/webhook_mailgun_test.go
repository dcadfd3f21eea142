package bounce

import "testing"

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
