package bounce_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/bounce"
)

// validKind reports whether kind is one the service knows how to apply.
func validKind(kind alertd.BounceKind) bool {
	switch kind {
	case alertd.BounceHard, alertd.BounceSoft, alertd.BouncePolicy, alertd.BounceComplaint,
		alertd.BounceUnsubscribe, alertd.BounceUnrecognised:
		return true
	}
	return false
}

// seed adds every file matching pattern under testdata to f's corpus.
func seed(f *testing.F, pattern string) {
	samples, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil {
		f.Fatal(err)
	}
	if len(samples) == 0 {
		f.Fatalf("no samples match %s", pattern)
	}
	for _, name := range samples {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
}

// FuzzRead feeds Read arbitrary mail: it must answer with a report or an
// error, never panic, and keep its bounds.
func FuzzRead(f *testing.F) {
	seed(f, "*.eml")
	f.Fuzz(func(t *testing.T, raw []byte) {
		report, err := bounce.Read(raw)
		if err != nil {
			return
		}
		switch report.Type {
		case bounce.TypeDSN:
			if len(report.Recipients) == 0 {
				t.Error("a DSN without recipients")
			}
			for _, r := range report.Recipients {
				if kind, ok := r.Kind(); ok && !validKind(kind) {
					t.Errorf("recipient %+v has kind %q", r, kind)
				}
			}
		case bounce.TypeFeedback:
			if report.FeedbackType == "" {
				t.Error("a feedback report without a type")
			}
		case bounce.TypeAutoReply, bounce.TypeOther:
			if report.Recipients != nil || report.Evidence != "" {
				t.Errorf("%s mail with report content: %+v", report.Type, report)
			}
		default:
			t.Errorf("unknown type %q", report.Type)
		}
		if len(report.Evidence) > alertd.MaxEvidence {
			t.Errorf("evidence of %d bytes", len(report.Evidence))
		}
		if report.Header == nil {
			t.Error("no header")
		}
	})
}

// checkParsed holds a webhook parser's answer to its invariants: an
// error, or bounces of a known kind and the parser's source, each naming an
// address and a dedupe key, with bounded evidence and a time that is
// either unknown (the service's clock stands in) or a plausible one.
func checkParsed(t *testing.T, source alertd.BounceSource, bounces []alertd.Bounce, err error) {
	t.Helper()
	if err != nil {
		if bounces != nil {
			t.Errorf("bounces %+v with the error %v", bounces, err)
		}
		return
	}
	for _, b := range bounces {
		if !validKind(b.Kind) {
			t.Errorf("kind %q in %+v", b.Kind, b)
		}
		if b.Source != source {
			t.Errorf("source %q, want %q", b.Source, source)
		}
		if b.Email == "" || b.Key == "" {
			t.Errorf("no address or key in %+v", b)
		}
		if len(b.Evidence) > alertd.MaxEvidence {
			t.Errorf("evidence of %d bytes", len(b.Evidence))
		}
		if !b.At.IsZero() && (b.At.Year() < 2000 || b.At.Year() >= 2200) {
			t.Errorf("time %v", b.At)
		}
	}
}

// The webhook targets fuzz what a provider's parser reads once the
// request passed its authentication: a provider's own bug or a changed
// format must give an error or sane bounces, never a panic.

func FuzzPostmark(f *testing.F) {
	seed(f, filepath.Join("webhooks", "postmark-*.json"))
	f.Fuzz(func(t *testing.T, body []byte) {
		bounces, err := bounce.ParsePostmark(body)
		checkParsed(t, alertd.SourcePostmark, bounces, err)
	})
}

func FuzzMailgun(f *testing.F) {
	seed(f, filepath.Join("webhooks", "mailgun-*.json"))
	f.Fuzz(func(t *testing.T, body []byte) {
		bounces, err := bounce.ParseMailgun(body)
		checkParsed(t, alertd.SourceMailgun, bounces, err)
	})
}

func FuzzSendGrid(f *testing.F) {
	seed(f, filepath.Join("webhooks", "sendgrid-*.json"))
	f.Fuzz(func(t *testing.T, body []byte) {
		bounces, err := bounce.ParseSendGrid(body)
		checkParsed(t, alertd.SourceSendGrid, bounces, err)
	})
}

func FuzzSES(f *testing.F) {
	seed(f, filepath.Join("webhooks", "ses-*.json"))
	f.Fuzz(func(t *testing.T, message []byte) {
		bounces, err := bounce.ParseSES(string(message))
		checkParsed(t, alertd.SourceSES, bounces, err)
	})
}
