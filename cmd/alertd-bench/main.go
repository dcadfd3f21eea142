// Command alertd-bench holds the tools behind BENCHMARKS.md:
//
//	alertd-bench sink -listen 127.0.0.1:2525     an SMTP sink that accepts and discards mail
//	alertd-bench csv -rows 1000000 > subs.csv     a subscriber import file
//	alertd-bench compile -subscribers 1000000     times compiling a digest for that many
//
// The sink accepts as fast as it can, so that measurements of alertd are not
// measurements of a relay.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
)

const usage = `usage:
  alertd-bench sink [-listen ADDR]
  alertd-bench csv [-rows N]
  alertd-bench compile [-subscribers N] [-db FILE]`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	flags := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	cpuProfile := flags.String("cpuprofile", "", "write a CPU profile to this file")
	defer func() {
		if *cpuProfile != "" {
			pprof.StopCPUProfile()
		}
	}()
	startProfile := func() {
		if *cpuProfile == "" {
			return
		}
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "alertd-bench: cpu profile:", err)
			os.Exit(1)
		}
	}
	var err error
	switch os.Args[1] {
	case "sink":
		listen := flags.String("listen", "127.0.0.1:2525", "address to accept SMTP on")
		flags.Parse(os.Args[2:])
		startProfile()
		err = runSink(*listen)
	case "csv":
		rows := flags.Int("rows", 1_000_000, "rows to write")
		flags.Parse(os.Args[2:])
		err = writeCSV(os.Stdout, *rows)
	case "compile":
		subscribers := flags.Int("subscribers", 1_000_000, "confirmed subscribers")
		db := flags.String("db", "", "database file to create (default: a temporary one)")
		flags.Parse(os.Args[2:])
		startProfile()
		err = benchCompile(*db, *subscribers)
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
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
