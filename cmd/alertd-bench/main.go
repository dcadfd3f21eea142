//go:build unix

// Command alertd-bench holds the tools behind BENCHMARKS.md:
//
//	alertd-bench sink -listen 127.0.0.1:2525     an SMTP sink that accepts and discards mail
//	alertd-bench csv -rows 1000000 > subs.csv     a subscriber import file
//	alertd-bench compile -subscribers 1000000     times compiling a digest for that many
//	alertd-bench deliver -subscribers 1000000     alertd's delivery against the transport limit
//	alertd-bench push -addr A -message F -count N the minimal client alone (deliver runs it)
//	alertd-bench dashboard -db FILE               the dashboard's pages on a million subscribers
//	alertd-bench dashboard -db FILE -export URL   one streamed export: time and alertd's peak RSS
//	alertd-bench bounces -dsns 20000              DSNs into alertd's bounce receiver while it sends a digest
//
// The sink accepts as fast as it can, so that measurements of alertd are not
// measurements of a relay.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/pprof"

	"github.com/alertd/alertd/internal/bounce"
	"github.com/alertd/alertd/internal/store/seed"
)

const usage = `usage:
  alertd-bench sink [-listen ADDR]
  alertd-bench csv [-rows N]
  alertd-bench compile [-subscribers N] [-frequencies K] [-db FILE]
  alertd-bench deliver [-subscribers N] [-frequencies K] [-connections C] [-alertd PATH]
  alertd-bench push -addr HOST:PORT -message FILE [-count N] [-connections C]
  alertd-bench dashboard [-db FILE] [-seed] [-alertd PATH] [-requests N] [-clients C] [-skip REGEXP] [-export URL]
  alertd-bench bounces [-subscribers N] [-dsns N] [-connections C] [-alertd PATH]`

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
		frequencies := flags.Int("frequencies", 1, "frequencies the subscribers are spread over, each compiled in turn")
		flags.Parse(os.Args[2:])
		startProfile()
		err = benchCompile(*db, *subscribers, *frequencies)
	case "deliver":
		subscribers := flags.Int("subscribers", 20_000, "confirmed subscribers to deliver a digest to")
		connections := flags.Int("connections", 4, "SMTP connections, for alertd and for the minimal client alike")
		alertdPath := flags.String("alertd", "", "alertd binary to measure (default: build ./cmd/alertd, run from the repository root)")
		frequencies := flags.Int("frequencies", 1, "frequencies the subscribers are spread over; the first one's digest is delivered")
		flags.Parse(os.Args[2:])
		startProfile()
		err = benchDeliver(context.Background(), *alertdPath, *subscribers, *connections, *frequencies)
	case "push":
		addr := flags.String("addr", "", "the SMTP sink's address")
		message := flags.String("message", "", "file holding the message to send")
		count := flags.Int("count", 20_000, "messages to send, to bench subscribers 0..count-1")
		connections := flags.Int("connections", 4, "SMTP connections")
		flags.Parse(os.Args[2:])
		startProfile()
		err = push(*addr, *message, *count, *connections)
	case "dashboard":
		var o dashboardOptions
		db := os.Getenv(seed.FixtureEnv)
		if db == "" {
			db = filepath.Join(os.TempDir(), "alertd-dashboard.db")
		}
		flags.StringVar(&o.db, "db", db, "the fixture's database file, built when missing and kept for the next run ($ALERTD_BENCH_DB)")
		flags.BoolVar(&o.reseed, "seed", false, "build the fixture again even if the file exists")
		flags.StringVar(&o.alertd, "alertd", "", "alertd binary to serve it (default: build ./cmd/alertd, run from the repository root)")
		flags.IntVar(&o.requests, "requests", 200, "timed requests a URL")
		flags.IntVar(&o.clients, "clients", 1, "concurrent clients a URL")
		flags.StringVar(&o.export, "export", "", "time one streamed GET of this URL and alertd's memory instead of the pages")
		flags.Func("skip", "leave out the pages whose line in dashboardURLs matches this regular expression", func(s string) error {
			var err error
			o.skip, err = regexp.Compile(s)
			return err
		})
		flags.Parse(os.Args[2:])
		if o.requests < 1 || o.clients < 1 {
			fmt.Fprintln(os.Stderr, "alertd-bench: -requests and -clients must be at least 1")
			os.Exit(2)
		}
		startProfile()
		err = benchDashboard(context.Background(), o)
	case "bounces":
		subscribers := flags.Int("subscribers", 200_000, "confirmed subscribers to send a digest to while the DSNs go in")
		dsns := flags.Int("dsns", 20_000, "DSNs to send, each about a message of the digest")
		connections := flags.Int("connections", bounce.MaxConnections, "SMTP connections carrying the DSNs (default: as many as the receiver serves at once)")
		alertdPath := flags.String("alertd", "", "alertd binary to measure (default: build ./cmd/alertd, run from the repository root)")
		flags.Parse(os.Args[2:])
		startProfile()
		err = benchBounces(context.Background(), *alertdPath, *subscribers, *dsns, *connections)
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "alertd-bench:", err)
		os.Exit(1)
	}
}
