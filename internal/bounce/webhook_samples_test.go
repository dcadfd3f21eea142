package bounce_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/bounce"
)

// outcome is what one bounce parsed from a sample must say.
type outcome struct {
	kind          alertd.BounceKind
	email, status string
	key           string
}

// TestWebhookSamples parses every provider sample in testdata/webhooks
// with its provider's parser; testdata/README.md names the documentation
// each follows. A sample without an expected outcome here fails the test.
func TestWebhookSamples(t *testing.T) {
	parsers := map[string]func([]byte) ([]alertd.Bounce, error){
		"postmark": bounce.ParsePostmark,
		"mailgun":  bounce.ParseMailgun,
		"sendgrid": bounce.ParseSendGrid,
		"ses":      func(b []byte) ([]alertd.Bounce, error) { return bounce.ParseSES(string(b)) },
	}
	want := map[string]struct {
		provider string
		bounces  []outcome
	}{
		"postmark-hard-bounce.json":     {"postmark", []outcome{{alertd.BounceHard, "gone@example.com", "5.1.1", "postmark:4323372036854775807:gone@example.com"}}},
		"postmark-soft-bounce.json":     {"postmark", []outcome{{alertd.BounceSoft, "full@example.com", "4.2.2", "postmark:4323372036854775808:full@example.com"}}},
		"postmark-spam-complaint.json":  {"postmark", []outcome{{alertd.BounceComplaint, "angry@example.com", "", "postmark:4323372036854775809:angry@example.com"}}},
		"postmark-delivery.json":        {"postmark", nil},
		"mailgun-failed-permanent.json": {"mailgun", []outcome{{alertd.BounceHard, "gone@example.com", "5.1.1", "mailgun:G9Bn5sl1TC6nu79C8C0bwg:gone@example.com"}}},
		"mailgun-failed-temporary.json": {"mailgun", []outcome{{alertd.BounceSoft, "full@example.com", "4.2.2", "mailgun:Ase7i2zsRYeDXztHGENqRA:full@example.com"}}},
		"mailgun-complained.json":       {"mailgun", []outcome{{alertd.BounceComplaint, "angry@example.com", "", "mailgun:-Agny091SquKnsrW2NEKUA:angry@example.com"}}},
		"mailgun-delivered.json":        {"mailgun", nil},
		"sendgrid-batch.json": {"sendgrid", []outcome{
			{alertd.BounceHard, "gone@example.com", "5.1.1", "sendgrid:6g4ZI7SA-xmRDv57GoPIPw==:gone@example.com"},
			{alertd.BounceComplaint, "angry@example.com", "", "sendgrid:4gYFtDqyRdKHqIGFFm7yxA==:angry@example.com"},
		}},
		"sendgrid-deferred.json":    {"sendgrid", []outcome{{alertd.BounceSoft, "full@example.com", "4.2.2", "sendgrid:qK1MxfAaE_ukyyNsjxTpkw==:full@example.com"}}},
		"ses-bounce-permanent.json": {"ses", []outcome{{alertd.BounceHard, "gone@example.com", "5.1.1", "ses:00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000:gone@example.com"}}},
		"ses-bounce-transient.json": {"ses", []outcome{{alertd.BounceSoft, "full@example.com", "4.2.2", "ses:00000138111222aa-44433322-dddd-dddd-dddd-eeeebbbb0681-000000:full@example.com"}}},
		"ses-complaint.json":        {"ses", []outcome{{alertd.BounceComplaint, "angry@example.com", "", "ses:000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000:angry@example.com"}}},
		"ses-delivery.json":         {"ses", nil},
	}
	files, err := filepath.Glob(filepath.Join("testdata", "webhooks", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, file := range files {
		names = append(names, filepath.Base(file))
	}
	for name := range want {
		if !slices.Contains(names, name) {
			t.Errorf("%s: expected but not in testdata/webhooks", name)
		}
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			w, ok := want[name]
			if !ok {
				t.Fatal("a sample without an expected outcome")
			}
			body, err := os.ReadFile(filepath.Join("testdata", "webhooks", name))
			if err != nil {
				t.Fatal(err)
			}
			bounces, err := parsers[w.provider](body)
			if err != nil {
				t.Fatal(err)
			}
			var got []outcome
			for _, b := range bounces {
				got = append(got, outcome{b.Kind, b.Email, b.Status, b.Key})
				if string(b.Source) != w.provider || b.At.IsZero() || b.Evidence == "" {
					t.Errorf("source %q, time %v, evidence %d bytes", b.Source, b.At, len(b.Evidence))
				}
			}
			if !slices.Equal(got, w.bounces) {
				t.Errorf("got  %+v\nwant %+v", got, w.bounces)
			}
		})
	}
}
