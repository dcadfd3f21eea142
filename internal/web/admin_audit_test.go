package web_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/admin"
	"github.com/alertd/alertd/internal/store"
)

// auditActions returns the operator's actions in the audit log other than
// signing in, oldest first, as "action subject".
func (h *harness) auditActions() []string {
	h.t.Helper()
	entries, err := h.dash.AuditLog(context.Background(), 1000, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	var got []string
	for _, e := range slices.Backward(entries) {
		if e.Who == opsEmail && e.Action != admin.ActionSignIn {
			got = append(got, e.Action+" "+e.Subject)
		}
	}
	return got
}

// refuseAudit makes every later write to the audit log fail, as a full
// disk or a broken table would.
func (h *harness) refuseAudit() {
	h.t.Helper()
	db, err := sql.Open("sqlite", "file:"+h.dbPath+"?_pragma=busy_timeout(10000)")
	if err != nil {
		h.t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log refused'); END`); err != nil {
		h.t.Fatal(err)
	}
}

func TestDashboardRecordsOnlyChangesThatHappen(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	// A sign-up whose confirmation bounced.
	h.subscribe("bounced@example.org")
	bounced, _ := h.subscriber("bounced@example.org")
	ctx := context.Background()
	now := h.clock.Now()
	claimed, err := h.store.ClaimMessages(ctx, "test", now, now.Add(time.Minute), 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	err = h.store.Write(ctx, func(tx *store.Tx) error {
		return tx.RecordOutcome(now, alertd.Outcome{ID: claimed[0].ID, Status: alertd.MessageFailed, Error: "550 no such user", Bounced: true, SubscriberID: bounced.ID})
	})
	if err != nil {
		t.Fatal(err)
	}
	bouncedPath := h.subscriberPath("bounced@example.org")
	wantRedirect(t, h.postWithCookie(bouncedPath+"/unsubscribe", cookie, nil), http.StatusSeeOther, bouncedPath+"?nothing-done")
	if got := h.status("bounced@example.org"); got != alertd.StatusBounced {
		t.Errorf("a bounced subscriber unsubscribed from the dashboard is %s, want bounced", got)
	}

	rep := h.addReport("Unchanged", -time.Hour)
	path := fmt.Sprintf("/admin/reports/%d", rep.ID)
	subject := fmt.Sprintf("report %d", rep.ID)

	wantRedirect(t, h.dashPost(path+"/retract", nil, cookie), http.StatusSeeOther, path)
	wantRedirect(t, h.dashPost(path+"/retract", nil, cookie), http.StatusSeeOther, path+"?nothing-done")
	wantRedirect(t, h.dashPost(path+"/restore", nil, cookie), http.StatusSeeOther, path)
	wantRedirect(t, h.dashPost(path+"/restore", nil, cookie), http.StatusSeeOther, path+"?nothing-done")
	wantRedirect(t, h.dashPost(path+"/edit", h.editForm(rep.ID, cookie), cookie), http.StatusSeeOther, path+"?nothing-done")
	wantContains(t, "the report page after nothing was done", h.withCookie(http.MethodGet, path+"?nothing-done", cookie).body,
		`<p class="notice" role="status">Nothing to do: the report already stood as asked. Nothing was changed or recorded.</p>`)

	h.confirmed("reader@example.org")
	reader := h.subscriberPath("reader@example.org")
	wantRedirect(t, h.postWithCookie(reader+"/unsubscribe", cookie, nil), http.StatusSeeOther, reader)
	wantRedirect(t, h.postWithCookie(reader+"/unsubscribe", cookie, nil), http.StatusSeeOther, reader+"?nothing-done")
	wantContains(t, "the subscriber page after nothing was done", h.withCookie(http.MethodGet, reader+"?nothing-done", cookie).body,
		`<p class="notice" role="status">Nothing to do: this subscriber no longer gets mail. Nothing was changed or recorded.</p>`)

	want := []string{
		admin.ActionReportRetracted + " " + subject, admin.ActionReportRestored + " " + subject,
		admin.ActionSubscriberUnsubscribed + " " + strings.Replace(reader, "/admin/subscribers/", "subscriber ", 1),
	}
	if got := h.auditActions(); !slices.Equal(got, want) {
		t.Errorf("audit log:\n%q\nwant\n%q", got, want)
	}

	// Erased by another operator meanwhile: no such subscriber.
	if err := h.subs.Erase(context.Background(), "reader@example.org"); err != nil {
		t.Fatal(err)
	}
	if resp := h.postWithCookie(reader+"/unsubscribe", cookie, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unsubscribe of an erased subscriber: %d, want 404", resp.StatusCode)
	}
}

func TestDashboardChangesStandAndAreLoggedWhenTheAuditLogFails(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	h.confirmed("reader@example.org")
	h.confirmed("gone@example.org")
	rep := h.addReport("Kept", -time.Hour)
	reader := h.subscriberPath("reader@example.org")
	gone := h.subscriberPath("gone@example.org")
	h.refuseAudit()

	report := fmt.Sprintf("/admin/reports/%d", rep.ID)
	wantRedirect(t, h.dashPost(report+"/retract", nil, cookie), http.StatusSeeOther, report)
	wantRedirect(t, h.postWithCookie(reader+"/unsubscribe", cookie, nil), http.StatusSeeOther, reader)
	if resp := h.postWithCookie(gone+"/erase", cookie, url.Values{"confirm": {"gone@example.org"}}); resp.StatusCode != http.StatusOK {
		t.Errorf("erase: %d, want 200", resp.StatusCode)
	}
	if resp := h.uploadWithCookie("/admin/subscribers/import", cookie, "pending", "new.csv", "new@example.org\n"); resp.StatusCode != http.StatusOK {
		t.Errorf("import: %d, want 200", resp.StatusCode)
	}
	if resp := h.withCookie(http.MethodGet, "/admin/subscribers/export.csv", cookie); resp.StatusCode != http.StatusOK {
		t.Errorf("export: %d, want 200", resp.StatusCode)
	}
	wantRedirect(t, h.postWithCookie("/admin/settings/test-mail", cookie, nil), http.StatusSeeOther, "/admin/settings?test-mail=sent")

	if h.report(rep.ID).RetractedAt == nil || h.status("reader@example.org") != alertd.StatusUnsubscribed ||
		h.status("new@example.org") != alertd.StatusPending {
		t.Errorf("the changes did not stand")
	}
	if _, ok := h.subscriber("gone@example.org"); ok {
		t.Errorf("the erase did not stand")
	}
	logs := h.logs.String()
	for _, want := range []string{
		`action="` + admin.ActionReportRetracted + `" subject="report ` + fmt.Sprint(rep.ID) + `" detail=Kept`,
		`action="` + admin.ActionSubscriberUnsubscribed + `" subject="` + strings.Replace(reader, "/admin/subscribers/", "subscriber ", 1) + `" detail="was confirmed"`,
		`action="` + admin.ActionSubscriberErased + `"`,
		`action="` + admin.ActionSubscribersImported + `" subject=subscribers detail="new.csv: 1 sign-ups recorded, 0 rejected"`,
		`action="` + admin.ActionSubscribersExported + `"`,
		`action="` + admin.ActionTestMail + `" subject=` + opsEmail,
	} {
		if !strings.Contains(logs, `msg="audit log: entry not written" who=`+opsEmail+` `+want) {
			t.Errorf("the log lacks the entry %s:\n%s", want, logs)
		}
	}
}
