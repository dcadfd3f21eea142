package catalogue

import (
	"net/http"
	"net/netip"
	"slices"
	"time"
)

// NonPublic is nonPublic, for its table test.
var NonPublic = nonPublic

// NewClientOver is the client NewClient(false) returns, built on base (a
// test server's TLS settings), except that the addresses in public count as
// public ones: a test's servers all listen on loopback.
func NewClientOver(base *http.Transport, public ...netip.AddrPort) *http.Client {
	return newClient(base, func(addr netip.AddrPort) error {
		if slices.Contains(public, addr) {
			return nil
		}
		return checkPublic(addr)
	})
}

// SetPagesBudget sets the time one poll of an HTML source may take, until
// the test ends.
func SetPagesBudget(t interface{ Cleanup(func()) }, d time.Duration) {
	old := pagesBudget
	pagesBudget = d
	t.Cleanup(func() { pagesBudget = old })
}
