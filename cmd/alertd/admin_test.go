package main

import (
	"context"
	"crypto/rand"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/admin"
	"github.com/alertd/alertd/internal/store"
)

func TestAdminLinkPrintsAOneTimeSignInLink(t *testing.T) {
	env := cliEnv(t)
	env["ALERTD_ADMIN_EMAILS"] = "ops@example.org"
	env["ALERTD_SERVER_BASE_URL"] = "https://alerts.example.org"
	out := cliOK(t, env, "admin", "link", "Ops@Example.org")
	link := regexp.MustCompile(`^https://alerts\.example\.org/admin/login/([A-Za-z0-9_-]{43})\n$`).FindStringSubmatch(out)
	if link == nil {
		t.Fatalf("admin link printed %q, want one link to the base URL", out)
	}

	ctx := context.Background()
	st, err := store.Open(ctx, env["ALERTD_DATABASE_PATH"], alertd.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := admin.NewService(st, admin.Rules{Emails: []string{"ops@example.org"}, SessionTTL: time.Hour}, time.Now, rand.Reader, func() {})
	if _, sess, err := svc.SignIn(ctx, link[1]); err != nil || sess.Email != "ops@example.org" {
		t.Fatalf("sign in with the printed link: %v %+v", err, sess)
	}
	entries, err := st.AuditLog(ctx, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[1].Who != admin.WhoCLI || entries[1].Action != admin.ActionLinkPrinted || entries[1].Subject != "ops@example.org" {
		t.Errorf("audit log %+v, want the CLI's printed link, then the sign-in", entries)
	}
}

func TestAdminLinkRefusesAnAddressNotInAdminEmails(t *testing.T) {
	env := cliEnv(t)
	env["ALERTD_ADMIN_EMAILS"] = "ops@example.org"
	for _, args := range [][]string{
		{"admin", "link", "stranger@example.org"},
		{"admin", "link"},
		{"admin", "token", "ops@example.org"},
	} {
		r := cliRun(t, env, args...)
		if r.code() != 2 || r.stdout != "" {
			t.Errorf("alertd %s: exit %d, stdout %q, want 2 and nothing printed", strings.Join(args, " "), r.code(), r.stdout)
		}
	}
	r := cliRun(t, env, "admin", "link", "stranger@example.org")
	if !strings.Contains(r.err.Error(), "not in admin.emails") {
		t.Errorf("error %q does not say why", r.err)
	}
}
