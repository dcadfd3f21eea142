package main

import (
	"context"
	"encoding/json"
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

	var export struct {
		Status  string          `json:"status"`
		Bounces []alertd.Bounce `json:"bounces"`
	}
	if err := json.Unmarshal([]byte(cliOK(t, env, "subscribers", "export", "ada@example.org")), &export); err != nil {
		t.Fatal(err)
	}
	if export.Status != "bounced" || len(export.Bounces) != 1 || export.Bounces[0].Evidence != "Action: failed\nStatus: 5.1.1" ||
		export.Bounces[0].MessageID != adaMessage || export.Bounces[0].DigestID == 0 {
		t.Errorf("export of ada: %+v", export)
	}
	if err := json.Unmarshal([]byte(cliOK(t, env, "subscribers", "export", "bob@example.org")), &export); err != nil {
		t.Fatal(err)
	}
	if export.Status != "confirmed" || len(export.Bounces) != 0 {
		t.Errorf("export of bob: %+v", export)
	}
}
