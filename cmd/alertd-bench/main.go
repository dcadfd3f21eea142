// Command alertd-bench holds the tools behind BENCHMARKS.md: an SMTP sink
// that accepts and discards mail as fast as it can, so that measurements of
// alertd are not measurements of a relay.
//
//	alertd-bench sink -listen 127.0.0.1:2525
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != "sink" {
		fmt.Fprintln(os.Stderr, "usage: alertd-bench sink [-listen ADDR]")
		os.Exit(2)
	}
	flags := flag.NewFlagSet("sink", flag.ExitOnError)
	listen := flags.String("listen", "127.0.0.1:2525", "address to accept SMTP on")
	flags.Parse(os.Args[2:])
	if err := runSink(*listen); err != nil {
		fmt.Fprintln(os.Stderr, "alertd-bench:", err)
		os.Exit(1)
	}
}

// sink counts what it accepts and throws it away.
type sink struct{ messages atomic.Int64 }

func (s *sink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{sink: s}, nil }

type sinkSession struct{ sink *sink }

func (*sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (*sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *sinkSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.sink.messages.Add(1)
	return nil
}
func (*sinkSession) Reset()        {}
func (*sinkSession) Logout() error { return nil }

func runSink(addr string) error {
	backend := &sink{}
	server := smtp.NewServer(backend)
	server.Addr = addr
	server.Domain = "sink.localhost"
	server.AllowInsecureAuth = true
	server.MaxRecipients = 1000
	server.ReadTimeout = time.Minute
	server.WriteTimeout = time.Minute
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-stop
		server.Close()
	}()
	log.Printf("sink: accepting SMTP on %s", addr)
	err := server.ListenAndServe()
	log.Printf("sink: accepted %d messages", backend.messages.Load())
	if err == smtp.ErrServerClosed {
		return nil
	}
	return err
}
