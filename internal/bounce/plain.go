package bounce

import (
	"bytes"
	"mime"
	"net/textproto"
	"regexp"
	"strings"

	"github.com/alertd/alertd"
)

// Markers of the plain-text bounces some MTAs send instead of a DSN.
const (
	// eximMarker opens Exim's bounce message; its failures follow a line
	// ending "address(es) failed:", each address indented by two spaces
	// and its reason by four.
	eximMarker = "This message was created automatically by mail delivery software."
	eximFailed = "address(es) failed:"
	// qmailMarker opens qmail-send's bounce message; each failure is a
	// line "<address>:" followed by its reason, up to a blank line.
	qmailMarker = "This is the qmail-send program"
)

// replyCode finds an SMTP reply code of a failure (4xx or 5xx) at the start
// of a word, as in "550 5.1.1 ..." or "[192.0.2.1]: 550-...".
var replyCode = regexp.MustCompile(`(?:^|[\s:\]])([45])\d\d[ -]`)

// plainText is the decoded body of a text/plain mail.
func plainText(header textproto.MIMEHeader, body []byte) (string, bool) {
	if mediaType, _ := contentType(header); mediaType != "text/plain" {
		return "", false
	}
	data, err := decode(header, bytes.NewReader(body))
	if err != nil {
		return "", false
	}
	return strings.ReplaceAll(string(data), "\r\n", "\n"), true
}

// plainBounce reads an Exim or qmail plain-text bounce as a DSN whose
// recipients all failed: the status is the enhanced code of the SMTP reply
// it quotes, the reply's class with .0.0 when the reply has none, and
// 5.0.0 when it quotes no reply (both MTAs list permanent failures only).
// The text before the returned message is the evidence, the returned
// message's header the original.
func plainBounce(text string) (Report, bool) {
	explanation, returned := splitReturned(text)
	var recipients []Recipient
	switch {
	case strings.Contains(explanation, eximMarker):
		recipients = eximFailures(explanation)
	case strings.Contains(explanation, qmailMarker):
		recipients = qmailFailures(explanation)
	}
	if len(recipients) == 0 {
		return Report{}, false
	}
	return Report{
		Type:       TypeDSN,
		Recipients: recipients,
		Original:   firstBlock(returned),
		Evidence:   cutEvidence(explanation),
	}, true
}

// splitReturned splits a plain-text bounce at the line that introduces the
// copy of the returned message.
func splitReturned(text string) (explanation, returned string) {
	offset := 0
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, "------ This is a copy of the message") || strings.HasPrefix(line, "--- Below this line is") {
			return text[:offset], text[offset+len(line):]
		}
		offset += len(line)
	}
	return text, ""
}

func eximFailures(text string) []Recipient {
	_, section, ok := strings.Cut(text, eximFailed)
	if !ok {
		return nil
	}
	var f failures
	for line := range strings.Lines(section) {
		trimmed := strings.TrimSpace(line)
		indent := len(line) - len(strings.TrimLeft(line, " \t"))
		switch {
		case trimmed == "":
		case indent == 0:
			f.flush()
			return f.recipients
		case indent <= 2:
			f.flush()
			if first, _, _ := strings.Cut(trimmed, " "); strings.Contains(first, "@") {
				f.address = strings.Trim(first, "<>:")
			}
		case f.address != "":
			f.reason = append(f.reason, trimmed)
		}
	}
	f.flush()
	return f.recipients
}

func qmailFailures(text string) []Recipient {
	_, section, _ := strings.Cut(text, qmailMarker)
	var f failures
	for line := range strings.Lines(section) {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
			f.flush()
		case strings.HasPrefix(trimmed, "<") && strings.HasSuffix(trimmed, ">:"):
			f.flush()
			f.address = strings.TrimSuffix(strings.TrimPrefix(trimmed, "<"), ">:")
		case f.address != "":
			f.reason = append(f.reason, trimmed)
		}
	}
	f.flush()
	return f.recipients
}

// failures collects a plain-text bounce's failed recipients as its lines
// are read: an address, then the lines of its reason.
type failures struct {
	recipients []Recipient
	address    string
	reason     []string
}

// flush ends the recipient being read, keeping at most maxRecipients.
func (f *failures) flush() {
	if f.address != "" && len(f.recipients) < maxRecipients {
		f.recipients = append(f.recipients, failed(f.address, strings.Join(f.reason, " ")))
	}
	f.address, f.reason = "", nil
}

// failed is a recipient of a plain-text bounce: failed, with the status its
// reason gives.
func failed(address, reason string) Recipient {
	return Recipient{Final: address, Action: "failed", Status: reasonStatus(reason), Diagnostic: reason}
}

// reasonStatus is the enhanced status a bounce's reason gives: the one
// right after its SMTP reply code, the reply code's class .0.0 when there is
// none, qmail's own "(#5.1.1)" notation, and 5.0.0 when there is nothing.
// A code elsewhere in the text is not trusted: it may be part of an IP
// address.
func reasonStatus(reason string) string {
	if match := replyCode.FindStringSubmatchIndex(reason); match != nil {
		class := reason[match[2]:match[3]]
		if status := statusAt(reason[match[1]:]); strings.HasPrefix(status, class) {
			return status
		}
		return class + ".0.0"
	}
	if _, after, ok := strings.Cut(reason, "(#"); ok {
		if status := statusAt(after); status != "" {
			return status
		}
	}
	return "5.0.0"
}

// statusAt is the enhanced status code text starts with, or "".
func statusAt(text string) string {
	if status := alertd.EnhancedStatus(text); strings.HasPrefix(text, status) {
		return status
	}
	return ""
}

// autoReplySubjects are how automatic replies' subjects begin, in lower
// case, in the languages they are most often met in.
var autoReplySubjects = []string{
	"out of office", "out of the office", "automatic reply", "auto-reply", "autoreply", "auto reply", "auto:",
	"automatische antwort", "abwesenheitsnotiz", "réponse automatique", "respuesta automática", "risposta automatica", "自动回复",
}

// autoReply reports whether a mail's header marks it as an automatic reply:
// Auto-Submitted: auto-replied (RFC 3834), the X-Autoreply and
// X-Autorespond headers vacation programs add, Precedence: auto_reply, or a
// subject such as "Out of office" or "Automatic reply: ...". DSNs carry
// these markers too; Read asks only of mail that is no report.
func autoReply(header textproto.MIMEHeader) bool {
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(header.Get("Auto-Submitted"))), "auto-replied") {
		return true
	}
	if header.Get("X-Autoreply") != "" || header.Get("X-Autorespond") != "" {
		return true
	}
	if strings.EqualFold(strings.TrimSpace(header.Get("Precedence")), "auto_reply") {
		return true
	}
	subject := header.Get("Subject")
	if decoded, err := new(mime.WordDecoder).DecodeHeader(subject); err == nil {
		subject = decoded
	}
	subject = strings.ToLower(strings.TrimSpace(subject))
	for _, prefix := range autoReplySubjects {
		if strings.HasPrefix(subject, prefix) {
			return true
		}
	}
	return false
}
