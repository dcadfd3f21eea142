package subscription

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestParseAddressAcceptsPlainMailboxes(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string
	}{
		{"simple", "name@example.org", "name@example.org"},
		{"case is kept as entered", "Jane.Doe@Example.ORG", "Jane.Doe@Example.ORG"},
		{"surrounding spaces are trimmed", "  name@example.org\t", "name@example.org"},
		{"a pasted trailing line break is trimmed", "name@example.org\r\n", "name@example.org"},
		{"plus tag", "name+alerts@example.org", "name+alerts@example.org"},
		{"apostrophe", "o'brien@example.ie", "o'brien@example.ie"},
		{"every atext symbol", "a!#$%&'*+-/=?^_`{|}~z@example.org", "a!#$%&'*+-/=?^_`{|}~z@example.org"},
		{"dots inside the local part", "first.middle.last@example.org", "first.middle.last@example.org"},
		{"subdomains and inner hyphens", "x@mail.sub-domain.example.co.uk", "x@mail.sub-domain.example.co.uk"},
		{"punycode domain", "x@xn--mller-kva.de", "x@xn--mller-kva.de"},
		{"internationalised domain", "x@müller.de", "x@müller.de"},
		{"internationalised local part", "用户@例子.广告", "用户@例子.广告"},
		{"numeric labels below the top level", "x@123.example.org", "x@123.example.org"},
		{"63-octet label", "x@" + strings.Repeat("a", 63) + ".org", "x@" + strings.Repeat("a", 63) + ".org"},
		{"64-octet local part", strings.Repeat("a", 64) + "@example.org", strings.Repeat("a", 64) + "@example.org"},
		{"254 octets in all", longAddress(254), longAddress(254)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAddress(tt.input)
			if err != nil {
				t.Fatalf("ParseAddress(%q) = error %q, want %q", tt.input, err, tt.want)
			}
			if got != tt.want {
				t.Errorf("ParseAddress(%q) = %q, want %q", tt.input, got, tt.want)
			}
		})
	}
}

func TestParseAddressRejects(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		message string // the sentence the reader of the form sees
	}{
		{"empty", "", msgEmpty},
		{"only spaces", "  \t ", msgEmpty},
		{"display name", "Bob <bob@example.org>", msgNameBrackets},
		{"angle brackets alone", "<bob@example.org>", msgNameBrackets},
		{"quoted display name", `"Bob" bob@example.org`, msgNameBrackets},
		{"quoted local part", `"bob smith"@example.org`, msgNameBrackets},
		{"comment", "bob@example.org (Bob)", msgNameBrackets},
		{"comma list", "a@example.org,b@example.org", msgList},
		{"comma list with space", "a@example.org, b@example.org", msgList},
		{"semicolon list", "a@example.org;b@example.org", msgList},
		{"two @", "a@b@example.org", msgList},
		{"space separated list", "a@example.org b@example.org", msgList},
		{"header injection with CRLF", "a@example.org\r\nBcc: victim@example.net", msgList},
		{"header injection without a second address", "a@example.org\r\nX-Injected: yes", msgSpaces},
		{"bare LF inside", "a@exa\nmple.org", msgSpaces},
		{"bare CR inside", "a@exa\rmple.org", msgSpaces},
		{"NUL", "a\x00b@example.org", msgInvisible},
		{"DEL", "a\x7fb@example.org", msgInvisible},
		{"C1 control", "a\u0085b@example.org", msgSpaces},
		{"escape", "a\x1b[31m@example.org", msgInvisible},
		{"zero-width space", "a\u200bb@example.org", msgInvisible},
		{"right-to-left override", "a\u202eb@example.org", msgInvisible},
		{"no-break space inside", "a\u00a0b@example.org", msgSpaces},
		{"space inside", "first last@example.org", msgSpaces},
		{"tab inside", "first\tlast@example.org", msgSpaces},
		{"invalid UTF-8", "a\xffb@example.org", msgUnreadable},
		{"truncated UTF-8", "a@example.or\xc3", msgUnreadable},
		{"255 octets in all", longAddress(255), msgTooLong},
		{"65-octet local part", strings.Repeat("a", 65) + "@example.org", msgTooLong},
		{"no @", "name.example.org", msgNoAt},
		{"empty local part", "@example.org", msgLocal},
		{"leading dot", ".name@example.org", msgLocal},
		{"trailing dot", "name.@example.org", msgLocal},
		{"double dot", "na..me@example.org", msgLocal},
		{"backslash in local part", `na\me@example.org`, msgLocal},
		{"symbol outside atext", "na☃me@example.org", msgLocal},
		{"empty domain", "name@", msgDomain},
		{"no dot in domain", "name@localhost", msgDomain},
		{"IPv4 literal", "name@[192.0.2.1]", msgDomain},
		{"IPv6 literal", "name@[IPv6:2001:db8::1]", msgDomain},
		{"bare IPv4 address", "name@192.0.2.1", msgDomain},
		{"empty label", "name@example..org", msgDomain},
		{"leading dot in domain", "name@.example.org", msgDomain},
		{"trailing dot in domain", "name@example.org.", msgDomain},
		{"label starting with hyphen", "name@-example.org", msgDomain},
		{"label ending with hyphen", "name@example-.org", msgDomain},
		{"top-level label ending with hyphen", "name@example.org-", msgDomain},
		{"64-octet label", "x@" + strings.Repeat("a", 64) + ".org", msgDomain},
		{"underscore in domain", "name@ex_ample.org", msgDomain},
		{"symbol in domain", "name@exa☃mple.org", msgDomain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAddress(tt.input)
			if err == nil {
				t.Fatalf("ParseAddress(%q) = %q, want an error", tt.input, got)
			}
			if !errors.Is(err, ErrInvalidAddress) {
				t.Errorf("ParseAddress(%q) error %v does not match ErrInvalidAddress", tt.input, err)
			}
			if err.Error() != tt.message {
				t.Errorf("ParseAddress(%q) error = %q, want %q", tt.input, err, tt.message)
			}
			if got != "" {
				t.Errorf("ParseAddress(%q) returned %q alongside its error", tt.input, got)
			}
		})
	}
}

func TestAddressKeyFoldsCaseOnly(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"Jane.Doe@Example.ORG", "jane.doe@example.org"},
		{"jane.doe@example.org", "jane.doe@example.org"},
		{"ÄBC@MÜLLER.DE", "äbc@müller.de"},
		{"name+Tag@example.org", "name+tag@example.org"},
	}
	for _, tt := range tests {
		if got := AddressKey(tt.addr); got != tt.want {
			t.Errorf("AddressKey(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

// longAddress builds a valid address of exactly n octets (n from 197 to 260):
// a domain of three 63-octet labels and a local part that makes up the rest.
func longAddress(n int) string {
	domain := strings.Repeat(strings.Repeat("d", maxLabelLength)+".", 3) + "org"
	return strings.Repeat("x", n-len(domain)-1) + "@" + domain
}

func FuzzParseAddress(f *testing.F) {
	for _, seed := range []string{
		"name@example.org", " Name@Example.org ", "Bob <bob@example.org>", "a@b@c.org",
		"a@example.org\r\nBcc: x@y.org", "用户@例子.广告", `"q"@example.org`, "x@[192.0.2.1]",
		"a@example.org,b@example.org", "a\x00@example.org", longAddress(254), "\xff@example.org",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		addr, err := ParseAddress(input)
		if err != nil {
			if !errors.Is(err, ErrInvalidAddress) {
				t.Fatalf("ParseAddress(%q) error %v does not match ErrInvalidAddress", input, err)
			}
			return
		}
		if addr != strings.TrimSpace(input) {
			t.Errorf("ParseAddress(%q) = %q, want the input trimmed", input, addr)
		}
		if !utf8.ValidString(addr) {
			t.Errorf("accepted invalid UTF-8 %q", addr)
		}
		if len(addr) > maxAddressLength {
			t.Errorf("accepted %d octets: %q", len(addr), addr)
		}
		if n := strings.Count(addr, "@"); n != 1 {
			t.Errorf("accepted %q with %d @", addr, n)
		}
		if strings.ContainsFunc(addr, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) {
			t.Errorf("accepted %q with control or space characters", addr)
		}
		again, err := ParseAddress(addr)
		if err != nil || again != addr {
			t.Errorf("ParseAddress(%q) = %q, %v on re-parse, want it unchanged", addr, again, err)
		}
	})
}
