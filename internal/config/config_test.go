package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/htmlsource"
)

func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadWithoutFileGivesTheDefaults(t *testing.T) {
	cfg, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Fatalf("Load(\"\") = %+v, want Default() %+v", cfg, Default())
	}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"server.listen", cfg.Server.Listen, "127.0.0.1:8080"},
		{"mail.transport", cfg.Mail.Transport, TransportFile},
		{"smtp.port", cfg.SMTP.Port, 587},
		{"smtp.tls", cfg.SMTP.TLS, TLSStartTLS},
		{"digest.location", cfg.Digest.Location, time.UTC},
		{"delivery.retry_schedule", []time.Duration(cfg.Delivery.RetrySchedule), []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour}},
		{"delivery.lease", time.Duration(cfg.Delivery.Lease), 5 * time.Minute},
		{"delivery.keep_messages_for", time.Duration(cfg.Delivery.KeepMessagesFor), 90 * 24 * time.Hour},
		{"subscribe.confirm_ttl", time.Duration(cfg.Subscribe.ConfirmTTL), 72 * time.Hour},
		{"subscribe.welcome", cfg.Subscribe.Welcome, true},
		{"fetch.allow_private_networks", cfg.Fetch.AllowPrivateNetworks, false},
		{"frequencies", cfg.Frequencies, []alertd.Frequency{{ID: "weekly", Name: "Weekly", Schedule: "0 8 * * 1"}}},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestExampleFileDocumentsEveryKeyWithItsDefault(t *testing.T) {
	const example = "../../config.example.toml"
	cfg, err := Load(example, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("loading %s = %+v, want Default() %+v", example, cfg, Default())
	}
	md, err := toml.DecodeFile(example, &Config{})
	if err != nil {
		t.Fatal(err)
	}
	eachKey(&cfg, func(key string, _ reflect.Value) error {
		if !md.IsDefined(strings.Split(key, ".")...) {
			t.Errorf("%s does not show key %s", example, key)
		}
		return nil
	})
}

func TestLoadReadsFileValues(t *testing.T) {
	path := writeFile(t, `
[server]
base_url = "https://alerts.example.org/"
trusted_origins = ["https://www.example.org"]
trusted_proxies = ["10.0.0.0/8", "192.0.2.1", "2001:db8::1"]
[smtp]
host = "smtp.example.org"
rate_per_second = 2
[digest]
timezone = "Europe/Berlin"
[site]
languages = ["zh-Hans", "en"]
[[topics]]
id = "economy"
name = "Economy"
[[topics]]
id = "health"
[[sources]]
url = "https://example.org/feed.xml"
[[sources]]
url = "https://example.org/tampered.xml"
review = true
[[sources]]
url = "https://example.org/reports/"
format = "html"
item = "ul.reports > li"
title = "h3"
date = ".date"
date_format = "2 January 2006"
detail = true
abstract = ".abstract"
abstract_pattern = "Abstract:\\s*(.+)"
`)
	cfg, err := Load(path, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"base_url loses its trailing slash", cfg.Server.BaseURL, "https://alerts.example.org"},
		{"trusted_origins", []string(cfg.Server.TrustedOrigins), []string{"https://www.example.org"}},
		{"languages", []string(cfg.Site.Languages), []string{"zh-Hans", "en"}},
		{"bare IPs become single-host prefixes", []netip.Prefix(cfg.Server.TrustedProxies), []netip.Prefix{
			netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32"), netip.MustParsePrefix("2001:db8::1/128")}},
		{"smtp.host selects the smtp transport", cfg.Mail.Transport, TransportSMTP},
		{"an integer rate is read as a float", cfg.SMTP.RatePerSecond, 2.0},
		{"digest.timezone is loaded", cfg.Digest.Location.String(), berlin.String()},
		{"a topic without a name is named by its id", cfg.Topics, []alertd.Topic{{ID: "economy", Name: "Economy"}, {ID: "health", Name: "health"}}},
		{"a source without schedule is polled hourly, and without review its reports are not held", cfg.Sources, []Source{
			{URL: "https://example.org/feed.xml", Schedule: "@hourly"},
			{URL: "https://example.org/tampered.xml", Schedule: "@hourly", Review: true},
			{URL: "https://example.org/reports/", Schedule: "@hourly", Format: "html", Spec: htmlsource.Spec{
				Item: "ul.reports > li", Title: "h3", Date: ".date", DateFormat: "2 January 2006", Detail: true,
				Abstract: ".abstract", AbstractPattern: `Abstract:\s*(.+)`}, HTML: cfg.Sources[2].HTML}}},
		{"an html source's selectors are compiled", cfg.Sources[2].HTML != nil && cfg.Sources[2].HTML.Detail(), true},
		{"keys absent from the file keep their default", cfg.Digest.MaxReports, 50},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestEnvironmentOverridesFile(t *testing.T) {
	path := writeFile(t, `
[smtp]
password = "from-file"
port = 2525
[subscribe]
per_ip_per_hour = 5
`)
	tests := []struct {
		env  map[string]string
		got  func(Config) any
		want any
	}{
		{map[string]string{"ALERTD_SMTP_PASSWORD": "s3cret"}, func(c Config) any { return c.SMTP.Password }, "s3cret"},
		{map[string]string{"ALERTD_SMTP_PORT": "465"}, func(c Config) any { return c.SMTP.Port }, 465},
		{map[string]string{"ALERTD_SUBSCRIBE_PER_IP_PER_HOUR": "0"}, func(c Config) any { return c.Subscribe.PerIPPerHour }, 0},
		{map[string]string{"ALERTD_SUBSCRIBE_PER_IP_PER_HOUR": "7"}, func(c Config) any { return c.Subscribe.PerIPPerHour }, 7},
		{map[string]string{"ALERTD_SMTP_RATE_PER_SECOND": "2.5"}, func(c Config) any { return c.SMTP.RatePerSecond }, 2.5},
		{map[string]string{"ALERTD_SUBSCRIBE_WELCOME": "false"}, func(c Config) any { return c.Subscribe.Welcome }, false},
		{map[string]string{"ALERTD_FETCH_ALLOW_PRIVATE_NETWORKS": "true"}, func(c Config) any { return c.Fetch.AllowPrivateNetworks }, true},
		{map[string]string{"ALERTD_SMTP_TIMEOUT": "1m"}, func(c Config) any { return time.Duration(c.SMTP.Timeout) }, time.Minute},
		{map[string]string{"ALERTD_SERVER_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7"}, func(c Config) any { return []netip.Prefix(c.Server.TrustedProxies) },
			[]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")}},
		{map[string]string{"ALERTD_SERVER_TRUSTED_ORIGINS": "https://a.example,https://b.example"}, func(c Config) any { return []string(c.Server.TrustedOrigins) },
			[]string{"https://a.example", "https://b.example"}},
		{map[string]string{"ALERTD_DELIVERY_RETRY_SCHEDULE": "1m,1h"}, func(c Config) any { return []time.Duration(c.Delivery.RetrySchedule) }, []time.Duration{time.Minute, time.Hour}},
		{map[string]string{"ALERTD_DELIVERY_LEASE": "1h"}, func(c Config) any { return time.Duration(c.Delivery.Lease) }, time.Hour},
		{map[string]string{"ALERTD_DELIVERY_KEEP_MESSAGES_FOR": "24h"}, func(c Config) any { return time.Duration(c.Delivery.KeepMessagesFor) }, 24 * time.Hour},
		{map[string]string{"ALERTD_SMTP_HOST": "relay.example"}, func(c Config) any { return c.Mail.Transport }, TransportSMTP},
	}
	for _, tt := range tests {
		cfg, err := Load(path, env(tt.env))
		if err != nil {
			t.Errorf("%v: %v", tt.env, err)
			continue
		}
		if got := tt.got(cfg); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%v: got %v, want %v", tt.env, got, tt.want)
		}
	}
}

func TestInvalidValuesAreErrorsNamingTheKey(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		env     map[string]string
		wantKey string
		wantEnv string
		wantMsg string
	}{
		{name: "unknown key", file: "[smtp]\nhots = \"x\"", wantKey: "smtp.hots", wantMsg: "unknown key"},
		{name: "unknown section", file: "[smpt]\nhost = \"x\"", wantKey: "smpt", wantMsg: "unknown key"},
		{name: "unknown key in a topic", file: "[[topics]]\nid = \"a\"\ntitle = \"A\"", wantKey: "topics.title", wantMsg: "unknown key"},
		{name: "wrong TOML type", file: "[smtp]\nport = \"587\"", wantMsg: `"smtp.port"`},
		{name: "TOML syntax", file: "[smtp]\nport = 5 87", wantMsg: "line 2"},
		{name: "a bare number is not a duration", file: "[smtp]\ntimeout = 30", wantKey: "smtp.timeout", wantMsg: `not a duration like "30s" or "72h" (got "30")`},
		{name: "a list written as a string", file: "[server]\ntrusted_proxies = \"10.0.0.0/8\"", wantKey: "server.trusted_proxies", wantMsg: "must be a list"},
		{name: "a list of numbers", file: "[delivery]\nretry_schedule = [60, 300]", wantKey: "delivery.retry_schedule", wantMsg: "must be a list of strings"},
		{name: "enum", file: "[smtp]\ntls = \"sometimes\"", wantKey: "smtp.tls", wantMsg: `must be one of starttls, opportunistic, implicit, none (got "sometimes")`},
		{name: "transport", file: "[mail]\ntransport = \"pigeon\"", wantKey: "mail.transport", wantMsg: "must be one of file, smtp"},
		{name: "smtp transport without host", file: "[mail]\ntransport = \"smtp\"", wantKey: "smtp.host", wantMsg: "must be set"},
		{name: "port range", file: "[smtp]\nport = 70000", wantKey: "smtp.port", wantMsg: "between 1 and 65535"},
		{name: "connections", file: "[smtp]\nconnections = 0", wantKey: "smtp.connections", wantMsg: "at least 1"},
		{name: "negative rate", file: "[smtp]\nrate_per_second = -1", wantKey: "smtp.rate_per_second", wantMsg: "negative"},
		{name: "duration syntax", file: "[smtp]\ntimeout = \"soon\"", wantKey: "smtp.timeout", wantMsg: `not a duration`},
		{name: "negative duration", file: "[subscribe]\nresend_cooldown = \"-1m\"", wantKey: "subscribe.resend_cooldown", wantMsg: "negative"},
		{name: "zero ttl", file: "[subscribe]\nconfirm_ttl = \"0s\"", wantKey: "subscribe.confirm_ttl", wantMsg: "longer than zero"},
		{name: "negative per-ip limit", file: "[subscribe]\nper_ip_per_hour = -1", wantKey: "subscribe.per_ip_per_hour", wantMsg: "at least 0"},
		{name: "retry schedule item", file: "[delivery]\nretry_schedule = [\"1m\", \"later\"]", wantKey: "delivery.retry_schedule", wantMsg: `"later"`},
		{name: "zero lease", file: "[delivery]\nlease = \"0s\"", wantKey: "delivery.lease", wantMsg: "longer than zero"},
		{name: "retention syntax", file: "[delivery]\nkeep_messages_for = \"90 days\"", wantKey: "delivery.keep_messages_for", wantMsg: "not a duration"},
		{name: "cron", file: "[digest]\nschedule = \"every monday\"", wantKey: "digest.schedule", wantMsg: "not a cron schedule"},
		{name: "timezone", file: "[digest]\ntimezone = \"Mars/Olympus\"", wantKey: "digest.timezone", wantMsg: "IANA"},
		{name: "subject syntax", file: "[digest]\nsubject = \"{{.Count\"", wantKey: "digest.subject", wantMsg: "template"},
		{name: "subject field", file: "[digest]\nsubject = \"{{.Total}} new\"", wantKey: "digest.subject", wantMsg: "Total"},
		{name: "max reports", file: "[digest]\nmax_reports = 0", wantKey: "digest.max_reports", wantMsg: "at least 1"},
		{name: "base url", file: "[server]\nbase_url = \"localhost:8080\"", wantKey: "server.base_url", wantMsg: "absolute"},
		{name: "listen", file: "[server]\nlisten = \"8080\"", wantKey: "server.listen", wantMsg: "host:port"},
		{name: "malformed language", file: "[site]\nlanguages = [\"zh_hans\"]", wantKey: "site.languages", wantMsg: "language tags"},
		{name: "language twice", file: "[site]\nlanguages = [\"en\", \"en\"]", wantKey: "site.languages", wantMsg: "distinct"},
		{name: "no language", file: "[site]\nlanguages = []", wantKey: "site.languages", wantMsg: "at least one"},
		{name: "origin with path", file: "[server]\ntrusted_origins = [\"https://example.org/form\"]", wantKey: "server.trusted_origins", wantMsg: "without path"},
		{name: "proxy", file: "[server]\ntrusted_proxies = [\"10.0.0.0/33\"]", wantKey: "server.trusted_proxies", wantMsg: "CIDR"},
		{name: "from", file: "[mail]\nfrom = \"alerts at example\"", wantKey: "mail.from", wantMsg: "e-mail address"},
		{name: "reply-to", file: "[mail]\nreply_to = \"nobody\"", wantKey: "mail.reply_to", wantMsg: "e-mail address"},
		{name: "list id", file: "[mail]\nlist_id = \"Alerts\"", wantKey: "mail.list_id", wantMsg: "must look like"},
		{name: "partial dkim", file: "[dkim]\ndomain = \"example.org\"\nselector = \"s1\"", wantKey: "dkim.private_key_file", wantMsg: "must be set too"},
		{name: "duplicate topic", file: "[[topics]]\nid = \"a\"\n[[topics]]\nid = \"a\"", wantKey: "topics.id", wantMsg: "twice"},
		{name: "empty topic id", file: "[[topics]]\nname = \"A\"", wantKey: "topics.id", wantMsg: `(got "")`},
		{name: "duplicate frequency", file: "[[frequencies]]\nid = \"a\"\nschedule = \"@daily\"\n[[frequencies]]\nid = \"a\"\nschedule = \"@weekly\"", wantKey: "frequencies.id", wantMsg: "twice"},
		{name: "bad frequency id", file: "[[frequencies]]\nid = \"a b\"\nschedule = \"@daily\"", wantKey: "frequencies.id", wantMsg: `(got "a b")`},
		{name: "frequency schedule", file: "[[frequencies]]\nid = \"daily\"\nschedule = \"often\"", wantKey: "frequencies.schedule", wantMsg: "cron"},
		{name: "frequency without schedule", file: "[[frequencies]]\nid = \"daily\"", wantKey: "frequencies.schedule", wantMsg: `must be set for frequency "daily"`},
		{name: "unknown key in a frequency", file: "[[frequencies]]\nid = \"daily\"\nschedule = \"@daily\"\nevery = \"day\"", wantKey: "frequencies.every", wantMsg: "unknown key"},
		{name: "source url", file: "[[sources]]\nurl = \"feed.xml\"", wantKey: "sources.url", wantMsg: "absolute"},
		{name: "source schedule", file: "[[sources]]\nurl = \"https://example.org/f\"\nschedule = \"often\"", wantKey: "sources.schedule", wantMsg: "cron"},
		{name: "source review", file: "[[sources]]\nurl = \"https://example.org/f\"\nreview = \"yes\"", wantMsg: `"sources.review"`},
		{name: "source format", file: "[[sources]]\nurl = \"https://example.org/f\"\nformat = \"rss\"", wantKey: "sources.format", wantMsg: `must be "html", or left out`},
		{name: "selectors on a feed", file: "[[sources]]\nurl = \"https://example.org/f\"\nitem = \"li\"", wantKey: "sources.format", wantMsg: `must be "html" for the selector keys`},
		{name: "html source without item", file: "[[sources]]\nurl = \"https://example.org/f\"\nformat = \"html\"\ntitle = \"a\"", wantKey: "sources.item", wantMsg: "is required"},
		{name: "html source bad selector", file: "[[sources]]\nurl = \"https://example.org/reports/\"\nformat = \"html\"\nitem = \"li\"\ntitle = \"a\"\ndate = \"span..date\"", wantKey: "sources.date", wantMsg: "not a CSS selector"},
		{name: "html source bad pattern", file: "[[sources]]\nurl = \"https://example.org/reports/\"\nformat = \"html\"\nitem = \"li\"\ntitle = \"a\"\nabstract = \"p\"\nabstract_pattern = \"Abstract:(.+\"", wantKey: "sources.abstract_pattern", wantMsg: "not a regular expression"},
		{name: "html source pattern without group", file: "[[sources]]\nurl = \"https://example.org/reports/\"\nformat = \"html\"\nitem = \"li\"\ntitle = \"a\"\nnumber = \"p\"\nnumber_pattern = \"No\\\\.\\\\s*\\\\d+\"", wantKey: "sources.number_pattern", wantMsg: "exactly one group"},
		{name: "html source pattern with two groups", file: "[[sources]]\nurl = \"https://example.org/reports/\"\nformat = \"html\"\nitem = \"li\"\ntitle = \"a\"\nseries = \"p\"\nseries_pattern = \"(.+), (No)\"", wantKey: "sources.series_pattern", wantMsg: "has 2"},
		{name: "html source pattern without selector", file: "[[sources]]\nurl = \"https://example.org/reports/\"\nformat = \"html\"\nitem = \"li\"\ntitle = \"a\"\nkeywords_pattern = \"Key words: (.+)\"", wantKey: "sources.keywords_pattern", wantMsg: "set keywords too"},
		{name: "html source max pages", file: "[[sources]]\nurl = \"https://example.org/reports/\"\nformat = \"html\"\nitem = \"li\"\ntitle = \"a\"\nnext = \"a.next\"\nmax_pages = 500", wantKey: "sources.max_pages", wantMsg: "between 1 and 50"},
		{name: "html source pages without next", file: "[[sources]]\nurl = \"https://example.org/reports/\"\nformat = \"html\"\nitem = \"li\"\ntitle = \"a\"\nmax_pages = 3", wantKey: "sources.next", wantMsg: "is required when max_pages"},
		{name: "dkim domain not a domain", file: "[dkim]\ndomain = \"mail example.org\"\nselector = \"alertd\"\nprivate_key_file = \"/etc/alertd/dkim.pem\"", wantKey: "dkim.domain", wantMsg: "not a domain name"},
		{name: "dkim domain an address", file: "[dkim]\ndomain = \"alerts@example.org\"\nselector = \"alertd\"\nprivate_key_file = \"/etc/alertd/dkim.pem\"", wantKey: "dkim.domain", wantMsg: "not a domain name"},
		{name: "dkim selector not a name", file: "[dkim]\ndomain = \"example.org\"\nselector = \"alertd 2026\"\nprivate_key_file = \"/etc/alertd/dkim.pem\"", wantKey: "dkim.selector", wantMsg: "not a DNS name"},
		{name: "html source date format without date", file: "[[sources]]\nurl = \"https://example.org/reports/\"\nformat = \"html\"\nitem = \"li\"\ntitle = \"a\"\ndate_format = \"2006-01-02\"", wantKey: "sources.date_format", wantMsg: "set date too"},
		{name: "html source date format not a layout", file: "[[sources]]\nurl = \"https://example.org/reports/\"\nformat = \"html\"\nitem = \"li\"\ntitle = \"a\"\ndate = \"i\"\ndate_format = \"YYYY-MM-DD\"", wantKey: "sources.date_format", wantMsg: "year, month and day"},
		{name: "html source date format without year", file: "[[sources]]\nurl = \"https://example.org/reports/\"\nformat = \"html\"\nitem = \"li\"\ntitle = \"a\"\ndate = \"i\"\ndate_format = \"January 2\"", wantKey: "sources.date_format", wantMsg: "year, month and day"},
		{name: "html source detail without fields", file: "[[sources]]\nurl = \"https://example.org/reports/\"\nformat = \"html\"\nitem = \"li\"\ntitle = \"a\"\ndetail = true", wantKey: "sources.detail", wantMsg: "none of their selectors"},
		{name: "short admin token", file: "[admin]\ntoken = \"x\"", wantKey: "admin.token", wantMsg: "at least 32 characters"},
		{name: "admin token of spaces", env: map[string]string{"ALERTD_ADMIN_TOKEN": strings.Repeat(" ", 32)}, wantKey: "admin.token", wantEnv: "ALERTD_ADMIN_TOKEN", wantMsg: "without spaces"},
		{name: "admin token one short", env: map[string]string{"ALERTD_ADMIN_TOKEN": strings.Repeat("t", 31)}, wantKey: "admin.token", wantEnv: "ALERTD_ADMIN_TOKEN", wantMsg: "(got 31)"},
		{name: "admin email with a name", file: "[admin]\nemails = [\"Ops <ops@example.org>\"]", wantKey: "admin.emails", wantMsg: "bare e-mail addresses"},
		{name: "admin email from env", env: map[string]string{"ALERTD_ADMIN_EMAILS": "ops@example.org, nobody"}, wantKey: "admin.emails", wantEnv: "ALERTD_ADMIN_EMAILS", wantMsg: `"nobody"`},
		{name: "zero session ttl", file: "[admin]\nsession_ttl = \"0s\"", wantKey: "admin.session_ttl", wantMsg: "longer than zero"},
		{name: "mailto without address", file: "[mail]\nunsubscribe_mailto = \"mailto:\"", wantKey: "mail.unsubscribe_mailto", wantMsg: "one address"},
		{name: "mailto not an address", file: "[mail]\nunsubscribe_mailto = \"mailto:nobody\"", wantKey: "mail.unsubscribe_mailto", wantMsg: "one address"},
		{name: "mailto closing the header's bracket", file: "[mail]\nunsubscribe_mailto = \"mailto:a@example.org>, <https://evil.example/\"", wantKey: "mail.unsubscribe_mailto", wantMsg: "one address"},
		{name: "mailto with a line break", file: "[mail]\nunsubscribe_mailto = \"mailto:a@example.org\\r\\nBcc: b@example.org\"", wantKey: "mail.unsubscribe_mailto", wantMsg: "one address"},
		{name: "mailto with a display name", file: "[mail]\nunsubscribe_mailto = \"mailto:Alerts <a@example.org>\"", wantKey: "mail.unsubscribe_mailto", wantMsg: "one address"},
		{name: "bare address with a display name", file: "[mail]\nunsubscribe_mailto = \"Alerts <a@example.org>\"", wantKey: "mail.unsubscribe_mailto", wantMsg: "one address"},
		{name: "mailto with two addresses", file: "[mail]\nunsubscribe_mailto = \"mailto:a@example.org,b@example.org\"", wantKey: "mail.unsubscribe_mailto", wantMsg: "one address"},
		{name: "mailto with a bad escape", file: "[mail]\nunsubscribe_mailto = \"mailto:a%zz@example.org\"", wantKey: "mail.unsubscribe_mailto", wantMsg: "one address"},
		{name: "mailto with a body", file: "[mail]\nunsubscribe_mailto = \"mailto:a@example.org?subject=x&body=y\"", wantKey: "mail.unsubscribe_mailto", wantMsg: "?subject="},
		{name: "mailto with an encoded line break", file: "[mail]\nunsubscribe_mailto = \"mailto:a@example.org?subject=x%0D%0ABcc:%20b@example.org\"", wantKey: "mail.unsubscribe_mailto", wantMsg: "?subject="},
		{name: "env integer", env: map[string]string{"ALERTD_SMTP_PORT": "twenty"}, wantKey: "smtp.port", wantEnv: "ALERTD_SMTP_PORT", wantMsg: "whole number"},
		{name: "env bool", env: map[string]string{"ALERTD_SUBSCRIBE_WELCOME": "yes please"}, wantKey: "subscribe.welcome", wantEnv: "ALERTD_SUBSCRIBE_WELCOME", wantMsg: "true or false"},
		{name: "env allow_private_networks", env: map[string]string{"ALERTD_FETCH_ALLOW_PRIVATE_NETWORKS": "sometimes"}, wantKey: "fetch.allow_private_networks", wantEnv: "ALERTD_FETCH_ALLOW_PRIVATE_NETWORKS", wantMsg: "true or false"},
		{name: "env float", env: map[string]string{"ALERTD_SMTP_RATE_PER_SECOND": "fast"}, wantKey: "smtp.rate_per_second", wantEnv: "ALERTD_SMTP_RATE_PER_SECOND", wantMsg: "not a number"},
		{name: "env value checked like a file value", env: map[string]string{"ALERTD_SMTP_TLS": "sometimes"}, wantKey: "smtp.tls", wantEnv: "ALERTD_SMTP_TLS", wantMsg: "must be one of"},
		{name: "env list item", env: map[string]string{"ALERTD_DELIVERY_RETRY_SCHEDULE": "1m,-5m"}, wantKey: "delivery.retry_schedule", wantEnv: "ALERTD_DELIVERY_RETRY_SCHEDULE", wantMsg: "negative"},
		{name: "env duration", env: map[string]string{"ALERTD_SUBSCRIBE_CONFIRM_TTL": "3 days"}, wantKey: "subscribe.confirm_ttl", wantEnv: "ALERTD_SUBSCRIBE_CONFIRM_TTL", wantMsg: "not a duration"},
		{name: "env zero duration", env: map[string]string{"ALERTD_DELIVERY_LEASE": "0s"}, wantKey: "delivery.lease", wantEnv: "ALERTD_DELIVERY_LEASE", wantMsg: "longer than zero"},
		{name: "env origin", env: map[string]string{"ALERTD_SERVER_TRUSTED_ORIGINS": "https://a.example,https://b.example/form"}, wantKey: "server.trusted_origins", wantEnv: "ALERTD_SERVER_TRUSTED_ORIGINS", wantMsg: "without path"},
		{name: "env proxy", env: map[string]string{"ALERTD_SERVER_TRUSTED_PROXIES": "10.0.0.0/8,proxy.local"}, wantKey: "server.trusted_proxies", wantEnv: "ALERTD_SERVER_TRUSTED_PROXIES", wantMsg: "CIDR"},
		{name: "bounce domain with an at", file: "[bounce]\ndomain = \"bounces@example.org\"", wantKey: "bounce.domain", wantMsg: "domain name"},
		{name: "bounce domain single label", env: map[string]string{"ALERTD_BOUNCE_DOMAIN": "localhost"}, wantKey: "bounce.domain", wantEnv: "ALERTD_BOUNCE_DOMAIN", wantMsg: "domain name"},
		{name: "soft limit zero", file: "[bounce]\nsoft_limit = 0", wantKey: "bounce.soft_limit", wantMsg: "at least 1"},
		{name: "soft window zero", env: map[string]string{"ALERTD_BOUNCE_SOFT_WINDOW": "0s"}, wantKey: "bounce.soft_window", wantEnv: "ALERTD_BOUNCE_SOFT_WINDOW", wantMsg: "longer than zero"},
		{name: "bounce listen", file: "[bounce]\ndomain = \"bounces.example.org\"\nlisten = \"2525\"", wantKey: "bounce.listen", wantMsg: "host:port"},
		{name: "bounce listen for nobody", file: "[bounce]\nlisten = \":2525\"", wantKey: "bounce.listen", wantMsg: "bounce.domain"},
		{name: "zero poll interval", file: "[bounce]\npoll_every = \"0s\"", wantKey: "bounce.poll_every", wantMsg: "longer than zero"},
		{name: "imap url scheme", file: "[bounce]\nimap_url = \"https://u:p@imap.example.org/INBOX\"", wantKey: "bounce.imap_url", wantMsg: "imaps or imap"},
		{name: "imap url host", file: "[bounce]\nimap_url = \"imaps://u:p@/INBOX\"", wantKey: "bounce.imap_url", wantMsg: "host is missing"},
		{name: "imap url password", file: "[bounce]\nimap_url = \"imaps://u@imap.example.org/INBOX\"", wantKey: "bounce.imap_url", wantMsg: "password are missing"},
		{name: "imap url mailbox", env: map[string]string{"ALERTD_BOUNCE_IMAP_URL": "imaps://u:hunter2@imap.example.org/"}, wantKey: "bounce.imap_url", wantEnv: "ALERTD_BOUNCE_IMAP_URL", wantMsg: "u:xxxxx@imap.example.org"},
		{name: "imap url query", file: "[bounce]\nimap_url = \"imap://u:p@imap.example.org/INBOX?insecure=1\"", wantKey: "bounce.imap_url", wantMsg: "no query"},
		{name: "env transport", env: map[string]string{"ALERTD_MAIL_TRANSPORT": "pigeon"}, wantKey: "mail.transport", wantEnv: "ALERTD_MAIL_TRANSPORT", wantMsg: "must be one of file, smtp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			_, err := Load(path, env(tt.env))
			var cfgErr *Error
			if !errors.As(err, &cfgErr) {
				t.Fatalf("Load error = %v, want a *config.Error", err)
			}
			if cfgErr.Key != tt.wantKey || cfgErr.Env != tt.wantEnv {
				t.Errorf("error names key %q, env %q; want %q, %q (%v)", cfgErr.Key, cfgErr.Env, tt.wantKey, tt.wantEnv, err)
			}
			for _, want := range []string{tt.wantKey, tt.wantEnv, tt.wantMsg} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestUnsubscribeMailtoBecomesAMailtoURI(t *testing.T) {
	tests := []struct{ value, want string }{
		{"", ""},
		{"unsubscribe@example.org", "mailto:unsubscribe@example.org"},
		{"mailto:unsubscribe@example.org", "mailto:unsubscribe@example.org"},
		{"MAILTO:unsubscribe@example.org", "mailto:unsubscribe@example.org"},
		{"mailto:unsubscribe@example.org?subject=unsubscribe%20me", "mailto:unsubscribe@example.org?subject=unsubscribe%20me"},
		{"mailto:list+unsubscribe@example.org", "mailto:list+unsubscribe@example.org"},
	}
	for _, tt := range tests {
		cfg, err := Load("", env(map[string]string{"ALERTD_MAIL_UNSUBSCRIBE_MAILTO": tt.value}))
		if err != nil {
			t.Errorf("%q: %v", tt.value, err)
			continue
		}
		if cfg.Mail.UnsubscribeMailto != tt.want {
			t.Errorf("%q: mail.unsubscribe_mailto = %q, want %q", tt.value, cfg.Mail.UnsubscribeMailto, tt.want)
		}
	}
}

func TestAdminTokenOfTheMinimumLengthIsAccepted(t *testing.T) {
	token := strings.Repeat("é", MinAdminTokenLength) // characters, not bytes
	cfg, err := Load("", env(map[string]string{"ALERTD_ADMIN_TOKEN": token}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Admin.Token != token {
		t.Errorf("admin.token = %q, want %q", cfg.Admin.Token, token)
	}
}

func TestAdminEmailsAndSessionTTLFromTheEnvironment(t *testing.T) {
	cfg, err := Load("", env(map[string]string{"ALERTD_ADMIN_EMAILS": "ops@example.org, editor@example.org", "ALERTD_ADMIN_SESSION_TTL": "1h"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"ops@example.org", "editor@example.org"}; !slices.Equal(cfg.Admin.Emails, want) {
		t.Errorf("admin.emails = %q, want %q", cfg.Admin.Emails, want)
	}
	if cfg.Admin.SessionTTL != Duration(time.Hour) {
		t.Errorf("admin.session_ttl = %v, want 1h", cfg.Admin.SessionTTL)
	}
}

func TestMissingFileIsAConfigError(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"), env(nil))
	var cfgErr *Error
	if !errors.As(err, &cfgErr) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load(missing) = %v, want a *config.Error wrapping os.ErrNotExist", err)
	}
}

func TestLocatePrecedence(t *testing.T) {
	withLocal, withoutLocal := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(withLocal, "config.toml"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		flag string
		env  map[string]string
		dir  string
		want string
	}{
		{"flag wins over everything", "flag.toml", map[string]string{"ALERTD_CONFIG": "env.toml"}, withLocal, "flag.toml"},
		{"ALERTD_CONFIG wins over ./config.toml", "", map[string]string{"ALERTD_CONFIG": "env.toml"}, withLocal, "env.toml"},
		{"./config.toml when it exists", "", nil, withLocal, "config.toml"},
		{"built-in defaults otherwise", "", nil, withoutLocal, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(tt.dir)
			got, err := Locate(tt.flag, env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Locate = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBounceRulesDefaultAndOverride(t *testing.T) {
	b := Default().Bounce
	if b.Domain != "" || b.SoftLimit != 3 || b.SoftWindow != Duration(720*time.Hour) {
		t.Errorf("default bounce section = %+v", b)
	}
	cfg, err := Load("", env(map[string]string{
		"ALERTD_BOUNCE_DOMAIN": "bounces.example.org", "ALERTD_BOUNCE_SOFT_LIMIT": "5", "ALERTD_BOUNCE_SOFT_WINDOW": "48h",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if b := cfg.Bounce; b.Domain != "bounces.example.org" || b.SoftLimit != 5 || b.SoftWindow != Duration(48*time.Hour) {
		t.Errorf("bounce section = %+v", b)
	}
}

func TestWebhookKeys(t *testing.T) {
	env := map[string]string{
		"ALERTD_WEBHOOKS_POSTMARK_TOKEN":      "pm-token",
		"ALERTD_WEBHOOKS_MAILGUN_SIGNING_KEY": "mg-key",
		"ALERTD_WEBHOOKS_SES_TOPIC_ARN":       "arn:aws:sns:eu-west-1:123456789012:ses-bounces",
	}
	cfg, err := Load("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.Webhooks; w.PostmarkToken != "pm-token" || w.MailgunSigningKey != "mg-key" || w.SESTopicARN != env["ALERTD_WEBHOOKS_SES_TOPIC_ARN"] {
		t.Errorf("webhooks = %+v", w)
	}
	shown := map[string]string{}
	for _, s := range cfg.Settings() {
		shown[s.Key] = s.Value
	}
	for _, k := range []string{"webhooks.postmark_token", "webhooks.mailgun_signing_key"} {
		if shown[k] != "set" {
			t.Errorf("settings show %s as %q, want it masked as set", k, shown[k])
		}
	}
	for key, bad := range map[string]string{
		"ALERTD_WEBHOOKS_SES_TOPIC_ARN":       "arn:aws:sqs:eu-west-1:123456789012:q",
		"ALERTD_WEBHOOKS_SENDGRID_PUBLIC_KEY": "not a key",
	} {
		_, err := Load("", func(k string) string {
			if k == key {
				return bad
			}
			return ""
		})
		var cerr *Error
		if !errors.As(err, &cerr) || cerr.Env != key {
			t.Errorf("%s=%q: error %v, want one naming the variable", key, bad, err)
		}
	}
}

func TestFrequenciesFromTheFileReplaceTheWeeklyOne(t *testing.T) {
	path := writeFile(t, "[digest]\nschedule = \"0 9 * * 2\"\n"+
		"[[frequencies]]\nid = \"asap\"\nname = \"As soon as published\"\nschedule = \"*/15 * * * *\"\n"+
		"[[frequencies]]\nid = \"monthly\"\nschedule = \"0 8 1 * *\"\n")
	cfg, err := Load(path, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []alertd.Frequency{
		{ID: "asap", Name: "As soon as published", Schedule: "*/15 * * * *"},
		{ID: "monthly", Name: "monthly", Schedule: "0 8 1 * *"},
	}
	if !reflect.DeepEqual(cfg.Frequencies, want) {
		t.Fatalf("frequencies = %+v, want %+v", cfg.Frequencies, want)
	}
	cfg, err = Load(writeFile(t, "[digest]\nschedule = \"0 9 * * 2\"\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if want := []alertd.Frequency{{ID: "weekly", Name: "Weekly", Schedule: "0 9 * * 2"}}; !reflect.DeepEqual(cfg.Frequencies, want) {
		t.Fatalf("without [[frequencies]]: %+v, want %+v", cfg.Frequencies, want)
	}
}
