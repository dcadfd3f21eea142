package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/alerttest"
	"github.com/alertd/alertd/internal/bounce"
	"github.com/alertd/alertd/internal/mail/mailtest"
)

// TestBounceToVERPSenderShowsInExport proves the wiring end to end: with
// bounce.domain set, a digest's envelope sender is a VERP address signed
// with security.secret; a report naming that address bounces the reader
// it went to and nobody else, and the export shows it with its evidence.
func TestBounceToVERPSenderShowsInExport(t *testing.T) {
	srv := mailtest.NewServer(t)
	env := smtpEnv(t, srv)
	const secret = "a-secret-of-at-least-32-bytes-for-tests"
	env["ALERTD_SECURITY_SECRET"] = secret
	env["ALERTD_BOUNCE_DOMAIN"] = "bounces.example.org"
	cliOK(t, env, "subscribers", "import", "--confirmed", writeFile(t, "s.csv", "email\nada@example.org\nbob@example.org\n"))
	addTwoReports(t, env)
	cliOK(t, env, "digest", "send")

	signer, err := bounce.NewSigner([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	var adaMessage int64
	for _, m := range srv.Messages() {
		if !strings.HasSuffix(m.From, "@bounces.example.org") {
			t.Errorf("MAIL FROM %q is not at the bounce domain", m.From)
		}
		id, ok := signer.AddressMessage(m.From)
		if !ok {
			t.Fatalf("MAIL FROM %q does not verify", m.From)
		}
		if m.To[0] == "ada@example.org" {
			adaMessage = id
		}
	}
	if adaMessage == 0 {
		t.Fatal("no digest went to ada@example.org")
	}

	st := alerttest.OpenStore(t, env["ALERTD_DATABASE_PATH"])
	svc := bounce.NewService(st, bounce.Rules{SoftLimit: 3, SoftWindow: time.Hour}, signer, time.Now, nil)
	if _, err := svc.Record(context.Background(), alertd.Bounce{
		Kind: alertd.BounceHard, Source: alertd.SourceDSN, MessageID: adaMessage, Email: "ada@example.org",
		Status: "5.1.1", Diagnostic: "smtp; 550 5.1.1 no such user", Evidence: "Action: failed\nStatus: 5.1.1", Key: "dsn-1",
	}); err != nil {
		t.Fatal(err)
	}

	export := exportOf(t, env, "ada@example.org")
	if export.Status != "bounced" || len(export.Bounces) != 1 || export.Bounces[0].Evidence != "Action: failed\nStatus: 5.1.1" ||
		export.Bounces[0].MessageID != adaMessage || export.Bounces[0].DigestID == 0 {
		t.Errorf("export of ada: %+v", export)
	}
	if export := exportOf(t, env, "bob@example.org"); export.Status != "confirmed" || len(export.Bounces) != 0 {
		t.Errorf("export of bob: %+v", export)
	}
}

// exported is a subscriber as `alertd subscribers export` shows it.
type exported struct {
	Status  string          `json:"status"`
	Bounces []alertd.Bounce `json:"bounces"`
}

// exportOf runs `alertd subscribers export` for one address.
func exportOf(t *testing.T, env map[string]string, email string) exported {
	t.Helper()
	var e exported
	if err := json.Unmarshal([]byte(cliOK(t, env, "subscribers", "export", email)), &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestServeRecordsADSNSentToItsReceiver proves serve's wiring of
// bounce.listen: a delivery status notification mailed to the VERP sender
// of one reader's digest, over SMTP to the running receiver, bounces that
// reader with the report kept, and nobody else.
func TestServeRecordsADSNSentToItsReceiver(t *testing.T) {
	srv := mailtest.NewServer(t)
	env := testEnv(t, srv)
	env["ALERTD_BOUNCE_DOMAIN"] = "bounces.example.org"
	env["ALERTD_BOUNCE_LISTEN"] = alerttest.FreeAddr(t)
	runCommand(t, env, "subscribers", "import", "--confirmed", writeFile(t, "s.csv", "email\nada@example.org\nbob@example.org\n"))
	addTwoReports(t, env)
	app := start(t, env)
	if want := "bounce and complaint mail taken over SMTP on " + env["ALERTD_BOUNCE_LISTEN"]; !strings.Contains(app.stdout.String(), want) {
		t.Errorf("serve does not say %q:\n%s", want, app.stdout)
	}
	if code, out := adminPost(t, app, "/api/v1/digests", ""); code != http.StatusCreated {
		t.Fatalf("compile a digest: %d %v", code, out)
	}
	var verp string
	for _, m := range srv.Wait(t, 2) {
		if m.To[0] == "ada@example.org" {
			verp = m.From
		}
	}
	if !strings.HasSuffix(verp, "@bounces.example.org") {
		t.Fatalf("ada's digest came from %q, not a VERP address at the bounce domain", verp)
	}

	dsn := alerttest.DSN("dsn-1", verp, "ada@example.org", "5.1.1", "550 5.1.1 no such user")
	if err := alerttest.SendFromNullSender(env["ALERTD_BOUNCE_LISTEN"], verp, dsn); err != nil {
		t.Fatalf("send the DSN to the receiver: %v", err)
	}

	ada := exportOf(t, env, "ada@example.org")
	if ada.Status != "bounced" || len(ada.Bounces) != 1 {
		t.Fatalf("ada after the DSN: %+v", ada)
	}
	if b := ada.Bounces[0]; b.Source != alertd.SourceDSN || b.Status != "5.1.1" || b.DigestID == 0 ||
		!strings.Contains(b.Evidence, "Final-Recipient: rfc822; ada@example.org") {
		t.Errorf("ada's bounce kept without its evidence: %+v", b)
	}
	if bob := exportOf(t, env, "bob@example.org"); bob.Status != "confirmed" || len(bob.Bounces) != 0 {
		t.Errorf("bob, whom the DSN does not name: %+v", bob)
	}
}

// postmarkBounce is a Postmark bounce webhook for email, in the format
// Postmark documents.
func postmarkBounce(id int, email string) string {
	return fmt.Sprintf(`{"RecordType": "Bounce", "ID": %d, "Type": "HardBounce", "TypeCode": 1, "Name": "Hard bounce",
		"MessageID": "883953f4-6105-42a2-a16a-77a8eac79483", "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
		"Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.", "Email": %q,
		"From": "alerts@example.org", "BouncedAt": "2026-11-30T16:33:54.9070259Z", "Inactive": true, "MessageStream": "outbound"}`, id, email)
}

// postPostmark posts a webhook to /webhooks/postmark with the given Basic
// auth password ("" for none) and returns the status code.
func postPostmark(t *testing.T, app *instance, password, body string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, app.baseURL+"/webhooks/postmark", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if password != "" {
		req.SetBasicAuth("alertd", password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServePostmarkWebhookChecksItsToken proves serve's wiring of
// webhooks.postmark_token: with the token as the Basic password a bounce
// is recorded, with a wrong one the request is 401 and changes nothing.
func TestServePostmarkWebhookChecksItsToken(t *testing.T) {
	env := testEnv(t, mailtest.NewServer(t))
	env["ALERTD_WEBHOOKS_POSTMARK_TOKEN"] = "pm-token-0123456789"
	runCommand(t, env, "subscribers", "import", "--confirmed", writeFile(t, "s.csv", "email\nada@example.org\nbob@example.org\n"))
	app := start(t, env)

	if code := postPostmark(t, app, "not-the-token", postmarkBounce(1, "bob@example.org")); code != http.StatusUnauthorized {
		t.Errorf("a wrong token: %d, want 401", code)
	}
	if bob := exportOf(t, env, "bob@example.org"); bob.Status != "confirmed" || len(bob.Bounces) != 0 {
		t.Errorf("bob after a refused webhook: %+v", bob)
	}
	if code := postPostmark(t, app, env["ALERTD_WEBHOOKS_POSTMARK_TOKEN"], postmarkBounce(2, "ada@example.org")); code != http.StatusNoContent {
		t.Fatalf("the right token: %d, want 204", code)
	}
	ada := exportOf(t, env, "ada@example.org")
	if ada.Status != "bounced" || len(ada.Bounces) != 1 || ada.Bounces[0].Source != alertd.SourcePostmark || ada.Bounces[0].Status != "5.1.1" {
		t.Errorf("ada after a Postmark hard bounce: %+v", ada)
	}
}

// TestServeHasNoPostmarkWebhookWithoutItsToken proves the webhook is off
// until webhooks.postmark_token is set.
func TestServeHasNoPostmarkWebhookWithoutItsToken(t *testing.T) {
	env := testEnv(t, mailtest.NewServer(t))
	runCommand(t, env, "subscribers", "import", "--confirmed", writeFile(t, "s.csv", "email\nada@example.org\n"))
	app := start(t, env)
	if code := postPostmark(t, app, "anything", postmarkBounce(1, "ada@example.org")); code != http.StatusNotFound {
		t.Errorf("POST /webhooks/postmark without a token configured: %d, want 404", code)
	}
	if ada := exportOf(t, env, "ada@example.org"); ada.Status != "confirmed" || len(ada.Bounces) != 0 {
		t.Errorf("ada: %+v", ada)
	}
}
