package catalogue

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// fetchTimeout bounds one fetch, redirects and body included.
const fetchTimeout = time.Minute

// maxRedirects is net/http's own limit, kept.
const maxRedirects = 10

// NewClient returns the HTTP client for feed sources and `reports import
// URL`. A feed's URL, and every redirect it answers with, come from outside:
// unless allowPrivate, the client connects only to public addresses. Each
// address is checked as it is dialled, after DNS resolution, so neither a
// redirect nor a name that resolves (or, later, re-resolves) to a private
// address gets through. A redirect from https to http is never followed.
func NewClient(allowPrivate bool) *http.Client {
	base := http.DefaultTransport.(*http.Transport)
	if allowPrivate {
		return newClient(base, nil)
	}
	return newClient(base, checkPublic)
}

// newClient builds on base's settings; check, when not nil, vets every
// address before it is connected to.
func newClient(base *http.Transport, check func(netip.AddrPort) error) *http.Client {
	transport := base.Clone()
	if check != nil {
		dialer := &net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
			ControlContext: func(_ context.Context, _, address string, _ syscall.RawConn) error {
				addr, err := netip.ParseAddrPort(address)
				if err != nil {
					return &refusal{fmt.Sprintf("%s is not an IP address and port", address)}
				}
				return check(addr)
			},
		}
		transport.DialContext = dialer.DialContext
		// Through a proxy, the address dialled would be the proxy's, and the
		// destination's could not be checked.
		transport.Proxy = nil
	}
	return &http.Client{Timeout: fetchTimeout, Transport: transport, CheckRedirect: checkRedirect}
}

// refusal is a destination a fetch will not go to.
type refusal struct{ reason string }

func (r *refusal) Error() string { return r.reason }

func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if from := via[len(via)-1].URL; from.Scheme == "https" && req.URL.Scheme != "https" {
		return &refusal{fmt.Sprintf("it is where %s redirects to, and a redirect from https to http is never followed", from.Redacted())}
	}
	return nil
}

func checkPublic(addr netip.AddrPort) error {
	if kind := nonPublic(addr.Addr()); kind != "" {
		return &refusal{fmt.Sprintf("%s is %s; set fetch.allow_private_networks = true to allow such destinations", addr.Addr(), kind)}
	}
	return nil
}

// nat64 is the well-known NAT64 prefix: its last 32 bits are the IPv4
// address a NAT64 gateway connects to.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// specialPurpose lists the blocks that netip's predicates do not cover and
// that are no public destination: those of IANA's special-purpose
// registries, and IPv6 site-local.
var specialPurpose = []struct {
	prefix netip.Prefix
	kind   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), `a "this network" address`},
	{netip.MustParsePrefix("100.64.0.0/10"), "a shared (carrier-grade NAT) address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "a reserved address"},
	{netip.MustParsePrefix("192.0.2.0/24"), "a documentation address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "a documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "a documentation address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a local NAT64 address"},
	{netip.MustParsePrefix("100::/64"), "a discard address"},
	// Deprecated (RFC 3879), yet still routed inside some networks.
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address"},
}

// nonPublic says what kind of non-public address a is, or "" for a public one.
func nonPublic(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		return "a loopback address"
	case a.IsUnspecified():
		return "an unspecified address"
	case a.IsPrivate():
		return "a private address"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return "a link-local address"
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		return "a multicast address"
	case nat64.Contains(a):
		b := a.As16()
		return nonPublic(netip.AddrFrom4([4]byte(b[12:])))
	}
	for _, s := range specialPurpose {
		if s.prefix.Contains(a) {
			return s.kind
		}
	}
	return ""
}

// asRefusal finds a refusal in a client's error and says it with the URL it
// was about: for a redirect, the URL redirected to.
func asRefusal(err error, requested string) error {
	var refused *refusal
	if !errors.As(err, &refused) {
		return nil
	}
	target := requested
	var uerr *url.Error
	if errors.As(err, &uerr) {
		target = uerr.URL
	}
	return fmt.Errorf("refusing to fetch %s: %s", target, refused.reason)
}
