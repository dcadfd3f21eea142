package bounce_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/bounce"
)

// FuzzRead feeds Read arbitrary mail: it must answer with a report or an
// error, never panic, and keep its bounds.
func FuzzRead(f *testing.F) {
	samples, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range samples {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
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
