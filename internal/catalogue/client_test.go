package catalogue_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/alertd/alertd/internal/catalogue"
)

func TestNonPublicAddresses(t *testing.T) {
	tests := []struct{ addr, kind string }{
		{"127.0.0.1", "a loopback address"},
		{"127.8.9.10", "a loopback address"},
		{"::1", "a loopback address"},
		{"::ffff:127.0.0.1", "a loopback address"},
		{"0.0.0.0", "an unspecified address"},
		{"::", "an unspecified address"},
		{"10.1.2.3", "a private address"},
		{"172.16.0.1", "a private address"},
		{"192.168.1.1", "a private address"},
		{"fd12::1", "a private address"},
		{"169.254.169.254", "a link-local address"},
		{"fe80::1", "a link-local address"},
		{"fec0::1", "a site-local address"},
		{"239.1.2.3", "a multicast address"},
		{"224.0.0.251", "a link-local address"},
		{"100.64.0.1", "a shared (carrier-grade NAT) address"},
		{"255.255.255.255", "a reserved address"},
		{"64:ff9b::7f00:1", "a loopback address"},
		{"64:ff9b::a00:1", "a private address"},
		{"93.184.216.34", ""},
		{"64:ff9b::808:808", ""},
		{"2606:4700:4700::1111", ""},
	}
	for _, tt := range tests {
		if got := catalogue.NonPublic(netip.MustParseAddr(tt.addr)); got != tt.kind {
			t.Errorf("%s is %q; want %q", tt.addr, got, tt.kind)
		}
	}
}

// feedServer serves a small feed at /feed.xml.
func feedServer(t *testing.T, serve func(*httptest.Server) *httptest.Server) *httptest.Server {
	t.Helper()
	srv := serve(httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, rssItem(""))
	})))
	t.Cleanup(srv.Close)
	return srv
}

func started(srv *httptest.Server) *httptest.Server    { srv.Start(); return srv }
func startedTLS(srv *httptest.Server) *httptest.Server { srv.StartTLS(); return srv }

// redirector answers every request with a redirect to target.
func redirector(t *testing.T, target string, serve func(*httptest.Server) *httptest.Server) *httptest.Server {
	t.Helper()
	srv := serve(httptest.NewUnstartedServer(http.RedirectHandler(target, http.StatusFound)))
	t.Cleanup(srv.Close)
	return srv
}

func addrPort(t *testing.T, srv *httptest.Server) netip.AddrPort {
	t.Helper()
	return netip.MustParseAddrPort(srv.Listener.Addr().String())
}

// TestOpenRefusesPrivateDestinations proves that the client for feeds
// refuses a loopback destination whether it is named by its address, by a
// name that resolves to it, or by a redirect from a public server; and that
// it never follows https to http.
func TestOpenRefusesPrivateDestinations(t *testing.T) {
	private := feedServer(t, started)
	_, port, _ := net.SplitHostPort(private.Listener.Addr().String())
	redirectToPrivate := redirector(t, private.URL+"/feed.xml", started)
	downgrade := redirector(t, private.URL+"/feed.xml", startedTLS)

	tests := []struct {
		name   string
		client *http.Client
		url    string
		want   []string
	}{
		{"an address", catalogue.NewClient(false), private.URL + "/feed.xml",
			[]string{"refusing to fetch " + private.URL + "/feed.xml: 127.0.0.1 is a loopback address; set fetch.allow_private_networks = true"}},
		{"a name resolving to it", catalogue.NewClient(false), "http://localhost:" + port + "/feed.xml",
			[]string{"refusing to fetch http://localhost:" + port + "/feed.xml: ", " is a loopback address; set fetch.allow_private_networks = true"}},
		{"a redirect", catalogue.NewClientOver(http.DefaultTransport.(*http.Transport), addrPort(t, redirectToPrivate)), redirectToPrivate.URL + "/feed.xml",
			[]string{"refusing to fetch " + private.URL + "/feed.xml: 127.0.0.1 is a loopback address"}},
		{"https to http", catalogue.NewClientOver(downgrade.Client().Transport.(*http.Transport), addrPort(t, downgrade)), downgrade.URL + "/feed.xml",
			[]string{"refusing to fetch " + private.URL + "/feed.xml: it is where " + downgrade.URL + "/feed.xml redirects to, and a redirect from https to http is never followed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := catalogue.Open(context.Background(), tt.client, tt.url)
			if err == nil {
				body.Close()
				t.Fatal("the fetch went through")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q; want it to contain %q", err, want)
				}
			}
		})
	}
}

// TestOpenFollowsAllowedRedirects proves the client still follows a
// redirect to a public address, and reaches private ones when allowed.
func TestOpenFollowsAllowedRedirects(t *testing.T) {
	feed := feedServer(t, started)
	redirect := redirector(t, feed.URL+"/feed.xml", started)
	secure := feedServer(t, startedTLS)
	upgrade := redirector(t, secure.URL+"/feed.xml", started)
	tests := []struct {
		name   string
		client *http.Client
		url    string
	}{
		{"private, when allowed", catalogue.NewClient(true), redirect.URL},
		{"public", catalogue.NewClientOver(http.DefaultTransport.(*http.Transport), addrPort(t, feed)), feed.URL + "/feed.xml"},
		{"http to https", catalogue.NewClientOver(secure.Client().Transport.(*http.Transport), addrPort(t, upgrade), addrPort(t, secure)), upgrade.URL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := catalogue.Open(context.Background(), tt.client, tt.url)
			if err != nil {
				t.Fatal(err)
			}
			defer body.Close()
			if got, _ := io.ReadAll(body); string(got) != rssItem("") {
				t.Errorf("read %q", got)
			}
		})
	}
}
