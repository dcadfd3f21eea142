package web_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
)

// confirmInStore confirms a pending sign-up at the clock's time, as its
// link would.
func (h *harness) confirmInStore(email string) {
	h.t.Helper()
	sub, ok := h.subscriber(email)
	if !ok {
		h.t.Fatalf("no subscriber %s", email)
	}
	if err := h.store.Write(context.Background(), func(tx *store.Tx) error {
		return tx.Confirm(sub.ID, h.clock.Now(), "127.0.0.1", "test")
	}); err != nil {
		h.t.Fatal(err)
	}
}

func TestDashboardOverviewChartsSignupsConfirmationsAndUnsubscribesByUTCDay(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	// 2 March, 08:00 UTC: three sign-ups.
	for _, email := range []string{"x1@example.org", "x2@example.org", "x3@example.org"} {
		h.subscribe(email)
	}
	imported := h.confirmed("y@example.org")
	// 3 March: two confirmations and one more sign-up, at 23:30 UTC (which
	// is already 4 March east of Greenwich).
	h.clock.Advance(24 * time.Hour)
	h.confirmInStore("x1@example.org")
	h.confirmInStore("x2@example.org")
	h.clock.Advance(15*time.Hour + 30*time.Minute)
	h.subscribe("x4@example.org")
	// 4 March: two unsubscribes, one of the imported subscriber.
	h.clock.Advance(time.Hour)
	sub, _ := h.subscriber("x1@example.org")
	for _, path := range []string{imported, "/unsubscribe/" + h.subs.UnsubscribeToken(sub.ID)} {
		if resp := h.postForm(path, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("unsubscribe: %d", resp.StatusCode)
		}
	}

	body := h.withCookie(http.MethodGet, "/admin", h.signIn(opsEmail)).body
	for _, want := range []string{
		`<th scope="row">2026-03-04</th><td>0</td><td>0</td><td>2</td>`,
		`<th scope="row">2026-03-03</th><td>1</td><td>2</td><td>0</td>`,
		`<th scope="row">2026-03-02</th><td>3</td><td>0</td><td>0</td>`,
		`<th scope="row">2026-03-01</th><td>0</td><td>0</td><td>0</td>`,
		`<th scope="row">2025-12-05</th><td>0</td><td>0</td><td>0</td>`,
		`<th scope="row">Total</th><td>4</td><td>2</td><td>2</td>`,
		`role="img" aria-labelledby="chart-title chart-desc"`,
		`<desc id="chart-desc">From 5 December 2025 to 4 March 2026 (UTC days): 4 sign-ups, 2 confirmations and 2 unsubscribes; at most 3 of any on one day.</desc>`,
		"<summary>The numbers by day</summary>",
		"Per UTC day",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	if n := strings.Count(body, "<tr><th scope=\"row\">20"); n != 90 {
		t.Errorf("the table has %d days, want 90", n)
	}
	if strings.Contains(body, "2025-12-04") {
		t.Error("the table reaches back more than 90 days")
	}
	// The scale tops out at 4; the plot is 202 high from y = 10 and 648
	// wide from x = 44, 89 steps for 90 days. Each line's last three points
	// are 2, 3 and 4 March.
	point := func(day, v int) string { return fmt.Sprintf("%d,%d", 44+day*648/89, 212-v*202/4) }
	for class, want := range map[string]string{
		"signups":       point(87, 3) + " " + point(88, 1) + " " + point(89, 0),
		"confirmations": point(87, 0) + " " + point(88, 2) + " " + point(89, 0),
		"unsubscribes":  point(87, 0) + " " + point(88, 0) + " " + point(89, 2),
	} {
		m := regexp.MustCompile(`<polyline class="series ` + class + `" fill="none" points="([^"]*)"/>`).FindStringSubmatch(body)
		if m == nil {
			t.Errorf("no %s line in the chart", class)
			continue
		}
		if points := strings.Fields(m[1]); len(points) != 90 || !strings.HasSuffix(m[1], want) {
			t.Errorf("%s line: %d points ending %q, want 90 ending %q", class, len(points), m[1][max(0, len(m[1])-40):], want)
		}
	}
	for _, label := range []string{`>Sign-ups</li>`, `>Confirmations</li>`, `>Unsubscribes</li>`, `>4</text>`, `>4 Mar</text>`} {
		if !strings.Contains(body, label) {
			t.Errorf("chart lacks the label %q", label)
		}
	}
	if strings.Contains(body, "style=") {
		t.Error("the overview has a style attribute, which the dashboard's CSP blocks")
	}
}

// finish queues n messages and records their outcome at the clock's time.
func (h *harness) finish(n int, status alertd.MessageStatus) {
	h.t.Helper()
	ctx := context.Background()
	now := h.clock.Now()
	if err := h.store.Write(ctx, func(tx *store.Tx) error {
		for range n {
			if _, err := tx.Enqueue(alertd.KindAdminSignIn, 0, "{}", now); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		h.t.Fatal(err)
	}
	claimed, err := h.store.ClaimMessages(ctx, "", now, now.Add(time.Minute), n)
	if err != nil || len(claimed) != n {
		h.t.Fatalf("claimed %d of %d: %v", len(claimed), n, err)
	}
	if err := h.store.Write(ctx, func(tx *store.Tx) error {
		for _, m := range claimed {
			if err := tx.RecordOutcome(now, alertd.Outcome{ID: m.ID, Status: status}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		h.t.Fatal(err)
	}
}

func TestDashboardOverviewShowsBounceAndComplaintRatesOverThirtyDays(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	body := h.withCookie(http.MethodGet, "/admin", cookie).body
	for _, want := range []string{
		"not measured: no messages were sent",
		"below 0.3 %", "below 5 %", "Amazon SES", "Gmail", "Yahoo",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("overview with no mail sent lacks %q", want)
		}
	}
	if strings.Contains(body, "0.00 %") {
		t.Error("the overview shows a rate measured over nothing")
	}

	// Out of the window: 31 days ago, all failed.
	h.finish(5, alertd.MessageFailed)
	h.clock.Advance(31 * 24 * time.Hour)
	h.finish(38, alertd.MessageSent)
	h.finish(1, alertd.MessageFailed)
	h.finish(2, alertd.MessageCancelled)
	cookie = h.signIn(opsEmail) // the first session has ended
	body = h.withCookie(http.MethodGet, "/admin", cookie).body
	if want := "2.56 %: 1 refused and 0 reported as bounced of 39 messages</td>"; !strings.Contains(body, want) {
		t.Errorf("overview lacks %q", want)
	}
	if strings.Contains(body, "review level") {
		t.Error("2.56 % is flagged as at the review level")
	}
	if want := "0.00 %: 0 complaints of 38 messages sent</td>"; !strings.Contains(body, want) {
		t.Errorf("overview lacks %q", want)
	}
	h.finish(1, alertd.MessageFailed)
	if want := "5.00 %: 2 refused and 0 reported as bounced of 40 messages <strong class=\"error\">— at or above the review level</strong>"; !strings.Contains(h.withCookie(http.MethodGet, "/admin", cookie).body, want) {
		t.Errorf("overview lacks %q", want)
	}

	// Reported later: a hard bounce counts with the refusals, a complaint
	// against the messages sent; a soft bounce in neither. Only reports
	// about a subscriber count: a forged one moves no rate.
	if _, err := h.bounces.Record(context.Background(), alertd.Bounce{
		Kind: alertd.BounceComplaint, Source: alertd.SourceARF, Email: "someone@example.org", Key: "forged"}); err != nil {
		t.Fatal(err)
	}
	h.importConfirmed([]string{"someone@example.org"})
	for i, kind := range []alertd.BounceKind{alertd.BounceHard, alertd.BounceComplaint, alertd.BounceSoft} {
		if _, err := h.bounces.Record(context.Background(), alertd.Bounce{
			Kind: kind, Source: alertd.SourceSES, Email: "someone@example.org", Key: fmt.Sprint("overview-", i),
		}); err != nil {
			t.Fatal(err)
		}
	}
	body = h.withCookie(http.MethodGet, "/admin", cookie).body
	for _, want := range []string{
		"7.50 %: 2 refused and 1 reported as bounced of 40 messages",
		"2.63 %: 1 complaints of 38 messages sent <strong class=\"error\">— at or above the limit</strong>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
}
