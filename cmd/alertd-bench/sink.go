//go:build unix

package main

import (
	"bytes"
	"io"
	"log"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
)

// sink accepts every message and throws it away, counting deliveries per
// envelope recipient so that a run can prove each address got exactly one.
type sink struct {
	mu       sync.Mutex
	received tally
	// sent, when set, is told of each accepted message's envelope, under
	// the sink's lock.
	sent func(from string, to []string)
}

// tally is what a sink accepted.
type tally struct {
	messages   int
	recipients map[string]int // accepted messages per envelope recipient
	first      []byte         // the first message's content, kept so a client can replay its size
}

func newSink() *sink { return &sink{received: tally{recipients: make(map[string]int)}} }

// take returns what the sink accepted so far and starts a fresh count, so
// that one sink can serve several measurements in turn.
func (s *sink) take() tally {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.received
	s.received = tally{recipients: make(map[string]int)}
	return t
}

func (s *sink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{sink: s}, nil }

type sinkSession struct {
	sink    *sink
	from    string
	to      []string
	content bytes.Buffer // reused across the connection's messages: no allocation per message
}

func (s *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *sinkSession) Data(r io.Reader) error {
	s.content.Reset()
	if _, err := io.Copy(&s.content, r); err != nil {
		return err
	}
	received := &s.sink.received
	s.sink.mu.Lock()
	defer s.sink.mu.Unlock()
	received.messages++
	for _, to := range s.to {
		received.recipients[to]++
	}
	if received.first == nil {
		received.first = bytes.Clone(s.content.Bytes())
	}
	if s.sink.sent != nil {
		s.sink.sent(s.from, s.to)
	}
	return nil
}

func (s *sinkSession) Reset()      { s.to = s.to[:0] }
func (*sinkSession) Logout() error { return nil }

func newSinkServer(s *sink) *smtp.Server {
	server := smtp.NewServer(s)
	server.Domain = "sink.localhost"
	server.AllowInsecureAuth = true
	server.MaxRecipients = 1000
	server.ReadTimeout = time.Minute
	server.WriteTimeout = time.Minute
	return server
}

// runSink serves a sink on addr until SIGINT or SIGTERM.
func runSink(addr string) error {
	backend := newSink()
	server := newSinkServer(backend)
	server.Addr = addr
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-stop
		server.Close()
	}()
	log.Printf("sink: accepting SMTP on %s", addr)
	err := server.ListenAndServe()
	received := backend.take()
	log.Printf("sink: accepted %d messages for %d distinct recipients", received.messages, len(received.recipients))
	if err == smtp.ErrServerClosed {
		return nil
	}
	return err
}
