package mail_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd/internal/mail"
	"github.com/alertd/alertd/internal/mail/mailtest"
)

func TestManyMessagesTravelOverOneConnection(t *testing.T) {
	srv := mailtest.NewServer(t)
	c := newComposer(t, testSettings())
	conn := dial(t, plainSMTP(t, srv))

	const n = 20
	for i := range n {
		if err := conn.Send(context.Background(), confirmation(t, c, fmt.Sprintf("r%d@example.com", i)), nil); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	got := srv.Wait(t, n)
	if srv.Connections() != 1 {
		t.Errorf("%d messages used %d connections, want 1", n, srv.Connections())
	}
	for i, m := range got {
		if want := fmt.Sprintf("r%d@example.com", i); len(m.To) != 1 || m.To[0] != want {
			t.Errorf("message %d went to %v, want %s", i, m.To, want)
		}
	}
}

func TestSendRedialsWhenTheRelayDroppedTheConnection(t *testing.T) {
	srv := mailtest.NewServer(t)
	c := newComposer(t, testSettings())
	conn := dial(t, plainSMTP(t, srv))

	if err := conn.Send(context.Background(), confirmation(t, c, "a@example.com"), nil); err != nil {
		t.Fatal(err)
	}
	srv.Wait(t, 1)
	srv.DropConnections()
	if err := conn.Send(context.Background(), confirmation(t, c, "b@example.com"), nil); err != nil {
		t.Fatalf("Send after the relay dropped the connection: %v", err)
	}
	got := srv.Wait(t, 2)
	if got[1].To[0] != "b@example.com" || srv.Connections() != 2 {
		t.Errorf("second message to %v over %d connections, want b@example.com over 2", got[1].To, srv.Connections())
	}
}

// go-mail renews the connection deadline only after its NOOP succeeded;
// an idle pause longer than the timeout must not break the connection.
func TestIdleConnectionOutlivesTheCommandTimeout(t *testing.T) {
	srv := mailtest.NewServer(t)
	const timeout = 300 * time.Millisecond
	tr, err := mail.NewSMTPTransport(mail.SMTPSettings{Host: srv.Host, Port: srv.Port, TLS: mail.TLSNone, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	c := newComposer(t, testSettings())
	conn := dial(t, tr)
	for i := range 2 {
		if err := conn.Send(context.Background(), confirmation(t, c, "a@example.com"), nil); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
		time.Sleep(2 * timeout) // the idle pause under test
	}
	srv.Wait(t, 2)
	if srv.Connections() != 1 {
		t.Errorf("used %d connections, want 1: the idle connection hit a stale deadline", srv.Connections())
	}
}

func TestTLSModesAndAuthentication(t *testing.T) {
	tests := []struct {
		name   string
		server []mailtest.Option
		tls    string
	}{
		{"starttls", []mailtest.Option{mailtest.WithStartTLS(), mailtest.WithAuth("alertd", "s3cret")}, mail.TLSStartTLS},
		{"opportunistic with STARTTLS offered", []mailtest.Option{mailtest.WithStartTLS(), mailtest.WithAuth("alertd", "s3cret")}, mail.TLSOpportunistic},
		{"opportunistic without STARTTLS", []mailtest.Option{mailtest.WithAuth("alertd", "s3cret")}, mail.TLSOpportunistic},
		{"implicit", []mailtest.Option{mailtest.WithImplicitTLS(), mailtest.WithAuth("alertd", "s3cret")}, mail.TLSImplicit},
		{"none", []mailtest.Option{mailtest.WithAuth("alertd", "s3cret")}, mail.TLSNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mailtest.NewServer(t, tt.server...)
			tr, err := mail.NewSMTPTransport(mail.SMTPSettings{
				Host: srv.Host, Port: srv.Port, TLS: tt.tls, Timeout: 5 * time.Second,
				Username: "alertd", Password: "s3cret", TLSConfig: srv.ClientTLSConfig(),
			})
			if err != nil {
				t.Fatal(err)
			}
			conn := dial(t, tr)
			if err := conn.Send(context.Background(), confirmation(t, newComposer(t, testSettings()), "a@example.com"), nil); err != nil {
				t.Fatalf("Send: %v", err)
			}
			srv.Wait(t, 1)
		})
	}
}

func TestCRAMMD5OnlyOverAnEncryptedChannel(t *testing.T) {
	both := mailtest.WithAuthMechanisms("CRAM-MD5", "PLAIN")
	only := mailtest.WithAuthMechanisms("CRAM-MD5")
	tests := []struct {
		name   string
		server []mailtest.Option
		tls    string
		// want is the mechanism used, "" when the login must not happen.
		want string
	}{
		{"none", []mailtest.Option{both}, mail.TLSNone, "PLAIN"},
		{"none, CRAM-MD5 alone offered", []mailtest.Option{only}, mail.TLSNone, ""},
		{"opportunistic without STARTTLS", []mailtest.Option{both}, mail.TLSOpportunistic, "PLAIN"},
		{"opportunistic without STARTTLS, CRAM-MD5 alone offered", []mailtest.Option{only}, mail.TLSOpportunistic, ""},
		{"opportunistic with STARTTLS", []mailtest.Option{mailtest.WithStartTLS(), both}, mail.TLSOpportunistic, "PLAIN"},
		{"starttls", []mailtest.Option{mailtest.WithStartTLS(), only}, mail.TLSStartTLS, "CRAM-MD5"},
		{"implicit", []mailtest.Option{mailtest.WithImplicitTLS(), only}, mail.TLSImplicit, "CRAM-MD5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mailtest.NewServer(t, append(tt.server, mailtest.WithAuth("alertd", "s3cret"))...)
			tr, err := mail.NewSMTPTransport(mail.SMTPSettings{
				Host: srv.Host, Port: srv.Port, TLS: tt.tls, Timeout: 5 * time.Second,
				Username: "alertd", Password: "s3cret", TLSConfig: srv.ClientTLSConfig(),
			})
			if err != nil {
				t.Fatal(err)
			}
			conn, err := tr.Dial(context.Background())
			if tt.want == "" {
				if err == nil {
					conn.Close()
					t.Fatal("Dial logged in, want an error: CRAM-MD5 is all the relay offers")
				}
				if !strings.Contains(err.Error(), "smtp.tls") {
					t.Errorf("Dial error %q does not say to change smtp.tls", err)
				}
			} else {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				conn.Close()
			}
			var want []string
			if tt.want != "" {
				want = []string{tt.want}
			}
			if got := srv.AuthTried(); !slices.Equal(got, want) {
				t.Errorf("AUTH mechanisms tried %q, want %q", got, want)
			}
		})
	}
}

func TestStartTLSIsRequiredWhenConfigured(t *testing.T) {
	srv := mailtest.NewServer(t) // offers no STARTTLS
	tr, err := mail.NewSMTPTransport(mail.SMTPSettings{Host: srv.Host, Port: srv.Port, TLS: mail.TLSStartTLS, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.Dial(context.Background())
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("Dial err = %v, want a refusal to go on without STARTTLS", err)
	}
}

func TestVerifyAuthenticatesWithoutSendingMail(t *testing.T) {
	srv := mailtest.NewServer(t, mailtest.WithStartTLS(), mailtest.WithAuth("alertd", "s3cret"))
	settings := mail.SMTPSettings{
		Host: srv.Host, Port: srv.Port, Timeout: 5 * time.Second,
		Username: "alertd", Password: "s3cret", TLSConfig: srv.ClientTLSConfig(),
	}
	tr, err := mail.NewSMTPTransport(settings)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tr.Verify(context.Background())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.Addr != srv.Addr || got.TLSVersion == "" || !got.Authenticated {
		t.Errorf("Verify = %+v, want %s over TLS, authenticated", got, srv.Addr)
	}
	if srv.Connections() != 1 || len(srv.Messages()) != 0 {
		t.Errorf("Verify made %d connections and sent %d messages, want 1 and 0", srv.Connections(), len(srv.Messages()))
	}

	settings.Password = "wrong"
	tr, err = mail.NewSMTPTransport(settings)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.Verify(context.Background())
	var connectErr *mail.ConnectError
	if !errors.As(err, &connectErr) || !strings.Contains(err.Error(), "535") {
		t.Fatalf("Verify with a wrong password: err = %v, want a ConnectError with 535", err)
	}
}

func TestNewSMTPTransportRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name     string
		settings mail.SMTPSettings
		want     string
	}{
		{"no host", mail.SMTPSettings{}, "smtp.host"},
		{"unknown tls mode", mail.SMTPSettings{Host: "relay", TLS: "ssl"}, "smtp.tls"},
		{"port out of range", mail.SMTPSettings{Host: "relay", Port: 70000}, "smtp.port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mail.NewSMTPTransport(tt.settings)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming %s", err, tt.want)
			}
		})
	}
}

func TestSendDoesNotStartOnACancelledContext(t *testing.T) {
	srv := mailtest.NewServer(t)
	conn := dial(t, plainSMTP(t, srv))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := conn.Send(ctx, confirmation(t, newComposer(t, testSettings()), "a@example.com"), nil)
	if !errors.Is(err, context.Canceled) || mail.Classify(err) != mail.Temporary {
		t.Fatalf("err = %v, want context.Canceled classified Temporary", err)
	}
	if len(srv.Messages()) != 0 {
		t.Fatal("a message was sent on a cancelled context")
	}
}

// The envelope goes out pipelined when the relay offers PIPELINING and a
// command at a time when it does not; either way a refused recipient or
// message leaves the connection in step for the next one.
func TestSendKeepsInStepWithAndWithoutPipelining(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []mailtest.Option
	}{
		{"pipelining", nil},
		{"one command at a time", []mailtest.Option{mailtest.WithoutPipelining()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := mailtest.NewServer(t, tt.opts...)
			srv.RejectRcpt("gone@example.com", 550, "5.1.1 no such mailbox")
			c := newComposer(t, testSettings())
			conn := dial(t, plainSMTP(t, srv))
			send := func(to string) error {
				return conn.Send(context.Background(), confirmation(t, c, to), nil)
			}
			if err := send("a@example.com"); err != nil {
				t.Fatal(err)
			}
			if err := send("gone@example.com"); mail.Classify(err) != mail.BadAddress {
				t.Fatalf("refused recipient: %v (%v), want a bad address", err, mail.Classify(err))
			}
			srv.RejectData(554, "5.7.1 rejected as spam")
			if err := send("b@example.com"); mail.Classify(err) != mail.Permanent {
				t.Fatalf("refused message: %v (%v), want permanent", err, mail.Classify(err))
			}
			srv.ClearRejections()
			if err := send("c@example.com"); err != nil {
				t.Fatal(err)
			}
			got := srv.Wait(t, 2)
			if got[0].To[0] != "a@example.com" || got[1].To[0] != "c@example.com" || srv.Connections() != 1 {
				t.Errorf("got mail for %v and %v over %d connections, want a and c over 1", got[0].To, got[1].To, srv.Connections())
			}
		})
	}
}

// Lines that start with a period survive the DATA phase (RFC 5321 §4.5.2
// dot-stuffing), as does content without a final line break.
func TestSendDotStuffsTheContent(t *testing.T) {
	srv := mailtest.NewServer(t)
	conn := dial(t, plainSMTP(t, srv))
	content := ".first\r\nSubject: dots\r\n\r\n.\r\n..two\r\nmiddle . line\r\n.\r\nno final line break"
	err := conn.Send(context.Background(), mail.Message{
		From: "<alerts@example.org>", To: "<reader@example.com>", Data: []byte(content),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(srv.Wait(t, 1)[0].Data); got != content+"\r\n" {
		t.Errorf("received %q, want %q", got, content+"\r\n")
	}
}

// A worker's hook runs once the relay has accepted the envelope, before the
// content; the relay has not taken the message at that point.
func TestSendCallsBeforeContentBeforeTheRelayTakesTheMessage(t *testing.T) {
	srv := mailtest.NewServer(t)
	conn := dial(t, plainSMTP(t, srv))
	m := confirmation(t, newComposer(t, testSettings()), "a@example.com")
	calls := 0
	beforeContent := func() {
		calls++
		if n := srv.Received(); n != 0 {
			t.Errorf("the relay took %d messages before the end of data", n)
		}
	}
	if err := conn.Send(context.Background(), m, beforeContent); err != nil {
		t.Fatal(err)
	}
	if srv.Wait(t, 1); calls != 1 {
		t.Errorf("beforeContent called %d times, want 1", calls)
	}
}
