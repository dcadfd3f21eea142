package bounce

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"

	"github.com/alertd/alertd"
)

// Bounds on what Read takes apart. Real reports are small and shallow: a
// DSN is a multipart/report of three or four parts, sometimes with a
// multipart/alternative explanation inside, sometimes forwarded inside a
// multipart/mixed.
const (
	// MaxSize is the largest mail Read reads.
	MaxSize = 1 << 20
	// maxParts is how many MIME parts Read looks at in one mail, counted
	// over every level.
	maxParts = 100
	// maxDepth is how many multiparts deep Read looks for a report.
	maxDepth = 5
	// maxRecipients is how many recipients a report may name. alertd
	// sends each message to one recipient, so a report about more is not
	// about alertd's mail.
	maxRecipients = 1000
)

var errTooManyParts = fmt.Errorf("the mail has more than %d MIME parts", maxParts)

// Read reads one mail and says what it is: a delivery status notification
// (RFC 3464, RFC 6533), a feedback report (RFC 5965), a plain-text bounce
// in Exim's or qmail's format, an automatic reply (RFC 3834 and the common
// vacation markers), or other mail. Mail claiming to be a report that
// cannot be read as one is an error, as is mail over MaxSize or with an
// unreadable header; the caller keeps such mail as unrecognised.
func Read(raw []byte) (Report, error) {
	if len(raw) > MaxSize {
		return Report{}, fmt.Errorf("the mail is %d bytes, more than the %d a report may have", len(raw), MaxSize)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Report{}, fmt.Errorf("reading the mail's header: %w", err)
	}
	header := textproto.MIMEHeader(msg.Header)
	body, err := io.ReadAll(msg.Body)
	if err != nil {
		return Report{}, fmt.Errorf("reading the mail's body: %w", err)
	}
	r := &reader{}
	report, found, err := r.entity(header, body, 0)
	if err != nil {
		return Report{}, err
	}
	if text, ok := plainText(header, body); ok && !found {
		report, found = plainBounce(text)
	}
	switch {
	case found:
	case autoReply(header):
		report = Report{Type: TypeAutoReply}
	default:
		report = Report{Type: TypeOther}
	}
	report.Header = header
	return report, nil
}

// reader counts the MIME parts of one mail.
type reader struct {
	parts int
}

// entity looks for a report in one MIME entity: the entity itself when it
// is a multipart/report, else the first report among its parts. A
// container that breaks off ends the search without an error: only a
// report that cannot be read is one.
func (r *reader) entity(header textproto.MIMEHeader, body []byte, depth int) (Report, bool, error) {
	mediaType, params := contentType(header)
	if !strings.HasPrefix(mediaType, "multipart/") || params["boundary"] == "" {
		return Report{}, false, nil
	}
	if mediaType == "multipart/report" {
		return r.report(params, body)
	}
	if depth >= maxDepth {
		return Report{}, false, nil
	}
	parts := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		part, err := parts.NextRawPart()
		if err != nil {
			return Report{}, false, nil
		}
		if r.parts++; r.parts > maxParts {
			return Report{}, false, errTooManyParts
		}
		data, err := decode(part.Header, part)
		if err != nil {
			return Report{}, false, nil
		}
		if report, found, err := r.entity(part.Header, data, depth+1); found || err != nil {
			return report, found, err
		}
	}
}

// report reads a multipart/report: a delivery status notification or a
// feedback report by its report-type, the machine-readable part as its
// evidence and the quoted message's header. A multipart/report of another
// type (a read receipt, a TLS report) is not a report of these.
func (r *reader) report(params map[string]string, body []byte) (Report, bool, error) {
	var report Report
	switch strings.ToLower(params["report-type"]) {
	case "delivery-status", "global-delivery-status":
		report.Type = TypeDSN
	case "feedback-report":
		report.Type = TypeFeedback
	default:
		return Report{}, false, nil
	}
	var status, feedback []byte
	parts := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		part, err := parts.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// A report cut short after its machine-readable part (a
			// quoted message truncated on the way) still says what it
			// has to say.
			if status != nil || feedback != nil {
				break
			}
			return Report{}, false, fmt.Errorf("reading the report's parts: %w", err)
		}
		if r.parts++; r.parts > maxParts {
			return Report{}, false, errTooManyParts
		}
		data, err := decode(part.Header, part)
		if err != nil {
			return Report{}, false, fmt.Errorf("reading the report's parts: %w", err)
		}
		mediaType, _ := contentType(part.Header)
		switch mediaType {
		case "message/delivery-status", "message/global-delivery-status":
			if status == nil {
				status = data
			}
		case "message/feedback-report":
			if feedback == nil {
				feedback = data
			}
		case "message/rfc822", "message/global", "text/rfc822-headers", "message/global-headers":
			if report.Original == nil {
				report.Original = firstBlock(string(data))
			}
		}
	}
	switch report.Type {
	case TypeDSN:
		if status == nil {
			return Report{}, false, errors.New("the delivery status notification has no message/delivery-status part")
		}
		recipients, err := deliveryStatus(string(status))
		if err != nil {
			return Report{}, false, err
		}
		report.Recipients = recipients
		report.Evidence = cutEvidence(string(status))
	case TypeFeedback:
		if feedback == nil {
			return Report{}, false, errors.New("the feedback report has no message/feedback-report part")
		}
		fields := firstBlock(string(feedback))
		report.FeedbackType = strings.ToLower(strings.TrimSpace(fields.Get("Feedback-Type")))
		if report.FeedbackType == "" {
			return Report{}, false, errors.New("the feedback report has no Feedback-Type")
		}
		report.Evidence = cutEvidence(string(feedback))
	}
	return report, true, nil
}

// deliveryStatus reads the recipients of a message/delivery-status part: a
// block of per-message fields, then one block per recipient (RFC 3464 §2.1).
func deliveryStatus(text string) ([]Recipient, error) {
	var recipients []Recipient
	for _, fields := range fieldBlocks(text) {
		final := addressValue(fields.Get("Final-Recipient"))
		if final == "" {
			continue // the per-message block
		}
		if len(recipients) == maxRecipients {
			return nil, fmt.Errorf("the delivery status notification names more than %d recipients", maxRecipients)
		}
		status := alertd.EnhancedStatus(fields.Get("Status"))
		diagnostic := addressValue(fields.Get("Diagnostic-Code"))
		if status == "" {
			status = alertd.EnhancedStatus(diagnostic)
		}
		recipients = append(recipients, Recipient{
			Final:      final,
			Original:   addressValue(fields.Get("Original-Recipient")),
			Action:     strings.ToLower(strings.TrimSpace(fields.Get("Action"))),
			Status:     status,
			Diagnostic: diagnostic,
		})
	}
	if len(recipients) == 0 {
		return nil, errors.New("the delivery status notification names no Final-Recipient")
	}
	return recipients, nil
}

// addressValue is a typed field's value without its type: "rfc822;
// a@example.com" is "a@example.com", "smtp; 550 5.1.1 ..." is "550 5.1.1 ...".
func addressValue(field string) string {
	if _, value, ok := strings.Cut(field, ";"); ok {
		return strings.TrimSpace(value)
	}
	return strings.TrimSpace(field)
}

// fieldBlocks reads header fields in blocks separated by blank lines, the
// way a DSN's status part and a quoted header are written. It is lenient
// where textproto is strict: a line that is not a field is skipped, since a
// report's author is a machine nobody can ask to fix it. A folded field's
// lines are joined once, when the field ends, so that a field folded over
// a megabyte of lines costs no more than its length.
func fieldBlocks(text string) []textproto.MIMEHeader {
	var blocks []textproto.MIMEHeader
	var block textproto.MIMEHeader
	var key string     // the field being read
	var value []string // its lines, unfolded
	endField := func() {
		if key != "" {
			block[key] = append(block[key], strings.Join(value, " "))
		}
		key, value = "", nil
	}
	endBlock := func() {
		endField()
		if block != nil {
			blocks = append(blocks, block)
			block = nil
		}
	}
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.TrimSpace(line) == "":
			endBlock()
		case line[0] == ' ' || line[0] == '\t':
			if key != "" {
				value = append(value, strings.TrimSpace(line))
			}
		default:
			endField()
			name, first, ok := strings.Cut(line, ":")
			name = strings.TrimSpace(name)
			if !ok || name == "" || strings.ContainsAny(name, " \t") {
				continue
			}
			if block == nil {
				block = make(textproto.MIMEHeader)
			}
			key, value = textproto.CanonicalMIMEHeaderKey(name), []string{strings.TrimSpace(first)}
		}
	}
	endBlock()
	return blocks
}

// firstBlock is the first block of fields in text (a quoted message's
// header), or nil when there is none.
func firstBlock(text string) textproto.MIMEHeader {
	if head, _, ok := strings.Cut(strings.ReplaceAll(strings.TrimLeft(text, "\r\n"), "\r\n", "\n"), "\n\n"); ok {
		text = head
	}
	if blocks := fieldBlocks(text); len(blocks) > 0 {
		return blocks[0]
	}
	return nil
}

// contentType is an entity's media type in lower case and its parameters;
// text/plain when it names none or one that does not parse (RFC 2045 §5.2).
func contentType(header textproto.MIMEHeader) (string, map[string]string) {
	mediaType, params, err := mime.ParseMediaType(header.Get("Content-Type"))
	if err != nil {
		return "text/plain", nil
	}
	return mediaType, params
}

// decode is a body with its Content-Transfer-Encoding undone.
func decode(header textproto.MIMEHeader, body io.Reader) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(header.Get("Content-Transfer-Encoding"))) {
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, fmt.Errorf("decoding a part: %w", err)
	}
	return data, nil
}
