package alertd_test

import (
	"testing"
	"unicode/utf8"

	"github.com/alertd/alertd"
)

func TestPlainText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"plain text unchanged", "A short abstract.", 100, "A short abstract."},
		{"tags dropped, entities decoded", "<p><b>Research Report</b> on R&amp;D &#8211; the region&#8217;s view</p>", 0, "Research Report on R&D – the region’s view"},
		{"inline tags do not split words", "<b>Re</b>port and <a href='x'>link</a>s", 0, "Report and links"},
		{"blocks and breaks separate words", "<p>One</p><p>Two</p>Three<br>Four<li>Five</li>", 0, "One Two Three Four Five"},
		{"scripts and styles dropped with their content", `<p>Brief.</p><script>alert("x <b>y</b>")</script><style>p{color:red}</style> End`, 0, "Brief. End"},
		{"what a browser never shows dropped", `Brief.<iframe>Your browser cannot show frames</iframe><noembed>no embed</noembed><noframes>no frames</noframes><template>t</template> End`, 0, "Brief. End"},
		{"whitespace collapsed and trimmed", "\n\t  Many   \n\n spaces\u00a0here  ", 0, "Many spaces here"},
		{"a lone less-than sign kept", "2 < 3 &lt; 4", 0, "2 < 3 < 4"},
		{"comments dropped", "a<!-- hidden -->b", 0, "ab"},
		{"unclosed tag drops the rest", "Text <b class=", 0, "Text"},
		{"cut at a word boundary", "The quick brown fox jumps over the lazy dog", 20, "The quick brown fox…"},
		{"cut exactly before a space", "The quick brown fox jumps", 16, "The quick brown…"},
		{"cut drops trailing punctuation", "Alpha, beta, gamma, delta", 13, "Alpha, beta…"},
		{"a long word is cut inside", "Supercalifragilisticexpialidocious", 10, "Supercali…"},
		{"fits exactly", "12345", 5, "12345"},
		{"counts characters, not bytes", "ééééé ééééé", 8, "ééééé…"},
		{"max 1", "abc", 1, "…"},
		{"empty", "", 10, ""},
		{"control characters dropped, entities included", "a\x1b[2Jb &#27;]0;pwned&#7; c\u009bd", 0, "a[2Jb ]0;pwned cd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := alertd.PlainText(tt.in, tt.max)
			if got != tt.want {
				t.Errorf("PlainText(%q, %d) = %q; want %q", tt.in, tt.max, got, tt.want)
			}
			if tt.max > 0 && utf8.RuneCountInString(got) > tt.max {
				t.Errorf("%q is over %d characters", got, tt.max)
			}
		})
	}
}

func TestOneLine(t *testing.T) {
	if got := alertd.OneLine(" Report\r\n on\ttrade \u00a0 and\n\nfinance "); got != "Report on trade and finance" {
		t.Errorf("OneLine = %q", got)
	}
}

func TestPlural(t *testing.T) {
	for n, want := range map[int]string{0: "0 reports", 1: "1 report", 2: "2 reports", 1000: "1000 reports"} {
		if got := alertd.Plural(n, "report", "reports"); got != want {
			t.Errorf("Plural(%d) = %q, want %q", n, got, want)
		}
	}
}
