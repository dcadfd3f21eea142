package web_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd"
)

// adminToken is as long as the configuration requires.
const adminToken = "test-admin-token-0123456789abcdef"

// admin sends an admin API request with the bearer token.
func (h *harness) admin(method, path string) response {
	h.t.Helper()
	req := h.request(method, path, "", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	return h.do(req)
}

// refusesBadIDs checks that an admin request for prefix+id+suffix answers
// 404 with a JSON error when the id names nothing, and 400 when it is not a
// positive 64-bit number.
func (h *harness) refusesBadIDs(method, prefix, suffix string) {
	h.t.Helper()
	tests := []struct {
		id   string
		want int
	}{
		{"1", http.StatusNotFound},
		{"0", http.StatusBadRequest},
		{"-1", http.StatusBadRequest},
		{"abc", http.StatusBadRequest},
		{"99999999999999999999", http.StatusBadRequest},
	}
	for _, tt := range tests {
		r := h.admin(method, prefix+tt.id+suffix)
		if r.StatusCode != tt.want {
			h.t.Errorf("%s %s%s%s = %d, want %d", method, prefix, tt.id, suffix, r.StatusCode, tt.want)
			continue
		}
		jsonError(h.t, r)
	}
}

// decode reads a JSON answer into v, failing on anything else.
func decode(t *testing.T, r response, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("answer is not the JSON expected (%v):\n%s", err, r.body)
	}
}

func TestAdminAPIIsAbsentWithoutAToken(t *testing.T) {
	h := newHarness(t, options{})
	for _, path := range []string{"/api/v1/stats", "/api/v1/subscribers", "/metrics"} {
		if r := h.admin(http.MethodGet, path); r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, r.StatusCode)
		} else {
			jsonError(t, r)
		}
	}
}

func TestAdminAPIRefusesAMissingOrWrongToken(t *testing.T) {
	h := newHarness(t, options{AdminToken: adminToken})
	h.confirmed("bob@example.org")
	tests := []struct{ name, authorization string }{
		{"none", ""},
		{"wrong token", "Bearer wrong-token"},
		{"token with a suffix", "Bearer " + adminToken + "x"},
		{"empty token", "Bearer "},
		{"other scheme", "Basic " + adminToken},
		{"no scheme", adminToken},
	}
	requests := []struct{ method, path string }{
		{http.MethodGet, "/api/v1/subscribers/bob@example.org"},
		{http.MethodDelete, "/api/v1/subscribers/bob@example.org"},
		{http.MethodGet, "/metrics"},
	}
	for i, tt := range tests {
		// Each from its own address, below the limit on failures.
		from := "127.0.0." + strconv.Itoa(10+i)
		for _, rq := range requests {
			req := h.request(rq.method, rq.path, "", nil)
			if tt.authorization != "" {
				req.Header.Set("Authorization", tt.authorization)
			}
			r := h.doFrom(from, req)
			if r.StatusCode != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: %s %s = %d, want 401 with WWW-Authenticate", tt.name, rq.method, rq.path, r.StatusCode)
			}
		}
	}
	if _, ok := h.subscriber("bob@example.org"); !ok {
		t.Error("a DELETE without the token erased the subscriber")
	}
}

func TestAdminFailuresAreLimitedPerClient(t *testing.T) {
	h := newHarness(t, options{AdminToken: adminToken})
	send := func(from, path, token string) response {
		req := h.request(http.MethodGet, path, "", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		return h.doFrom(from, req)
	}
	// Right tokens do not count towards the limit.
	for i := range 10 {
		if r := send("127.0.0.3", "/api/v1/stats", adminToken); r.StatusCode != http.StatusOK {
			t.Fatalf("right token, request %d: status %d, want 200", i+1, r.StatusCode)
		}
	}
	for i := range 5 {
		if r := send("127.0.0.1", "/metrics", fmt.Sprintf("guess-%d", i)); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: status %d, want 401", i+1, r.StatusCode)
		}
	}
	for _, path := range []string{"/api/v1/stats", "/metrics"} {
		r := send("127.0.0.1", path, "guess-5")
		if r.StatusCode != http.StatusTooManyRequests {
			t.Errorf("after five failures, %s with a wrong token: status %d, want 429", path, r.StatusCode)
		}
		if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s <= 0 || s > 15*60 {
			t.Errorf("Retry-After = %q, want seconds up to 15 minutes", r.Header.Get("Retry-After"))
		}
		// A stranger's guesses never lock the operators out.
		if r := send("127.0.0.1", path, adminToken); r.StatusCode != http.StatusOK {
			t.Errorf("after five failures, %s with the right token: status %d, want 200", path, r.StatusCode)
		}
	}
	if r := send("127.0.0.2", "/api/v1/stats", adminToken); r.StatusCode != http.StatusOK {
		t.Errorf("another client with the right token: status %d, want 200", r.StatusCode)
	}
	h.clock.Advance(15 * time.Minute)
	if r := send("127.0.0.1", "/api/v1/stats", adminToken); r.StatusCode != http.StatusOK {
		t.Errorf("once the window has passed, the right token: status %d, want 200", r.StatusCode)
	}
}

// listed returns the addresses of a subscriber list answer.
func listed(t *testing.T, r response) []string {
	t.Helper()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200: %s", r.StatusCode, r.body)
	}
	var subs []struct{ Email string }
	decode(t, r, &subs)
	if subs == nil {
		t.Fatalf("answer %q is not a JSON array", r.body)
	}
	var emails []string
	for _, s := range subs {
		emails = append(emails, s.Email)
	}
	return emails
}

func TestAdminListsSubscribersByStatus(t *testing.T) {
	h := newHarness(t, options{AdminToken: adminToken})
	if got := listed(t, h.admin(http.MethodGet, "/api/v1/subscribers")); len(got) != 0 {
		t.Fatalf("empty list = %v", got)
	}
	h.subscribe("pending@example.org")
	h.confirmed("confirmed@example.org")
	h.postForm(h.confirmed("unsubscribed@example.org"), nil)

	tests := []struct {
		status string
		want   []string
	}{
		{"", []string{"pending@example.org", "confirmed@example.org", "unsubscribed@example.org"}},
		{"pending", []string{"pending@example.org"}},
		{"confirmed", []string{"confirmed@example.org"}},
		{"unsubscribed", []string{"unsubscribed@example.org"}},
		{"bounced", nil},
	}
	for _, tt := range tests {
		got := listed(t, h.admin(http.MethodGet, "/api/v1/subscribers?status="+tt.status))
		if !slices.Equal(got, tt.want) {
			t.Errorf("status=%s lists %v, want %v", tt.status, got, tt.want)
		}
	}
	r := h.admin(http.MethodGet, "/api/v1/subscribers?status=sleeping")
	if r.StatusCode != http.StatusBadRequest {
		t.Errorf("an unknown status: %d, want 400", r.StatusCode)
	}
	jsonError(t, r)
}

func TestAdminGetsOneSubscriberByAddress(t *testing.T) {
	h := newHarness(t, options{AdminToken: adminToken, Topics: []alertd.Topic{{ID: "economy", Name: "Economy"}}})
	h.confirmed("Carol@example.org", "economy")
	wantKeys := []string{"confirmed_at", "created_at", "email", "frequency", "lang", "status", "topics", "unsubscribed_at"}
	for _, path := range []string{
		"/api/v1/subscribers/Carol@example.org",
		"/api/v1/subscribers/carol@EXAMPLE.org",
		"/api/v1/subscribers/" + url.PathEscape("Carol@example.org"),
		"/api/v1/subscribers/Carol%40example.org", // as JavaScript's encodeURIComponent writes it
	} {
		r := h.admin(http.MethodGet, path)
		if r.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200: %s", path, r.StatusCode, r.body)
			continue
		}
		var sub map[string]any
		decode(t, r, &sub)
		if keys := slices.Sorted(maps.Keys(sub)); !slices.Equal(keys, wantKeys) {
			t.Errorf("fields = %v, want %v", keys, wantKeys)
		}
		if sub["email"] != "Carol@example.org" || sub["status"] != "confirmed" || sub["unsubscribed_at"] != nil ||
			fmt.Sprint(sub["topics"]) != "[economy]" {
			t.Errorf("subscriber = %v", sub)
		}
	}
	r := h.admin(http.MethodGet, "/api/v1/subscribers/nobody@example.org")
	if r.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown address: %d, want 404", r.StatusCode)
	}
	jsonError(t, r)
}

func TestAdminEraseRemovesTheSubscriberAndTheFormStillAnswersAlike(t *testing.T) {
	h := newHarness(t, options{AdminToken: adminToken})
	h.confirmed("bob@example.org")
	if r := h.admin(http.MethodDelete, "/api/v1/subscribers/bob@example.org"); r.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE = %d, want 204: %s", r.StatusCode, r.body)
	}
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		if r := h.admin(method, "/api/v1/subscribers/bob@example.org"); r.StatusCode != http.StatusNotFound {
			t.Errorf("%s after erasing = %d, want 404", method, r.StatusCode)
		}
	}
	wantStatus, wantHeader, wantBody := withoutDate(h.subscribe("new@example.org"))
	status, header, body := withoutDate(h.subscribe("bob@example.org"))
	if status != wantStatus || body != wantBody || !maps.EqualFunc(header, wantHeader, slices.Equal) {
		t.Errorf("signing up an erased address answers %d %v %q; a new one %d %v %q",
			status, header, body, wantStatus, wantHeader, wantBody)
	}
}

func TestAdminStatsCountSubscribersAndMessages(t *testing.T) {
	h := newHarness(t, options{AdminToken: adminToken})
	h.subscribe("pending@example.org")
	h.confirmed("confirmed@example.org")
	r := h.admin(http.MethodGet, "/api/v1/stats")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200: %s", r.StatusCode, r.body)
	}
	var stats struct {
		Subscribers map[string]int  `json:"subscribers"`
		Messages    map[string]int  `json:"messages"`
		LastDigest  *map[string]any `json:"last_digest"`
		NextDigest  time.Time       `json:"next_digest"`
	}
	decode(t, r, &stats)
	wantSubscribers := map[string]int{"pending": 1, "confirmed": 1, "unsubscribed": 0, "bounced": 0}
	if !maps.Equal(stats.Subscribers, wantSubscribers) {
		t.Errorf("subscribers = %v, want %v", stats.Subscribers, wantSubscribers)
	}
	if stats.Messages["queued"] != 1 {
		t.Errorf("messages = %v, want the one queued confirmation", stats.Messages)
	}
	if stats.LastDigest != nil {
		t.Errorf("last_digest = %v, want null before any digest", *stats.LastDigest)
	}
	if want := h.clock.Now().Add(24 * time.Hour); !stats.NextDigest.Equal(want) {
		t.Errorf("next_digest = %v, want %v", stats.NextDigest, want)
	}
}

func TestAdminFailuresAreLoggedWithTheirCauseAndAnsweredWithoutIt(t *testing.T) {
	h := newHarness(t, options{AdminToken: adminToken})
	h.closeStore()
	for _, req := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/subscribers"},
		{http.MethodGet, "/api/v1/subscribers/someone@example.org"},
		{http.MethodDelete, "/api/v1/subscribers/someone@example.org"},
		{http.MethodGet, "/api/v1/stats"},
		{http.MethodGet, "/api/v1/reports"},
		{http.MethodDelete, "/api/v1/reports/1"},
		{http.MethodPost, "/api/v1/digests"},
		{http.MethodGet, "/api/v1/digests/1"},
	} {
		t.Run(req.method+" "+req.path, func(t *testing.T) {
			r := h.in(t).admin(req.method, req.path)
			if r.StatusCode != http.StatusInternalServerError {
				t.Errorf("status = %d, want 500: %s", r.StatusCode, r.body)
			}
			if message := jsonError(t, r); strings.Contains(message, "sql") || strings.Contains(message, "closed") {
				t.Errorf("the answer %q shows the cause", message)
			}
			if !loggedFailure(h.logs.String(), req.path, "is closed") {
				t.Errorf("the failure is not logged with its cause; log:\n%s", h.logs)
			}
		})
	}
}
