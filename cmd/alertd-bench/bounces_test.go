//go:build unix

package main

import (
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/bounce"
)

// TestBenchDSNsAreReadAsMeant checks that the bench's DSNs are what it
// counts on: RFC 3464 reports that alertd's reader takes as a hard
// failure, or every softEvery-th as a soft delay, of the message's
// recipient, quoting the VERP address as the original's Return-Path.
func TestBenchDSNsAreReadAsMeant(t *testing.T) {
	e := envelope{from: "bounces+7-abcdefghijklmnop@" + benchBounceDomain, to: subscriberAddress(7)}
	for i, want := range map[int]alertd.BounceKind{0: alertd.BounceHard, softEvery - 1: alertd.BounceSoft} {
		r, err := bounce.Read([]byte(dsn(i, e, time.Now())))
		if err != nil {
			t.Fatalf("DSN %d: %v", i, err)
		}
		if r.Type != bounce.TypeDSN || len(r.Recipients) != 1 {
			t.Fatalf("DSN %d read as %s with %d recipients", i, r.Type, len(r.Recipients))
		}
		rc := r.Recipients[0]
		if kind, ok := rc.Kind(); !ok || kind != want || rc.Final != e.to {
			t.Errorf("DSN %d: %+v is %q, want %q for %s", i, rc, kind, want, e.to)
		}
		if got := r.Original.Get("Return-Path"); got != "<"+e.from+">" {
			t.Errorf("DSN %d quotes Return-Path %q", i, got)
		}
	}
}
