package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/alertd/alertd"
)

// jsonBody marshals v, as a client would send it.
func jsonBody(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jsonError decodes an answer that must be exactly {"error": "..."}.
func jsonError(t *testing.T, r response) string {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || len(body) != 1 || body["error"] == "" {
		t.Errorf("body = %s, want {\"error\": message}", r.body)
	}
	return body["error"]
}

func TestSubscribeRefusesABadAddressWithAClearMessage(t *testing.T) {
	longAddress := strings.Repeat("a", 64) + "@" + strings.Repeat(strings.Repeat("b", 62)+".", 3) + "org"
	tests := []struct {
		name, email string
		says        string // part of the message shown to the reader
		jsonSays    string // when JSON differs: its decoder reads invalid UTF-8 as U+FFFD
	}{
		{name: "display name", email: "Bob <bob@example.org>", says: "without a name"},
		{name: "list of two", email: "bob@example.org, eve@example.org", says: "not a list"},
		{name: "CR LF", email: "bob\r\n@example.org", says: "cannot contain spaces"},
		{name: "NUL", email: "bob\x00@example.org", says: "control characters"},
		{name: "over 254 octets", email: longAddress, says: "too long"},
		{name: "no dot in the domain", email: "bob@localhost", says: "domain name like example.org"},
		{name: "invalid UTF-8", email: "b\xffob@example.org", says: "could not be read", jsonSays: "part before the @"},
		{name: "empty", email: "", says: "Enter your e-mail address"},
		{name: "only spaces", email: "   ", says: "Enter your e-mail address"},
		{name: "markup", email: "<script>x</script>@evil.org", says: "without a name"},
	}
	h := newHarness(t, options{})
	for _, tt := range tests {
		t.Run(tt.name+"/form", func(t *testing.T) {
			h := h.in(t)
			r := h.subscribe(tt.email)
			if r.StatusCode != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400", r.StatusCode)
			}
			for _, want := range []string{`<form`, `aria-invalid="true"`, `role="alert"`, tt.says} {
				if !strings.Contains(r.body, want) {
					t.Errorf("the form page lacks %q:\n%s", want, r.body)
				}
			}
			// The address is shown back in the field, escaped.
			if strings.Contains(r.body, "<script") || strings.Contains(r.body, "\x00") || !utf8.ValidString(r.body) {
				t.Errorf("the page shows the input unescaped:\n%s", r.body)
			}
		})
		t.Run(tt.name+"/json", func(t *testing.T) {
			h := h.in(t)
			r := h.postJSON("/subscribe", jsonBody(t, map[string]string{"email": tt.email}))
			if r.StatusCode != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400", r.StatusCode)
			}
			want := tt.says
			if tt.jsonSays != "" {
				want = tt.jsonSays
			}
			if msg := jsonError(t, r); !strings.Contains(msg, want) {
				t.Errorf("error = %q, want it to say %q", msg, want)
			}
		})
	}
	if n := h.subscriberCount(); n != 0 {
		t.Errorf("%d subscribers stored from bad addresses, want 0", n)
	}
}

func TestSubscribeShowsTheRefusedAddressEscapedInTheField(t *testing.T) {
	h := newHarness(t, options{})
	r := h.subscribe("<script>x</script>@evil.org")
	if want := `value="&lt;script&gt;x&lt;/script&gt;@evil.org"`; !strings.Contains(r.body, want) {
		t.Errorf("the field does not hold the escaped input %s:\n%s", want, r.body)
	}
}

func TestSubscribeRefusesAnUnreadableBodyWith400(t *testing.T) {
	tests := []struct{ name, contentType, body string }{
		{"JSON syntax", "application/json", `{"email":`},
		{"JSON unknown field", "application/json", `{"email":"bob@example.org","name":"Bob"}`},
		{"JSON trailing data", "application/json", `{"email":"bob@example.org"} {"email":"eve@example.org"}`},
		{"JSON wrong type", "application/json", `{"email":["bob@example.org"]}`},
		{"JSON unknown topic", "application/json", `{"email":"bob@example.org","topics":["nope"]}`},
		{"form bad escape", "application/x-www-form-urlencoded", "email=bob%zz@example.org"},
		{"multipart without boundary", "multipart/form-data", "email=bob@example.org"},
	}
	h := newHarness(t, options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.in(t)
			r := h.do(h.request(http.MethodPost, "/subscribe", tt.contentType, strings.NewReader(tt.body)))
			if r.StatusCode != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400; body:\n%s", r.StatusCode, r.body)
			}
			if tt.contentType == "application/json" {
				jsonError(t, r)
			}
		})
	}
	if n := h.subscriberCount(); n != 0 {
		t.Errorf("%d subscribers stored from bad bodies, want 0", n)
	}
}

// chunked hides the body's length from the client, so it is sent chunked.
type chunked struct{ io.Reader }

func TestSubscribeRefusesABodyOver64KiBWith413(t *testing.T) {
	huge := strings.Repeat("a", 65<<10) + "@example.org"
	var multipartBody bytes.Buffer
	mw := multipart.NewWriter(&multipartBody)
	mw.WriteField("email", huge)
	mw.Close()
	tests := []struct {
		name, contentType, body string
		chunked                 bool
	}{
		{"JSON with Content-Length", "application/json", jsonBody(t, map[string]string{"email": huge}), false},
		{"JSON chunked", "application/json", jsonBody(t, map[string]string{"email": huge}), true},
		{"form with Content-Length", "application/x-www-form-urlencoded", "email=" + huge, false},
		{"form chunked", "application/x-www-form-urlencoded", "email=" + huge, true},
		{"multipart chunked", mw.FormDataContentType(), multipartBody.String(), true},
	}
	h := newHarness(t, options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.in(t)
			var body io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				body = chunked{body}
			}
			req := h.request(http.MethodPost, "/subscribe", tt.contentType, body)
			if tt.chunked != (req.ContentLength == 0) {
				t.Fatalf("request ContentLength = %d, chunked = %v", req.ContentLength, tt.chunked)
			}
			r := h.do(req)
			if r.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("status = %d, want 413; body:\n%.300s", r.StatusCode, r.body)
			}
			if tt.contentType == "application/json" {
				jsonError(t, r)
			}
		})
	}
	if n := h.subscriberCount(); n != 0 {
		t.Errorf("%d subscribers stored from oversized bodies, want 0", n)
	}
}

// withoutDate is the part of an answer that must not depend on the address.
func withoutDate(r response) (int, http.Header, string) {
	header := r.Header.Clone()
	header.Del("Date")
	return r.StatusCode, header, r.body
}

func TestSubscribeAnswersAlikeWhateverTheAddressState(t *testing.T) {
	h := newHarness(t, options{})
	ctx := context.Background()
	states := []struct {
		name  string
		setup func(email string) string // returns the address to sign up with
	}{
		{"new", func(email string) string { return email }},
		{"pending", func(email string) string { h.subscribe(email); return email }},
		{"confirmed", func(email string) string { h.confirmed(email); return email }},
		{"confirmed, other case", func(email string) string { h.confirmed(email); return strings.ToUpper(email) }},
		{"unsubscribed", func(email string) string {
			h.postForm(h.confirmed(email), url.Values{"List-Unsubscribe": {"One-Click"}})
			return email
		}},
		{"erased", func(email string) string {
			h.confirmed(email)
			if err := h.subs.Erase(ctx, email); err != nil {
				t.Fatal(err)
			}
			return email
		}},
	}
	encodings := []struct {
		name string
		send func(email string) response
		want func(t *testing.T, r response)
	}{
		{"form", h.subscribe, func(t *testing.T, r response) {
			if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/subscribe/check-email" {
				t.Errorf("answer = %d to %q, want 303 to /subscribe/check-email", r.StatusCode, r.Header.Get("Location"))
			}
		}},
		{"json", func(email string) response {
			return h.postJSON("/subscribe", jsonBody(t, map[string]string{"email": email}))
		}, func(t *testing.T, r response) {
			if r.StatusCode != http.StatusAccepted || strings.TrimSpace(r.body) != `{"status":"check-email"}` {
				t.Errorf("answer = %d %s, want 202 {\"status\":\"check-email\"}", r.StatusCode, r.body)
			}
		}},
	}
	for _, enc := range encodings {
		reference := enc.send("reference-" + enc.name + "@example.org")
		enc.want(t, reference)
		wantStatus, wantHeader, wantBody := withoutDate(reference)
		for i, state := range states {
			email := state.setup(enc.name + strconv.Itoa(i) + "@example.org")
			status, header, body := withoutDate(enc.send(email))
			if status != wantStatus || body != wantBody || !maps.EqualFunc(header, wantHeader, slices.Equal) {
				t.Errorf("%s, %s address: answer differs from a new address's:\n got %d %v %q\nwant %d %v %q",
					enc.name, state.name, status, header, body, wantStatus, wantHeader, wantBody)
			}
		}
	}
}

func TestSubscribeSendsNoConfirmationToAConfirmedAddress(t *testing.T) {
	h := newHarness(t, options{})
	h.confirmed("bob@example.org")
	for _, email := range []string{"bob@example.org", "Bob@Example.ORG"} {
		h.subscribe(email)
	}
	if n := h.confirmationsQueued("bob@example.org"); n != 0 {
		t.Errorf("%d confirmations queued for a confirmed address, want 0", n)
	}
	if s := h.status("bob@example.org"); s != alertd.StatusConfirmed {
		t.Errorf("status = %s, want confirmed", s)
	}
}

func TestSubscribeQueuesConfirmationsAtMostOncePerCooldownAndThreeADay(t *testing.T) {
	h := newHarness(t, options{})
	start := h.clock.Now()
	steps := []struct {
		at   time.Duration // since the first sign-up
		want int           // confirmations queued so far
	}{
		{0, 1},
		{time.Minute, 1},                    // within resend_cooldown
		{9*time.Minute + 59*time.Second, 1}, // still within
		{11 * time.Minute, 2},
		{15 * time.Minute, 2},
		{22 * time.Minute, 3},
		{40 * time.Minute, 3},              // past the cool-down, but the day's three are used
		{24*time.Hour - time.Minute, 3},    // all three are within the last 24 h
		{24*time.Hour + 12*time.Minute, 4}, // only the one at 22m is within the last 24 h
	}
	for _, step := range steps {
		h.clock.Advance(start.Add(step.at).Sub(h.clock.Now()))
		if r := h.subscribe("bob@example.org"); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("at %v: status %d, want 303", step.at, r.StatusCode)
		}
		if got := h.confirmationsQueued("bob@example.org"); got != step.want {
			t.Errorf("after the sign-up at %v: %d confirmations queued, want %d", step.at, got, step.want)
		}
	}
}

func TestSubscribeLimitsRequestsPerClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	tests := []struct {
		name    string
		proxies []netip.Prefix
		// The first three requests come from (peer, X-Forwarded-For) of
		// limited; the fourth from limited again must be refused and the
		// one from other accepted.
		limited, other [2]string
	}{
		{"peer address", nil, [2]string{"127.0.0.1", ""}, [2]string{"127.0.0.2", ""}},
		{"X-Forwarded-For from an untrusted peer is ignored", nil,
			[2]string{"127.0.0.1", "203.0.113.1"}, [2]string{"127.0.0.2", "203.0.113.1"}},
		{"client behind a trusted proxy", proxies,
			[2]string{"127.0.0.1", "203.0.113.1"}, [2]string{"127.0.0.1", "203.0.113.2"}},
		{"client behind two trusted proxies", proxies,
			[2]string{"127.0.0.1", "203.0.113.1, 127.0.0.9"}, [2]string{"127.0.0.1", "198.51.100.1, 127.0.0.9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, options{PerIPPerHour: 3, TrustedProxies: tt.proxies})
			sent := 0
			send := func(from [2]string, contentType, body string) response {
				req := h.request(http.MethodPost, "/subscribe", contentType, strings.NewReader(body))
				if from[1] != "" {
					req.Header.Set("X-Forwarded-For", from[1])
				}
				return h.doFrom(from[0], req)
			}
			form := func() string {
				sent++
				return url.Values{"email": {"reader" + strconv.Itoa(sent) + "@example.org"}}.Encode()
			}
			const formType = "application/x-www-form-urlencoded"
			for i := range 3 {
				// A spoofed header must not buy an untrusted client more requests.
				from := tt.limited
				if tt.proxies == nil && from[1] != "" {
					from[1] = "192.0.2." + strconv.Itoa(i)
				}
				if r := send(from, formType, form()); r.StatusCode != http.StatusSeeOther {
					t.Fatalf("request %d: status %d, want 303", i+1, r.StatusCode)
				}
			}
			before := h.subscriberCount()
			for _, r := range []response{
				send(tt.limited, formType, form()),
				send(tt.limited, "application/json", `{"email":"json@example.org"}`),
			} {
				if r.StatusCode != http.StatusTooManyRequests {
					t.Errorf("request over the limit: status %d, want 429", r.StatusCode)
				}
				if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s <= 0 {
					t.Errorf("Retry-After = %q, want a number of seconds", r.Header.Get("Retry-After"))
				}
			}
			if n := h.subscriberCount(); n != before {
				t.Errorf("refused requests stored %d subscribers", n-before)
			}
			if r := send(tt.other, formType, form()); r.StatusCode != http.StatusSeeOther {
				t.Errorf("another client: status %d, want 303", r.StatusCode)
			}
		})
	}
}

func TestSubscribeLimitCountsAnIPv6NetworkAsOneClient(t *testing.T) {
	h := newHarness(t, options{PerIPPerHour: 3, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	sent := 0
	from := func(client string) int {
		sent++
		req := h.request(http.MethodPost, "/subscribe", "application/x-www-form-urlencoded",
			strings.NewReader(url.Values{"email": {"reader" + strconv.Itoa(sent) + "@example.org"}}.Encode()))
		req.Header.Set("X-Forwarded-For", client)
		return h.do(req).StatusCode
	}
	// Three addresses of one /64 use up its budget together.
	for _, client := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff:ffff:ffff:ffff"} {
		if status := from(client); status != http.StatusSeeOther {
			t.Fatalf("%s: status %d, want 303", client, status)
		}
	}
	if status := from("2001:db8:1:2:1234::5"); status != http.StatusTooManyRequests {
		t.Errorf("a fourth address of the same /64: status %d, want 429", status)
	}
	if status := from("2001:db8:1:3::1"); status != http.StatusSeeOther {
		t.Errorf("the next /64: status %d, want 303", status)
	}
	// An IPv4-mapped address is the IPv4 client it maps.
	for range 3 {
		from("203.0.113.7")
	}
	if status := from("::ffff:203.0.113.7"); status != http.StatusTooManyRequests {
		t.Errorf("an IPv4 client over its limit, written IPv4-mapped: status %d, want 429", status)
	}
	if status := from("203.0.113.8"); status != http.StatusSeeOther {
		t.Errorf("the next IPv4 address: status %d, want 303", status)
	}
}

func TestSubscribeHoneypotAnswersAsUsualAndRecordsNothing(t *testing.T) {
	h := newHarness(t, options{})
	r := h.postForm("/subscribe", url.Values{"email": {"bot@example.org"}, "website": {"http://spam.example"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/subscribe/check-email" {
		t.Errorf("answer = %d to %q, want 303 to /subscribe/check-email", r.StatusCode, r.Header.Get("Location"))
	}
	if n, m := h.subscriberCount(), h.outboxSize(); n != 0 || m != 0 {
		t.Errorf("the honeypot stored %d subscribers and %d messages, want none", n, m)
	}
}

func TestCrossOriginPostsAreRefusedExceptOneClickUnsubscribe(t *testing.T) {
	h := newHarness(t, options{TrustedOrigins: []string{"https://partner.example"}})
	unsubscribe := h.confirmed("bob@example.org")
	tests := []struct {
		name, path string
		headers    map[string]string
		want       int
	}{
		{"no browser headers", "/subscribe", nil, http.StatusSeeOther},
		{"same-origin fetch", "/subscribe", map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusSeeOther},
		{"same origin", "/subscribe", map[string]string{"Origin": h.url}, http.StatusSeeOther},
		{"cross-site fetch", "/subscribe", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"another site's origin", "/subscribe", map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"trusted origin", "/subscribe", map[string]string{"Origin": "https://partner.example"}, http.StatusSeeOther},
		{"trusted origin, cross-site fetch", "/subscribe",
			map[string]string{"Origin": "https://partner.example", "Sec-Fetch-Site": "cross-site"}, http.StatusSeeOther},
		{"cross-site confirm", "/confirm/some-token", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"one-click unsubscribe from a mail provider", unsubscribe,
			map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://mail.example"}, http.StatusOK},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.in(t)
			form := url.Values{"email": {"reader" + strconv.Itoa(i) + "@example.org"}, "List-Unsubscribe": {"One-Click"}}
			req := h.request(http.MethodPost, tt.path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			r := h.do(req)
			if r.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d", r.StatusCode, tt.want)
			}
			_, stored := h.subscriber(form.Get("email"))
			if stored != (tt.path == "/subscribe" && tt.want == http.StatusSeeOther) {
				t.Errorf("subscriber stored = %v after a %d answer", stored, r.StatusCode)
			}
		})
	}
	if s := h.status("bob@example.org"); s != alertd.StatusUnsubscribed {
		t.Errorf("after the one-click POST the status is %s, want unsubscribed", s)
	}
}
