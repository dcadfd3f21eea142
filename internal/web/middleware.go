package web

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// maxBody is the largest request body accepted.
const maxBody = 64 << 10

// limitBody refuses bodies over maxBody with 413, whether they announce their
// length or not. A JSON client is answered in JSON, as the handlers would.
// The dashboard's subscriber import and the webhooks set their own, larger
// limits.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && (r.URL.Path == adminImportPath || strings.HasPrefix(r.URL.Path, "/webhooks/")) {
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > maxBody {
			const tooLarge = "Request body too large: the limit is 64 KiB."
			if wantsJSON(r) {
				jsonError(w, http.StatusRequestEntityTooLarge, tooLarge)
			} else {
				http.Error(w, tooLarge, http.StatusRequestEntityTooLarge)
			}
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		next.ServeHTTP(w, r)
	})
}

// isTooLarge reports whether err came from reading past maxBody.
func isTooLarge(err error) bool {
	var tooLarge *http.MaxBytesError
	return errors.As(err, &tooLarge)
}

// securityHeaders sets the headers every response carries. The policy allows
// no script at all: the pages work without JavaScript.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// noReferrer keeps a token in the URL from leaking to the sites a page links to.
func noReferrer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// clientIPs finds the address of the client behind the trusted proxies.
type clientIPs struct{ trusted []netip.Prefix }

func (c clientIPs) isTrusted(ip netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// of returns the client's IP as text, for the consent record: the address
// addr finds, or the peer as given when it is not an IP address.
func (c clientIPs) of(r *http.Request) string {
	if ip := c.addr(r); ip.IsValid() {
		return ip.String()
	}
	return r.RemoteAddr
}

// addr returns the client's IP: the peer's, unless the peer is a trusted
// proxy, in which case X-Forwarded-For is walked from the right past trusted
// hops. It is the zero Addr when the peer is not an IP address.
func (c clientIPs) addr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	peer = peer.Unmap()
	if !c.isTrusted(peer) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		hop = hop.Unmap()
		if !c.isTrusted(hop) {
			return hop
		}
		peer = hop
	}
	return peer
}

// limitPerClient refuses a client's requests over what lim allows, with
// refused (which should answer 429).
func limitPerClient(lim *limiter, ips clientIPs, refused func(http.ResponseWriter, *http.Request)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if wait, ok := lim.take(clientKey(ips.addr(r))); !ok {
				w.Header().Set("Retry-After", retryAfterSeconds(wait))
				refused(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
