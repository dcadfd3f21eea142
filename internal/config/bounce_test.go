package config

import (
	"strings"
	"testing"
	"time"
)

func TestBounceKeysFromTheEnvironment(t *testing.T) {
	cfg, err := Load("", env(map[string]string{
		"ALERTD_BOUNCE_DOMAIN":           "bounces.example.org",
		"ALERTD_BOUNCE_LISTEN":           "127.0.0.1:2525",
		"ALERTD_BOUNCE_IMAP_URL":         "imaps://bounce%40example.org:s3cret-pw@imap.example.org:993/Bounces",
		"ALERTD_BOUNCE_POLL_EVERY":       "90s",
		"ALERTD_MAIL_UNSUBSCRIBE_MAILTO": "mailto:unsub%2Bscribe@example.org?subject=stop",
	}))
	if err != nil {
		t.Fatal(err)
	}
	u := cfg.Bounce.IMAPURL.URL()
	if u == nil || u.Host != "imap.example.org:993" || u.User.Username() != "bounce@example.org" || u.Path != "/Bounces" {
		t.Errorf("bounce.imap_url parsed as %v", u)
	}
	if pw, _ := u.User.Password(); pw != "s3cret-pw" {
		t.Errorf("password = %q", pw)
	}
	if cfg.Bounce.PollEvery != Duration(90*time.Second) || cfg.Bounce.Listen != "127.0.0.1:2525" {
		t.Errorf("bounce = %+v", cfg.Bounce)
	}
	if got := cfg.Mail.UnsubscribeAddress(); got != "unsub+scribe@example.org" {
		t.Errorf("UnsubscribeAddress = %q", got)
	}
	for _, s := range cfg.Settings() {
		if strings.Contains(s.Value, "s3cret-pw") {
			t.Errorf("%s shows the mailbox password: %q", s.Key, s.Value)
		}
		if s.Key == "bounce.imap_url" && !strings.Contains(s.Value, "imap.example.org:993/Bounces") {
			t.Errorf("bounce.imap_url shows %q, want the URL without its password", s.Value)
		}
	}
}

func TestBounceDefaultsAreOff(t *testing.T) {
	b := Default().Bounce
	if b.Listen != "" || b.IMAPURL != "" || b.IMAPURL.URL() != nil || b.PollEvery != Duration(5*time.Minute) {
		t.Errorf("default bounce section = %+v", b)
	}
	if got := Default().Mail.UnsubscribeAddress(); got != "" {
		t.Errorf("UnsubscribeAddress with none set = %q", got)
	}
}
