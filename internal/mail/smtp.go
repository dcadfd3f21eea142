package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// The values of smtp.tls.
const (
	TLSStartTLS      = "starttls"      // STARTTLS is required
	TLSOpportunistic = "opportunistic" // STARTTLS when the relay offers it
	TLSImplicit      = "implicit"      // SMTPS: TLS from the first byte
	TLSNone          = "none"          // plain text
)

// DefaultSMTPTimeout is the per-command timeout when SMTPSettings has none.
const DefaultSMTPTimeout = 30 * time.Second

// SMTPSettings say how to reach and log in to the relay.
type SMTPSettings struct {
	Host string
	// Port defaults to 587, or 465 with TLS "implicit".
	Port int
	// Username and Password: AUTH happens only when Username is set.
	Username, Password string
	// TLS is one of starttls (the default when empty), opportunistic,
	// implicit or none.
	TLS string
	// Timeout bounds each SMTP command, and the connect with its
	// handshake; 0 = DefaultSMTPTimeout.
	Timeout time.Duration
	// HELO is the name given in EHLO; empty = this machine's host name.
	HELO string
	// DKIM signs every message when set.
	DKIM *DKIMSigner
	// TLSConfig replaces the default (system roots, ServerName = Host),
	// e.g. to trust a test server's certificate.
	TLSConfig *tls.Config
}

// SMTPTransport sends through an SMTP relay.
type SMTPTransport struct {
	settings SMTPSettings
	options  []gomail.Option
}

// NewSMTPTransport checks the settings; it does not connect.
func NewSMTPTransport(s SMTPSettings) (*SMTPTransport, error) {
	if s.Host == "" {
		return nil, errors.New("smtp.host is empty: set it to the relay's host name")
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultSMTPTimeout
	}
	if s.TLS == "" {
		s.TLS = TLSStartTLS
	}
	if s.Port == 0 {
		s.Port = 587
		if s.TLS == TLSImplicit {
			s.Port = 465
		}
	}
	if s.Port < 1 || s.Port > 65535 {
		return nil, fmt.Errorf("smtp.port %d is not a port number (1-65535)", s.Port)
	}

	opts := []gomail.Option{gomail.WithPort(s.Port), gomail.WithTimeout(s.Timeout)}
	switch s.TLS {
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSOpportunistic:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		return nil, fmt.Errorf("smtp.tls %q is not one of starttls, opportunistic, implicit, none", s.TLS)
	}
	if s.TLSConfig != nil {
		opts = append(opts, gomail.WithTLSConfig(s.TLSConfig))
	}
	if s.HELO != "" {
		opts = append(opts, gomail.WithHELO(s.HELO))
	}
	if s.Username != "" && (s.TLS == TLSStartTLS || s.TLS == TLSImplicit) {
		// The strongest mechanism the relay offers, over TLS.
		opts = append(opts,
			gomail.WithOpportunisticSMTPAuth(
				gomail.SMTPAuthSCRAMSHA256PLUS, gomail.SMTPAuthSCRAMSHA256,
				gomail.SMTPAuthSCRAMSHA1PLUS, gomail.SMTPAuthSCRAMSHA1,
				gomail.SMTPAuthCramMD5, gomail.SMTPAuthPlain, gomail.SMTPAuthLogin),
			gomail.WithUsername(s.Username),
			gomail.WithPassword(s.Password))
	}
	return &SMTPTransport{settings: s, options: opts}, nil
}

// clientOptions are the go-mail options of one connection. With tls none or
// opportunistic the channel may be plain text, so the mechanism is picked by
// plainTextAuth, one per connection as it keeps the exchange's state.
func (t *SMTPTransport) clientOptions() []gomail.Option {
	if t.settings.Username == "" || t.settings.TLS == TLSStartTLS || t.settings.TLS == TLSImplicit {
		return t.options
	}
	auth := &plainTextAuth{username: t.settings.Username, password: t.settings.Password, host: t.settings.Host, tlsMode: t.settings.TLS}
	return append(slices.Clip(t.options), gomail.WithSMTPAuthCustom(auth))
}

// plainTextAuth logs in over a channel that may not be encrypted (tls none,
// or opportunistic, where whoever is on the path can strip STARTTLS). It
// never uses CRAM-MD5: an eavesdropper holding one exchange can try
// passwords offline at the speed of MD5, and nothing in the exchange binds
// it to a server. Nor go-mail's fallback, which would pick CRAM-MD5 or NTLM
// when the relay offers nothing better. SCRAM costs such an attacker a
// salted, iterated hash per guess and proves the server knows the
// password; PLAIN and LOGIN are sent only once TLS is up or to localhost.
type plainTextAuth struct {
	username, password, host, tlsMode string
	chosen                            smtp.Auth
}

func (a *plainTextAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	offered := func(mech gomail.SMTPAuthType) bool { return slices.Contains(server.Auth, string(mech)) }
	switch {
	case offered(gomail.SMTPAuthSCRAMSHA256):
		a.chosen = smtp.ScramSHA256Auth(a.username, a.password)
	case offered(gomail.SMTPAuthSCRAMSHA1):
		a.chosen = smtp.ScramSHA1Auth(a.username, a.password)
	case offered(gomail.SMTPAuthPlain):
		a.chosen = smtp.PlainAuth("", a.username, a.password, a.host, false)
	case offered(gomail.SMTPAuthLogin):
		a.chosen = smtp.LoginAuth(a.username, a.password, a.host, false)
	default:
		return "", nil, fmt.Errorf("the relay offers AUTH %q; with smtp.tls %s alertd logs in only with SCRAM-SHA-256, SCRAM-SHA-1, PLAIN or LOGIN: set smtp.tls to starttls or implicit",
			strings.Join(server.Auth, " "), a.tlsMode)
	}
	return a.chosen.Start(server)
}

func (a *plainTextAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	return a.chosen.Next(fromServer, more)
}

// Dial connects, says EHLO, starts TLS and authenticates as configured.
// The connection is then reused for every message sent over the Conn.
func (t *SMTPTransport) Dial(ctx context.Context) (Conn, error) {
	client, err := gomail.NewClient(t.settings.Host, t.clientOptions()...)
	if err != nil {
		return nil, fmt.Errorf("set up the SMTP client: %w", err)
	}
	c := &smtpConn{addr: t.addr(), tlsMode: t.settings.TLS, client: client, timeout: t.settings.Timeout, dkim: t.settings.DKIM}
	if err := c.dial(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// VerifyResult is what Verify found out about the relay.
type VerifyResult struct {
	Addr          string
	TLSVersion    string // "" when the connection is not encrypted
	Authenticated bool
}

// Verify connects, starts TLS and authenticates exactly as sending would,
// then says QUIT: no mail is sent. It is what `alertd check` runs.
func (t *SMTPTransport) Verify(ctx context.Context) (VerifyResult, error) {
	conn, err := t.Dial(ctx)
	if err != nil {
		return VerifyResult{}, err
	}
	c := conn.(*smtpConn)
	result := VerifyResult{Addr: c.addr, Authenticated: t.settings.Username != ""}
	if state, err := c.conn.GetTLSConnectionState(); err == nil {
		result.TLSVersion = tls.VersionName(state.Version)
	}
	if err := c.Close(); err != nil {
		return result, fmt.Errorf("close the connection to %s: %w", c.addr, err)
	}
	return result, nil
}

func (t *SMTPTransport) addr() string {
	return net.JoinHostPort(t.settings.Host, strconv.Itoa(t.settings.Port))
}

// smtpConn holds one relay connection and re-dials when it was dropped.
type smtpConn struct {
	addr    string
	tlsMode string
	client  *gomail.Client
	timeout time.Duration
	dkim    *DKIMSigner

	mu   sync.Mutex
	conn *smtp.Client // nil after a failure that left the connection unusable
	// What the relay offered at the connection's EHLO: PIPELINING, and the
	// MAIL FROM parameters go-mail would send.
	pipelining bool
	mailParams string
}

// ConnectError reports that the relay could not be reached or refused the
// session (greeting, EHLO, STARTTLS, AUTH). It is about the relay and the
// configuration, never about the recipient, so Classify treats it as
// Temporary even when the relay answered 5xx (e.g. 535 bad credentials).
type ConnectError struct {
	Addr string
	Err  error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("connect to SMTP relay %s: %v (check smtp.host, smtp.port, smtp.tls and the credentials)", e.Addr, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

func (c *smtpConn) dial(ctx context.Context) error {
	conn, err := c.client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return &ConnectError{Addr: c.addr + " (tls " + c.tlsMode + ")", Err: err}
	}
	c.conn = conn
	c.pipelining, _ = conn.Extension("PIPELINING")
	c.mailParams = ""
	if ok, _ := conn.Extension("8BITMIME"); ok {
		c.mailParams += " BODY=8BITMIME"
	}
	if ok, _ := conn.Extension("SMTPUTF8"); ok {
		c.mailParams += " SMTPUTF8"
	}
	return nil
}

// Send delivers m over the open connection, re-dialling first when the
// relay dropped it (idle timeout, restart).
//
// Once under way a send is not abandoned when ctx ends: cutting a DATA
// short leaves it unknown whether the relay took the message, the one way
// to produce a duplicate. The per-command timeout bounds the wait instead.
func (c *smtpConn) Send(ctx context.Context, m Message, beforeContent func()) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if strings.ContainsAny(m.From, "\r\n") || strings.ContainsAny(m.To, "\r\n") {
		return fmt.Errorf("%w: line break in the envelope %q, %q", ErrBadAddress, m.From, m.To)
	}
	data, err := sign(m.Data, c.dkim)
	if err != nil {
		return err
	}
	// The message is dot-stuffed here and written in one piece: go-mail's
	// Data writer goes through net/textproto's byte-at-a-time dot writer,
	// and its Send adds a NOOP and a RSET, two round trips, per message.
	data = dotStuffed(data)
	if c.conn == nil {
		if err := c.dial(ctx); err != nil {
			return err
		}
	}
	err = c.send(m, data, beforeContent)
	var stale *staleConnError
	if errors.As(err, &stale) {
		// MAIL FROM failed on the connection itself (an idle connection
		// the relay closed): nothing of the message was sent, so a fresh
		// connection can carry it without risk of a duplicate.
		c.drop()
		if err := c.dial(ctx); err != nil {
			return err
		}
		err = c.send(m, data, beforeContent)
	}
	if err == nil {
		return nil
	}
	c.recover()
	return err
}

// send runs one SMTP transaction for the dot-stuffed data. With a relay
// that offers PIPELINING (RFC 2920) MAIL, RCPT and DATA go out in one
// write and their replies are read together; otherwise each waits for its
// reply. It calls beforeContent, if not nil, between the reply to DATA and
// the content. It returns a *staleConnError when the connection failed before
// anything was sent, a *RcptError for a refused recipient, and the relay's
// reply (a *textproto.Error) or the network error otherwise.
func (c *smtpConn) send(m Message, data []byte, beforeContent func()) error {
	if err := c.conn.UpdateDeadline(c.timeout); err != nil {
		return &staleConnError{err}
	}
	text := c.conn.Text
	commands := [...]struct {
		line string
		code int
	}{
		{"MAIL FROM:" + m.From + c.mailParams, 250},
		{"RCPT TO:" + m.To, 25},
		{"DATA", 354},
	}
	var replies [len(commands)]error
	sent := 0
	for i, cmd := range commands {
		text.W.WriteString(cmd.line)
		text.W.WriteString("\r\n")
		if c.pipelining && i < len(commands)-1 {
			continue
		}
		if err := text.W.Flush(); err != nil {
			return c.failed(sent, err)
		}
		for ; sent <= i; sent++ {
			_, _, replies[sent] = text.ReadResponse(commands[sent].code)
		}
		if err := c.envelopeError(replies[:sent], m.To); err != nil {
			if replies[len(replies)-1] == nil && sent == len(replies) {
				// The relay took DATA although MAIL or RCPT failed and
				// now reads the content: only closing ends that.
				c.drop()
			}
			return err
		}
	}
	if beforeContent != nil {
		beforeContent()
		if err := c.conn.UpdateDeadline(c.timeout); err != nil {
			return err
		}
	}
	if _, err := text.W.Write(data); err != nil {
		return err
	}
	if err := text.W.Flush(); err != nil {
		return err
	}
	_, _, err := text.ReadResponse(250)
	return err
}

// envelopeError is the first failure among the replies to MAIL, RCPT and
// DATA read so far.
func (c *smtpConn) envelopeError(replies []error, rcpt string) error {
	for i, err := range replies {
		if err == nil {
			continue
		}
		var reply *textproto.Error
		switch {
		case !errors.As(err, &reply):
			return c.failed(i, err)
		case i == 1:
			return &RcptError{Rcpt: rcpt, Err: err}
		}
		return err
	}
	return nil
}

// failed is a network error met before the reply to command i (0 = MAIL):
// the connection is stale if the relay had not yet accepted anything.
func (c *smtpConn) failed(i int, err error) error {
	if i == 0 {
		return &staleConnError{err}
	}
	return err
}

// dotStuffed makes data the DATA phase's content (RFC 5321 §4.5.2): a
// period that starts a line gets a second one, and the data ends in CRLF
// and the end mark ".\r\n", so that content and end go out in one write,
// and the relay wakes once for them. It may append to data in place.
func dotStuffed(data []byte) []byte {
	out := data // appended to in place when its capacity allows
	// One vectorised scan finds that most messages need no stuffing.
	if bytes.HasPrefix(data, []byte(".")) || bytes.Contains(data, []byte("\n.")) {
		periods := bytes.Count(data, []byte("\n.")) + 1
		out = make([]byte, 0, len(data)+periods+len("\r\n.\r\n"))
		for line := range bytes.Lines(data) {
			if line[0] == '.' {
				out = append(out, '.')
			}
			out = append(out, line...)
		}
	}
	if !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, "\r\n"...)
	}
	return append(out, ".\r\n"...)
}

// staleConnError is a connection that failed before a transaction began.
type staleConnError struct{ err error }

func (e *staleConnError) Error() string { return "SMTP connection lost: " + e.err.Error() }
func (e *staleConnError) Unwrap() error { return e.err }

// RcptError is a relay's refusal of one recipient (RCPT TO).
type RcptError struct {
	Rcpt string
	Err  error
}

func (e *RcptError) Error() string { return fmt.Sprintf("recipient %s refused: %v", e.Rcpt, e.Err) }
func (e *RcptError) Unwrap() error { return e.Err }

// recover makes the connection fit for the next message after a failed
// one: go-mail resets after a refused MAIL or RCPT but not after a refused
// DATA, and a network error leaves nothing to reset.
func (c *smtpConn) recover() {
	if c.conn == nil {
		return
	}
	if c.conn.UpdateDeadline(c.timeout) != nil || c.conn.Reset() != nil {
		c.drop()
	}
}

// drop closes the connection without a QUIT; the next Send re-dials.
func (c *smtpConn) drop() {
	_ = c.conn.Close() // the connection is being discarded as unusable
	c.conn = nil
}

// Close says QUIT and closes the connection.
func (c *smtpConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return nil
	}
	conn := c.conn
	c.conn = nil
	if err := conn.UpdateDeadline(c.timeout); err != nil {
		return conn.Close()
	}
	if err := c.client.CloseWithSMTPClient(conn); err != nil {
		_ = conn.Close() // QUIT failed; release the socket anyway
		return err
	}
	return nil
}
