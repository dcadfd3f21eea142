package subscription

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/alertd/alertd"
)

// Limits from RFC 5321 §4.5.3.1: a forward-path holds at most 256 octets
// including the angle brackets, leaving 254 for the address itself.
const (
	maxAddressLength = 254
	maxLocalLength   = 64
	maxLabelLength   = 63
)

// ErrInvalidAddress is matched (with errors.Is) by every error ParseAddress
// returns. The error's own message is written for the person who typed the
// address and can be shown on the form as it is.
var ErrInvalidAddress = alertd.Errorf(alertd.Invalid, "invalid e-mail address")

// AddressError says why an address was refused, in words for the person who
// typed it.
type AddressError struct {
	Message string
	// ID names the same reason among the messages of the language files,
	// so that pages can give it in the reader's language.
	ID string
}

func (e *AddressError) Error() string { return e.Message }

// Unwrap makes errors.Is(err, ErrInvalidAddress) hold for every
// AddressError, and gives it ErrInvalidAddress's code.
func (e *AddressError) Unwrap() error { return ErrInvalidAddress }

// The messages are sentences for the subscription form, not log lines.
const (
	msgEmpty        = "Enter your e-mail address, like name@example.org."
	msgUnreadable   = "The e-mail address contains characters that could not be read. Please type it again."
	msgNameBrackets = "Enter a single e-mail address like name@example.org, without a name, quotes or brackets."
	msgList         = "Enter a single e-mail address like name@example.org, not a list."
	msgInvisible    = "The e-mail address contains invisible or control characters. Please type it again."
	msgSpaces       = "An e-mail address cannot contain spaces. Enter it like name@example.org."
	msgTooLong      = "That e-mail address is too long: at most 254 characters, and 64 before the @."
	msgNoAt         = "An e-mail address needs an @, like name@example.org."
	msgLocal        = "The part before the @ is not valid. Enter an address like name@example.org."
	msgDomain       = "The part after the @ must be a domain name like example.org."
	msgGeneric      = "Enter a single e-mail address like name@example.org."
)

// messageIDs are the ids of the messages above in the language files.
var messageIDs = map[string]string{
	msgEmpty: "address_empty", msgUnreadable: "address_unreadable", msgNameBrackets: "address_name_brackets",
	msgList: "address_list", msgInvisible: "address_invisible", msgSpaces: "address_spaces",
	msgTooLong: "address_too_long", msgNoAt: "address_no_at", msgLocal: "address_local",
	msgDomain: "address_domain", msgGeneric: "address_generic",
}

func invalid(message string) error { return &AddressError{Message: message, ID: messageIDs[message]} }

// ParseAddress accepts a single plain mailbox, local@domain, and returns it
// trimmed of surrounding whitespace but otherwise as entered: the case is
// kept, because the address as entered is what mail is sent to.
//
// It is deliberately stricter than RFC 5322. Display names, angle brackets,
// quoted local parts, comments, IP-literal domains and lists are refused:
// a sign-up form needs one deliverable mailbox, and each of those forms is a
// way to smuggle a second recipient or a header into a message.
//
// Internationalised addresses (RFC 6531) are accepted when they are valid
// UTF-8 and their non-ASCII characters are letters, marks or digits;
// delivering them needs a relay that offers SMTPUTF8, which go-mail uses when
// offered. Lengths are counted in UTF-8 octets.
func ParseAddress(input string) (string, error) {
	addr := strings.TrimSpace(input)
	if addr == "" {
		return "", invalid(msgEmpty)
	}
	if !utf8.ValidString(addr) {
		return "", invalid(msgUnreadable)
	}
	// The order of these checks only decides which message the reader sees:
	// "Bob <bob@example.org>" is better answered with "without a name" than
	// with "no spaces".
	if strings.ContainsAny(addr, `<>"()`) {
		return "", invalid(msgNameBrackets)
	}
	if strings.ContainsAny(addr, ",;") || strings.Count(addr, "@") > 1 {
		return "", invalid(msgList)
	}
	for _, r := range addr {
		switch {
		case unicode.IsSpace(r):
			return "", invalid(msgSpaces)
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			return "", invalid(msgInvisible)
		}
	}
	if len(addr) > maxAddressLength {
		return "", invalid(msgTooLong)
	}
	local, domain, found := strings.Cut(addr, "@")
	if !found {
		return "", invalid(msgNoAt)
	}
	if len(local) > maxLocalLength {
		return "", invalid(msgTooLong)
	}
	if !validLocalPart(local) {
		return "", invalid(msgLocal)
	}
	if !validDomain(domain) {
		return "", invalid(msgDomain)
	}
	// A second, independent parser: whatever it reads must be exactly the
	// bare address we checked, with no name attached.
	parsed, err := mail.ParseAddress(addr)
	if err != nil || parsed.Name != "" || parsed.Address != addr {
		return "", invalid(msgGeneric)
	}
	return addr, nil
}

// AddressKey is the form under which an address is unique: one subscriber
// per lower-cased address.
func AddressKey(addr string) string {
	return strings.ToLower(addr)
}

// validLocalPart reports whether local is an RFC 5322 dot-atom: runs of
// atext separated by single dots.
func validLocalPart(local string) bool {
	if local == "" {
		return false
	}
	for atom := range strings.SplitSeq(local, ".") {
		if atom == "" {
			return false
		}
		for _, r := range atom {
			if !isAtext(r) {
				return false
			}
		}
	}
	return true
}

func isAtext(r rune) bool {
	if r >= utf8.RuneSelf {
		return isInternationalChar(r)
	}
	if isASCIIAlnum(r) {
		return true
	}
	return strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r)
}

// validDomain reports whether domain is a host name of at least two labels,
// each of letters, digits and inner hyphens, at most 63 octets long. A
// top-level label of digits only is refused so that "1.2.3.4" is not taken
// for a domain.
func validDomain(domain string) bool {
	labels, last := 0, ""
	for label := range strings.SplitSeq(domain, ".") {
		if !validLabel(label) {
			return false
		}
		labels, last = labels+1, label
	}
	return labels >= 2 && strings.ContainsFunc(last, func(r rune) bool { return r < '0' || r > '9' })
}

func validLabel(label string) bool {
	if label == "" || len(label) > maxLabelLength {
		return false
	}
	if label[0] == '-' || label[len(label)-1] == '-' {
		return false
	}
	for _, r := range label {
		if r >= utf8.RuneSelf {
			if !isInternationalChar(r) {
				return false
			}
		} else if !isASCIIAlnum(r) && r != '-' {
			return false
		}
	}
	return true
}

func isASCIIAlnum(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
}

// isInternationalChar admits the non-ASCII characters that belong in names
// (letters, combining marks, digits) and nothing that could hide or
// reorder text, such as zero-width or bidirectional controls.
func isInternationalChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsNumber(r)
}
