package config

import (
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

	"github.com/alertd/alertd"
	alertmail "github.com/alertd/alertd/internal/mail"
)

// file is the TOML document as the operator writes it, before any checking.
// Its scalar fields are only strings, ints, floats, bools and string lists, so
// that a file value and an environment value go through the same checks in
// build. applyEnv walks it by its toml tags: a key added here is
// overridable from the environment without further work.
type file struct {
	Server struct {
		Listen         string   `toml:"listen"`
		BaseURL        string   `toml:"base_url"`
		TrustedOrigins []string `toml:"trusted_origins"`
		TrustedProxies []string `toml:"trusted_proxies"`
	} `toml:"server"`
	Database struct {
		Path string `toml:"path"`
	} `toml:"database"`
	Mail struct {
		Transport         string `toml:"transport"`
		Dir               string `toml:"dir"`
		From              string `toml:"from"`
		ReplyTo           string `toml:"reply_to"`
		ListID            string `toml:"list_id"`
		UnsubscribeMailto string `toml:"unsubscribe_mailto"`
	} `toml:"mail"`
	SMTP struct {
		Host          string  `toml:"host"`
		Port          int     `toml:"port"`
		Username      string  `toml:"username"`
		Password      string  `toml:"password"`
		TLS           string  `toml:"tls"`
		Connections   int     `toml:"connections"`
		RatePerSecond float64 `toml:"rate_per_second"`
		Timeout       string  `toml:"timeout"`
	} `toml:"smtp"`
	DKIM struct {
		Domain         string `toml:"domain"`
		Selector       string `toml:"selector"`
		PrivateKeyFile string `toml:"private_key_file"`
	} `toml:"dkim"`
	Digest struct {
		Schedule    string `toml:"schedule"`
		Timezone    string `toml:"timezone"`
		FirstWindow string `toml:"first_window"`
		MaxReports  int    `toml:"max_reports"`
		Subject     string `toml:"subject"`
	} `toml:"digest"`
	Delivery struct {
		RetrySchedule   []string `toml:"retry_schedule"`
		Lease           string   `toml:"lease"`
		KeepMessagesFor string   `toml:"keep_messages_for"`
	} `toml:"delivery"`
	Subscribe struct {
		ConfirmTTL             string `toml:"confirm_ttl"`
		ResendCooldown         string `toml:"resend_cooldown"`
		MaxConfirmationsPerDay int    `toml:"max_confirmations_per_day"`
		PerIPPerHour           int    `toml:"per_ip_per_hour"`
		PurgeUnconfirmedAfter  string `toml:"purge_unconfirmed_after"`
		Welcome                bool   `toml:"welcome"`
	} `toml:"subscribe"`
	Admin struct {
		Token string `toml:"token"`
	} `toml:"admin"`
	Security struct {
		Secret string `toml:"secret"`
	} `toml:"security"`
	Templates struct {
		Dir string `toml:"dir"`
	} `toml:"templates"`
	Fetch struct {
		AllowPrivateNetworks bool `toml:"allow_private_networks"`
	} `toml:"fetch"`
	Topics  []alertd.Topic `toml:"topics"`
	Sources []Source       `toml:"sources"`
}

// defaults are the values of SPEC §3. Keys whose default is the zero value
// are not repeated here.
func defaults() file {
	var f file
	f.Server.Listen = "127.0.0.1:8080"
	f.Server.BaseURL = "http://localhost:8080"
	f.Database.Path = "data/alertd.db"
	f.Mail.Dir = "data/mail"
	f.Mail.From = "Report Alerts <alerts@localhost>"
	f.Mail.ListID = "Report alerts <alerts.localhost>"
	f.SMTP.Port = 587
	f.SMTP.TLS = string(TLSStartTLS)
	f.SMTP.Connections = 4
	f.SMTP.Timeout = "30s"
	f.Digest.Schedule = "0 8 * * 1"
	f.Digest.Timezone = "UTC"
	f.Digest.FirstWindow = "168h"
	f.Digest.MaxReports = 50
	f.Digest.Subject = `New reports: {{plural .Count "publication" "publications"}}`
	f.Delivery.RetrySchedule = []string{"1m", "5m", "30m", "2h", "6h", "12h"}
	f.Delivery.Lease = "5m"
	f.Delivery.KeepMessagesFor = "2160h"
	f.Subscribe.ConfirmTTL = "72h"
	f.Subscribe.ResendCooldown = "10m"
	f.Subscribe.MaxConfirmationsPerDay = 3
	f.Subscribe.PerIPPerHour = 20
	f.Subscribe.PurgeUnconfirmedAfter = "720h"
	f.Subscribe.Welcome = true
	return f
}

// decodeFile reads path over f, so keys absent from the file keep their default.
func decodeFile(path string, f *file) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return &Error{Msg: fmt.Sprintf("cannot read the configuration file: %v", err), Err: err}
	}
	md, err := toml.Decode(string(data), f)
	if err != nil {
		// toml's message already names the line and the key.
		return &Error{Msg: fmt.Sprintf("%s: %v", path, err), Err: err}
	}
	if unknown := md.Undecoded(); len(unknown) > 0 {
		return &Error{Key: unknown[0].String(), Msg: fmt.Sprintf("unknown key in %s (see config.example.toml for the valid ones)", path)}
	}
	return nil
}

// eachKey calls fn with every scalar key of f ("smtp.port") and its field.
// topics and sources, being arrays of tables, are not scalar keys.
func eachKey(f *file, fn func(key string, field reflect.Value) error) error {
	sections := reflect.ValueOf(f).Elem()
	for i := range sections.NumField() {
		section := sections.Field(i)
		if section.Kind() != reflect.Struct {
			continue
		}
		prefix := sections.Type().Field(i).Tag.Get("toml") + "."
		for j := range section.NumField() {
			if err := fn(prefix+section.Type().Field(j).Tag.Get("toml"), section.Field(j)); err != nil {
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

// applyEnv overrides f with every ALERTD_<SECTION>_<KEY> that is set (an empty
// value counts as unset) and returns which variable set which key, so that
// build can name the variable when the value is wrong.
func applyEnv(f *file, getenv func(string) string) (map[string]string, error) {
	fromEnv := map[string]string{}
	err := eachKey(f, func(key string, field reflect.Value) error {
		name := envName(key)
		s := getenv(name)
		if s == "" {
			return nil
		}
		fromEnv[key] = name
		var msg string
		switch p := field.Addr().Interface().(type) {
		case *string:
			*p = s
		case *[]string:
			*p = splitList(s)
		case *int:
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				msg = fmt.Sprintf("not a whole number (got %q)", s)
			}
			*p = n
		case *float64:
			n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				msg = fmt.Sprintf("not a number (got %q)", s)
			}
			*p = n
		case *bool:
			b, err := strconv.ParseBool(strings.TrimSpace(s))
			if err != nil {
				msg = fmt.Sprintf("must be true or false (got %q)", s)
			}
			*p = b
		default:
			panic(fmt.Sprintf("config: key %s has a type applyEnv does not know", key))
		}
		if msg != "" {
			return &Error{Key: key, Env: name, Msg: msg}
		}
		return nil
	})
	return fromEnv, err
}

// splitList reads a comma-separated environment value as a TOML string list.
func splitList(s string) []string {
	var list []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			list = append(list, item)
		}
	}
	return list
}

// checker keeps the first mistake found, so build reads as a list of rules
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

// duration parses s and refuses negative values, which mean nothing for any key.
func (c *checker) duration(key, s string) time.Duration {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	switch {
	case err != nil:
		c.fail(key, "not a duration like \"30s\" or \"72h\" (got %q)", s)
	case d < 0:
		c.fail(key, "must not be negative (got %q)", s)
	}
	return d
}

func (c *checker) positiveDuration(key, s string) time.Duration {
	d := c.duration(key, s)
	if d == 0 {
		c.fail(key, "must be longer than zero (got %q)", s)
	}
	return d
}

func (c *checker) atLeast(key string, n, least int) int {
	if n < least {
		c.fail(key, "must be at least %d (got %d)", least, n)
	}
	return n
}

func (c *checker) oneOf(key, s string, allowed ...string) string {
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	c.fail(key, "must be one of %s (got %q)", strings.Join(allowed, ", "), s)
	return s
}

func (c *checker) cronSpec(key, spec string) string {
	if _, err := cron.ParseStandard(spec); err != nil {
		c.fail(key, "not a cron schedule like \"0 8 * * 1\" or \"@weekly\" (%v)", err)
	}
	return spec
}

func (c *checker) address(key, s string) string {
	if _, err := mail.ParseAddress(s); err != nil {
		c.fail(key, "not an e-mail address like \"Report Alerts <alerts@example.org>\" (got %q)", s)
	}
	return s
}

// httpURL checks that s is an absolute http or https URL and returns it parsed.
func (c *checker) httpURL(key, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		c.fail(key, "must be an absolute http:// or https:// URL (got %q)", s)
		return &url.URL{}
	}
	return u
}

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

// listIDPattern is RFC 2919's List-Id: an optional phrase, then <label.domain>.
var listIDPattern = regexp.MustCompile(`^[^<>]*<[^<>@\s]+\.[^<>@\s]+>$`)

// build checks f and turns it into a Config. fromEnv names the variable a key
// came from, for the error message.
func build(f file, fromEnv map[string]string) (Config, error) {
	c := &checker{fromEnv: fromEnv}
	var cfg Config

	cfg.Server.Listen = f.Server.Listen
	if _, _, err := net.SplitHostPort(f.Server.Listen); err != nil {
		c.fail("server.listen", "must be host:port or :port (got %q)", f.Server.Listen)
	}
	if u := c.httpURL("server.base_url", f.Server.BaseURL); u.RawQuery != "" || u.Fragment != "" {
		c.fail("server.base_url", "must not have a query or fragment (got %q)", f.Server.BaseURL)
	}
	cfg.Server.BaseURL = strings.TrimRight(f.Server.BaseURL, "/")
	for _, origin := range f.Server.TrustedOrigins {
		// An origin is compared verbatim with the browser's Origin header.
		if u := c.httpURL("server.trusted_origins", origin); u.Scheme+"://"+u.Host != origin {
			c.fail("server.trusted_origins", "must be an origin like \"https://example.org\" without path (got %q)", origin)
		}
		cfg.Server.TrustedOrigins = append(cfg.Server.TrustedOrigins, origin)
	}
	for _, s := range f.Server.TrustedProxies {
		cfg.Server.TrustedProxies = append(cfg.Server.TrustedProxies, c.prefix("server.trusted_proxies", s))
	}

	cfg.Database.Path = f.Database.Path
	if f.Database.Path == "" {
		c.fail("database.path", "must not be empty")
	}

	cfg.Mail = Mail{
		Transport:         Transport(f.Mail.Transport),
		Dir:               f.Mail.Dir,
		From:              c.address("mail.from", f.Mail.From),
		ReplyTo:           f.Mail.ReplyTo,
		ListID:            f.Mail.ListID,
		UnsubscribeMailto: f.Mail.UnsubscribeMailto,
	}
	if cfg.Mail.Transport == "" {
		cfg.Mail.Transport = TransportFile
		if f.SMTP.Host != "" {
			cfg.Mail.Transport = TransportSMTP
		}
	}
	c.oneOf("mail.transport", string(cfg.Mail.Transport), string(TransportFile), string(TransportSMTP))
	if cfg.Mail.Transport == TransportFile && f.Mail.Dir == "" {
		c.fail("mail.dir", "must not be empty when mail.transport is file")
	}
	if f.Mail.ReplyTo != "" {
		c.address("mail.reply_to", f.Mail.ReplyTo)
	}
	if !listIDPattern.MatchString(f.Mail.ListID) {
		c.fail("mail.list_id", "must look like \"Report alerts <alerts.example.org>\" (got %q)", f.Mail.ListID)
	}
	cfg.Mail.UnsubscribeMailto = c.unsubscribeMailto("mail.unsubscribe_mailto", f.Mail.UnsubscribeMailto)

	cfg.SMTP = SMTP{
		Host:          f.SMTP.Host,
		Port:          f.SMTP.Port,
		Username:      f.SMTP.Username,
		Password:      f.SMTP.Password,
		TLS:           TLSMode(c.oneOf("smtp.tls", f.SMTP.TLS, string(TLSStartTLS), string(TLSOpportunistic), string(TLSImplicit), string(TLSNone))),
		Connections:   c.atLeast("smtp.connections", f.SMTP.Connections, 1),
		RatePerSecond: f.SMTP.RatePerSecond,
		Timeout:       c.positiveDuration("smtp.timeout", f.SMTP.Timeout),
	}
	if cfg.Mail.Transport == TransportSMTP && f.SMTP.Host == "" {
		c.fail("smtp.host", "must be set when mail.transport is smtp")
	}
	if f.SMTP.Port < 1 || f.SMTP.Port > 65535 {
		c.fail("smtp.port", "must be between 1 and 65535 (got %d)", f.SMTP.Port)
	}
	if f.SMTP.RatePerSecond < 0 {
		c.fail("smtp.rate_per_second", "must not be negative; 0 means no cap (got %g)", f.SMTP.RatePerSecond)
	}

	cfg.DKIM = DKIM{Domain: f.DKIM.Domain, Selector: f.DKIM.Selector, PrivateKeyFile: f.DKIM.PrivateKeyFile}
	if cfg.DKIM != (DKIM{}) {
		for _, kv := range [][2]string{{"dkim.domain", f.DKIM.Domain}, {"dkim.selector", f.DKIM.Selector}, {"dkim.private_key_file", f.DKIM.PrivateKeyFile}} {
			if kv[1] == "" {
				c.fail(kv[0], "must be set too: DKIM signing needs dkim.domain, dkim.selector and dkim.private_key_file")
			}
		}
	}

	cfg.Digest = Digest{
		Schedule:    c.cronSpec("digest.schedule", f.Digest.Schedule),
		Timezone:    f.Digest.Timezone,
		FirstWindow: c.positiveDuration("digest.first_window", f.Digest.FirstWindow),
		MaxReports:  c.atLeast("digest.max_reports", f.Digest.MaxReports, 1),
		Subject:     f.Digest.Subject,
	}
	loc, err := time.LoadLocation(f.Digest.Timezone)
	if err != nil {
		c.fail("digest.timezone", "not an IANA time zone like \"Europe/Berlin\" (got %q)", f.Digest.Timezone)
	}
	cfg.Digest.Location = loc
	c.subjectTemplate("digest.subject", f.Digest.Subject)

	for _, s := range f.Delivery.RetrySchedule {
		cfg.Delivery.RetrySchedule = append(cfg.Delivery.RetrySchedule, c.positiveDuration("delivery.retry_schedule", s))
	}
	cfg.Delivery.Lease = c.positiveDuration("delivery.lease", f.Delivery.Lease)
	cfg.Delivery.KeepMessagesFor = c.positiveDuration("delivery.keep_messages_for", f.Delivery.KeepMessagesFor)

	cfg.Subscribe = Subscribe{
		ConfirmTTL:     c.positiveDuration("subscribe.confirm_ttl", f.Subscribe.ConfirmTTL),
		ResendCooldown: c.duration("subscribe.resend_cooldown", f.Subscribe.ResendCooldown),
		// 0 would silently refuse every sign-up.
		MaxConfirmationsPerDay: c.atLeast("subscribe.max_confirmations_per_day", f.Subscribe.MaxConfirmationsPerDay, 1),
		PerIPPerHour:           c.atLeast("subscribe.per_ip_per_hour", f.Subscribe.PerIPPerHour, 0),
		PurgeUnconfirmedAfter:  c.positiveDuration("subscribe.purge_unconfirmed_after", f.Subscribe.PurgeUnconfirmedAfter),
		Welcome:                f.Subscribe.Welcome,
	}

	cfg.Admin.Token = f.Admin.Token
	if n := utf8.RuneCountInString(f.Admin.Token); n > 0 && n < MinAdminTokenLength {
		c.fail("admin.token", "must be at least %d characters, or empty to disable the admin API and /metrics (got %d); make one with: openssl rand -hex 32", MinAdminTokenLength, n)
	}
	cfg.Security.Secret = f.Security.Secret
	cfg.Templates.Dir = f.Templates.Dir
	cfg.Fetch.AllowPrivateNetworks = f.Fetch.AllowPrivateNetworks

	seen := map[string]bool{}
	for _, t := range f.Topics {
		switch {
		case !topicID.MatchString(t.ID):
			c.fail("topics.id", "must be letters, digits, '-', '_' or '.' (got %q)", t.ID)
		case seen[t.ID]:
			c.fail("topics.id", "%q appears twice", t.ID)
		}
		seen[t.ID] = true
		if t.Name == "" {
			t.Name = t.ID
		}
		cfg.Topics = append(cfg.Topics, t)
	}
	for _, s := range f.Sources {
		c.httpURL("sources.url", s.URL)
		if s.Schedule == "" {
			s.Schedule = "@hourly"
		}
		cfg.Sources = append(cfg.Sources, Source{URL: s.URL, Schedule: c.cronSpec("sources.schedule", s.Schedule)})
	}

	if c.err != nil {
		return Config{}, c.err
	}
	return cfg, nil
}

// topicID keeps ids usable in form values and in comma-separated lists
// (reports add --topics t1,t2).
var topicID = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// prefix reads a CIDR; a bare address means that one host.
func (c *checker) prefix(key, s string) netip.Prefix {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked()
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		c.fail(key, "not a CIDR like \"10.0.0.0/8\" or an IP address (got %q)", s)
		return netip.Prefix{}
	}
	return netip.PrefixFrom(addr, addr.BitLen())
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
