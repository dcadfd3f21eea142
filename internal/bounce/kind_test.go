package bounce_test

import (
	"testing"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/bounce"
)

func TestRecipientKind(t *testing.T) {
	tests := []struct {
		action, status string
		kind           alertd.BounceKind // "" for none
	}{
		{"failed", "5.1.1", alertd.BounceHard},
		{"failed", "5.1.10", alertd.BounceHard},
		{"failed", "5.2.1", alertd.BounceHard},
		{"failed", "5.4.1", alertd.BounceSoft},
		{"failed", "5.4.4", alertd.BounceSoft},
		{"failed", "5.1.7", alertd.BouncePolicy},
		{"failed", "5.1.8", alertd.BouncePolicy},
		{"failed", "5.7.1", alertd.BouncePolicy},
		{"failed", "5.7.26", alertd.BouncePolicy},
		{"failed", "5.6.0", alertd.BouncePolicy},
		{"failed", "5.2.3", alertd.BouncePolicy},
		{"failed", "5.3.4", alertd.BouncePolicy},
		{"failed", "5.2.2", alertd.BounceSoft},
		{"failed", "5.3.2", alertd.BounceSoft},
		{"failed", "5.4.7", alertd.BounceSoft},
		{"failed", "5.5.0", alertd.BounceSoft},
		{"failed", "5.0.0", alertd.BounceSoft},
		{"failed", "", alertd.BounceSoft},
		{"failed", "4.4.7", alertd.BounceSoft},
		{"delayed", "4.4.1", alertd.BounceSoft},
		{"delayed", "5.1.1", alertd.BounceSoft},
		{"delivered", "2.0.0", ""},
		{"relayed", "2.0.0", ""},
		{"expanded", "2.0.0", ""},
		{"", "2.1.5", ""},
	}
	for _, tt := range tests {
		kind, ok := bounce.Recipient{Action: tt.action, Status: tt.status}.Kind()
		if ok != (tt.kind != "") || kind != tt.kind {
			t.Errorf("%s %s is %q (%v), want %q", tt.action, tt.status, kind, ok, tt.kind)
		}
	}
}
