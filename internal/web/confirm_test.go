package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd"
)

// confirmButton is the one form a confirmation page holds: it posts back to
// the page's own URL.
const confirmButton = `<form method="post">`

func TestConfirmPageChangesNothingUntilTheButtonIsPressed(t *testing.T) {
	h := newHarness(t, options{Mail: true})
	h.subscribe("bob@example.org")
	link := h.confirmationLink("bob@example.org")

	for range 2 { // as a mail scanner and then the reader would
		r := h.get(link)
		if r.StatusCode != http.StatusOK || !strings.Contains(r.body, confirmButton) {
			t.Fatalf("GET %s = %d, want 200 with %s:\n%s", link, r.StatusCode, confirmButton, r.body)
		}
	}
	if s := h.status("bob@example.org"); s != alertd.StatusPending {
		t.Fatalf("after GET the status is %s, want pending", s)
	}

	for i := range 2 { // confirming twice is harmless
		r := h.postForm(link, nil)
		if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "You are subscribed") {
			t.Errorf("POST %d = %d, want 200 and the confirmed page:\n%s", i+1, r.StatusCode, r.body)
		}
	}
	sub, _ := h.subscriber("bob@example.org")
	if sub.Status != alertd.StatusConfirmed || sub.Consent.ConfirmIP != "127.0.0.1" || !sub.Consent.ConfirmAt.Equal(h.clock.Now()) {
		t.Errorf("subscriber = %s, confirmed from %q at %v; want confirmed from 127.0.0.1 at %v",
			sub.Status, sub.Consent.ConfirmIP, sub.Consent.ConfirmAt, h.clock.Now())
	}
	if r := h.get(link); r.StatusCode != http.StatusOK {
		t.Errorf("GET after confirming = %d, want 200", r.StatusCode)
	}
}

func TestConfirmAnswers410ForALinkThatNoLongerWorks(t *testing.T) {
	tests := []struct {
		name string
		// link returns the confirmation path to try.
		link func(h *harness) string
		want alertd.SubscriberStatus // of bob afterwards; "" when never signed up
	}{
		{"unknown token", func(h *harness) string {
			return "/confirm/" + strings.Repeat("A", 43)
		}, ""},
		{"expired", func(h *harness) string {
			h.subscribe("bob@example.org")
			link := h.confirmationLink("bob@example.org")
			h.clock.Advance(rules.ConfirmTTL + time.Second)
			return link
		}, alertd.StatusPending},
		{"unsubscribed since", func(h *harness) string {
			h.subscribe("bob@example.org")
			link := h.confirmationLink("bob@example.org")
			sub, _ := h.subscriber("bob@example.org")
			if err := h.subs.Unsubscribe(context.Background(), h.subs.UnsubscribeToken(sub.ID)); err != nil {
				h.t.Fatal(err)
			}
			return link
		}, alertd.StatusUnsubscribed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, options{Mail: true})
			link := tt.link(h)
			for _, r := range []response{h.get(link), h.postForm(link, nil)} {
				if r.StatusCode != http.StatusGone {
					t.Errorf("%s %s = %d, want 410", r.Request.Method, link, r.StatusCode)
				}
				if !strings.Contains(r.body, `<a href="/">Subscribe again</a>`) {
					t.Errorf("%s: the page does not offer to subscribe again:\n%s", r.Request.Method, r.body)
				}
			}
			if sub, ok := h.subscriber("bob@example.org"); ok && sub.Status != tt.want {
				t.Errorf("status = %s, want %s", sub.Status, tt.want)
			}
		})
	}
}
