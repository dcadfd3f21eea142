package web_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/alertd/alertd"
)

func TestUnsubscribePageChangesNothing(t *testing.T) {
	h := newHarness(t, options{})
	link := h.confirmed("bob@example.org")
	r := h.get(link)
	for _, want := range []string{`<form method="post">`, `Unsubscribe</button>`, "bob@example.org"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the page lacks %s:\n%s", want, r.body)
		}
	}
	if r.StatusCode != http.StatusOK {
		t.Errorf("status = %d, want 200", r.StatusCode)
	}
	if s := h.status("bob@example.org"); s != alertd.StatusConfirmed {
		t.Errorf("after GET the status is %s, want confirmed", s)
	}
}

func TestUnsubscribePostUnsubscribesAtOnceWithoutRedirectOrCookie(t *testing.T) {
	var multipartBody bytes.Buffer
	mw := multipart.NewWriter(&multipartBody)
	mw.WriteField("List-Unsubscribe", "One-Click")
	mw.Close()
	tests := []struct{ name, contentType, body string }{
		{"RFC 8058 one-click, urlencoded", "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click"},
		{"RFC 8058 one-click, multipart", mw.FormDataContentType(), multipartBody.String()},
		{"the page's button", "application/x-www-form-urlencoded", ""},
		{"an unreadable body", "multipart/form-data", "List-Unsubscribe=One-Click"},
	}
	h := newHarness(t, options{})
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.in(t)
			email := "reader" + strconv.Itoa(i) + "@example.org"
			link := h.confirmed(email)
			for range 2 { // a second POST is harmless
				r := h.do(h.request(http.MethodPost, link, tt.contentType, strings.NewReader(tt.body)))
				if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "You are unsubscribed") {
					t.Errorf("status = %d, want 200 and the unsubscribed page:\n%s", r.StatusCode, r.body)
				}
				if loc, cookie := r.Header.Get("Location"), r.Header.Get("Set-Cookie"); loc != "" || cookie != "" {
					t.Errorf("Location %q, Set-Cookie %q; want neither", loc, cookie)
				}
			}
			if s := h.status(email); s != alertd.StatusUnsubscribed {
				t.Errorf("status = %s, want unsubscribed", s)
			}
		})
	}
}

func TestUnsubscribeAnswers404ForAnUnknownOrTamperedLink(t *testing.T) {
	h := newHarness(t, options{})
	link := h.confirmed("bob@example.org")
	erased := h.confirmed("eve@example.org")
	if err := h.subs.Erase(context.Background(), "eve@example.org"); err != nil {
		t.Fatal(err)
	}
	id, mac, _ := strings.Cut(strings.TrimPrefix(link, "/unsubscribe/"), ".")
	otherID, _ := strconv.Atoi(id)
	flipped := []byte(mac)
	flipped[0] ^= 'A' ^ 'B'
	tests := []struct{ name, path string }{
		{"garbage", "/unsubscribe/nonsense"},
		{"altered MAC", "/unsubscribe/" + id + "." + string(flipped)},
		{"MAC of another subscriber", "/unsubscribe/" + strconv.Itoa(otherID+1) + "." + mac},
		{"truncated", link[:len(link)-1]},
		{"erased subscriber", erased},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.in(t)
			get := h.get(tt.path)
			post := h.postForm(tt.path, url.Values{"List-Unsubscribe": {"One-Click"}})
			for _, r := range []response{get, post} {
				if r.StatusCode != http.StatusNotFound || !strings.Contains(r.body, "not valid") {
					t.Errorf("%s = %d, want 404 saying the link is not valid:\n%s", r.Request.Method, r.StatusCode, r.body)
				}
			}
		})
	}
	if s := h.status("bob@example.org"); s != alertd.StatusConfirmed {
		t.Errorf("status = %s, want confirmed", s)
	}
}

func TestUnsubscribePageOffersTopicsAndSavesTheChoice(t *testing.T) {
	topics := []alertd.Topic{{ID: "economy", Name: "Economy"}, {ID: "health", Name: "Health"}}
	h := newHarness(t, options{Topics: topics})
	link := h.confirmed("bob@example.org", "economy")

	page := h.get(link).body
	for _, want := range []string{
		`name="preferences"`,
		`<input type="checkbox" name="topics" value="economy" checked> Economy`,
		`<input type="checkbox" name="topics" value="health"> Health`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s:\n%s", want, page)
		}
	}

	r := h.postForm(link, url.Values{"preferences": {"1"}, "topics": {"health"}})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("saving topics: status %d, want 200:\n%s", r.StatusCode, r.body)
	}
	sub, _ := h.subscriber("bob@example.org")
	if sub.Status != alertd.StatusConfirmed || !slices.Equal(sub.Topics, []string{"health"}) {
		t.Errorf("subscriber is %s with topics %v, want confirmed with [health]", sub.Status, sub.Topics)
	}

	r = h.postForm(link, url.Values{"preferences": {"1"}, "topics": {"sport"}})
	if r.StatusCode != http.StatusBadRequest {
		t.Errorf("an unknown topic: status %d, want 400", r.StatusCode)
	}
	if sub, _ := h.subscriber("bob@example.org"); !slices.Equal(sub.Topics, []string{"health"}) {
		t.Errorf("after an unknown topic the topics are %v, want [health]", sub.Topics)
	}
}

func TestUnsubscribePageHasNoTopicsWhenNoneAreConfigured(t *testing.T) {
	h := newHarness(t, options{})
	page := h.get(h.confirmed("bob@example.org")).body
	if strings.Contains(page, `name="topics"`) || strings.Contains(page, `name="preferences"`) {
		t.Errorf("the page offers topics though none are configured:\n%s", page)
	}
}
