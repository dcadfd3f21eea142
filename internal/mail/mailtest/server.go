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
// timeout with DropConnections; Connections counts the connections accepted.
// With WithAuth the server requires AUTH PLAIN; with WithStartTLS or
// WithImplicitTLS it speaks TLS with a throw-away certificate that
// ClientTLSConfig trusts. The server stops when the test ends.
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"regexp"
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
	username  string
	password  string

	mu          sync.Mutex
	messages    []Message
	arrived     chan struct{} // closed and replaced whenever a message arrives
	connections int
	open        map[net.Conn]struct{}
	rcptRejects map[string]reject
	dataReject  *reject
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

// WithStartTLS makes the server offer STARTTLS with a throw-away
// certificate; give ClientTLSConfig to the client.
func WithStartTLS() Option {
	return func(s *Server) { s.tlsConfig = newTLSConfig() }
}

// WithImplicitTLS makes the server speak TLS from the first byte (SMTPS);
// give ClientTLSConfig to the client.
func WithImplicitTLS() Option {
	return func(s *Server) { s.tlsConfig, s.implicit = newTLSConfig(), true }
}

// NewServer starts a server on 127.0.0.1 with a free port; it is closed
// when the test ends.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{
		Host:        "127.0.0.1",
		arrived:     make(chan struct{}),
		open:        make(map[net.Conn]struct{}),
		rcptRejects: make(map[string]reject),
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
	l = &countingListener{Listener: l, server: s}
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
	timeout := time.NewTimer(WaitTimeout)
	defer timeout.Stop()
	for {
		s.mu.Lock()
		got, arrived := len(s.messages), s.arrived
		s.mu.Unlock()
		if got >= n {
			return s.Messages()
		}
		select {
		case <-arrived:
		case <-timeout.C:
			t.Fatalf("mailtest: waited %v for %d messages, %d arrived", WaitTimeout, n, got)
		}
	}
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

type countingListener struct {
	net.Listener
	server *Server
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.server.mu.Lock()
	defer l.server.mu.Unlock()
	l.server.connections++
	tracked := &trackedConn{Conn: c, server: l.server, number: l.server.connections}
	l.server.open[tracked] = struct{}{}
	return tracked, nil
}

// trackedConn lets DropConnections find the connection and the session
// know its number.
type trackedConn struct {
	net.Conn
	server *Server
	number int
}

func (c *trackedConn) Close() error {
	c.server.mu.Lock()
	delete(c.server.open, c)
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
	return &session{server: b.server, conn: number}, nil
}

type session struct {
	server *Server
	conn   int
	authed bool
	from   string
	to     []string
}

func (s *session) AuthMechanisms() []string {
	if s.server.username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != s.server.username || password != s.server.password {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.server.username != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.server.mu.Lock()
	r, rejected := s.server.rcptRejects[strings.ToLower(to)]
	s.server.mu.Unlock()
	if rejected {
		return r.err()
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
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

// newTLSConfig makes a self-signed certificate for 127.0.0.1 and localhost.
func newTLSConfig() *tls.Config {
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
