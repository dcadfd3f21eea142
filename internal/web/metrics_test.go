package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestMetricsCountSubscribeOutcomes proves GET /metrics serves the
// Prometheus text format to the admin and counts sign-ups by outcome.
func TestMetricsCountSubscribeOutcomes(t *testing.T) {
	h := newHarness(t, options{AdminToken: adminToken})
	h.postForm("/subscribe", url.Values{"email": {"ada@example.org"}})
	h.postForm("/subscribe", url.Values{"email": {"not an address"}})
	h.postForm("/subscribe", url.Values{"email": {"bot@example.org"}, "website": {"http://spam.example"}})

	r := h.admin(http.MethodGet, "/metrics")
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics = %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`alertd_subscribe_requests_total{outcome="accepted"} 1`,
		`alertd_subscribe_requests_total{outcome="invalid"} 1`,
		`alertd_subscribe_requests_total{outcome="honeypot"} 1`,
		"# TYPE alertd_queue_depth gauge",
		"# TYPE alertd_send_duration_seconds histogram",
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
