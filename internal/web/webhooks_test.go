package web_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/bounce"
	"github.com/alertd/alertd/internal/web"
)

// recorder keeps what the webhooks hand over, in order, and counts a key
// once, as the bounce service does.
type recorder struct {
	mu      sync.Mutex
	bounces []alertd.Bounce
	keys    map[string]bool
}

func (r *recorder) Record(_ context.Context, b alertd.Bounce) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys == nil {
		r.keys = map[string]bool{}
	}
	if r.keys[b.Key] {
		return false, nil
	}
	r.keys[b.Key] = true
	r.bounces = append(r.bounces, b)
	return true, nil
}

func (r *recorder) all() []alertd.Bounce {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]alertd.Bounce(nil), r.bounces...)
}

// webhookNow is the wall clock the signed timestamps are checked against:
// the checkers take it as a dependency, fixed here.
var webhookNow = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

func post(t *testing.T, h *harness, path string, body []byte, header http.Header) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestWebhooksAreOffWithoutKeys(t *testing.T) {
	h := newHarness(t, options{Webhooks: web.Webhooks{Recorder: &recorder{}}})
	for _, p := range []string{"/webhooks/ses", "/webhooks/postmark", "/webhooks/mailgun", "/webhooks/sendgrid"} {
		if code := post(t, h, p, []byte(`{}`), http.Header{"Content-Type": {"application/json"}}); code != http.StatusNotFound {
			t.Errorf("POST %s without its key: %d, want 404", p, code)
		}
	}
}

// webhookSample is a provider payload from the bounce package's samples.
func webhookSample(t *testing.T, name string) []byte {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "bounce", "testdata", "webhooks", name))
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func TestPostmarkWebhook(t *testing.T) {
	postmarkBounce := webhookSample(t, "postmark-hard-bounce.json")
	rec := &recorder{}
	h := newHarness(t, options{Webhooks: web.Webhooks{Recorder: rec, PostmarkToken: "pm-secret-token"}})
	auth := func(pass string) http.Header {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		r.SetBasicAuth("alertd", pass)
		r.Header.Set("Content-Type", "application/json")
		return r.Header
	}
	if code := post(t, h, "/webhooks/postmark", postmarkBounce, auth("wrong-token")); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d, want 401", code)
	}
	if code := post(t, h, "/webhooks/postmark", postmarkBounce, http.Header{}); code != http.StatusUnauthorized {
		t.Fatalf("no credentials: %d, want 401", code)
	}
	if n := len(rec.all()); n != 0 {
		t.Fatalf("refused requests recorded %d bounces", n)
	}
	for range 2 { // a redelivery
		if code := post(t, h, "/webhooks/postmark", postmarkBounce, auth("pm-secret-token")); code != http.StatusNoContent {
			t.Fatalf("valid: %d, want 204", code)
		}
	}
	got := rec.all()
	if len(got) != 1 {
		t.Fatalf("recorded %d bounces, want 1 (the redelivery has the same key)", len(got))
	}
	b := got[0]
	if b.Kind != alertd.BounceHard || b.Source != alertd.SourcePostmark || b.Email != "gone@example.com" || b.Status != "5.1.1" ||
		!strings.Contains(b.Diagnostic, "does not exist") || b.Evidence != string(postmarkBounce) || !b.At.Equal(time.Date(2026, 3, 2, 7, 59, 0, 0, time.UTC)) {
		t.Errorf("recorded %+v", b)
	}
}

func mailgunBody(key, token string, ts int64, eventData string) []byte {
	mac := hmac.New(sha256.New, []byte(key))
	fmt.Fprintf(mac, "%d%s", ts, token)
	return []byte(fmt.Sprintf(`{"signature":{"timestamp":"%d","token":"%s","signature":"%s"},"event-data":%s}`, ts, token, hex.EncodeToString(mac.Sum(nil)), eventData))
}

func TestMailgunWebhook(t *testing.T) {
	// The sample's own signature object is replaced by one made with this
	// test's key and clock.
	var sample struct {
		EventData json.RawMessage `json:"event-data"`
	}
	if err := json.Unmarshal(webhookSample(t, "mailgun-failed-permanent.json"), &sample); err != nil {
		t.Fatal(err)
	}
	mailgunFailed := string(sample.EventData)
	rec := &recorder{}
	const key = "mailgun-signing-key"
	h := newHarness(t, options{Webhooks: web.Webhooks{Recorder: rec, Mailgun: bounce.NewMailgun(key, func() time.Time { return webhookNow })}})
	json := http.Header{"Content-Type": {"application/json"}}
	now := webhookNow.Unix()

	// Mailgun signs the timestamp and token only, not the event: a changed
	// token or timestamp is what a tampered request shows.
	tampered := bytes.Replace(mailgunBody(key, "tok-1", now, mailgunFailed), []byte(`"token":"tok-1"`), []byte(`"token":"tok-X"`), 1)
	if code := post(t, h, "/webhooks/mailgun", tampered, json); code != http.StatusUnauthorized {
		t.Errorf("tampered: %d, want 401", code)
	}
	if code := post(t, h, "/webhooks/mailgun", mailgunBody("other-key", "tok-2", now, mailgunFailed), json); code != http.StatusUnauthorized {
		t.Errorf("wrong key: %d, want 401", code)
	}
	if code := post(t, h, "/webhooks/mailgun", mailgunBody(key, "tok-3", now-int64(6*time.Minute/time.Second), mailgunFailed), json); code != http.StatusUnauthorized {
		t.Errorf("stale: %d, want 401", code)
	}
	if code := post(t, h, "/webhooks/mailgun", mailgunBody(key, "tok-4", now+int64(6*time.Minute/time.Second), mailgunFailed), json); code != http.StatusUnauthorized {
		t.Errorf("future: %d, want 401", code)
	}
	if n := len(rec.all()); n != 0 {
		t.Fatalf("refused requests recorded %d bounces", n)
	}
	valid := mailgunBody(key, "tok-5", now-60, mailgunFailed)
	if code := post(t, h, "/webhooks/mailgun", valid, json); code != http.StatusNoContent {
		t.Fatalf("valid: %d, want 204", code)
	}
	if code := post(t, h, "/webhooks/mailgun", valid, json); code != http.StatusUnauthorized {
		t.Errorf("replayed token: %d, want 401", code)
	}
	got := rec.all()
	if len(got) != 1 {
		t.Fatalf("recorded %d bounces, want 1", len(got))
	}
	b := got[0]
	if b.Kind != alertd.BounceHard || b.Source != alertd.SourceMailgun || b.Email != "gone@example.com" || b.Status != "5.1.1" ||
		b.Key != "mailgun:G9Bn5sl1TC6nu79C8C0bwg:gone@example.com" || b.Evidence != mailgunFailed || !strings.Contains(b.Diagnostic, "does not exist") {
		t.Errorf("recorded %+v", b)
	}
}

func TestSendGridWebhook(t *testing.T) {
	sendGridBatch := string(webhookSample(t, "sendgrid-batch.json"))
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := bounce.ParseSendGridKey(base64.StdEncoding.EncodeToString(der))
	if err != nil {
		t.Fatal(err)
	}
	checker := bounce.NewSendGrid(pub, func() time.Time { return webhookNow })
	rec := &recorder{}
	h := newHarness(t, options{Webhooks: web.Webhooks{Recorder: rec, SendGrid: &checker}})
	signed := func(ts int64, body string) http.Header {
		stamp := strconv.FormatInt(ts, 10)
		digest := sha256.Sum256([]byte(stamp + body))
		sig, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		return http.Header{"Content-Type": {"application/json"},
			"X-Twilio-Email-Event-Webhook-Signature": {base64.StdEncoding.EncodeToString(sig)},
			"X-Twilio-Email-Event-Webhook-Timestamp": {stamp}}
	}
	now := webhookNow.Unix()
	tampered := strings.Replace(sendGridBatch, "gone@", "else@", 1)
	if code := post(t, h, "/webhooks/sendgrid", []byte(tampered), signed(now, sendGridBatch)); code != http.StatusUnauthorized {
		t.Errorf("tampered: %d, want 401", code)
	}
	if code := post(t, h, "/webhooks/sendgrid", []byte(sendGridBatch), signed(now-600, sendGridBatch)); code != http.StatusUnauthorized {
		t.Errorf("stale: %d, want 401", code)
	}
	if n := len(rec.all()); n != 0 {
		t.Fatalf("refused requests recorded %d bounces", n)
	}
	if code := post(t, h, "/webhooks/sendgrid", []byte(sendGridBatch), signed(now, sendGridBatch)); code != http.StatusNoContent {
		t.Fatalf("valid: %d, want 204", code)
	}
	got := rec.all()
	if len(got) != 2 {
		t.Fatalf("recorded %d bounces, want 2 (delivered is no bounce): %+v", len(got), got)
	}
	if b := got[0]; b.Kind != alertd.BounceHard || b.Email != "gone@example.com" || b.Status != "5.1.1" || b.Source != alertd.SourceSendGrid ||
		b.Key != "sendgrid:6g4ZI7SA-xmRDv57GoPIPw==:gone@example.com" || !strings.HasPrefix(b.Evidence, `{"email":"gone@example.com"`) || !strings.HasSuffix(b.Evidence, `}`) {
		t.Errorf("bounce recorded as %+v", b)
	}
	if b := got[1]; b.Kind != alertd.BounceComplaint || b.Email != "angry@example.com" {
		t.Errorf("spam report recorded as %+v", b)
	}
}

func TestSESWebhookRefusesBeforeFetching(t *testing.T) {
	const topic = "arn:aws:sns:eu-west-1:123456789012:ses-bounces"
	sns, err := bounce.NewSNS(topic)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	h := newHarness(t, options{Webhooks: web.Webhooks{Recorder: rec, SES: sns}})
	// A server that counts fetches stands for a foreign host: the URL must
	// be refused without being fetched.
	var fetches atomic.Int64
	foreign := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fetches.Add(1) }))
	t.Cleanup(foreign.Close)
	envelope := func(topicARN, certURL string) []byte {
		return []byte(fmt.Sprintf(`{"Type":"Notification","MessageId":"22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324","TopicArn":%q,"Message":"{}","Timestamp":"2026-03-02T07:59:00.000Z","SignatureVersion":"1","Signature":"AAAA","SigningCertURL":%q}`, topicARN, certURL))
	}
	json := http.Header{"Content-Type": {"text/plain; charset=UTF-8"}}
	cases := map[string][]byte{
		"wrong topic":        envelope("arn:aws:sns:eu-west-1:123456789012:other", "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem"),
		"foreign cert host":  envelope(topic, foreign.URL+"/cert.pem"),
		"lookalike host":     envelope(topic, "https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem"),
		"other region":       envelope(topic, "https://sns.us-east-1.amazonaws.com/cert.pem"),
		"plain http":         envelope(topic, "http://sns.eu-west-1.amazonaws.com/cert.pem"),
		"not an SNS message": []byte(`not json`),
	}
	for name, body := range cases {
		if code := post(t, h, "/webhooks/ses", body, json); code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, code)
		}
	}
	if fetches.Load() != 0 || len(rec.all()) != 0 {
		t.Errorf("fetched %d times, recorded %d", fetches.Load(), len(rec.all()))
	}
}
