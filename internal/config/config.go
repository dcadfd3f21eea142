// Package config reads alertd's settings: built-in defaults, then an optional
// TOML file, then ALERTD_<SECTION>_<KEY> environment variables. Every value is
// checked here, once, so the rest of the program can trust a Config.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/htmlsource"
)

// Config is the configuration: the TOML file and the environment are read
// straight into it, and Load returns it only once every value is checked.
// A key's field has a type of its own (Duration, TLSMode, Prefixes, …) when
// its text must be converted; that type's decoder reads the key from the file
// and from the environment alike. The toml tags name the keys; a field tagged
// "-" is derived from others while checking.
type Config struct {
	Server    Server         `toml:"server"`
	Database  Database       `toml:"database"`
	Mail      Mail           `toml:"mail"`
	SMTP      SMTP           `toml:"smtp"`
	DKIM      DKIM           `toml:"dkim"`
	Digest    Digest         `toml:"digest"`
	Delivery  Delivery       `toml:"delivery"`
	Subscribe Subscribe      `toml:"subscribe"`
	Admin     Admin          `toml:"admin"`
	Security  Security       `toml:"security"`
	Templates Templates      `toml:"templates"`
	Site      Site           `toml:"site"`
	Fetch     Fetch          `toml:"fetch"`
	Bounce    Bounce         `toml:"bounce"`
	Webhooks  Webhooks       `toml:"webhooks"`
	Topics    []alertd.Topic `toml:"topics"`
	Sources   []Source       `toml:"sources"`
	// Frequencies are the series of digests readers choose from; after
	// loading, never empty (see Load).
	Frequencies []alertd.Frequency `toml:"frequencies"`
}

// Server is the [server] section.
type Server struct {
	Listen         string   `toml:"listen"`
	BaseURL        string   `toml:"base_url"` // absolute http(s) URL without trailing slash
	TrustedOrigins Origins  `toml:"trusted_origins"`
	TrustedProxies Prefixes `toml:"trusted_proxies"` // a bare IP becomes a /32 or /128
}

// Database is the [database] section.
type Database struct {
	Path string `toml:"path"`
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
	Transport         Transport `toml:"transport"` // never empty: resolved from smtp.host when not set
	Dir               string    `toml:"dir"`
	From              string    `toml:"from"`
	ReplyTo           string    `toml:"reply_to"`
	ListID            string    `toml:"list_id"`
	UnsubscribeMailto string    `toml:"unsubscribe_mailto"` // a mailto: URI, or "" (a bare address gets the prefix)
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
	Host          string   `toml:"host"`
	Port          int      `toml:"port"`
	Username      string   `toml:"username"`
	Password      string   `toml:"password"`
	TLS           TLSMode  `toml:"tls"`
	Connections   int      `toml:"connections"`
	RatePerSecond float64  `toml:"rate_per_second"` // 0 = no cap
	Timeout       Duration `toml:"timeout"`
}

// DKIM is the [dkim] section; either all fields are set or none.
type DKIM struct {
	Domain         string `toml:"domain"`
	Selector       string `toml:"selector"`
	PrivateKeyFile string `toml:"private_key_file"`
}

// Enabled reports whether messages are to be signed.
func (d DKIM) Enabled() bool { return d.Domain != "" }

// Digest is the [digest] section.
type Digest struct {
	Schedule    string         `toml:"schedule"` // a valid cron.ParseStandard spec
	Timezone    string         `toml:"timezone"` // the IANA name, as written
	Location    *time.Location `toml:"-"`        // Timezone, loaded
	FirstWindow Duration       `toml:"first_window"`
	MaxReports  int            `toml:"max_reports"`
	Subject     string         `toml:"subject"` // a valid text/template; its data has .Count, and it has the function plural; empty = each language's own
}

// Delivery is the [delivery] section.
type Delivery struct {
	RetrySchedule Durations `toml:"retry_schedule"`
	// Lease is how long a live worker may hold a claimed message before
	// another may take it.
	Lease Duration `toml:"lease"`
	// KeepMessagesFor is how long finished outbox messages are kept.
	KeepMessagesFor Duration `toml:"keep_messages_for"`
}

// Subscribe is the [subscribe] section.
type Subscribe struct {
	ConfirmTTL             Duration `toml:"confirm_ttl"`
	ResendCooldown         Duration `toml:"resend_cooldown"`
	MaxConfirmationsPerDay int      `toml:"max_confirmations_per_day"`
	PerIPPerHour           int      `toml:"per_ip_per_hour"` // 0 = no limit
	PurgeUnconfirmedAfter  Duration `toml:"purge_unconfirmed_after"`
	Welcome                bool     `toml:"welcome"`
}

// Admin is the [admin] section.
type Admin struct {
	Token string `toml:"token"` // empty = admin API and /metrics disabled; else MinAdminTokenLength or more
	// Emails are who may sign in to the dashboard; empty = nobody.
	Emails Addresses `toml:"emails"`
	// SessionTTL bounds a dashboard session, from sign-in.
	SessionTTL Duration `toml:"session_ttl"`
}

// MinAdminTokenLength is the shortest admin.token accepted, in characters:
// long enough that guessing it, even unthrottled, is hopeless.
const MinAdminTokenLength = 32

// Security is the [security] section.
type Security struct {
	Secret string `toml:"secret"` // empty = generated once and kept in the database
}

// Templates is the [templates] section.
type Templates struct {
	Dir string `toml:"dir"` // empty = only the embedded templates
}

// Site is the [site] section: what readers are offered.
type Site struct {
	// Languages are the language tags readers may choose, the first for
	// those who have not; each has a message file, i18n/<tag>.toml, among
	// the templates.
	Languages Languages `toml:"languages"`
}

// Fetch is the [fetch] section: how feeds and `reports import URL` are fetched.
type Fetch struct {
	// AllowPrivateNetworks lets a fetch reach loopback, private and
	// link-local addresses (an intranet CMS); off, such destinations are
	// refused, after DNS and on every redirect.
	AllowPrivateNetworks bool `toml:"allow_private_networks"`
}

// Bounce is the [bounce] section: how bounce and complaint mail comes in.
type Bounce struct {
	// Domain is the domain of the VERP envelope senders; the receiver
	// accepts mail only for it (and for mail.unsubscribe_mailto).
	Domain string `toml:"domain"`
	// SoftLimit soft bounces within SoftWindow make a subscriber bounced.
	SoftLimit  int      `toml:"soft_limit"`
	SoftWindow Duration `toml:"soft_window"`
	// Listen is the built-in SMTP receiver's host:port; "" = off.
	Listen string `toml:"listen"`
	// IMAPURL is a mailbox polled every PollEvery; "" = off.
	IMAPURL   MailboxURL `toml:"imap_url"`
	PollEvery Duration   `toml:"poll_every"`
}

// Webhooks is the [webhooks] section: the mail providers' bounce and
// complaint webhooks, each off (404) while its key is empty.
type Webhooks struct {
	// PostmarkToken is the HTTP Basic password written into the webhook URL.
	PostmarkToken string `toml:"postmark_token"`
	// MailgunSigningKey is Mailgun's HTTP webhook signing key.
	MailgunSigningKey string `toml:"mailgun_signing_key"`
	// SendGridPublicKey is the Signed Event Webhook's verification key.
	SendGridPublicKey string `toml:"sendgrid_public_key"`
	// SESTopicARN is the SNS topic SES publishes bounces and complaints to.
	SESTopicARN string `toml:"ses_topic_arn"`
}

// Source is one entry of [[sources]]: a feed, or a site's HTML pages,
// polled for new reports.
type Source struct {
	URL      string `toml:"url"`
	Schedule string `toml:"schedule"` // a valid cron.ParseStandard spec
	// Review holds the source's new reports until someone approves them.
	Review bool `toml:"review"`
	// Format is "html" for a site without a feed, read by the selectors of
	// Spec; "" for an RSS, Atom or JSON feed.
	Format string `toml:"format"`
	htmlsource.Spec
	// HTML reads the pages as Spec says; nil for a feed.
	HTML *htmlsource.Reader `toml:"-"`
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
	cfg := defaults()
	if err := cfg.validate(nil); err != nil {
		panic(err) // the defaults are constants, checked by the tests
	}
	return cfg
}

// Load reads the TOML file at path (none when path is ""), applies the
// environment overrides found through getenv on top, and checks the result.
// Every error it returns is an *Error.
func Load(path string, getenv func(string) string) (Config, error) {
	cfg := defaults()
	if path != "" {
		if err := decodeFile(path, &cfg); err != nil {
			return Config{}, err
		}
	}
	fromEnv, err := applyEnv(&cfg, getenv)
	if err != nil {
		return Config{}, err
	}
	if err := cfg.validate(fromEnv); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Locate finds the configuration file: the -config flag, else $ALERTD_CONFIG,
// else ./config.toml if it exists, else "" (built-in defaults).
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
