package bounce

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/alertd/alertd"
)

// maxCertificate bounds a fetched SNS signing certificate; real ones are
// about 2 KiB.
const maxCertificate = 64 << 10

// maxCertificates bounds the certificate cache; SNS rotates its signing
// certificate rarely.
const maxCertificates = 16

// certificatePath is the path of SNS's signing certificates
// (/SimpleNotificationService-<hex>.pem): only such a file is fetched from
// the SNS host, not any path or query a request makes up.
var certificatePath = regexp.MustCompile(`^/SimpleNotificationService-[0-9a-f]+\.pem$`)

// topicARN is an SNS topic ARN: arn:PARTITION:sns:REGION:ACCOUNT:NAME.
var topicARN = regexp.MustCompile(`^arn:aws[a-z-]*:sns:([a-z0-9-]+):\d{12}:[A-Za-z0-9_.-]+$`)

// TopicRegion returns the region of an SNS topic ARN, or an error saying
// what one looks like.
func TopicRegion(arn string) (string, error) {
	m := topicARN.FindStringSubmatch(arn)
	if m == nil {
		return "", fmt.Errorf("must be an SNS topic ARN like arn:aws:sns:eu-west-1:123456789012:ses-bounces (got %q)", arn)
	}
	return m[1], nil
}

// SNS checks Amazon SNS messages from one topic: the topic ARN, then the
// signature against the certificate at SigningCertURL, which is fetched
// only from the topic region's SNS host and cached.
type SNS struct {
	topic, region string
	// client fetches certificates and confirms subscriptions.
	client *http.Client
	// trustedHost says whether a certificate or confirmation URL's host is
	// Amazon SNS's for the topic's region.
	trustedHost func(host string) bool

	mu    sync.Mutex
	certs map[string]*x509.Certificate
}

// NewSNS returns the checker for the topic ARN.
func NewSNS(topic string) (*SNS, error) {
	region, err := TopicRegion(topic)
	if err != nil {
		return nil, err
	}
	host := "sns." + region + ".amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		host += ".cn"
	}
	return &SNS{
		topic: topic, region: region,
		client: &http.Client{Timeout: 10 * time.Second,
			// Only the SNS host's own answer counts: a redirect could send
			// the fetch anywhere, inside alertd's network too.
			CheckRedirect: func(*http.Request, []*http.Request) error { return errNoRedirect }},
		trustedHost: func(h string) bool { return h == host },
		certs:       map[string]*x509.Certificate{},
	}, nil
}

var errNoRedirect = errors.New("the SNS host answered with a redirect, which alertd does not follow")

// Envelope is an SNS message as posted to an HTTP(S) subscriber.
type Envelope struct {
	Type             string
	MessageId        string
	Token            string
	TopicArn         string
	Subject          *string
	Message          string
	SubscribeURL     string
	Timestamp        string
	SignatureVersion string
	Signature        string
	SigningCertURL   string
}

// Verify reads body as an SNS envelope and checks its topic and signature;
// every failed check is ErrUnauthenticated, and a certificate URL that is
// not the region's SNS host is refused before anything is fetched.
func (s *SNS) Verify(ctx context.Context, body []byte) (Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(body, &e); err != nil {
		return Envelope{}, fmt.Errorf("%w: not an SNS message: %v", ErrUnauthenticated, err)
	}
	if e.TopicArn != s.topic {
		return Envelope{}, fmt.Errorf("%w: SNS topic %q is not webhooks.ses_topic_arn", ErrUnauthenticated, e.TopicArn)
	}
	var hash crypto.Hash
	switch e.SignatureVersion {
	case "1":
		hash = crypto.SHA1
	case "2":
		hash = crypto.SHA256
	default:
		return Envelope{}, fmt.Errorf("%w: SNS SignatureVersion %q", ErrUnauthenticated, e.SignatureVersion)
	}
	canonical, err := e.stringToSign()
	if err != nil {
		return Envelope{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	sig, err := base64.StdEncoding.DecodeString(e.Signature)
	if err != nil {
		return Envelope{}, fmt.Errorf("%w: unreadable SNS signature", ErrUnauthenticated)
	}
	cert, err := s.certificate(ctx, e.SigningCertURL)
	if err != nil {
		return Envelope{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	key, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return Envelope{}, fmt.Errorf("%w: the SNS certificate's key is not RSA", ErrUnauthenticated)
	}
	var digest []byte
	if hash == crypto.SHA1 {
		d := sha1.Sum([]byte(canonical))
		digest = d[:]
	} else {
		d := sha256.Sum256([]byte(canonical))
		digest = d[:]
	}
	if err := rsa.VerifyPKCS1v15(key, hash, digest, sig); err != nil {
		return Envelope{}, fmt.Errorf("%w: wrong SNS signature", ErrUnauthenticated)
	}
	return e, nil
}

// stringToSign is AWS's canonical form: for each signed field, in this
// order, its name, a newline, its value, a newline. A Notification signs
// Subject only when it has one.
func (e Envelope) stringToSign() (string, error) {
	var fields [][2]string
	switch e.Type {
	case "Notification":
		fields = append(fields, [2]string{"Message", e.Message}, [2]string{"MessageId", e.MessageId})
		if e.Subject != nil {
			fields = append(fields, [2]string{"Subject", *e.Subject})
		}
		fields = append(fields, [2]string{"Timestamp", e.Timestamp}, [2]string{"TopicArn", e.TopicArn}, [2]string{"Type", e.Type})
	case "SubscriptionConfirmation", "UnsubscribeConfirmation":
		fields = [][2]string{{"Message", e.Message}, {"MessageId", e.MessageId}, {"SubscribeURL", e.SubscribeURL},
			{"Timestamp", e.Timestamp}, {"Token", e.Token}, {"TopicArn", e.TopicArn}, {"Type", e.Type}}
	default:
		return "", fmt.Errorf("unknown SNS message Type %q", e.Type)
	}
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(f[0] + "\n" + f[1] + "\n")
	}
	return b.String(), nil
}

// snsURL checks that raw is an https URL on the region's SNS host.
func (s *SNS) snsURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.User != nil || !s.trustedHost(u.Host) {
		return nil, fmt.Errorf("%q is not an https URL of Amazon SNS in %s", raw, s.region)
	}
	return u, nil
}

// certificate returns the certificate at raw, from the cache or fetched.
func (s *SNS) certificate(ctx context.Context, raw string) (*x509.Certificate, error) {
	u, err := s.snsURL(raw)
	if err != nil {
		return nil, err
	}
	if !certificatePath.MatchString(u.EscapedPath()) || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q is not an SNS signing certificate's URL", raw)
	}
	s.mu.Lock()
	cert := s.certs[u.String()]
	s.mu.Unlock()
	if cert != nil {
		return cert, nil
	}
	body, err := s.get(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("fetching the SNS signing certificate: %w", err)
	}
	block, _ := pem.Decode(body)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("the SNS signing certificate is not a PEM certificate")
	}
	cert, err = x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the SNS signing certificate: %w", err)
	}
	s.mu.Lock()
	if len(s.certs) >= maxCertificates {
		clear(s.certs)
	}
	s.certs[u.String()] = cert
	s.mu.Unlock()
	return cert, nil
}

// get fetches u, bounded in time and size.
func (s *SNS) get(ctx context.Context, u *url.URL) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", u.Host, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCertificate+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxCertificate {
		return nil, fmt.Errorf("%s sent more than %d bytes", u.Host, maxCertificate)
	}
	return body, nil
}

// Confirm completes a verified SubscriptionConfirmation by visiting its
// SubscribeURL, which must be the region's SNS host too.
func (s *SNS) Confirm(ctx context.Context, e Envelope) error {
	u, err := s.snsURL(e.SubscribeURL)
	if err != nil {
		return err
	}
	_, err = s.get(ctx, u)
	return err
}

type sesRecipient struct {
	EmailAddress   string `json:"emailAddress"`
	Status         string `json:"status"`
	DiagnosticCode string `json:"diagnosticCode"`
}

type sesNotification struct {
	NotificationType string `json:"notificationType"`
	EventType        string `json:"eventType"`
	Bounce           struct {
		BounceType        string         `json:"bounceType"`
		BounceSubType     string         `json:"bounceSubType"`
		BouncedRecipients []sesRecipient `json:"bouncedRecipients"`
		Timestamp         time.Time      `json:"timestamp"`
		FeedbackID        string         `json:"feedbackId"`
	} `json:"bounce"`
	Complaint struct {
		ComplainedRecipients  []sesRecipient `json:"complainedRecipients"`
		ComplaintFeedbackType string         `json:"complaintFeedbackType"`
		Timestamp             time.Time      `json:"timestamp"`
		FeedbackID            string         `json:"feedbackId"`
	} `json:"complaint"`
	Mail struct {
		MessageID string `json:"messageId"`
		Source    string `json:"source"`
	} `json:"mail"`
}

// ParseSES reads the SES notification an SNS Notification carries (a
// feedback notification's notificationType or an event publishing
// eventType): a Permanent bounce is hard, or policy for 5.7.x; Transient is
// soft, or policy when SES says the content was rejected; Undetermined is
// unrecognised; a Complaint is a complaint unless its feedback type is
// "not-spam". Other notifications (Delivery, Send, Open, …) give no bounce.
func ParseSES(message string) ([]alertd.Bounce, error) {
	var n sesNotification
	if err := json.Unmarshal([]byte(message), &n); err != nil {
		return nil, fmt.Errorf("not an SES notification: %w", err)
	}
	typ := n.NotificationType
	if typ == "" {
		typ = n.EventType
	}
	var out []alertd.Bounce
	add := func(r sesRecipient, kind alertd.BounceKind, at time.Time, feedbackID string) {
		status := statusIn(r.Status, r.DiagnosticCode)
		if kind == alertd.BounceHard {
			kind = failureKind(status)
		}
		id := feedbackID
		if id == "" {
			id = n.Mail.MessageID + ":" + string(kind)
		}
		out = append(out, alertd.Bounce{
			At: eventTime(at), Kind: kind, Source: alertd.SourceSES,
			Email: r.EmailAddress, Status: status, Diagnostic: r.DiagnosticCode,
			Evidence: cutEvidence(message), Key: eventKey(alertd.SourceSES, id, r.EmailAddress),
			ReturnPath: n.Mail.Source,
		})
	}
	switch typ {
	case "Bounce":
		b := n.Bounce
		kind := alertd.BounceUnrecognised
		switch {
		case b.BounceType == "Permanent":
			kind = alertd.BounceHard
		case b.BounceType == "Transient" && b.BounceSubType == "ContentRejected":
			kind = alertd.BouncePolicy
		case b.BounceType == "Transient":
			kind = alertd.BounceSoft
		}
		for _, r := range b.BouncedRecipients {
			add(r, kind, b.Timestamp, b.FeedbackID)
		}
	case "Complaint":
		c := n.Complaint
		if c.ComplaintFeedbackType == "not-spam" {
			return nil, nil
		}
		for _, r := range c.ComplainedRecipients {
			add(r, alertd.BounceComplaint, c.Timestamp, c.FeedbackID)
		}
	default:
		return nil, nil
	}
	for _, b := range out {
		if b.Email == "" {
			return nil, fmt.Errorf("SES %s names a recipient without emailAddress", typ)
		}
	}
	return out, nil
}
