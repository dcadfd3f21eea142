package bounce_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/bounce"
)

// want is one recipient as a test expects it.
type want struct {
	final, action, status string
	kind                  alertd.BounceKind
}

func TestReadSamples(t *testing.T) {
	tests := []struct {
		file         string
		typ          bounce.ReportType
		recipients   []want
		feedbackType string
		original     string // the quoted message's Message-Id
		evidence     string // a line the evidence holds
	}{
		{file: "postfix-user-unknown.eml", typ: bounce.TypeDSN,
			recipients: []want{{"nobody@example.net", "failed", "5.1.1", alertd.BounceHard}},
			original:   "<digest-41.m-9071@alerts.example.org>", evidence: "X-Postfix-Queue-ID: 4VzK2m0QbRz9sT"},
		{file: "postfix-delayed.eml", typ: bounce.TypeDSN,
			recipients: []want{{"slow@example.com", "delayed", "4.4.1", alertd.BounceSoft}},
			original:   "<digest-41.m-9102@alerts.example.org>", evidence: "Will-Retry-Until:"},
		{file: "exim-plain.eml", typ: bounce.TypeDSN,
			recipients: []want{
				{"gone@example.com", "failed", "5.1.1", alertd.BounceHard},
				{"typo@example.org", "failed", "5.0.0", alertd.BounceSoft},
			},
			original: "<digest-41.m-9200@alerts.example.org>", evidence: "The following address(es) failed:"},
		{file: "qmail-plain.eml", typ: bounce.TypeDSN,
			recipients: []want{
				{"nosuch@example.net", "failed", "5.1.1", alertd.BounceHard},
				{"full@example.net", "failed", "5.2.2", alertd.BounceSoft},
			},
			original: "<digest-41.m-9301@alerts.example.org>", evidence: "qmail-send program"},
		{file: "exchange-5.1.10.eml", typ: bounce.TypeDSN,
			recipients: []want{{"ghost@contoso.example", "failed", "5.1.10", alertd.BounceHard}},
			original:   "<digest-41.m-9400@alerts.example.org>", evidence: "X-Display-Name: ghost@contoso.example"},
		{file: "gmail-5.1.1.eml", typ: bounce.TypeDSN,
			recipients: []want{{"no.such.reader@gmail.example", "failed", "5.1.1", alertd.BounceHard}},
			original:   "<digest-41.m-9500@alerts.example.org>", evidence: "X-Original-Message-ID:"},
		{file: "yahoo-policy-and-unknown.eml", typ: bounce.TypeDSN,
			recipients: []want{
				{"reader.one@yahoo.example", "failed", "5.7.9", alertd.BouncePolicy},
				{"closed.account@yahoo.example", "failed", "5.1.1", alertd.BounceHard},
			},
			original: "<digest-41.m-9600@alerts.example.org>", evidence: "Status: 5.7.9"},
		{file: "arf-yahoo-abuse.eml", typ: bounce.TypeFeedback, feedbackType: "abuse",
			original: "<digest-41.m-9700@alerts.example.org>", evidence: "Original-Rcpt-To: <redacted@yahoo.example>"},
		{file: "vacation.eml", typ: bounce.TypeAutoReply},
		{file: "outlook-automatic-reply.eml", typ: bounce.TypeAutoReply},
		{file: "sendmail-auto-submitted.eml", typ: bounce.TypeDSN,
			recipients: []want{{"busy@example.edu", "failed", "5.2.2", alertd.BounceSoft}},
			original:   "<digest-41.m-9800@alerts.example.org>", evidence: "Diagnostic-Code: SMTP; 552 5.2.2 Mailbox full"},
		{file: "foreign-original.eml", typ: bounce.TypeDSN,
			recipients: []want{{"victim@example.net", "failed", "5.1.1", alertd.BounceHard}},
			original:   "<spam-77123@botnet.example>", evidence: "Reporting-MTA: dns; mx.example.net"},
		{file: "global-dsn.eml", typ: bounce.TypeDSN,
			recipients: []want{{"读者@例子.example", "failed", "5.1.1", alertd.BounceHard}},
			original:   "<digest-41.m-9900@alerts.example.org>", evidence: "用户不存在"},
		{file: "unsubscribe-request.eml", typ: bounce.TypeOther},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			report, err := bounce.Read(sample(t, tt.file))
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if report.Type != tt.typ {
				t.Errorf("type %q, want %q", report.Type, tt.typ)
			}
			if len(report.Recipients) != len(tt.recipients) {
				t.Fatalf("recipients %+v, want %+v", report.Recipients, tt.recipients)
			}
			for i, w := range tt.recipients {
				r := report.Recipients[i]
				if r.Final != w.final || r.Action != w.action || r.Status != w.status {
					t.Errorf("recipient %d is %q %q %q, want %q %q %q", i, r.Final, r.Action, r.Status, w.final, w.action, w.status)
				}
				if r.Diagnostic == "" {
					t.Errorf("recipient %d has no diagnostic", i)
				}
				if kind, ok := r.Kind(); !ok || kind != w.kind {
					t.Errorf("recipient %d (%s) is %q (%v), want %q", i, r.Status, kind, ok, w.kind)
				}
			}
			if report.FeedbackType != tt.feedbackType {
				t.Errorf("feedback type %q, want %q", report.FeedbackType, tt.feedbackType)
			}
			if got := report.Original.Get("Message-Id"); got != tt.original {
				t.Errorf("original Message-Id %q, want %q", got, tt.original)
			}
			if !strings.Contains(report.Evidence, tt.evidence) {
				t.Errorf("evidence %q does not hold %q", report.Evidence, tt.evidence)
			}
			if tt.evidence == "" && report.Evidence != "" {
				t.Errorf("evidence %q, want none", report.Evidence)
			}
			if report.Header.Get("From") == "" {
				t.Error("the mail's own header was not kept")
			}
		})
	}
}

func TestReadKeepsTheDiagnosticsFoldedLines(t *testing.T) {
	report, err := bounce.Read(sample(t, "postfix-user-unknown.eml"))
	if err != nil {
		t.Fatal(err)
	}
	want := "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown in virtual mailbox table"
	if got := report.Recipients[0].Diagnostic; got != want {
		t.Errorf("diagnostic %q, want %q", got, want)
	}
	if got := report.Recipients[0].Original; got != "nobody@example.net" {
		t.Errorf("original recipient %q", got)
	}
}

func TestReadRefuses(t *testing.T) {
	tests := map[string][]byte{
		"a multipart/report whose boundary never comes": sample(t, "malformed-multipart.eml"),
		"mail over 1 MiB":                           append([]byte("Subject: big\r\n\r\n"), bytes.Repeat([]byte("x"), bounce.MaxSize)...),
		"a header that does not end":                []byte("From: a@example.com\r\nSubject"),
		"a DSN without a recipient":                 []byte("Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x\n\n--b--\n"),
		"a DSN without its status part":             []byte("Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: text/plain\n\nfailed\n\n--b--\n"),
		"a feedback report without a Feedback-Type": []byte("Content-Type: multipart/report; report-type=feedback-report; boundary=b\n\n--b\nContent-Type: message/feedback-report\n\nVersion: 1\n\n--b--\n"),
		"too many parts":                            []byte("Content-Type: multipart/mixed; boundary=b\n\n" + strings.Repeat("--b\n\nx\n", 101) + "--b--\n"),
	}
	for name, raw := range tests {
		t.Run(name, func(t *testing.T) {
			if report, err := bounce.Read(raw); err == nil {
				t.Errorf("read as %+v, want an error", report)
			}
		})
	}
}

func TestReadFindsAForwardedReportAndStopsAtDepth(t *testing.T) {
	dsn := "Content-Type: multipart/report; report-type=delivery-status; boundary=r\n\n--r\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; x@example.com\nAction: failed\nStatus: 5.1.1\n\n--r--\n"
	wrap := func(inner string, n int) []byte {
		for i := range n {
			b := "w" + strings.Repeat("x", i)
			inner = "Content-Type: multipart/mixed; boundary=" + b + "\n\n--" + b + "\n" + inner + "\n--" + b + "--\n"
		}
		return []byte("From: fwd@example.com\n" + inner)
	}
	report, err := bounce.Read(wrap(dsn, 2))
	if err != nil || report.Type != bounce.TypeDSN || len(report.Recipients) != 1 {
		t.Errorf("a DSN two multiparts deep read as %+v, %v; want the DSN", report, err)
	}
	report, err = bounce.Read(wrap(dsn, 7))
	if err != nil || report.Type != bounce.TypeOther {
		t.Errorf("a DSN seven multiparts deep read as %+v, %v; want other mail", report, err)
	}
}

func TestReadCutsEvidence(t *testing.T) {
	long := strings.Repeat("X-Note: "+strings.Repeat("é", 40)+"\n", 2000)
	raw := "Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; x@example.com\nAction: failed\nStatus: 5.1.1\n" + long + "\n--b--\n"
	report, err := bounce.Read([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Evidence) > alertd.MaxEvidence || len(report.Evidence) < alertd.MaxEvidence-utf8.UTFMax {
		t.Errorf("evidence is %d bytes, want just under %d", len(report.Evidence), alertd.MaxEvidence)
	}
	if !utf8.ValidString(report.Evidence) {
		t.Error("evidence was cut inside a character")
	}
}

func sample(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// A field folded over many lines is joined once: joining it line by line
// would copy the field once per line, hours for a megabyte of folds.
func TestReadJoinsAFoldedFieldOnce(t *testing.T) {
	raw := []byte("Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\n" +
		"Final-Recipient: rfc822; x@example.com\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550\n" + strings.Repeat(" x\n", 50000) + "\n--b--\n")
	allocs := testing.AllocsPerRun(1, func() {
		report, err := bounce.Read(raw)
		if err != nil || len(report.Recipients[0].Diagnostic) != len("550")+50000*len(" x") {
			t.Fatalf("read %+v, %v", report.Recipients, err)
		}
	})
	if allocs > 1000 {
		t.Errorf("reading a field folded over 50,000 lines took %.0f allocations, want a few", allocs)
	}
}
