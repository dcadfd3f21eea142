package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd/internal/mail/mailtest"
)

// TestDigestCommandsAndImportsNameTheFrequency proves, with two frequencies
// configured, that a subscriber file's frequency column is kept (and an
// unknown one rejected on its line), that subscribers export shows it,
// that digest preview and send refuse, as bad usage, to guess among
// several or to take an unknown one, and that digest send --frequency
// sends that frequency's digest to its readers only, each frequency
// announcing the report once.
func TestDigestCommandsAndImportsNameTheFrequency(t *testing.T) {
	srv := mailtest.NewServer(t)
	env := smtpEnv(t, srv)
	env["ALERTD_CONFIG"] = writeFile(t, "config.toml", `[[frequencies]]
id = "daily"
name = "Every day"
schedule = "0 8 * * *"

[[frequencies]]
id = "weekly"
name = "Every week"
schedule = "0 8 * * 1"
`)
	file := writeFile(t, "subscribers.csv", "email,frequency\nada@example.org,daily\nbob@example.org,weekly\ncid@example.org,hourly\n")
	r := cliRun(t, env, "subscribers", "import", "--confirmed", file)
	if r.err != nil || !strings.Contains(r.stdout, "2 added as confirmed") || !strings.Contains(r.stderr, file+":4: ") ||
		!strings.Contains(r.stderr, `unknown frequency "hourly"`) {
		t.Fatalf("import: %v\nstdout %q\nstderr %q", r.err, r.stdout, r.stderr)
	}
	var export struct {
		Frequency string `json:"frequency"`
	}
	if err := json.Unmarshal([]byte(cliOK(t, env, "subscribers", "export", "ada@example.org")), &export); err != nil || export.Frequency != "daily" {
		t.Fatalf("export of ada: %+v %v, want frequency daily", export, err)
	}

	cliOK(t, env, "reports", "add", "--title", "Trade Policy", "--url", "https://example.org/r/1", "--published", published(-time.Hour))
	for _, args := range [][]string{
		{"digest", "preview"}, {"digest", "send"}, {"digest", "send", "--frequency", "hourly"}, {"digest", "preview", "--frequency", "hourly"},
	} {
		r := cliRun(t, env, args...)
		if r.code() != 2 || !strings.Contains(r.err.Error(), "frequenc") {
			t.Errorf("alertd %s: exit %d, %v; want exit 2 naming the frequency", strings.Join(args, " "), r.code(), r.err)
		}
	}
	if out := cliOK(t, env, "digest", "preview", "--frequency", "weekly"); !strings.Contains(out, "Trade Policy") {
		t.Errorf("digest preview --frequency weekly:\n%s", out)
	}
	for _, frequency := range []string{"daily", "weekly"} {
		if out := cliOK(t, env, "digest", "send", "--frequency", frequency); !strings.Contains(out, "1 report for 1 recipient") {
			t.Errorf("digest send --frequency %s printed %q, want 1 report for its 1 reader", frequency, out)
		}
		if out := cliOK(t, env, "digest", "send", "--frequency", frequency); !strings.Contains(out, "no new reports") {
			t.Errorf("a second digest send --frequency %s printed %q, want no new reports", frequency, out)
		}
	}
	var to []string
	for _, m := range srv.Wait(t, 2) {
		to = append(to, m.To...)
	}
	if len(to) != 2 || to[0] == to[1] {
		t.Errorf("digests went to %v, want one to each reader", to)
	}
	list := cliOK(t, env, "digest", "list")
	if !regexp.MustCompile(`(?m)^2\s+weekly\s`).MatchString(list) || !regexp.MustCompile(`(?m)^1\s+daily\s`).MatchString(list) {
		t.Errorf("digest list does not name each digest's frequency:\n%s", list)
	}
}
