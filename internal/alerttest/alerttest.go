// Package alerttest holds what the tests of several packages share: for
// those that drive a running alertd, in-process (cmd/alertd) or as a
// process of its own (cmd/alertd's crash tests, e2e), free ports, a clean
// environment, HTTP requests as a browser or an operator makes them, and
// delivery reports as an MTA sends them; for those below, a migrated
// database that closes when the test ends.
package alerttest

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// FreeAddr returns a loopback address ("127.0.0.1:port") nothing listens on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// FreePort is FreeAddr's port.
func FreePort(t testing.TB) int {
	t.Helper()
	_, port, _ := net.SplitHostPort(FreeAddr(t)) // FreeAddr's answer always splits
	n, _ := strconv.Atoi(port)
	return n
}

// Environ is the test's own environment without any ALERTD_ setting, so a
// developer's shell cannot change the test, plus the given settings.
func Environ(set map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ALERTD_") {
			env = append(env, kv)
		}
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env
}

// Buffer collects a program's output, which the program and the test may
// write and read at once.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// noRedirects is a client that shows redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// Do sends one request, with the content type unless it is empty, without
// following redirects, and returns the response and its body.
func Do(t testing.TB, method, url, contentType, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// AdminPost calls the admin API at baseURL with token and decodes its JSON
// answer.
func AdminPost(t testing.TB, baseURL, token, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, baseURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("POST %s: %s, undecodable answer: %v", path, resp.Status, err)
	}
	return resp.StatusCode, out
}

// DSN is a delivery status notification (RFC 3464) as a remote MTA writes
// one: mailed to the envelope sender to, it reports that recipient failed
// with status and the SMTP reply diagnostic. messageID tells reports apart.
func DSN(messageID, to, recipient, status, diagnostic string) string {
	return strings.ReplaceAll(`From: MAILER-DAEMON@mx.example.net
To: `+to+`
Subject: Undelivered Mail Returned to Sender
Message-ID: <`+messageID+`@mx.example.net>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

Your message could not be delivered to `+recipient+`.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; `+recipient+`
Action: failed
Status: `+status+`
Diagnostic-Code: smtp; `+diagnostic+`

--b1--
`, "\n", "\r\n")
}

// SendFromNullSender sends msg over SMTP to the server at addr from the
// null sender, as an MTA sends a report, and returns the error of the first
// step that failed. It gives up after ten seconds rather than hang on a
// server that does not answer.
func SendFromNullSender(addr, rcpt, msg string) error {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	c, err := smtp.NewClient(conn, "127.0.0.1")
	if err != nil {
		return err
	}
	if err := c.Mail(""); err != nil {
		return err
	}
	if err := c.Rcpt(rcpt); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
