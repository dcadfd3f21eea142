//go:build unix

package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestResolveFollowsThePagesLink checks that a "PAGE next PREFIX" line
// becomes the address the page links to, its HTML escapes undone, that a
// plain URL is left alone, and that a page without the link stops the run.
func TestResolveFollowsThePagesLink(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Cookie") == "" {
			http.Error(w, "not signed in", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `<a href="/admin/subscribers/7">one</a>
<nav><a href="/admin/subscribers?after=c2%3A12&amp;status=confirmed">Next page</a></nav>`)
	}))
	defer srv.Close()
	c := &benchClient{base: srv.URL, http: srv.Client(), session: &http.Cookie{Name: "alertd_session", Value: "s"}}
	ctx := context.Background()
	for _, tc := range []struct{ line, want string }{
		{"/admin/subscribers next /admin/subscribers?after=", "/admin/subscribers?after=c2%3A12&status=confirmed"},
		{"/admin/subscribers next /admin/subscribers/", "/admin/subscribers/7"},
		{"/admin/subscribers?q=a", "/admin/subscribers?q=a"},
	} {
		got, err := c.resolve(ctx, tc.line)
		if err != nil || got != tc.want {
			t.Errorf("resolve(%q) = %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}
	if got, err := c.resolve(ctx, "/admin/subscribers next /admin/reports?before="); err == nil {
		t.Errorf("resolve of a link the page lacks = %q, want an error", got)
	}
}

func TestPercentileNearestRank(t *testing.T) {
	// 1..100 ms in a shuffled order: the p-th percentile is p ms.
	var times []time.Duration
	for i := range 100 {
		times = append(times, time.Duration((i*37)%100+1)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := percentile(times, c.p); got != c.want {
			t.Errorf("p%v of 1..100 ms = %v, want %v", c.p, got, c.want)
		}
	}
	// Of 10 samples, p99 is the largest: one slow request in ten is not
	// hidden.
	few := []time.Duration{9, 1, 1, 1, 1, 1, 1, 1, 1, 1}
	if got := percentile(few, 99); got != 9 {
		t.Errorf("p99 of ten with one slow = %v, want 9ns", got)
	}
	if got := percentile(few, 50); got != 1 {
		t.Errorf("p50 of ten with one slow = %v, want 1ns", got)
	}
	if got := percentile(nil, 99); got != 0 {
		t.Errorf("p99 of none = %v, want 0", got)
	}
	if times[0] != 1*time.Millisecond || times[1] != 38*time.Millisecond {
		t.Error("percentile reordered its argument")
	}
}
