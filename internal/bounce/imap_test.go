package bounce

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/alertd/alertd/internal/mail/mailtest"
)

// mailboxServer is an in-process IMAP server with one user, whose
// connections a test can cut.
type mailboxServer struct {
	t      *testing.T
	addr   string
	user   *imapmemserver.User
	client *tls.Config // trusts the server's certificate

	mu    sync.Mutex
	conns []net.Conn
}

// trackingListener keeps every connection it accepts, so a test can cut them.
type trackingListener struct {
	net.Listener
	s *mailboxServer
}

func (l trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.s.mu.Lock()
		l.s.conns = append(l.s.conns, c)
		l.s.mu.Unlock()
	}
	return c, err
}

// newMailboxServer serves IMAP over TLS from the start (implicit), or with
// STARTTLS when startTLS is set.
func newMailboxServer(t *testing.T, startTLS bool) *mailboxServer {
	t.Helper()
	serverTLS := mailtest.NewTLSConfig()
	pool := x509.NewCertPool()
	pool.AddCert(serverTLS.Certificates[0].Leaf)
	s := &mailboxServer{t: t, user: imapmemserver.NewUser("bounce@example.org", "pass word"),
		client: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}}
	if err := s.user.Create("Bounces", nil); err != nil {
		t.Fatal(err)
	}
	memory := imapmemserver.New()
	memory.AddUser(s.user)
	options := &imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return memory.NewSession(), nil, nil
		},
		Caps:   imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		Logger: log.New(io.Discard, "", 0),
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = raw.Addr().String()
	var ln net.Listener = trackingListener{raw, s}
	if startTLS {
		options.TLSConfig = serverTLS
	} else {
		ln = tls.NewListener(ln, serverTLS)
	}
	server := imapserver.New(options)
	served := make(chan struct{})
	go func() {
		defer close(served)
		server.Serve(ln)
	}()
	t.Cleanup(func() {
		server.Close()
		s.cut()
		<-served
	})
	return s
}

// cut closes every connection open to the server, as a dropped network does.
func (s *mailboxServer) cut() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

func (s *mailboxServer) deliver(msgs ...string) {
	s.t.Helper()
	for _, m := range msgs {
		if _, err := s.user.Append("Bounces", bytes.NewReader([]byte(m)), &imap.AppendOptions{}); err != nil {
			s.t.Fatal(err)
		}
	}
}

// held is a message as it sits in the mailbox.
type held struct {
	body  string
	flags []imap.Flag
}

// contents reads the mailbox with a client of its own, without changing it.
func (s *mailboxServer) contents() []held {
	s.t.Helper()
	c, err := imapclient.DialTLS(s.addr, &imapclient.Options{TLSConfig: s.client})
	if err != nil {
		s.t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("bounce@example.org", "pass word").Wait(); err != nil {
		s.t.Fatal(err)
	}
	mbox, err := c.Select("Bounces", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		s.t.Fatal(err)
	}
	if mbox.NumMessages == 0 {
		return nil
	}
	section := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{Flags: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		s.t.Fatal(err)
	}
	var out []held
	for _, m := range msgs {
		out = append(out, held{string(m.FindBodySection(section)), m.Flags})
	}
	return out
}

func (s *mailboxServer) poller(handle Handler) *Poller {
	scheme := "imaps"
	return &Poller{
		URL:       &url.URL{Scheme: scheme, User: url.UserPassword("bounce@example.org", "pass word"), Host: s.addr, Path: "/Bounces"},
		Handle:    handle,
		Log:       quietLog(),
		TLSConfig: s.client,
	}
}

const (
	ourBounce   = "From: MAILER-DAEMON@mx.example.net\r\nSubject: Undelivered Mail\r\nX-Case: ours-1\r\n\r\nours\r\n"
	ourBounce2  = "From: MAILER-DAEMON@mx.example.net\r\nSubject: Undelivered Mail\r\nX-Case: ours-2\r\n\r\nours\r\n"
	someoneElse = "From: a.person@example.net\r\nSubject: Lunch?\r\n\r\nAre you free on Friday?\r\n"
)

// ours is a Handler that recognises the mails saying "ours".
func ours(rec *recorder) Handler {
	return func(ctx context.Context, rcpt string, raw []byte) (bool, error) {
		rec.handle(ctx, rcpt, raw)
		return strings.Contains(string(raw), "\r\n\r\nours"), nil
	}
}

func bodies(hs []held) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.body)
	}
	return out
}

func assertUntouched(t *testing.T, hs []held) {
	t.Helper()
	for _, h := range hs {
		if len(h.flags) != 0 {
			t.Errorf("message %q has flags %v, want none (not even \\Seen)", h.body[:20], h.flags)
		}
	}
}

func TestPollRemovesOnlyRecognisedMail(t *testing.T) {
	s := newMailboxServer(t, false)
	s.deliver(ourBounce, someoneElse, ourBounce2)
	rec := &recorder{}
	p := s.poller(ours(rec))

	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := rec.handed()
	if len(got) != 3 || got[0].rcpt != "" || string(got[0].raw) != ourBounce || string(got[1].raw) != someoneElse {
		t.Fatalf("handed %+v, want the three messages in order, rcpt empty, bytes exact", got)
	}
	left := s.contents()
	if !slices.Equal(bodies(left), []string{someoneElse}) {
		t.Errorf("mailbox holds %q, want only the other mail", bodies(left))
	}
	assertUntouched(t, left)

	// A second poll hands over nothing already handed, and new mail only.
	s.deliver(ourBounce)
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := rec.handed(); len(got) != 4 || string(got[3].raw) != ourBounce {
		t.Errorf("second poll handed %d in all, want 4 (only the new one)", len(got))
	}
	if left := s.contents(); len(left) != 1 {
		t.Errorf("mailbox holds %d after the second poll, want 1", len(left))
	}
}

func TestPollLeavesMailTheHandlerCouldNotTake(t *testing.T) {
	s := newMailboxServer(t, false)
	s.deliver(ourBounce, ourBounce2)
	failing := true
	rec := &recorder{}
	p := s.poller(func(ctx context.Context, rcpt string, raw []byte) (bool, error) {
		if failing {
			rec.handle(ctx, rcpt, raw)
			return false, errors.New("database is locked")
		}
		return ours(rec)(ctx, rcpt, raw)
	})

	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := rec.handed(); len(got) != 1 {
		t.Errorf("handed %d messages, want 1: the poll stops at the first failure", len(got))
	}
	left := s.contents()
	if len(left) != 2 {
		t.Fatalf("mailbox holds %d, want both left", len(left))
	}
	assertUntouched(t, left)

	failing = false
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if left := s.contents(); len(left) != 0 {
		t.Errorf("mailbox holds %q after the handler recovered, want empty", bodies(left))
	}
}

func TestPollRecoversFromADroppedConnection(t *testing.T) {
	s := newMailboxServer(t, false)
	s.deliver(ourBounce, someoneElse)
	rec := &recorder{}
	drop := true
	p := s.poller(func(ctx context.Context, rcpt string, raw []byte) (bool, error) {
		if drop {
			drop = false
			s.cut() // recorded, then the connection drops before the removal
		}
		return ours(rec)(ctx, rcpt, raw)
	})

	if err := p.Poll(context.Background()); err == nil {
		t.Fatal("poll over a dropped connection reported no error")
	}
	if left := s.contents(); len(left) != 2 {
		t.Fatalf("mailbox holds %d after the drop, want 2", len(left))
	}
	if err := p.Poll(context.Background()); err != nil {
		t.Fatalf("poll after the drop: %v", err)
	}
	left := s.contents()
	if !slices.Equal(bodies(left), []string{someoneElse}) {
		t.Errorf("mailbox holds %q, want only the other mail", bodies(left))
	}
	assertUntouched(t, left)
	n := 0
	for _, h := range rec.handed() {
		if string(h.raw) == ourBounce {
			n++
		}
	}
	if n != 2 {
		t.Errorf("the recorded bounce was handed %d times, want 2 (again after the drop; the service counts it once)", n)
	}
}

func TestPollWithSTARTTLS(t *testing.T) {
	s := newMailboxServer(t, true)
	s.deliver(ourBounce)
	p := s.poller(ours(&recorder{}))
	p.URL.Scheme = "imap"
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestPollRefusesAServerItCannotVerify(t *testing.T) {
	s := newMailboxServer(t, false)
	s.deliver(ourBounce)
	rec := &recorder{}
	p := s.poller(ours(rec))
	p.TLSConfig = &tls.Config{ServerName: "127.0.0.1"} // the system's roots
	if err := p.Poll(context.Background()); err == nil {
		t.Fatal("poll trusted a self-signed certificate")
	}
	if len(rec.handed()) != 0 {
		t.Error("handed mail over an unverified connection")
	}
}

func TestPollStartsOverWhenUIDValidityChanges(t *testing.T) {
	// A mailbox deleted and made again (or restored from a backup) numbers
	// its messages afresh and says so by a new UIDVALIDITY: the poller must
	// not skip the new messages whose UIDs are below those it has seen.
	s := newMailboxServer(t, false)
	s.deliver(ourBounce, someoneElse, ourBounce2)
	rec := &recorder{}
	p := s.poller(ours(rec))
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.user.Delete("Bounces"); err != nil {
		t.Fatal(err)
	}
	if err := s.user.Create("Bounces", nil); err != nil {
		t.Fatal(err)
	}
	s.deliver(someoneElse, ourBounce)
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := rec.handed(); len(got) != 5 || string(got[3].raw) != someoneElse || string(got[4].raw) != ourBounce {
		t.Errorf("handed %d messages in all, want 5: the new mailbox's two after the first three", len(got))
	}
	left := s.contents()
	if !slices.Equal(bodies(left), []string{someoneElse}) {
		t.Errorf("the new mailbox holds %q, want only the other mail", bodies(left))
	}
	assertUntouched(t, left)
}
