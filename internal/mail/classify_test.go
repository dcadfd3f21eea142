package mail_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/alertd/alertd/internal/mail"
	"github.com/alertd/alertd/internal/mail/mailtest"
)

// Each case makes a real relay fail in one way, classifies the error Send
// returned, and then checks that the same connection still delivers.
func TestClassifyRelayReplies(t *testing.T) {
	tests := []struct {
		name   string
		reject func(*mailtest.Server)
		want   mail.Outcome
	}{
		{"4xx to RCPT", func(s *mailtest.Server) { s.RejectRcpt("x@example.com", 452, "4.2.2 Mailbox full") }, mail.Temporary},
		{"550 5.1.1 no such user", func(s *mailtest.Server) { s.RejectRcpt("x@example.com", 550, "5.1.1 No such user") }, mail.BadAddress},
		{"5.1.2 bad domain", func(s *mailtest.Server) { s.RejectRcpt("x@example.com", 550, "5.1.2 Host unknown") }, mail.BadAddress},
		{"550 without enhanced code at RCPT", func(s *mailtest.Server) { s.RejectRcpt("x@example.com", 550, "Mailbox unavailable") }, mail.BadAddress},
		{"5xx policy refusal at RCPT", func(s *mailtest.Server) { s.RejectRcpt("x@example.com", 550, "5.7.1 Relaying denied") }, mail.Permanent},
		{"5.1.8 is about our sender", func(s *mailtest.Server) { s.RejectRcpt("x@example.com", 553, "5.1.8 Sender domain unknown") }, mail.Permanent},
		{"4xx after DATA", func(s *mailtest.Server) { s.RejectData(451, "4.3.0 Try again later") }, mail.Temporary},
		{"5xx after DATA", func(s *mailtest.Server) { s.RejectData(554, "5.7.1 Message refused") }, mail.Permanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mailtest.NewServer(t)
			c := newComposer(t, testSettings())
			conn := dial(t, plainSMTP(t, srv))
			tt.reject(srv)

			err := conn.Send(context.Background(), confirmation(t, c, "x@example.com"), nil)
			if err == nil {
				t.Fatal("Send succeeded, want the injected failure")
			}
			if got := mail.Classify(err); got != tt.want {
				t.Errorf("Classify(%v) = %v, want %v", err, got, tt.want)
			}

			srv.ClearRejections()
			if err := conn.Send(context.Background(), confirmation(t, c, "y@example.com"), nil); err != nil {
				t.Fatalf("the next message failed on the same connection: %v", err)
			}
			srv.Wait(t, 1)
			if srv.Connections() != 1 {
				t.Errorf("used %d connections, want the first one kept", srv.Connections())
			}
		})
	}
}

func TestClassifyConnectionFailuresAsTemporary(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close() // nothing listens there now
		tr, err := mail.NewSMTPTransport(mail.SMTPSettings{Host: "127.0.0.1", Port: port, TLS: mail.TLSNone, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		_, err = tr.Dial(context.Background())
		if err == nil || mail.Classify(err) != mail.Temporary {
			t.Fatalf("Dial err = %v classified %v, want Temporary", err, mail.Classify(err))
		}
	})
	t.Run("535 bad credentials", func(t *testing.T) {
		srv := mailtest.NewServer(t, mailtest.WithAuth("alertd", "right"))
		tr, err := mail.NewSMTPTransport(mail.SMTPSettings{
			Host: srv.Host, Port: srv.Port, TLS: mail.TLSNone, Timeout: 5 * time.Second, Username: "alertd", Password: "wrong",
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = tr.Dial(context.Background())
		if err == nil || mail.Classify(err) != mail.Temporary {
			t.Fatalf("Dial err = %v classified %v, want Temporary (the relay's fault, not the recipient's)", err, mail.Classify(err))
		}
	})
	t.Run("relay gone between messages", func(t *testing.T) {
		srv := mailtest.NewServer(t)
		tr, err := mail.NewSMTPTransport(mail.SMTPSettings{Host: srv.Host, Port: srv.Port, TLS: mail.TLSNone, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		conn := dial(t, tr)
		srv.Close() // cuts the connection and takes the port away, so no re-dial
		err = conn.Send(context.Background(), confirmation(t, newComposer(t, testSettings()), "a@example.com"), nil)
		if err == nil || mail.Classify(err) != mail.Temporary {
			t.Fatalf("Send err = %v classified %v, want Temporary", err, mail.Classify(err))
		}
	})
}

func TestOutcomeNames(t *testing.T) {
	for o, want := range map[mail.Outcome]string{mail.Temporary: "temporary", mail.Permanent: "permanent", mail.BadAddress: "bad address"} {
		if o.String() != want {
			t.Errorf("%d.String() = %q, want %q", o, o.String(), want)
		}
	}
}
