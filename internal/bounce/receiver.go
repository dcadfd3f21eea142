package bounce

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Handler takes one mail in: rcpt is the envelope recipient it came for
// ("" when it was read from a mailbox), raw the message as it arrived. It
// says whether the mail was recognised as alertd's and recorded. An error
// means nothing may have been kept, so the mail must be offered again
// later; offering it again is harmless, as a report already recorded is
// recognised by its key and counts once.
type Handler func(ctx context.Context, rcpt string, raw []byte) (recognised bool, err error)

// The receiver's limits. A bounce or complaint is a few kilobytes even
// with the original message quoted, and names one recipient; senders are
// MTAs, which retry on a temporary refusal.
const (
	// MaxMessageBytes is the largest message taken (552 beyond).
	MaxMessageBytes = 1 << 20
	// MaxRecipients is how many recipients one message may name (452
	// beyond, and the sender sends the rest again).
	MaxRecipients = 10
	// MaxConnections is how many connections are served at once; one
	// more is answered 421 and closed. With MaxMessageBytes this bounds
	// the memory the receiver holds to about 20 MiB.
	MaxConnections = 20
	// ReceiverTimeout bounds each read and each write on a connection.
	ReceiverTimeout = time.Minute
	// MaxSession bounds a whole connection, however busy: a sender that
	// sends a command just within each read timeout would otherwise hold
	// its slot for ever, and twenty such would shut every MTA out.
	MaxSession = 10 * time.Minute
	// shutdownGrace is how long a shutdown lets the mail in flight finish
	// before it closes the connections; an interrupted sender retries.
	shutdownGrace = 10 * time.Second
)

// Receiver is an SMTP server that takes bounce and complaint mail for
// Domain and for Addresses, and nothing else: it relays nothing, offers no
// AUTH, and refuses every other recipient with 550.
type Receiver struct {
	// Domain is the domain of the envelope senders; mail to any address
	// at it is taken. "" takes none.
	Domain string
	// Addresses are further addresses taken as they are (the
	// List-Unsubscribe mailto address), compared without regard to case.
	Addresses []string
	Handle    Handler
	Log       *slog.Logger
	// maxConnections and maxSession are MaxConnections and MaxSession,
	// lowered by tests.
	maxConnections int
	maxSession     time.Duration
}

// Serve answers SMTP on ln until ctx ends, then lets the mail in flight
// finish for a few seconds and closes every connection. Each message is
// handed to Handle once per accepted recipient: 250 once all have taken
// it, 451 (try again later) when one failed.
func (r *Receiver) Serve(ctx context.Context, ln net.Listener) error {
	limit := r.maxConnections
	if limit == 0 {
		limit = MaxConnections
	}
	session := r.maxSession
	if session == 0 {
		session = MaxSession
	}
	limited := &limitListener{Listener: ln, slots: make(chan struct{}, limit), session: session, open: map[net.Conn]struct{}{}}
	server := smtp.NewServer(backend{receiver: r, ctx: ctx})
	server.Domain = r.Domain
	if server.Domain == "" {
		server.Domain = "localhost"
	}
	server.MaxMessageBytes = MaxMessageBytes
	server.MaxRecipients = MaxRecipients
	server.ReadTimeout = ReceiverTimeout
	server.WriteTimeout = ReceiverTimeout
	server.ErrorLog = log.New(slogWriter{r.Log}, "", 0)

	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		grace, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := server.Shutdown(grace); err != nil {
			limited.closeAll()
		}
	}()
	err := server.Serve(limited)
	if ctx.Err() != nil {
		<-stopped
		return nil
	}
	return fmt.Errorf("bounce receiver: %w", err)
}

// accepts reports whether mail for rcpt is taken.
func (r *Receiver) accepts(rcpt string) bool {
	at := strings.LastIndexByte(rcpt, '@')
	if at <= 0 {
		return false
	}
	if r.Domain != "" && strings.EqualFold(rcpt[at+1:], r.Domain) {
		return true
	}
	for _, addr := range r.Addresses {
		if strings.EqualFold(rcpt, addr) {
			return true
		}
	}
	return false
}

var (
	errNotHere = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Relaying denied: this server takes mail only for its own addresses"}
	errTryLater = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message: "Temporary failure; please try again later"}
)

type backend struct {
	receiver *Receiver
	ctx      context.Context
}

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &session{backend: b}, nil
}

// session is one SMTP connection's transaction. It implements no AUTH, so
// the server offers none.
type session struct {
	backend
	rcpts []string
}

func (s *session) Reset()        { s.rcpts = nil }
func (s *session) Logout() error { return nil }

// Mail takes any sender: delivery status notifications come from the null
// sender, and the sender is not what a report is matched by.
func (s *session) Mail(string, *smtp.MailOptions) error { return nil }

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if !s.receiver.accepts(to) {
		return errNotHere
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *session) Data(body io.Reader) error {
	raw, err := io.ReadAll(body) // bounded by MaxMessageBytes: 552 beyond
	if err != nil {
		return err
	}
	for _, rcpt := range s.rcpts {
		if _, err := s.receiver.Handle(s.ctx, rcpt, raw); err != nil {
			s.receiver.Log.Error("bounce receiver: mail not taken; the sender is told to retry", "rcpt", rcpt, "err", err)
			return errTryLater
		}
	}
	return nil
}

// limitListener serves at most cap(slots) connections at once and answers
// any more with 421 at once, so a sender retries later rather than waiting
// in the queue; it closes each connection once it has been open for
// session. It keeps the connections it handed out, so that a shutdown can
// close them.
type limitListener struct {
	net.Listener
	slots   chan struct{}
	session time.Duration
	mu      sync.Mutex
	open    map[net.Conn]struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			c := &slotConn{Conn: conn, listener: l}
			l.mu.Lock() // before the timer, which Close reads under it
			c.expiry = time.AfterFunc(l.session, func() { c.Close() })
			l.open[c] = struct{}{}
			l.mu.Unlock()
			return c, nil
		default:
			go refuse(conn)
		}
	}
}

func (l *limitListener) closeAll() {
	l.mu.Lock()
	conns := make([]net.Conn, 0, len(l.open))
	for c := range l.open {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

func refuse(conn net.Conn) {
	defer conn.Close()
	conn.SetWriteDeadline(time.Now().Add(ReceiverTimeout))
	io.WriteString(conn, "421 4.7.0 Too many connections, try again later\r\n")
}

// slotConn gives its slot back when it is closed, once; expiry closes it
// when its time is up.
type slotConn struct {
	net.Conn
	listener *limitListener
	expiry   *time.Timer
	once     sync.Once
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.listener.mu.Lock()
		c.expiry.Stop()
		delete(c.listener.open, c)
		c.listener.mu.Unlock()
		<-c.listener.slots
	})
	return err
}

// slogWriter passes go-smtp's own log lines (a broken connection and the
// like) to the structured log.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Warn("bounce receiver", "msg", strings.TrimSpace(string(p)))
	return len(p), nil
}
