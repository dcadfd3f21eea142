// Package config reads alertd's settings (SPEC §3): built-in defaults, then an
// optional TOML file, then ALERTD_<SECTION>_<KEY> environment variables. Every
// value is checked here, once, so the rest of the program can trust a Config.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"time"

	"github.com/alertd/alertd"
)

// Config is the checked, ready-to-use configuration.
type Config struct {
	Server    Server
	Database  Database
	Mail      Mail
	SMTP      SMTP
	DKIM      DKIM
	Digest    Digest
	Delivery  Delivery
	Subscribe Subscribe
	Admin     Admin
	Security  Security
	Templates Templates
	Fetch     Fetch
	Topics    []alertd.Topic
	Sources   []Source
}

// Server is the [server] section.
type Server struct {
	Listen         string
	BaseURL        string // absolute http(s) URL without trailing slash
	TrustedOrigins []string
	TrustedProxies []netip.Prefix // a bare IP in the file becomes a /32 or /128
}

// Database is the [database] section.
type Database struct {
	Path string
}

// Transport is how messages leave alertd.
type Transport string

// The values of mail.transport.
const (
	TransportFile Transport = "file"
	TransportSMTP Transport = "smtp"
)

// Mail is the [mail] section.
type Mail struct {
	Transport         Transport // never empty: resolved from smtp.host when not set
	Dir               string
	From              string
	ReplyTo           string
	ListID            string
	UnsubscribeMailto string // a mailto: URI, or "" (a bare address in the file gets the prefix)
}

// TLSMode is how the SMTP connection is secured.
type TLSMode string

// The values of smtp.tls.
const (
	TLSStartTLS      TLSMode = "starttls" // mandatory STARTTLS
	TLSOpportunistic TLSMode = "opportunistic"
	TLSImplicit      TLSMode = "implicit" // SMTPS
	TLSNone          TLSMode = "none"
)

// SMTP is the [smtp] section.
type SMTP struct {
	Host          string
	Port          int
	Username      string
	Password      string
	TLS           TLSMode
	Connections   int
	RatePerSecond float64 // 0 = no cap
	Timeout       time.Duration
}

// DKIM is the [dkim] section; either all fields are set or none.
type DKIM struct {
	Domain         string
	Selector       string
	PrivateKeyFile string
}

// Enabled reports whether messages are to be signed.
func (d DKIM) Enabled() bool { return d.Domain != "" }

// Digest is the [digest] section.
type Digest struct {
	Schedule    string         // a valid cron.ParseStandard spec
	Timezone    string         // the IANA name, as written
	Location    *time.Location // Timezone, loaded
	FirstWindow time.Duration
	MaxReports  int
	Subject     string // a valid text/template; its data has .Count, and it has the function plural
}

// Delivery is the [delivery] section.
type Delivery struct {
	RetrySchedule []time.Duration
	// Lease is how long a live worker may hold a claimed message before
	// another may take it.
	Lease time.Duration
	// KeepMessagesFor is how long finished outbox messages are kept.
	KeepMessagesFor time.Duration
}

// Subscribe is the [subscribe] section.
type Subscribe struct {
	ConfirmTTL             time.Duration
	ResendCooldown         time.Duration
	MaxConfirmationsPerDay int
	PerIPPerHour           int // 0 = no limit
	PurgeUnconfirmedAfter  time.Duration
	Welcome                bool
}

// Admin is the [admin] section.
type Admin struct {
	Token string // empty = admin API and /metrics disabled; else MinAdminTokenLength or more
}

// MinAdminTokenLength is the shortest admin.token accepted, in characters:
// long enough that guessing it, even unthrottled, is hopeless.
const MinAdminTokenLength = 32

// Security is the [security] section.
type Security struct {
	Secret string // empty = generated once and kept in the database
}

// Templates is the [templates] section.
type Templates struct {
	Dir string // empty = only the embedded templates
}

// Fetch is the [fetch] section: how feeds and `reports import URL` are fetched.
type Fetch struct {
	// AllowPrivateNetworks lets a fetch reach loopback, private and
	// link-local addresses (an intranet CMS); off, such destinations are
	// refused, after DNS and on every redirect.
	AllowPrivateNetworks bool
}

// Source is one entry of [[sources]]: a feed polled for new reports.
type Source struct {
	URL      string `toml:"url"`
	Schedule string `toml:"schedule"` // a valid cron.ParseStandard spec
}

// Error is a configuration mistake. cmd/alertd maps it to exit code 2.
type Error struct {
	Key string // dotted key, e.g. "smtp.tls"; empty when the file as a whole is at fault
	Env string // the environment variable the value came from, if it did
	Msg string
	Err error // underlying cause, if any
}

func (e *Error) Error() string {
	switch {
	case e.Env != "":
		return fmt.Sprintf("config: %s (%s): %s", e.Env, e.Key, e.Msg)
	case e.Key != "":
		return fmt.Sprintf("config: %s: %s", e.Key, e.Msg)
	}
	return "config: " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Default returns the built-in configuration, used when there is no file.
func Default() Config {
	c, err := build(defaults(), nil)
	if err != nil {
		panic(err) // the defaults are constants, checked by the tests
	}
	return c
}

// Load reads the TOML file at path (none when path is ""), applies the
// environment overrides found through getenv on top, and checks the result.
// Every error it returns is an *Error.
func Load(path string, getenv func(string) string) (Config, error) {
	f := defaults()
	if path != "" {
		if err := decodeFile(path, &f); err != nil {
			return Config{}, err
		}
	}
	fromEnv, err := applyEnv(&f, getenv)
	if err != nil {
		return Config{}, err
	}
	return build(f, fromEnv)
}

// Locate finds the configuration file as SPEC §2 says: the -config flag, else
// $ALERTD_CONFIG, else ./config.toml if it exists, else "" (built-in defaults).
func Locate(flagValue string, getenv func(string) string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if p := getenv("ALERTD_CONFIG"); p != "" {
		return p, nil
	}
	const local = "config.toml"
	_, err := os.Stat(local)
	switch {
	case err == nil:
		return local, nil
	case errors.Is(err, fs.ErrNotExist):
		return "", nil
	}
	return "", &Error{Msg: fmt.Sprintf("cannot look for %s: %v", local, err), Err: err}
}
