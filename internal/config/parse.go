package config

import (
	"encoding"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // digest.timezone must load on hosts without a zoneinfo database
	"unicode"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
	"github.com/robfig/cron/v3"
	"golang.org/x/net/idna"
	"golang.org/x/text/language"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/bounce"
	"github.com/alertd/alertd/internal/htmlsource"
	alertmail "github.com/alertd/alertd/internal/mail"
)

// defaults are the values used for every key neither the file nor the
// environment sets. Keys whose default is the zero value are not repeated here.
func defaults() Config {
	var c Config
	c.Server.Listen = "127.0.0.1:8080"
	c.Server.BaseURL = "http://localhost:8080"
	c.Database.Path = "data/alertd.db"
	c.Mail.Dir = "data/mail"
	c.Mail.From = "Report Alerts <alerts@localhost>"
	c.Mail.ListID = "Report alerts <alerts.localhost>"
	c.SMTP.Port = 587
	c.SMTP.TLS = TLSStartTLS
	c.SMTP.Connections = 4
	c.SMTP.Timeout = Duration(30 * time.Second)
	c.Digest.Schedule = "0 8 * * 1"
	c.Digest.Timezone = "UTC"
	c.Digest.FirstWindow = Duration(7 * 24 * time.Hour)
	c.Digest.MaxReports = 50
	c.Site.Languages = Languages{"en"}
	c.Delivery.RetrySchedule = Durations{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour}
	c.Delivery.Lease = Duration(5 * time.Minute)
	c.Delivery.KeepMessagesFor = Duration(90 * 24 * time.Hour)
	c.Subscribe.ConfirmTTL = Duration(72 * time.Hour)
	c.Subscribe.ResendCooldown = Duration(10 * time.Minute)
	c.Subscribe.MaxConfirmationsPerDay = 3
	c.Subscribe.PerIPPerHour = 20
	c.Subscribe.PurgeUnconfirmedAfter = Duration(30 * 24 * time.Hour)
	c.Subscribe.Welcome = true
	c.Admin.SessionTTL = Duration(12 * time.Hour)
	c.Bounce.SoftLimit = 3
	c.Bounce.SoftWindow = Duration(720 * time.Hour)
	c.Bounce.PollEvery = Duration(5 * time.Minute)
	return c
}

// decodeFile reads path over cfg, so keys absent from the file keep their default.
func decodeFile(path string, cfg *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return &Error{Msg: fmt.Sprintf("cannot read the configuration file: %v", err), Err: err}
	}
	// Parsing first and decoding second tells a syntax error, reported with
	// its line, from a value refused by its key's type.
	var doc toml.Primitive
	md, err := toml.Decode(string(data), &doc)
	if err == nil {
		err = md.PrimitiveDecode(doc, cfg)
		var refused toml.ParseError
		if errors.As(err, &refused) { // by the key's type, whose message says why
			return &Error{Key: refused.LastKey, Msg: refused.Message, Err: err}
		}
	}
	if err != nil {
		// toml's message already names the line and the key.
		return &Error{Msg: fmt.Sprintf("%s: %v", path, err), Err: err}
	}
	if unknown := md.Undecoded(); len(unknown) > 0 {
		return &Error{Key: unknown[0].String(), Msg: fmt.Sprintf("unknown key in %s (see config.example.toml for the valid ones)", path)}
	}
	return nil
}

// eachKey calls fn with every scalar key of cfg ("smtp.port") and its field.
// topics and sources, being arrays of tables, are not scalar keys.
func eachKey(cfg *Config, fn func(key string, field reflect.Value) error) error {
	sections := reflect.ValueOf(cfg).Elem()
	for i := range sections.NumField() {
		section := sections.Field(i)
		if section.Kind() != reflect.Struct {
			continue
		}
		prefix := sections.Type().Field(i).Tag.Get("toml") + "."
		for j := range section.NumField() {
			name := section.Type().Field(j).Tag.Get("toml")
			if name == "-" {
				continue
			}
			if err := fn(prefix+name, section.Field(j)); err != nil {
				return err
			}
		}
	}
	return nil
}

// envName is the variable that overrides key: smtp.port → ALERTD_SMTP_PORT.
func envName(key string) string {
	return "ALERTD_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// applyEnv overrides cfg with every ALERTD_<SECTION>_<KEY> that is set (an
// empty value counts as unset) and returns which variable set which key, so
// that validate can name the variable when the value is wrong. A key added to
// Config is overridable from the environment without further work.
func applyEnv(cfg *Config, getenv func(string) string) (map[string]string, error) {
	fromEnv := map[string]string{}
	err := eachKey(cfg, func(key string, field reflect.Value) error {
		name := envName(key)
		s := getenv(name)
		if s == "" {
			return nil
		}
		fromEnv[key] = name
		if err := setFromEnv(field, s); err != nil {
			return &Error{Key: key, Env: name, Msg: err.Error()}
		}
		return nil
	})
	return fromEnv, err
}

// setFromEnv sets field from an environment value, through the decoder its
// type uses for a value from the file.
func setFromEnv(field reflect.Value, s string) error {
	switch p := field.Addr().Interface().(type) {
	case toml.Unmarshaler: // a list, comma-separated in the environment
		var items []any
		for _, item := range SplitList(s) {
			items = append(items, item)
		}
		return p.UnmarshalTOML(items)
	case encoding.TextUnmarshaler:
		return p.UnmarshalText([]byte(s))
	case *string:
		*p = s
	case *int:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("not a whole number (got %q)", s)
		}
		*p = n
	case *float64:
		n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return fmt.Errorf("not a number (got %q)", s)
		}
		*p = n
	case *bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("must be true or false (got %q)", s)
		}
		*p = b
	default:
		panic(fmt.Sprintf("config: a key of type %s cannot be read from the environment", field.Type()))
	}
	return nil
}

// SplitList splits a comma-separated value (an environment variable, a
// command-line flag) into its items, trimmed, dropping empty ones.
func SplitList(s string) []string {
	var list []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			list = append(list, item)
		}
	}
	return list
}

// Duration is a time.Duration written like "30s", "10m" or "72h". Negative
// durations mean nothing for any key and are refused.
type Duration time.Duration

// UnmarshalText reads a duration from the file or the environment.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := parseDuration(string(text))
	*d = Duration(v)
	return err
}

func (d Duration) String() string { return time.Duration(d).String() }

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	switch {
	case err != nil:
		return 0, fmt.Errorf("not a duration like \"30s\" or \"72h\" (got %q)", s)
	case d < 0:
		return 0, fmt.Errorf("must not be negative (got %q)", s)
	}
	return d, nil
}

// Durations is a list of waits, each longer than zero.
type Durations []time.Duration

// UnmarshalTOML reads the list from the file, or from the environment through setFromEnv.
func (d *Durations) UnmarshalTOML(v any) (err error) {
	*d, err = listOf(v, func(s string) (time.Duration, error) {
		d, err := parseDuration(s)
		if err == nil && d == 0 {
			err = fmt.Errorf("must be longer than zero (got %q)", s)
		}
		return d, err
	})
	return err
}

// Prefixes is a list of CIDRs; a bare address means that one host.
type Prefixes []netip.Prefix

// UnmarshalTOML reads the list from the file, or from the environment through setFromEnv.
func (p *Prefixes) UnmarshalTOML(v any) (err error) {
	*p, err = listOf(v, func(s string) (netip.Prefix, error) {
		if p, err := netip.ParsePrefix(s); err == nil {
			return p.Masked(), nil
		}
		addr, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("not a CIDR like \"10.0.0.0/8\" or an IP address (got %q)", s)
		}
		return netip.PrefixFrom(addr, addr.BitLen()), nil
	})
	return err
}

// Origins is a list of origins like "https://example.org".
type Origins []string

// UnmarshalTOML reads the list from the file, or from the environment through setFromEnv.
func (o *Origins) UnmarshalTOML(v any) (err error) {
	*o, err = listOf(v, func(s string) (string, error) {
		u, err := parseHTTPURL(s)
		// An origin is compared verbatim with the browser's Origin header.
		if err == nil && u.Scheme+"://"+u.Host != s {
			err = fmt.Errorf("must be an origin like \"https://example.org\" without path (got %q)", s)
		}
		return s, err
	})
	return err
}

// Languages is a list of language tags like "en" or "zh-Hans", written
// as BCP 47 writes them, each once.
type Languages []string

// UnmarshalTOML reads the list from the file, or from the environment through setFromEnv.
func (l *Languages) UnmarshalTOML(v any) (err error) {
	seen := map[string]bool{}
	*l, err = listOf(v, func(s string) (string, error) {
		if tag, err := language.Parse(s); err != nil || tag.String() != s || seen[s] {
			return "", fmt.Errorf("must be a list of distinct language tags like \"en\" or \"zh-Hans\" (got %q)", s)
		}
		seen[s] = true
		return s, nil
	})
	return err
}

// Addresses is a list of bare e-mail addresses like "ops@example.org".
type Addresses []string

// UnmarshalTOML reads the list from the file, or from the environment through setFromEnv.
func (a *Addresses) UnmarshalTOML(v any) (err error) {
	*a, err = listOf(v, func(s string) (string, error) {
		if addr, err := mail.ParseAddress(s); err != nil || addr.Address != s {
			return "", fmt.Errorf("must be a list of bare e-mail addresses like \"ops@example.org\" (got %q)", s)
		}
		return s, nil
	})
	return err
}

// listOf reads a TOML array of strings item by item with parse. An empty
// list is nil.
func listOf[T any](v any, parse func(string) (T, error)) ([]T, error) {
	items, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("must be a list like [\"a\", \"b\"] (got %v)", v)
	}
	var list []T
	for _, item := range items {
		s, ok := item.(string)
		if !ok {
			return nil, fmt.Errorf("must be a list of strings (got %v)", item)
		}
		x, err := parse(s)
		if err != nil {
			return nil, err
		}
		list = append(list, x)
	}
	return list, nil
}

// MailboxURL is an IMAP mailbox with its login:
// imaps://user:password@host[:port]/Mailbox (TLS from the start) or
// imap://… (STARTTLS, which the poller insists on). It is kept as written;
// String hides the password, so the settings page does not show it.
type MailboxURL string

// UnmarshalText reads bounce.imap_url.
func (m *MailboxURL) UnmarshalText(text []byte) error {
	*m = MailboxURL(text)
	if len(text) == 0 {
		return nil
	}
	const want = `must be like "imaps://user:password@imap.example.org/INBOX" (user and mailbox %%-encoded)`
	u, err := url.Parse(string(text))
	if err != nil {
		// url.Parse's error quotes the text, password and all.
		return fmt.Errorf(want + ": it does not parse as a URL")
	}
	password, hasPassword := u.User.Password()
	switch {
	case u.Scheme != "imaps" && u.Scheme != "imap":
		return fmt.Errorf(want+": the scheme must be imaps or imap (got %q)", u.Scheme)
	case u.Hostname() == "":
		return fmt.Errorf(want+": the host is missing (got %s)", m)
	case u.User == nil || u.User.Username() == "" || !hasPassword || password == "":
		return fmt.Errorf(want+": the user and password are missing (got %s)", m)
	case strings.Trim(u.Path, "/") == "":
		return fmt.Errorf(want+": the mailbox is missing (got %s)", m)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf(want+": no query or fragment (got %s)", m)
	}
	return nil
}

// URL is the mailbox URL parsed; nil when it is not set.
func (m MailboxURL) URL() *url.URL {
	if m == "" {
		return nil
	}
	u, err := url.Parse(string(m))
	if err != nil {
		return nil // UnmarshalText refused it already
	}
	return u
}

// String is the URL with its password replaced by "xxxxx".
func (m MailboxURL) String() string {
	if u := m.URL(); u != nil {
		return u.Redacted()
	}
	return string(m)
}

// UnmarshalText reads smtp.tls.
func (m *TLSMode) UnmarshalText(text []byte) error {
	return oneOf(m, string(text), TLSStartTLS, TLSOpportunistic, TLSImplicit, TLSNone)
}

// UnmarshalText reads mail.transport; empty is resolved from smtp.host by validate.
func (t *Transport) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*t = ""
		return nil
	}
	return oneOf(t, string(text), TransportFile, TransportSMTP)
}

func oneOf[T ~string](dst *T, s string, allowed ...T) error {
	names := make([]string, len(allowed))
	for i, a := range allowed {
		if s == string(a) {
			*dst = a
			return nil
		}
		names[i] = string(a)
	}
	return fmt.Errorf("must be one of %s (got %q)", strings.Join(names, ", "), s)
}

// parseHTTPURL checks that s is an absolute http or https URL and returns it parsed.
func parseHTTPURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return &url.URL{}, fmt.Errorf("must be an absolute http:// or https:// URL (got %q)", s)
	}
	return u, nil
}

// checker keeps the first mistake found, so validate reads as a list of rules
// rather than a ladder of if err != nil.
type checker struct {
	fromEnv map[string]string
	err     error
}

func (c *checker) fail(key, format string, args ...any) {
	if c.err == nil {
		c.err = &Error{Key: key, Env: c.fromEnv[key], Msg: fmt.Sprintf(format, args...)}
	}
}

// listID checks the id of one entry of a list such as [[topics]]: its form,
// and that no entry before it (in seen, which it adds to) has it.
func (c *checker) listID(key, id string, seen map[string]bool) {
	switch {
	case !topicID.MatchString(id):
		c.fail(key, "must be letters, digits, '-', '_' or '.' (got %q)", id)
	case seen[id]:
		c.fail(key, "%q appears twice", id)
	}
	seen[id] = true
}

// positive refuses a zero duration, which would mean "never" or "at once".
func (c *checker) positive(key string, d Duration) {
	if d == 0 {
		c.fail(key, "must be longer than zero (got %q)", d)
	}
}

func (c *checker) atLeast(key string, n, least int) {
	if n < least {
		c.fail(key, "must be at least %d (got %d)", least, n)
	}
}

func (c *checker) cronSpec(key, spec string) {
	if _, err := cron.ParseStandard(spec); err != nil {
		c.fail(key, "not a cron schedule like \"0 8 * * 1\" or \"@weekly\" (%v)", err)
	}
}

func (c *checker) address(key, s string) {
	if _, err := mail.ParseAddress(s); err != nil {
		c.fail(key, "not an e-mail address like \"Report Alerts <alerts@example.org>\" (got %q)", s)
	}
}

func (c *checker) httpURL(key, s string) *url.URL {
	u, err := parseHTTPURL(s)
	if err != nil {
		c.fail(key, "%v", err)
	}
	return u
}

// validate checks cfg, fills in what is derived from other keys, and returns
// the first mistake as an *Error. fromEnv names the variable a key came from.
func (cfg *Config) validate(fromEnv map[string]string) error {
	c := &checker{fromEnv: fromEnv}

	if _, _, err := net.SplitHostPort(cfg.Server.Listen); err != nil {
		c.fail("server.listen", "must be host:port or :port (got %q)", cfg.Server.Listen)
	}
	if u := c.httpURL("server.base_url", cfg.Server.BaseURL); u.RawQuery != "" || u.Fragment != "" {
		c.fail("server.base_url", "must not have a query or fragment (got %q)", cfg.Server.BaseURL)
	}
	cfg.Server.BaseURL = strings.TrimRight(cfg.Server.BaseURL, "/")

	if cfg.Database.Path == "" {
		c.fail("database.path", "must not be empty")
	}

	if cfg.Mail.Transport == "" {
		cfg.Mail.Transport = TransportFile
		if cfg.SMTP.Host != "" {
			cfg.Mail.Transport = TransportSMTP
		}
	}
	if cfg.Mail.Transport == TransportFile && cfg.Mail.Dir == "" {
		c.fail("mail.dir", "must not be empty when mail.transport is file")
	}
	c.address("mail.from", cfg.Mail.From)
	if cfg.Mail.ReplyTo != "" {
		c.address("mail.reply_to", cfg.Mail.ReplyTo)
	}
	if !listIDPattern.MatchString(cfg.Mail.ListID) {
		c.fail("mail.list_id", "must look like \"Report alerts <alerts.example.org>\" (got %q)", cfg.Mail.ListID)
	}
	cfg.Mail.UnsubscribeMailto = c.unsubscribeMailto("mail.unsubscribe_mailto", cfg.Mail.UnsubscribeMailto)

	if cfg.Mail.Transport == TransportSMTP && cfg.SMTP.Host == "" {
		c.fail("smtp.host", "must be set when mail.transport is smtp")
	}
	if cfg.SMTP.Port < 1 || cfg.SMTP.Port > 65535 {
		c.fail("smtp.port", "must be between 1 and 65535 (got %d)", cfg.SMTP.Port)
	}
	c.atLeast("smtp.connections", cfg.SMTP.Connections, 1)
	if cfg.SMTP.RatePerSecond < 0 {
		c.fail("smtp.rate_per_second", "must not be negative; 0 means no cap (got %g)", cfg.SMTP.RatePerSecond)
	}
	c.positive("smtp.timeout", cfg.SMTP.Timeout)

	if d := cfg.DKIM; d != (DKIM{}) {
		for _, kv := range [][2]string{{"dkim.domain", d.Domain}, {"dkim.selector", d.Selector}, {"dkim.private_key_file", d.PrivateKeyFile}} {
			if kv[1] == "" {
				c.fail(kv[0], "must be set too: DKIM signing needs dkim.domain, dkim.selector and dkim.private_key_file")
			}
		}
		// Receivers look the key up as selector._domainkey.domain, an
		// internationalised domain in its ASCII form.
		if d.Domain != "" {
			if ascii, err := idna.Lookup.ToASCII(strings.TrimSuffix(d.Domain, ".")); err != nil {
				c.fail("dkim.domain", "not a domain name like example.org (got %q)", d.Domain)
			} else {
				cfg.DKIM.Domain = ascii
			}
		}
		if d.Selector != "" && !dkimSelector.MatchString(d.Selector) {
			c.fail("dkim.selector", "not a DNS name like alertd or 2026-01.alertd (got %q)", d.Selector)
		}
	}

	c.cronSpec("digest.schedule", cfg.Digest.Schedule)
	loc, err := time.LoadLocation(cfg.Digest.Timezone)
	if err != nil {
		c.fail("digest.timezone", "not an IANA time zone like \"Europe/Berlin\" (got %q)", cfg.Digest.Timezone)
	}
	cfg.Digest.Location = loc
	c.positive("digest.first_window", cfg.Digest.FirstWindow)
	c.atLeast("digest.max_reports", cfg.Digest.MaxReports, 1)
	c.subjectTemplate("digest.subject", cfg.Digest.Subject)
	if len(cfg.Site.Languages) == 0 {
		c.fail("site.languages", "must name at least one language, like [\"en\"]")
	}

	c.positive("delivery.lease", cfg.Delivery.Lease)
	c.positive("delivery.keep_messages_for", cfg.Delivery.KeepMessagesFor)

	c.positive("subscribe.confirm_ttl", cfg.Subscribe.ConfirmTTL)
	// 0 would silently refuse every sign-up.
	c.atLeast("subscribe.max_confirmations_per_day", cfg.Subscribe.MaxConfirmationsPerDay, 1)
	c.atLeast("subscribe.per_ip_per_hour", cfg.Subscribe.PerIPPerHour, 0)
	c.positive("subscribe.purge_unconfirmed_after", cfg.Subscribe.PurgeUnconfirmedAfter)

	if n := utf8.RuneCountInString(cfg.Admin.Token); n > 0 && n < MinAdminTokenLength {
		c.fail("admin.token", "must be at least %d characters, or empty to disable the admin API and /metrics (got %d); make one with: openssl rand -hex 32", MinAdminTokenLength, n)
	} else if strings.ContainsFunc(cfg.Admin.Token, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		// A bearer token is one word of visible characters; 32 spaces would
		// pass the length check while guessing it takes one try.
		c.fail("admin.token", "must be visible characters without spaces; make one with: openssl rand -hex 32")
	}
	c.positive("admin.session_ttl", cfg.Admin.SessionTTL)

	if d := cfg.Bounce.Domain; d != "" && !domainName.MatchString(d) {
		c.fail("bounce.domain", "must be a domain name like \"bounces.example.org\", or empty for no VERP sender (got %q)", d)
	}
	c.atLeast("bounce.soft_limit", cfg.Bounce.SoftLimit, 1)
	c.positive("bounce.soft_window", cfg.Bounce.SoftWindow)
	if cfg.Bounce.Listen != "" {
		if _, _, err := net.SplitHostPort(cfg.Bounce.Listen); err != nil {
			c.fail("bounce.listen", "must be host:port or :port, or empty for no receiver (got %q)", cfg.Bounce.Listen)
		}
		if cfg.Bounce.Domain == "" && cfg.Mail.UnsubscribeMailto == "" {
			c.fail("bounce.listen", "the receiver accepts mail only for bounce.domain and mail.unsubscribe_mailto: set one of them too")
		}
	}
	c.positive("bounce.poll_every", cfg.Bounce.PollEvery)
	if k := cfg.Webhooks.SendGridPublicKey; k != "" {
		if _, err := bounce.ParseSendGridKey(k); err != nil {
			c.fail("webhooks.sendgrid_public_key", "%v", err)
		}
	}
	if arn := cfg.Webhooks.SESTopicARN; arn != "" {
		if _, err := bounce.TopicRegion(arn); err != nil {
			c.fail("webhooks.ses_topic_arn", "%v", err)
		}
	}

	seen := map[string]bool{}
	for i, t := range cfg.Topics {
		c.listID("topics.id", t.ID, seen)
		if t.Name == "" {
			cfg.Topics[i].Name = t.ID
		}
	}
	if len(cfg.Frequencies) == 0 {
		cfg.Frequencies = []alertd.Frequency{{ID: alertd.DefaultFrequency, Name: "Weekly", Schedule: cfg.Digest.Schedule}}
	}
	seen = map[string]bool{}
	for i, f := range cfg.Frequencies {
		c.listID("frequencies.id", f.ID, seen)
		if f.Name == "" {
			cfg.Frequencies[i].Name = f.ID
		}
		if f.Schedule == "" {
			c.fail("frequencies.schedule", "must be set for frequency %q (a cron schedule like \"0 8 * * 1\")", f.ID)
		} else {
			c.cronSpec("frequencies.schedule", f.Schedule)
		}
	}
	for i, s := range cfg.Sources {
		c.httpURL("sources.url", s.URL)
		if s.Schedule == "" {
			cfg.Sources[i].Schedule = "@hourly"
		}
		c.cronSpec("sources.schedule", cfg.Sources[i].Schedule)
		cfg.Sources[i].HTML = c.htmlSource(s, cfg.Digest.Location)
	}
	return c.err
}

// htmlSource compiles the selectors and patterns of an html source; a
// feed's entry must not set them, as they would silently do nothing.
func (c *checker) htmlSource(s Source, loc *time.Location) *htmlsource.Reader {
	switch s.Format {
	case "":
		if s.Spec != (htmlsource.Spec{}) {
			c.fail("sources.format", `must be "html" for the selector keys (item, title, link, ...) to apply (source %s)`, s.URL)
		}
		return nil
	case "html":
		reader, err := htmlsource.Compile(s.Spec, loc)
		if keyErr, ok := errors.AsType[*htmlsource.KeyError](err); ok {
			c.fail("sources."+keyErr.Key, "%s (source %s)", keyErr.Msg, s.URL)
		}
		return reader
	}
	c.fail("sources.format", `must be "html", or left out for an RSS, Atom or JSON feed (got %q)`, s.Format)
	return nil
}

// dkimSelector is a DKIM selector: DNS labels, dot-separated.
var dkimSelector = regexp.MustCompile(`^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9])?)*$`)

// topicID keeps ids usable in form values and in comma-separated lists
// (reports add --topics t1,t2).
var topicID = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// listIDPattern is RFC 2919's List-Id: an optional phrase, then <label.domain>.
var listIDPattern = regexp.MustCompile(`^[^<>]*<[^<>@\s]+\.[^<>@\s]+>$`)

// domainName is a DNS name of two labels or more: letters, digits and
// inner hyphens, as a mail domain is written.
var domainName = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$`)

// unsubscribeMailto checks s, a mailto: URI or a bare address, and returns it
// as a mailto: URI ("" stays ""). It goes into List-Unsubscribe between < and
// >, so it must be one plain address, optionally with ?subject=, and hold
// nothing that could end the URI or the header early.
func (c *checker) unsubscribeMailto(key, s string) string {
	if s == "" {
		return ""
	}
	rest := s
	if len(s) >= len("mailto:") && strings.EqualFold(s[:len("mailto:")], "mailto:") {
		rest = s[len("mailto:"):]
	}
	const want = `must be one address like "unsubscribe@example.org", optionally as "mailto:unsubscribe@example.org?subject=unsubscribe" with special characters %%-encoded`
	if strings.ContainsFunc(rest, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune(`<>"\,`, r) }) {
		c.fail(key, want+" (got %q)", s)
		return s
	}
	to, query, hasQuery := strings.Cut(rest, "?")
	if !isBareAddress(to) {
		c.fail(key, want+" (got %q)", s)
		return s
	}
	if hasQuery && !isSubjectOnly(query) {
		c.fail(key, "may only add ?subject=TEXT to the address, once and without control characters (got %q)", s)
		return s
	}
	return "mailto:" + rest
}

// UnsubscribeAddress is the address of mail.unsubscribe_mailto, without
// "mailto:", its query and %-encoding; "" when it is not set.
func (m Mail) UnsubscribeAddress() string {
	to, _, _ := strings.Cut(strings.TrimPrefix(m.UnsubscribeMailto, "mailto:"), "?")
	addr, err := url.PathUnescape(to)
	if err != nil {
		return "" // validate refused it already
	}
	return addr
}

// isBareAddress reports whether the %-encoded to is one addr-spec, without
// a display name or angle brackets.
func isBareAddress(to string) bool {
	addr, err := url.PathUnescape(to)
	if err != nil {
		return false
	}
	parsed, err := mail.ParseAddress(addr)
	return err == nil && parsed.Name == "" && parsed.Address == addr
}

// isSubjectOnly reports whether a mailto query sets the subject and nothing
// else, to text without control characters.
func isSubjectOnly(query string) bool {
	fields, err := url.ParseQuery(query)
	if err != nil || len(fields) != 1 || len(fields["subject"]) != 1 {
		return false
	}
	return !strings.ContainsFunc(fields["subject"][0], unicode.IsControl)
}

// subjectTemplate parses the subject and runs it once, so that a misspelt
// field ({{.Cuont}}) is found at start-up rather than at the first digest.
func (c *checker) subjectTemplate(key, s string) {
	tmpl, err := alertmail.ParseSubject(key, s)
	if err == nil {
		err = tmpl.Execute(io.Discard, struct{ Count int }{Count: 1})
	}
	if err != nil {
		c.fail(key, "not a valid template; its data has only .Count, and plural writes it with a noun that agrees (%v)", err)
	}
}
