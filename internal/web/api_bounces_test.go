package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"strings"
	"testing"

	"github.com/alertd/alertd"
)

// recordBounces keeps n bounces of the kind against the address, as a
// provider's webhook reports them.
func (h *harness) recordBounces(email string, kind alertd.BounceKind, n int, diagnostic, evidence string) {
	h.t.Helper()
	for i := range n {
		if _, err := h.bounces.Record(context.Background(), alertd.Bounce{
			Kind: kind, Source: alertd.SourcePostmark, Email: email, Status: "5.1.1",
			Diagnostic: diagnostic, Evidence: evidence, Key: fmt.Sprintf("%s-%s-%d", email, kind, i),
		}); err != nil {
			h.t.Fatal(err)
		}
	}
}

func TestAPIListsBouncesPagedBySince(t *testing.T) {
	h := newHarness(t, options{AdminToken: adminToken})
	h.importConfirmed([]string{"a@example.org"})
	h.recordBounces("a@example.org", alertd.BounceSoft, 3, "mailbox full", `{"Type":"SoftBounce"}`)
	h.recordBounces("nobody@example.org", alertd.BounceHard, 2, "no such user", "")

	var seen []alertd.Bounce
	since := int64(0)
	for range 10 {
		path := "/api/v1/bounces?limit=2"
		if since != 0 {
			path += fmt.Sprintf("&since=%d", since)
		}
		resp := h.admin(http.MethodGet, path)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("GET /api/v1/bounces: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), resp.body)
		}
		var page []alertd.Bounce
		if err := json.Unmarshal([]byte(resp.body), &page); err != nil {
			t.Fatalf("%v\n%s", err, resp.body)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 2 {
			t.Fatalf("a page of %d with limit=2", len(page))
		}
		seen = append(seen, page...)
		since = page[len(page)-1].ID
	}
	if len(seen) != 5 {
		t.Fatalf("paged through %d bounces, want 5: %+v", len(seen), seen)
	}
	for i, b := range seen {
		if i > 0 && b.ID <= seen[i-1].ID {
			t.Errorf("ids not rising: %d after %d", b.ID, seen[i-1].ID)
		}
	}
	if b := seen[0]; b.Email != "a@example.org" || b.SubscriberID == 0 || b.Kind != alertd.BounceSoft || b.Evidence != `{"Type":"SoftBounce"}` || b.Source != alertd.SourcePostmark {
		t.Errorf("first bounce %+v", b)
	}
	if b := seen[4]; b.SubscriberID != 0 {
		t.Errorf("a bounce for an unknown address matched subscriber %d", b.SubscriberID)
	}
}

func TestAPIBouncesRefusesBadInput(t *testing.T) {
	h := newHarness(t, options{AdminToken: adminToken})
	for _, q := range []string{"limit=0", "limit=501", "limit=x", "since=-1", "since=abc", "since=0"} {
		resp := h.admin(http.MethodGet, "/api/v1/bounces?"+q)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.body, `"error"`) {
			t.Errorf("?%s: %d %s, want 400 with an error", q, resp.StatusCode, resp.body)
		}
	}
	if resp := h.get("/api/v1/bounces"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the token: %d, want 401", resp.StatusCode)
	}
	if resp := h.admin(http.MethodGet, "/api/v1/bounces"); resp.StatusCode != http.StatusOK || strings.TrimSpace(resp.body) != "[]" {
		t.Errorf("no bounces: %d %q, want 200 []", resp.StatusCode, resp.body)
	}
}

func TestDashboardSubscriberPageShowsKeptBouncesEscaped(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	h.importConfirmed([]string{"reader@example.org"})
	// A right-to-left override in a diagnostic must not turn the rest of
	// the row around: the texts are isolated, their direction their own.
	const rtl = "\u202eresu on"
	h.recordBounces("reader@example.org", alertd.BounceHard, 1, "no such user "+hostileText+rtl, "Status: 5.1.1\n"+hostileText+rtl)
	page := h.withCookie(http.MethodGet, h.subscriberPath("reader@example.org"), cookie)
	if page.StatusCode != http.StatusOK {
		t.Fatalf("subscriber page: %d", page.StatusCode)
	}
	for _, want := range []string{
		"<dd>bounced</dd>",
		`<td>hard</td><td>postmark</td><td>5.1.1</td><td class="ctext" dir="auto">no such user ` + html.EscapeString(hostileText) + rtl + "</td>",
		`<pre class="ctext" dir="auto">Status: 5.1.1` + "\n" + html.EscapeString(hostileText) + rtl + "</pre>",
	} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the page lacks %s\n%s", want, page.body)
		}
	}
	if strings.Contains(page.body, hostileText) {
		t.Error("a bounce's text reached the page unescaped")
	}
}
