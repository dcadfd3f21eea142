package web

import (
	"net/netip"
	"testing"
	"time"
)

func TestLimiterMemoryStaysBoundedAndKeepsTheBusiestClients(t *testing.T) {
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	const capacity = 100
	lim := newLimiter(3, time.Hour, capacity, func() time.Time { return now })
	busy := clientKey(netip.MustParseAddr("2001:db8:ffff::1"))
	for range 3 {
		if _, ok := lim.take(busy); !ok {
			t.Fatal("the busy client was refused within its limit")
		}
	}
	for i := range 100_000 {
		var a [16]byte
		a[0], a[1], a[2], a[3], a[4] = 0x20, 0x01, byte(i>>16), byte(i>>8), byte(i)
		lim.take(clientKey(netip.AddrFrom16(a)))
		if i%(capacity/2) == 0 {
			if _, ok := lim.take(busy); ok {
				t.Fatalf("after %d other clients, the busy client got past its limit", i+1)
			}
		}
		if n := lim.size(); n > capacity {
			t.Fatalf("after %d clients the limiter holds %d entries, want at most %d", i+1, n, capacity)
		}
	}
}
