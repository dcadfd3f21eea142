package web_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd"
)

// retract sends DELETE /api/v1/reports/{id} and decodes the 200 answer.
func (h *harness) retract(id int64) alertd.Report {
	h.t.Helper()
	r := h.adminSend(http.MethodDelete, fmt.Sprintf("/api/v1/reports/%d", id), "")
	if r.StatusCode != http.StatusOK {
		h.t.Fatalf("retract report %d: status = %d, want 200: %s", id, r.StatusCode, r.body)
	}
	var rep alertd.Report
	decode(h.t, r, &rep)
	return rep
}

func TestRetractedReportLeavesPagesFeedAPIAndTheNextDigestButNotHistory(t *testing.T) {
	h := newHarness(t, options{AdminToken: adminToken})
	h.confirmed("ada@example.org")
	announced := h.addReport("Announced", -3*time.Hour)
	if r := h.adminSend(http.MethodPost, "/api/v1/digests", ""); r.StatusCode != http.StatusCreated {
		t.Fatalf("first digest: %d %s", r.StatusCode, r.body)
	}
	h.addReport("Kept", -2*time.Hour)
	junk := h.addReport("Junk", -time.Hour)

	retracted := h.retract(junk.ID)
	if retracted.ID != junk.ID || retracted.Title != "Junk" || retracted.RetractedAt == nil ||
		!retracted.RetractedAt.Equal(h.clock.Now()) {
		t.Errorf("DELETE answered %+v, want the report retracted at %v", retracted, h.clock.Now())
	}
	h.clock.Advance(time.Minute)
	if again := h.retract(junk.ID); again.RetractedAt == nil || !again.RetractedAt.Equal(*retracted.RetractedAt) {
		t.Errorf("retracting again answered %+v, want the first retraction kept", again)
	}
	h.retract(announced.ID)

	for _, path := range []string{"/", "/reports"} {
		if got := listedTitles(h.get(path).body); !slices.Equal(got, []string{"Kept"}) {
			t.Errorf("GET %s lists %q, want only Kept", path, got)
		}
	}
	if feed := h.get("/reports/feed.atom").body; strings.Contains(feed, "Junk") || strings.Contains(feed, "Announced") ||
		!strings.Contains(feed, "Kept") {
		t.Errorf("the feed still carries a retracted report:\n%s", feed)
	}
	if got := reportTitles(t, h.admin(http.MethodGet, "/api/v1/reports")); !slices.Equal(got, []string{"Kept"}) {
		t.Errorf("GET /api/v1/reports lists %q, want only Kept", got)
	}
	history, err := h.store.DigestReports(context.Background(), 1)
	if err != nil || len(history) != 1 || history[0].Title != "Announced" {
		t.Errorf("the sent digest now holds %+v (%v), want Announced kept as history", history, err)
	}

	r := h.adminSend(http.MethodPost, "/api/v1/digests", "")
	var compiled map[string]any
	decode(t, r, &compiled)
	if r.StatusCode != http.StatusCreated || compiled["reports"] != float64(1) {
		t.Fatalf("next digest: %d %v, want one report, Kept", r.StatusCode, compiled)
	}
	next, err := h.store.DigestReports(context.Background(), int64(compiled["id"].(float64)))
	if err != nil || len(next) != 1 || next[0].Title != "Kept" {
		t.Errorf("the next digest announces %+v (%v), want Kept only", next, err)
	}

	// The feed that brought the junk cannot bring it back.
	r = h.adminSend(http.MethodPost, "/api/v1/reports", `{"title": "Junk again", "url": "`+junk.URL+`"}`)
	var again alertd.Report
	decode(t, r, &again)
	if r.StatusCode != http.StatusOK || again.ID != junk.ID || again.RetractedAt == nil {
		t.Errorf("adding the retracted guid again: %d %+v, want 200 with the report still retracted", r.StatusCode, again)
	}
}

func TestRetractReportRefusesUnknownAndBadIDs(t *testing.T) {
	h := newHarness(t, options{AdminToken: adminToken})
	h.refusesBadIDs(http.MethodDelete, "/api/v1/reports/", "")
	rep := h.addReport("Report", -time.Hour)
	req := h.request(http.MethodDelete, fmt.Sprintf("/api/v1/reports/%d", rep.ID), "", nil)
	if r := h.do(req); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("DELETE without the token = %d, want 401", r.StatusCode)
	}
}
