package config

import (
	"strings"
	"testing"
)

func TestSettingsMaskEverySecretAndShowTheRest(t *testing.T) {
	secrets := map[string]string{
		"ALERTD_SMTP_PASSWORD":   "hunter2-smtp-password",
		"ALERTD_ADMIN_TOKEN":     strings.Repeat("t", MinAdminTokenLength),
		"ALERTD_SECURITY_SECRET": strings.Repeat("x", 40),
	}
	env := map[string]string{
		"ALERTD_SMTP_HOST": "mail.example.org", "ALERTD_SMTP_USERNAME": "alerts",
		"ALERTD_DKIM_DOMAIN": "example.org", "ALERTD_DKIM_SELECTOR": "s1", "ALERTD_DKIM_PRIVATE_KEY_FILE": "/etc/alertd/dkim.pem",
	}
	for k, v := range secrets {
		env[k] = v
	}
	cfg, err := Load("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range cfg.Settings() {
		got[s.Key] = s.Value
		for _, secret := range secrets {
			if strings.Contains(s.Value, secret) {
				t.Errorf("%s shows a secret: %q", s.Key, s.Value)
			}
		}
	}
	for key, want := range map[string]string{
		"smtp.password": "set", "admin.token": "set", "security.secret": "set",
		"smtp.host": "mail.example.org", "smtp.username": "alerts", "smtp.port": "587",
		"dkim.private_key_file": "/etc/alertd/dkim.pem", "server.trusted_origins": "",
	} {
		if got[key] != want {
			t.Errorf("%s = %q, want %q", key, got[key], want)
		}
	}
	if v := Default().Settings(); len(v) != len(got) {
		t.Errorf("%d settings by default, %d when set: the list must not depend on the values", len(v), len(got))
	}
	for _, s := range Default().Settings() {
		if s.Key == "smtp.password" && s.Value != "not set" {
			t.Errorf("smtp.password unset shows %q, want not set", s.Value)
		}
	}
}
