//go:build unix

package main

import (
	"testing"
	"time"
)

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
