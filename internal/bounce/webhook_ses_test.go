package bounce

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alertd/alertd"
)

func TestSNSVerifiesAndParsesSES(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sns.amazonaws.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	var fetches atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}))
	defer srv.Close()
	const topic = "arn:aws:sns:eu-west-1:123456789012:ses-bounces"
	sns, err := NewSNS(topic)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := url.Parse(srv.URL)
	sns.client = srv.Client()
	sns.trustedHost = func(h string) bool { return h == host.Host }

	message, err := os.ReadFile("testdata/webhooks/ses-bounce-permanent.json")
	if err != nil {
		t.Fatal(err)
	}
	e := Envelope{Type: "Notification", MessageId: "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", TopicArn: topic,
		Message: string(message), Timestamp: "2026-03-02T07:59:00.000Z", SignatureVersion: "2", SigningCertURL: srv.URL + "/SimpleNotificationService-0a1b2c3d.pem"}
	canonical, _ := e.stringToSign()
	digest := sha256.Sum256([]byte(canonical))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	e.Signature = base64.StdEncoding.EncodeToString(sig)
	body, _ := json.Marshal(e)

	for range 2 {
		got, err := sns.Verify(context.Background(), body)
		if err != nil {
			t.Fatal(err)
		}
		bounces, err := ParseSES(got.Message)
		if err != nil {
			t.Fatal(err)
		}
		if len(bounces) != 1 || bounces[0].Kind != alertd.BounceHard || bounces[0].Email != "gone@example.com" || bounces[0].Status != "5.1.1" ||
			bounces[0].Key != "ses:00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000:gone@example.com" ||
			bounces[0].ReturnPath != "alerts@example.org" {
			t.Errorf("bounces = %+v", bounces)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("certificate fetched %d times, want once (cached)", n)
	}

	tampered := e
	tampered.Message = `{"notificationType":"Complaint"}`
	body, _ = json.Marshal(tampered)
	if _, err := sns.Verify(context.Background(), body); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("tampered message: %v, want ErrUnauthenticated", err)
	}
}

func TestSNSFollowsNoRedirect(t *testing.T) {
	// The SNS host's answer is trusted only as it is: a redirect would
	// send the certificate fetch or the subscription confirmation to any
	// host, inside the network alertd runs in too.
	var foreignHits atomic.Int64
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { foreignHits.Add(1) }))
	defer foreign.Close()
	trusted := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, foreign.URL+r.URL.Path, http.StatusFound)
	}))
	defer trusted.Close()
	const topic = "arn:aws:sns:eu-west-1:123456789012:ses-bounces"
	sns, err := NewSNS(topic)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := url.Parse(trusted.URL)
	client := trusted.Client()
	client.CheckRedirect = sns.client.CheckRedirect // NewSNS's policy, with the test server's roots
	sns.client = client
	sns.trustedHost = func(h string) bool { return h == host.Host }

	body, _ := json.Marshal(Envelope{Type: "Notification", MessageId: "m", TopicArn: topic, Message: "{}", Timestamp: "2026-03-02T07:59:00.000Z",
		SignatureVersion: "2", Signature: "AAAA", SigningCertURL: trusted.URL + "/SimpleNotificationService-0a1b.pem"})
	if _, err := sns.Verify(context.Background(), body); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("Verify through a redirect: %v, want ErrUnauthenticated", err)
	}
	if err := sns.Confirm(context.Background(), Envelope{SubscribeURL: trusted.URL + "/?Action=ConfirmSubscription"}); err == nil {
		t.Error("Confirm through a redirect succeeded")
	}
	if n := foreignHits.Load(); n != 0 {
		t.Errorf("the redirect target was fetched %d times", n)
	}
}

func TestSNSFetchesOnlyCertificatePaths(t *testing.T) {
	// Each unauthenticated request names the URL to fetch: on the SNS host
	// only the certificate files are fetched, not any path or query a
	// stranger makes up, each a fresh request to Amazon held for seconds.
	var fetches atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fetches.Add(1) }))
	defer srv.Close()
	const topic = "arn:aws:sns:eu-west-1:123456789012:ses-bounces"
	sns, err := NewSNS(topic)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := url.Parse(srv.URL)
	sns.client = srv.Client()
	sns.trustedHost = func(h string) bool { return h == host.Host }
	for _, path := range []string{"/cert.pem", "/?Action=ListTopics", "/SimpleNotificationService-0a1b.pem?x=1", "/a/SimpleNotificationService-0a1b.pem"} {
		body, _ := json.Marshal(Envelope{Type: "Notification", MessageId: "m", TopicArn: topic, Message: "{}", Timestamp: "2026-03-02T07:59:00.000Z",
			SignatureVersion: "1", Signature: "AAAA", SigningCertURL: srv.URL + path})
		if _, err := sns.Verify(context.Background(), body); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%s: %v, want ErrUnauthenticated", path, err)
		}
	}
	if n := fetches.Load(); n != 0 {
		t.Errorf("fetched %d made-up URLs", n)
	}
}
