// Package mailtest runs a real SMTP server inside a test, so that tests can
// send alertd's mails through the real SMTP transport and look at what
// arrived.
//
//	srv := mailtest.NewServer(t)
//	transport, _ := mail.NewSMTPTransport(mail.SMTPSettings{
//		Host: srv.Host, Port: srv.Port, TLS: "none",
//	})
//	... send two messages ...
//	msgs := srv.Wait(t, 2)          // blocks until two have arrived, no sleeping
//	p := msgs[0].Parse(t)           // headers, decoded subject, text and HTML parts
//
// Failures are injected with RejectRcpt and RejectData, a relay's idle
// timeout with DropConnections, a relay that is down with RefuseConnections
// and AcceptConnections; OnRcpt and OnData hooks decide per recipient and
// attempt (a 4xx the first time, a connection cut in the middle of DATA, a
// slow relay). Connections counts the connections accepted, Deliveries the
// messages accepted per recipient, so tests can prove exactly-once delivery.
// With WithAuth the server requires AUTH PLAIN; with WithStartTLS or
// WithImplicitTLS it speaks TLS with a throw-away certificate that
// ClientTLSConfig trusts. The server stops when the test ends.
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"log"
	"maps"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// WaitTimeout is how long Wait waits for messages before failing the test.
const WaitTimeout = 10 * time.Second

// Server is an SMTP server listening on 127.0.0.1 for the length of a test.
type Server struct {
	Addr string // host:port
	Host string // always 127.0.0.1
	Port int

	smtp      *smtp.Server
	served    chan struct{} // closed when Serve has returned
	tlsConfig *tls.Config   // server side; nil without TLS
	implicit  bool
	// sequential hides PIPELINING from the EHLO reply.
	sequential bool
	username   string
	password   string
	// authMechs are the AUTH mechanisms offered; PLAIN unless set.
	authMechs []string

	t        testing.TB
	listener *switchListener

	mu           sync.Mutex
	messages     []Message
	arrived      chan struct{} // closed and replaced whenever a message arrives
	connections  int
	open         map[net.Conn]struct{}
	hungUp       chan struct{} // closed and replaced whenever a connection closes
	rcptRejects  map[string]reject
	dataReject   *reject
	refusing     bool // RefuseConnections: 421 to MAIL FROM
	rcptHook     func(rcpt string, attempt int) error
	dataHook     func(to []string, attempt int) error
	rcptAttempts map[string]int // by lower-case address
	dataAttempts map[string]int // by lower-case recipients
	deliveries   map[string]int // accepted messages by lower-case recipient
	authTried    []string       // the mechanism of every AUTH command, in order
}

// Message is one mail as the server received it.
type Message struct {
	From string   // MAIL FROM
	To   []string // RCPT TO
	Data []byte   // the message as sent, headers and body
	// Conn numbers the connection the message came over, from 1.
	Conn int
}

// Option configures a Server.
type Option func(*Server)

// WithAuth makes the server offer AUTH PLAIN and refuse MAIL FROM until the
// client has logged in with this username and password; wrong credentials
// get 535 5.7.8. AUTH is offered without TLS too (the server is local).
func WithAuth(username, password string) Option {
	return func(s *Server) { s.username, s.password = username, password }
}

// WithAuthMechanisms makes a server WithAuth offer these mechanisms, of
// PLAIN and CRAM-MD5, instead of PLAIN alone.
func WithAuthMechanisms(mechs ...string) Option {
	return func(s *Server) { s.authMechs = mechs }
}

// WithStartTLS makes the server offer STARTTLS with a throw-away
// certificate; give ClientTLSConfig to the client.
func WithStartTLS() Option {
	return func(s *Server) { s.tlsConfig = NewTLSConfig() }
}

// WithImplicitTLS makes the server speak TLS from the first byte (SMTPS);
// give ClientTLSConfig to the client.
func WithImplicitTLS() Option {
	return func(s *Server) { s.tlsConfig, s.implicit = NewTLSConfig(), true }
}

// WithoutPipelining makes the server leave PIPELINING (RFC 2920) out of its
// EHLO reply, as some relays do, so clients wait for each reply.
func WithoutPipelining() Option {
	return func(s *Server) { s.sequential = true }
}

// NewServer starts a server on 127.0.0.1 with a free port; it is closed
// when the test ends.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{
		Host:         "127.0.0.1",
		t:            t,
		arrived:      make(chan struct{}),
		open:         make(map[net.Conn]struct{}),
		hungUp:       make(chan struct{}),
		rcptRejects:  make(map[string]reject),
		rcptAttempts: make(map[string]int),
		dataAttempts: make(map[string]int),
		deliveries:   make(map[string]int),
	}
	for _, opt := range opts {
		opt(s)
	}

	var l net.Listener
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	s.Addr = l.Addr().String()
	s.Port = l.Addr().(*net.TCPAddr).Port
	s.listener = newSwitchListener(l, s)
	l = s.listener
	if s.implicit {
		l = tls.NewListener(l, s.tlsConfig)
	}

	s.smtp = smtp.NewServer(backend{s})
	s.smtp.Domain = "mailtest.localhost"
	s.smtp.AllowInsecureAuth = true
	s.smtp.ReadTimeout = time.Minute
	s.smtp.WriteTimeout = time.Minute
	s.smtp.ErrorLog = log.New(io.Discard, "", 0)
	if !s.implicit {
		s.smtp.TLSConfig = s.tlsConfig
	}

	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		_ = s.smtp.Serve(l) // returns once Close is called
	}()
	t.Cleanup(s.Close)
	return s
}

// Close stops the server at once: the port is closed and open connections
// are cut, as when a relay goes away. It runs by itself when the test ends;
// calling it earlier is allowed.
func (s *Server) Close() {
	_ = s.smtp.Close() // only reports that it was closed before
	<-s.served
}

// ClientTLSConfig returns a client TLS configuration that trusts the
// server's certificate, or nil when the server has no TLS.
func (s *Server) ClientTLSConfig() *tls.Config {
	if s.tlsConfig == nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(s.tlsConfig.Certificates[0].Leaf)
	return &tls.Config{RootCAs: pool, ServerName: s.Host, MinVersion: tls.VersionTLS12}
}

// AuthTried returns the mechanism of every AUTH command received, in order.
func (s *Server) AuthTried() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.authTried)
}

// Messages returns the messages received so far, in order of arrival.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Wait blocks until at least n messages have arrived in total and returns
// them all; it fails the test after WaitTimeout.
func (s *Server) Wait(t testing.TB, n int) []Message {
	t.Helper()
	s.WaitCount(t, n, WaitTimeout)
	return s.Messages()
}

// WaitCount blocks until at least n messages have arrived in total and
// returns how many have; it fails the test after timeout. Unlike Wait it
// copies nothing, for tests that watch thousands of messages go by.
func (s *Server) WaitCount(t testing.TB, n int, timeout time.Duration) int {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		got, arrived := len(s.messages), s.arrived
		s.mu.Unlock()
		if got >= n {
			return got
		}
		select {
		case <-arrived:
		case <-timer.C:
			t.Fatalf("mailtest: waited %v for %d messages, %d arrived", timeout, n, got)
		}
	}
}

// WaitDisconnected blocks until no client is connected any more, so that
// every message a client finished sending before it went away has been
// taken in or refused; it fails the test after timeout. A test that kills
// a client waits here before it counts what arrived.
func (s *Server) WaitDisconnected(t testing.TB, timeout time.Duration) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		open, hungUp := len(s.open), s.hungUp
		s.mu.Unlock()
		if open == 0 {
			return
		}
		select {
		case <-hungUp:
		case <-timer.C:
			t.Fatalf("mailtest: %d clients still connected after %v", open, timeout)
		}
	}
}

// Received returns how many messages the server has accepted.
func (s *Server) Received() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.messages)
}

// Deliveries returns, by recipient address in lower case, how many
// messages the server accepted for it. A message cut off or refused is not
// counted: exactly-once delivery means every count is 1.
func (s *Server) Deliveries() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.deliveries)
}

// RcptAttempts returns how many times a client has given addr (compared
// without regard to case) in RCPT TO, whatever the answer was.
func (s *Server) RcptAttempts(addr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rcptAttempts[strings.ToLower(addr)]
}

// Connections returns how many connections the server has accepted.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connections
}

// DropConnections closes every open client connection, as a relay does
// after an idle timeout or a restart. New connections are still accepted.
func (s *Server) DropConnections() {
	s.mu.Lock()
	open := make([]net.Conn, 0, len(s.open))
	for c := range s.open {
		open = append(open, c)
	}
	s.mu.Unlock()
	for _, c := range open {
		_ = c.Close() // the point is to break the connection
	}
}

// RefuseConnections takes the server down as a relay that is shutting down
// for a while: its port is closed, so connecting fails with "connection
// refused", and the open connections answer the next MAIL FROM with
// "421 4.3.2 Service shutting down". A message already under way is
// finished first, so the outage itself never leaves a client unsure
// whether a message arrived (DropConnections does). AcceptConnections
// brings the server back on the same port.
func (s *Server) RefuseConnections() {
	s.mu.Lock()
	s.refusing = true
	s.mu.Unlock()
	s.listener.down()
}

// AcceptConnections listens again on the server's port after
// RefuseConnections; it fails the test if the port cannot be had back.
func (s *Server) AcceptConnections() {
	s.mu.Lock()
	s.refusing = false
	s.mu.Unlock()
	if err := s.listener.up(); err != nil {
		s.t.Errorf("mailtest: listen again on %s: %v", s.Addr, err)
	}
}

// ErrDropConnection, returned by an OnRcpt or OnData hook, makes the server
// close the connection without a reply. At DATA it first reads part of the
// message, so the client is cut off in the middle of the transfer and
// cannot know whether the message arrived (it did not).
var ErrDropConnection = errors.New("mailtest: drop the connection")

// Reply is an SMTP reply for a hook to refuse with: code and a message,
// which may start with an enhanced status code (see RejectRcpt).
func Reply(code int, message string) error {
	return newReject(code, message).err()
}

// OnRcpt makes the server ask hook about every RCPT TO that RejectRcpt does
// not refuse, with the address as given and the number of times it has
// been given so far, this one included (from 1). A nil result accepts the
// recipient; a Reply refuses it; ErrDropConnection cuts the connection.
// The hook may be called from several connections at once.
//
//	srv.OnRcpt(func(rcpt string, attempt int) error {
//		if attempt == 1 {
//			return mailtest.Reply(451, "4.3.0 Try again later")
//		}
//		return nil
//	})
func (s *Server) OnRcpt(hook func(rcpt string, attempt int) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcptHook = hook
}

// OnData makes the server ask hook about every message at DATA, before it
// reads the message, with its recipients and the number of times DATA has
// begun for the same recipients, this one included (from 1). A nil result
// accepts the message (unless RejectData refuses it); a Reply refuses it;
// ErrDropConnection cuts the connection in the middle of the transfer. The
// hook may block to play a slow relay, and may be called from several
// connections at once.
func (s *Server) OnData(hook func(to []string, attempt int) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dataHook = hook
}

// RejectRcpt makes the server answer RCPT TO for addr (compared without
// regard to case) with code and message; a message starting with an
// enhanced status code is sent with it, e.g.
//
//	srv.RejectRcpt("gone@example.org", 550, "5.1.1 No such user")
//	srv.RejectRcpt("full@example.org", 452, "4.2.2 Mailbox full")
func (s *Server) RejectRcpt(addr string, code int, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcptRejects[strings.ToLower(addr)] = newReject(code, message)
}

// RejectData makes the server refuse every message at the end of DATA with
// code and message (as RejectRcpt), until ClearRejections.
func (s *Server) RejectData(code int, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := newReject(code, message)
	s.dataReject = &r
}

// ClearRejections makes the server accept everything again.
func (s *Server) ClearRejections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcptRejects = make(map[string]reject)
	s.dataReject = nil
}

type reject struct {
	code     int
	enhanced smtp.EnhancedCode
	message  string
}

var leadingEnhancedCode = regexp.MustCompile(`^([245])\.(\d{1,3})\.(\d{1,3})\s*`)

func newReject(code int, message string) reject {
	r := reject{code: code, enhanced: smtp.NoEnhancedCode, message: message}
	if m := leadingEnhancedCode.FindStringSubmatch(message); m != nil {
		for i := range r.enhanced {
			r.enhanced[i], _ = strconv.Atoi(m[i+1])
		}
		r.message = message[len(m[0]):]
	}
	return r
}

func (r reject) err() error {
	return &smtp.SMTPError{Code: r.code, EnhancedCode: r.enhanced, Message: r.message}
}

// switchListener counts and tracks the connections it accepts, and can
// close its port and open it again while the SMTP server goes on serving
// it: while the port is closed, Accept waits instead of failing.
type switchListener struct {
	server *Server
	addr   string

	mu     sync.Mutex
	inner  net.Listener  // nil while the port is closed
	opened chan struct{} // closed when the port is open again
	closed chan struct{} // closed by Close: the server is stopping
	once   sync.Once
}

func newSwitchListener(l net.Listener, s *Server) *switchListener {
	return &switchListener{server: s, addr: l.Addr().String(), inner: l, opened: make(chan struct{}), closed: make(chan struct{})}
}

func (l *switchListener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		inner, opened := l.inner, l.opened
		l.mu.Unlock()
		if inner == nil {
			select {
			case <-opened:
				continue
			case <-l.closed:
				return nil, net.ErrClosed
			}
		}
		c, err := inner.Accept()
		l.mu.Lock()
		current := l.inner == inner
		l.mu.Unlock()
		if !current {
			// The port was closed on purpose meanwhile: a connection
			// that slipped in goes the way of the others.
			if c != nil {
				_ = c.Close()
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		return l.server.track(c), nil
	}
}

func (l *switchListener) down() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inner == nil {
		return
	}
	_ = l.inner.Close() // the point is to close the port
	l.inner = nil
	l.opened = make(chan struct{})
}

func (l *switchListener) up() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inner != nil {
		return nil
	}
	inner, err := net.Listen("tcp", l.addr)
	if err != nil {
		return err
	}
	l.inner = inner
	close(l.opened)
	return nil
}

func (l *switchListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inner == nil {
		return nil
	}
	return l.inner.Close()
}

func (l *switchListener) Addr() net.Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inner == nil {
		addr, _ := net.ResolveTCPAddr("tcp", l.addr) // l.addr came from a listener
		return addr
	}
	return l.inner.Addr()
}

// track counts an accepted connection and keeps it for DropConnections.
func (s *Server) track(c net.Conn) net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.connections++
	tracked := &trackedConn{Conn: c, server: s, number: s.connections}
	s.open[tracked] = struct{}{}
	return tracked
}

// trackedConn lets DropConnections find the connection and the session
// know its number.
type trackedConn struct {
	net.Conn
	server *Server
	number int
}

// pipeliningLine is how go-smtp offers PIPELINING, a line at a time.
var pipeliningLine = []byte("250-PIPELINING\r\n")

func (c *trackedConn) Write(b []byte) (int, error) {
	if c.server.sequential && bytes.Equal(b, pipeliningLine) {
		return len(b), nil
	}
	return c.Conn.Write(b)
}

func (c *trackedConn) Close() error {
	c.server.mu.Lock()
	delete(c.server.open, c)
	close(c.server.hungUp)
	c.server.hungUp = make(chan struct{})
	c.server.mu.Unlock()
	return c.Conn.Close()
}

type backend struct{ server *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	number := 0
	conn := c.Conn()
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	if tracked, ok := conn.(*trackedConn); ok {
		number = tracked.number
	}
	return &session{server: b.server, conn: number, netConn: c.Conn()}, nil
}

type session struct {
	server  *Server
	conn    int
	netConn net.Conn // closed to drop the connection
	authed  bool
	from    string
	to      []string
}

func (s *session) AuthMechanisms() []string {
	switch {
	case s.server.username == "":
		return nil
	case s.server.authMechs != nil:
		return s.server.authMechs
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	s.server.mu.Lock()
	s.server.authTried = append(s.server.authTried, mech)
	s.server.mu.Unlock()
	if mech == cramMD5 {
		return &cramMD5Server{session: s}, nil
	}
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != s.server.username || password != s.server.password {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

const cramMD5 = "CRAM-MD5"

// cramMD5Server checks a CRAM-MD5 answer (RFC 2195): the user name and the
// HMAC-MD5 of the challenge keyed with the password.
type cramMD5Server struct {
	session   *session
	challenge string
}

func (c *cramMD5Server) Next(response []byte) ([]byte, bool, error) {
	if c.challenge == "" {
		c.challenge = "<" + rand.Text() + "@mailtest.localhost>"
		return []byte(c.challenge), false, nil
	}
	username, digest, _ := strings.Cut(string(response), " ")
	mac := hmac.New(md5.New, []byte(c.session.server.password))
	mac.Write([]byte(c.challenge))
	if username != c.session.server.username || !hmac.Equal([]byte(digest), []byte(hex.EncodeToString(mac.Sum(nil)))) {
		return nil, true, smtp.ErrAuthFailed
	}
	c.session.authed = true
	return nil, true, nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.server.username != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.server.mu.Lock()
	refusing := s.server.refusing
	s.server.mu.Unlock()
	if refusing {
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Service shutting down"}
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	key := strings.ToLower(to)
	s.server.mu.Lock()
	s.server.rcptAttempts[key]++
	attempt, hook := s.server.rcptAttempts[key], s.server.rcptHook
	r, rejected := s.server.rcptRejects[key]
	s.server.mu.Unlock()
	if rejected {
		return r.err()
	}
	if hook != nil {
		if err := hook(to, attempt); err != nil {
			return s.fail(err)
		}
	}
	s.to = append(s.to, to)
	return nil
}

// fail answers a hook's error: a reply, or a cut connection.
func (s *session) fail(err error) error {
	if errors.Is(err, ErrDropConnection) {
		_ = s.netConn.Close() // the point is to cut the client off
	}
	return err
}

// cutAfter is how much of a message the server reads before it drops the
// connection in the middle of DATA.
const cutAfter = 64

func (s *session) Data(r io.Reader) error {
	key := strings.ToLower(strings.Join(s.to, ","))
	s.server.mu.Lock()
	s.server.dataAttempts[key]++
	attempt, hook := s.server.dataAttempts[key], s.server.dataHook
	s.server.mu.Unlock()
	if hook != nil {
		if err := hook(slices.Clone(s.to), attempt); err != nil {
			if errors.Is(err, ErrDropConnection) {
				_, _ = io.CopyN(io.Discard, r, cutAfter) // part of the message, then the cut
			}
			return s.fail(err)
		}
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.server.mu.Lock()
	defer s.server.mu.Unlock()
	if s.server.dataReject != nil {
		return s.server.dataReject.err()
	}
	s.server.messages = append(s.server.messages, Message{
		From: s.from, To: append([]string(nil), s.to...), Data: data, Conn: s.conn,
	})
	for _, to := range s.to {
		s.server.deliveries[strings.ToLower(to)]++
	}
	close(s.server.arrived)
	s.server.arrived = make(chan struct{})
	return nil
}

func (s *session) Reset() {
	s.from, s.to = "", nil
}

func (s *session) Logout() error { return nil }

// Parsed is a received message taken apart.
type Parsed struct {
	Header  netmail.Header
	Subject string // decoded from RFC 2047
	// Text and HTML are the decoded bodies of the text/plain and text/html
	// parts (of a multipart/alternative message or a single-part one), with
	// CRLF line breaks turned into LF.
	Text, HTML string
	// PartTypes lists the media types of the parts in their order.
	PartTypes []string
}

// Parse takes the message apart with net/mail and mime/multipart, failing
// the test if it is not a well-formed message.
func (m Message) Parse(t testing.TB) Parsed {
	t.Helper()
	p, err := parse(m.Data)
	if err != nil {
		t.Fatalf("mailtest: parse message: %v\n%s", err, m.Data)
	}
	return p
}

func parse(data []byte) (Parsed, error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return Parsed{}, err
	}
	p := Parsed{Header: msg.Header}
	if p.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return Parsed{}, err
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return Parsed{}, err
	}
	if !strings.HasPrefix(mediaType, "multipart/") {
		return p, p.add(mediaType, msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	}
	parts := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := parts.NextPart() // decodes quoted-printable itself
		if errors.Is(err, io.EOF) {
			return p, nil
		}
		if err != nil {
			return Parsed{}, err
		}
		partType, _, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err != nil {
			return Parsed{}, err
		}
		if err := p.add(partType, part.Header.Get("Content-Transfer-Encoding"), part); err != nil {
			return Parsed{}, err
		}
	}
}

func (p *Parsed) add(mediaType, transferEncoding string, body io.Reader) error {
	switch strings.ToLower(transferEncoding) {
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body) // skips line breaks
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	}
	content, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	p.PartTypes = append(p.PartTypes, mediaType)
	text := strings.ReplaceAll(string(content), "\r\n", "\n")
	switch mediaType {
	case "text/plain":
		p.Text = text
	case "text/html":
		p.HTML = text
	}
	return nil
}

// NewTLSConfig makes a throw-away self-signed certificate for 127.0.0.1
// and localhost, for this server and for other servers a test runs; a
// client trusts it with its Certificates[0].Leaf.
func NewTLSConfig() *tls.Config {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err) // only fails if the system has no randomness
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mailtest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		panic(err) // the template above is fixed and valid
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}},
		MinVersion:   tls.VersionTLS12,
	}
}
