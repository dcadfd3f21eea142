package bounce

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// handed is one call of a Handler.
type handed struct {
	rcpt string
	raw  []byte
}

// recorder is a Handler that keeps what it was handed and answers with
// answer (nil: recognised).
type recorder struct {
	mu     sync.Mutex
	calls  []handed
	answer error
}

func (r *recorder) handle(_ context.Context, rcpt string, raw []byte) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, handed{rcpt, bytes.Clone(raw)})
	return r.answer == nil, r.answer
}

func (r *recorder) handed() []handed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]handed(nil), r.calls...)
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startReceiver serves rcv on a loopback port until the test ends, and
// returns the address.
func startReceiver(t *testing.T, rcv *Receiver) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if rcv.Log == nil {
		rcv.Log = quietLog()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rcv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve after shutdown: %v", err)
		}
	})
	return ln.Addr().String()
}

// smtpCode is the reply code of an SMTP error, 0 for success or another error.
func smtpCode(err error) int {
	var tpErr *textproto.Error
	if errors.As(err, &tpErr) {
		return tpErr.Code
	}
	return 0
}

// send sends msg from the null sender to rcpts and returns the error of
// the first step that failed.
func send(t *testing.T, addr string, msg []byte, rcpts ...string) error {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail(""); err != nil {
		return err
	}
	for _, rcpt := range rcpts {
		if err := c.Rcpt(rcpt); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

const sampleDSN = "From: MAILER-DAEMON@mx.example.net\r\nTo: bounces+abc@bounces.example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\nbody line\r\n"

func TestReceiverHandsEachRecipientTheExactMessage(t *testing.T) {
	rec := &recorder{}
	addr := startReceiver(t, &Receiver{Domain: "bounces.example.org", Addresses: []string{"unsubscribe@example.org"}, Handle: rec.handle})

	rcpts := []string{"bounces+abc@bounces.example.org", "Bounces+XYZ@BOUNCES.example.org", "UNSUBSCRIBE@example.org"}
	if err := send(t, addr, []byte(sampleDSN), rcpts...); err != nil {
		t.Fatalf("send: %v", err)
	}
	got := rec.handed()
	if len(got) != len(rcpts) {
		t.Fatalf("handler called %d times, want %d", len(got), len(rcpts))
	}
	for i, h := range got {
		if h.rcpt != rcpts[i] {
			t.Errorf("call %d rcpt = %q, want %q", i, h.rcpt, rcpts[i])
		}
		if string(h.raw) != sampleDSN {
			t.Errorf("call %d raw = %q, want %q", i, h.raw, sampleDSN)
		}
	}
}

func TestReceiverRefusesEveryOtherRecipient(t *testing.T) {
	rec := &recorder{}
	addr := startReceiver(t, &Receiver{Domain: "bounces.example.org", Addresses: []string{"unsubscribe@example.org"}, Handle: rec.handle})

	for _, rcpt := range []string{
		"someone@example.com",
		"bounces+abc@sub.bounces.example.org",
		"bounces+abc@bounces.example.org.evil.example",
		"other@example.org", // the unsubscribe address's domain is not taken
	} {
		err := send(t, addr, []byte(sampleDSN), rcpt)
		if code := smtpCode(err); code != 550 || !strings.Contains(err.Error(), "5.7.1") {
			t.Errorf("RCPT %s: %v, want 550 5.7.1", rcpt, err)
		}
	}
	if got := rec.handed(); len(got) != 0 {
		t.Errorf("handler called %d times for refused recipients", len(got))
	}
}

func TestReceiverWithoutDomainTakesOnlyItsAddresses(t *testing.T) {
	rec := &recorder{}
	addr := startReceiver(t, &Receiver{Addresses: []string{"unsubscribe@example.org"}, Handle: rec.handle})
	if err := send(t, addr, []byte(sampleDSN), "bounces+abc@example.org"); smtpCode(err) != 550 {
		t.Errorf("RCPT at an unset domain: %v, want 550", err)
	}
	if err := send(t, addr, []byte(sampleDSN), "unsubscribe@example.org"); err != nil {
		t.Errorf("RCPT to the unsubscribe address: %v", err)
	}
}

func TestReceiverRefusesAMessageOverOneMebibyte(t *testing.T) {
	rec := &recorder{}
	addr := startReceiver(t, &Receiver{Domain: "bounces.example.org", Handle: rec.handle})

	line := strings.Repeat("x", 998) + "\r\n"
	big := []byte(sampleDSN + strings.Repeat(line, MaxMessageBytes/len(line)+1))
	err := send(t, addr, big, "bounces+abc@bounces.example.org")
	if code := smtpCode(err); code != 552 {
		t.Errorf("a %d-byte message: %v, want 552", len(big), err)
	}
	if got := rec.handed(); len(got) != 0 {
		t.Errorf("handler called for a message over the limit")
	}

	fits := []byte(sampleDSN + strings.Repeat(line, (MaxMessageBytes-len(sampleDSN))/len(line)-1))
	if err := send(t, addr, fits, "bounces+abc@bounces.example.org"); err != nil {
		t.Errorf("a %d-byte message: %v, want it taken", len(fits), err)
	}
}

func TestReceiverAsksTheSenderToRetryWhenTheHandlerFails(t *testing.T) {
	rec := &recorder{answer: errors.New("database is locked")}
	addr := startReceiver(t, &Receiver{Domain: "bounces.example.org", Handle: rec.handle})

	err := send(t, addr, []byte(sampleDSN), "bounces+abc@bounces.example.org")
	if code := smtpCode(err); code != 451 {
		t.Errorf("handler error: %v, want 451", err)
	}
	if strings.Contains(err.Error(), "database") {
		t.Errorf("the reply tells the sender the cause: %v", err)
	}
}

func TestReceiverLimitsRecipientsPerMessage(t *testing.T) {
	rec := &recorder{}
	addr := startReceiver(t, &Receiver{Domain: "bounces.example.org", Handle: rec.handle})
	rcpts := make([]string, MaxRecipients+1)
	for i := range rcpts {
		rcpts[i] = "bounces+" + strings.Repeat("a", i+1) + "@bounces.example.org"
	}
	if err := send(t, addr, []byte(sampleDSN), rcpts...); smtpCode(err) != 452 {
		t.Errorf("%d recipients: %v, want 452 for the last", len(rcpts), err)
	}
}

func TestReceiverRefusesConnectionsOverTheLimit(t *testing.T) {
	rec := &recorder{}
	addr := startReceiver(t, &Receiver{Domain: "bounces.example.org", Handle: rec.handle, maxConnections: 2})

	var held []*smtp.Client
	for range 2 {
		c, err := smtp.Dial(addr) // returns once the 220 greeting is read
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	greeting, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(greeting, "421 ") {
		t.Errorf("third connection greeted %q (%v), want 421", greeting, err)
	}

	// The connections within the limit still work.
	c := held[0]
	if err := c.Mail(""); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("bounces+abc@bounces.example.org"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, sampleDSN)
	if err := w.Close(); err != nil {
		t.Errorf("DATA on a held connection: %v", err)
	}
	if got := rec.handed(); len(got) != 1 {
		t.Errorf("handler called %d times, want 1", len(got))
	}
}

func TestReceiverOffersNoAuth(t *testing.T) {
	addr := startReceiver(t, &Receiver{Domain: "bounces.example.org", Handle: (&recorder{}).handle})
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("the receiver offers AUTH")
	}
}

func TestReceiverEndsAConnectionThatOutstaysItsTime(t *testing.T) {
	// A sender that keeps talking (a command now and then, each well
	// within the read timeout) must not hold a connection slot for ever.
	addr := startReceiver(t, &Receiver{Domain: "bounces.example.org", Handle: (&recorder{}).handle, maxSession: 200 * time.Millisecond})
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	giveUp := time.Now().Add(10 * time.Second)
	for c.Noop() == nil {
		if time.Now().After(giveUp) {
			t.Fatal("the connection is still served 10 s after its 200 ms were up")
		}
	}
}
