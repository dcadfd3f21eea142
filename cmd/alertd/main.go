// Command alertd is the e-mail alert service: the subscription web form, the
// scheduled digest and the delivery workers, in one binary on SQLite.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"unicode"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/config"
)

// Set with -ldflags "-X main.version=... -X main.commit=..." by a release build.
var (
	version = "dev"
	commit  = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "alertd: "+printable(alertd.OneLine(err.Error())))
		os.Exit(exitCode(err))
	}
}

// usagef is bad usage of the command line, an error of code Invalid.
func usagef(format string, args ...any) error {
	return alertd.Errorf(alertd.Invalid, format+" (run 'alertd help' for usage)", args...)
}

// exitCode is the exit status err ends the program with: 2 for bad input
// (usage, flags, configuration, a report or file alertd refuses), 1 for a
// failure.
func exitCode(err error) int {
	_, badConfig := errors.AsType[*config.Error](err)
	if badConfig || errors.Is(err, flag.ErrHelp) || alertd.ErrorCode(err) == alertd.Invalid {
		return 2
	}
	return 1
}

// parseFlags parses a command's flags. The flag package's errors (an unknown
// flag, a bad value) are bad usage, exit code 2, like any other.
func parseFlags(flags *flag.FlagSet, args []string) error {
	err := flags.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usagef("%v", err)
}

// printable is text that came from outside (a report, an address, a row of
// a file) made safe to write to a terminal: control characters other than
// tab and line feed, and the bidirectional formatting characters that
// reorder what is shown, are written as \uXXXX escapes. Ingestion refuses
// them in reports, but text stored before it did, and text from elsewhere,
// reaches the terminal only through this. The escape is JSON's own, so JSON
// output stays valid and means the same.
func printable(s string) string {
	if !strings.ContainsFunc(s, unprintable) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unprintable(r) {
			fmt.Fprintf(&b, "\\u%04x", r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func unprintable(r rune) bool {
	return (unicode.IsControl(r) && r != '\t' && r != '\n') || unicode.Is(unicode.Bidi_Control, r)
}

const usage = `Usage: alertd [-config FILE] COMMAND [flags]

Commands:
  serve                      run the web server and the delivery workers (default)
  migrate                    apply pending database migrations
  check                      validate the configuration, the database and the SMTP login
  reports add --title T --url U [--published RFC3339] [--series S] [--number N]
              [--authors A,B] [--abstract X] [--keywords K,L] [--topics t1,t2]
  reports import [--format json|jsonl|csv|feed] [--backfill] FILE|URL
  reports list [--limit N]
  reports retract ID|GUID    take a report out of the pages, the feeds and every new digest
  sources test URL           read the configured source with the url once and print what a poll
                             would add, field by field; stores nothing
  digest preview [--html]    render the next digest; sends and records nothing
  digest send                compile the next digest now and deliver it
  digest list                recent digests with their delivery counts
  subscribers import [--confirmed] FILE.csv
  subscribers list [--status S]
  subscribers export EMAIL   print everything held about an address, as JSON
  subscribers erase EMAIL    remove an address, keeping a hash on the suppression list
  admin link EMAIL           print a one-time dashboard sign-in link for an address in admin.emails
  backup FILE                write a consistent copy of the database
  version                    print the version

-config defaults to $ALERTD_CONFIG, else ./config.toml if it exists, else built-in defaults.
`

// run is the whole program, with its environment passed in so tests can run
// it in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("alertd", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() { fmt.Fprint(stderr, usage) }
	configFlag := flags.String("config", "", "configuration file (TOML)")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	args = flags.Args()
	command := "serve"
	if len(args) > 0 {
		command, args = args[0], args[1:]
	}
	switch command {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "version":
		return printVersion(stdout)
	}

	path, err := config.Locate(*configFlag, getenv)
	if err != nil {
		return err
	}
	cfg, err := config.Load(path, getenv)
	if err != nil {
		return err
	}
	env := &environment{cfg: cfg, configPath: path, stdin: stdin, stdout: stdout, stderr: stderr}

	switch command {
	case "serve":
		return env.serve(ctx, args)
	case "migrate":
		return env.migrate(ctx, args)
	case "check":
		return env.check(ctx, args)
	case "subscribers":
		return env.subscribers(ctx, args)
	case "reports":
		return env.reports(ctx, args)
	case "sources":
		return env.sources(ctx, args)
	case "digest":
		return env.digest(ctx, args)
	case "backup":
		return env.backup(ctx, args)
	case "admin":
		return env.admin(ctx, args)
	}
	return usagef("unknown command %q", command)
}

func printVersion(w io.Writer) error {
	info, _ := debug.ReadBuildInfo()
	goVersion, rev := "unknown", commit
	if info != nil {
		goVersion = info.GoVersion
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && rev == "" {
				rev = s.Value
			}
		}
	}
	if rev == "" {
		rev = "unknown"
	}
	_, err := fmt.Fprintf(w, "alertd %s (commit %s, %s)\n", version, rev, goVersion)
	return err
}
