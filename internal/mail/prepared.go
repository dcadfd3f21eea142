package mail

import (
	"crypto/rand"
	"fmt"
	"html"
	"mime/quotedprintable"
	netmail "net/mail"
	"slices"
	"strings"
	"time"
)

// standIns hold the places of the per-recipient parts in a prepared
// digest. Each digest draws its own with crypto/rand, so that no report
// text, which comes from feeds that can be tampered with, can hold one
// and have a reader's address or unsubscribe link spliced into it. They
// pass through the templates (and html/template's escaping) unchanged.
type standIns struct{ recipient, unsubscribe string }

func newStandIns() standIns {
	return standIns{
		recipient:   "alertd-" + rand.Text() + "@recipient.invalid",
		unsubscribe: "https://unsubscribe.invalid/" + rand.Text(),
	}
}

// maxUnfoldedHeader is the longest header line go-mail's writeHeader
// leaves whole: it moves a value that would end past it onto a
// continuation line. A recipient spliced into the stand-in's To line
// must fit, or go-mail would have written the line otherwise.
const maxUnfoldedHeader = 72

// PreparedDigest is a digest rendered and written out once for all who
// receive the same reports. A copy is that message with the recipient's
// address, unsubscribe link, Date and Message-ID spliced in: go-mail's
// writing and the quoted-printable encoding of the bodies, which cost many
// times the splicing, are done once for a million copies.
type PreparedDigest struct {
	composer *Composer
	standIns standIns
	// The rendering with stand-ins, for the copies that go-mail must
	// write itself.
	subject, text, html string
	lang                string

	from string // the envelope sender, as encode gives it
	// skeleton is the message go-mail wrote with stand-ins in the headers
	// and placeholders for the bodies, cut at each of them; size is the
	// length of its fixed text.
	skeleton                 []piece
	size                     int
	encodedText, encodedHTML encodedBody
}

// field names what a copy fills in.
type field int

const (
	noField field = iota
	recipientField
	unsubscribeField
	dateField
	messageIDField
	textField
	htmlField
)

// piece is fixed text, then the field a copy fills in after it.
type piece struct {
	text  string
	field field
}

// encodedBody is a part's body quoted-printable encoded ahead of the
// copies. Quoted-printable starts afresh at every line break, so the lines
// that show no stand-in are encoded once, in runs, and only the lines that
// do are filled in and encoded per copy, each to the same bytes that
// encoding the whole filled-in body would give.
type encodedBody []bodyRun

// bodyRun is encoded lines without stand-ins, then one source line with
// them, cut at each (nil after the last run).
type bodyRun struct {
	encoded string
	line    []piece
}

// values are what a copy fills in, as one part shows them.
type values struct{ to, unsubscribeURL string }

func (v values) of(f field) string {
	switch f {
	case recipientField:
		return v.to
	case unsubscribeField:
		return v.unsubscribeURL
	}
	return ""
}

// PrepareDigest renders d (its To and UnsubscribeURL are ignored) for
// Message to fill in. Templates may show .To and .UnsubscribeURL as they
// are; transforming them (say, upper-casing the address) would transform
// the stand-in instead.
func (c *Composer) PrepareDigest(d Digest) (*PreparedDigest, error) {
	standIns := newStandIns()
	d.To, d.UnsubscribeURL = standIns.recipient, standIns.unsubscribe
	data := c.digestData(d)
	subject, err := c.subject(digestMail, data)
	if err != nil {
		return nil, err
	}
	data.Subject = subject
	text, html, err := c.render(digestMail, data)
	if err != nil {
		return nil, err
	}
	p := &PreparedDigest{
		composer: c, standIns: standIns, subject: subject, text: text, html: html, lang: data.Lang,
		encodedText: standIns.encodeBody(text), encodedHTML: standIns.encodeBody(html),
	}
	if err := p.writeSkeleton(); err != nil {
		return nil, err
	}
	return p, nil
}

// writeSkeleton has go-mail write the digest once, with stand-ins of the
// same shape as the real values and random tokens for the bodies, and cuts
// it at each of them.
func (p *PreparedDigest) writeSkeleton() error {
	c := p.composer
	// Random, so that nothing else in the message can contain them; as
	// long as a Message-ID's rand.Text, so that go-mail folds the same.
	messageID, textToken, htmlToken := rand.Text(), rand.Text(), rand.Text()
	// Every Date has this layout: go-mail writes time.RFC1123Z.
	date := time.Unix(0, 0).UTC()

	m := c.build(&netmail.Address{Address: p.standIns.recipient}, p.lang, p.subject, textToken, htmlToken, date)
	m.SetMessageIDWithValue(messageID + "@" + c.messageIDDom)
	c.setListHeaders(m, p.standIns.unsubscribe)
	msg, err := encode(m)
	if err != nil {
		return err
	}
	p.from = msg.From
	skeleton := string(msg.Data)

	// Each is found by the text around it, which proves that the header
	// holds nothing but the stand-in, on one line.
	type hole struct {
		field                  field
		before, standIn, after string
		at                     int
	}
	holes := []hole{
		{field: recipientField, before: "\r\nTo: <", standIn: p.standIns.recipient, after: ">\r\n"},
		{field: unsubscribeField, before: "\r\nList-Unsubscribe: <", standIn: p.standIns.unsubscribe, after: ">"},
		{field: dateField, before: "\r\nDate: ", standIn: date.Format(time.RFC1123Z), after: "\r\n"},
		{field: messageIDField, before: "<", standIn: messageID, after: "@"},
		{field: textField, standIn: textToken},
		{field: htmlField, standIn: htmlToken},
	}
	for i, h := range holes {
		context := h.before + h.standIn + h.after
		if n := strings.Count(skeleton, context); n != 1 {
			return fmt.Errorf("prepare the digest: go-mail wrote %q %d times, want once; has its output format changed?", context, n)
		}
		holes[i].at = strings.Index(skeleton, context) + len(h.before)
	}
	slices.SortFunc(holes, func(a, b hole) int { return a.at - b.at })

	rest := 0
	for _, h := range holes {
		p.skeleton = append(p.skeleton, piece{text: skeleton[rest:h.at], field: h.field})
		p.size += h.at - rest
		rest = h.at + len(h.standIn)
	}
	p.skeleton = append(p.skeleton, piece{text: skeleton[rest:]})
	p.size += len(skeleton) - rest
	return nil
}

// encodeBody splits source into runs of lines without stand-ins, encoded
// as go-mail encodes a body, each followed by a line with stand-ins.
func (s standIns) encodeBody(source string) encodedBody {
	var body encodedBody
	var run strings.Builder
	qp := quotedprintable.NewWriter(&run)
	for line := range strings.Lines(source) {
		if !strings.Contains(line, s.recipient) && !strings.Contains(line, s.unsubscribe) {
			_, _ = qp.Write([]byte(line)) // a strings.Builder does not fail
			continue
		}
		// Every line but the last ends in a line break, after which qp
		// has written all it was given.
		body = append(body, bodyRun{encoded: run.String(), line: s.cut(line)})
		run.Reset()
	}
	// Encodes trailing white space on a last line without a line break.
	_ = qp.Close()
	return append(body, bodyRun{encoded: run.String()})
}

// cut cuts line at each stand-in, as strings.Replacer finds them.
func (s standIns) cut(line string) []piece {
	var pieces []piece
	for {
		at, standIn, f := strings.Index(line, s.recipient), s.recipient, recipientField
		if u := strings.Index(line, s.unsubscribe); u >= 0 && (at < 0 || u < at) {
			at, standIn, f = u, s.unsubscribe, unsubscribeField
		}
		if at < 0 {
			return append(pieces, piece{text: line})
		}
		pieces = append(pieces, piece{text: line[:at], field: f})
		line = line[at+len(standIn):]
	}
}

// Message fills in one recipient's copy. An address or link that go-mail
// would not write as it is (quoted, encoded or folded) has go-mail write
// the whole copy, as a fresh rendering would.
func (p *PreparedDigest) Message(to, unsubscribeURL string, now time.Time) (Message, error) {
	rcpt, err := netmail.ParseAddress(to)
	if err != nil {
		return Message{}, fmt.Errorf("%w %q: %w", ErrBadAddress, to, err)
	}
	if !spliceable(rcpt, to, unsubscribeURL) {
		return p.goMailCopy(rcpt, to, unsubscribeURL, now)
	}
	messageID := rand.Text()
	plain := values{to, unsubscribeURL}
	// As today's copies and the stand-ins have always been; html/template
	// would escape a few more characters, which read the same.
	escaped := values{html.EscapeString(to), html.EscapeString(unsubscribeURL)}
	// The longest the copy can be, and room for the end of data, so that
	// it is allocated once.
	size := len("\r\n.\r\n") + p.size + len(to) + len(unsubscribeURL) + len(time.RFC1123Z) + len(messageID) +
		p.encodedText.maxLen(plain) + p.encodedHTML.maxLen(escaped)
	w := &appendWriter{data: make([]byte, 0, size)}
	qp := quotedprintable.NewWriter(w)
	for _, piece := range p.skeleton {
		w.data = append(w.data, piece.text...)
		switch piece.field {
		case recipientField, unsubscribeField:
			w.data = append(w.data, plain.of(piece.field)...)
		case dateField:
			w.data = now.AppendFormat(w.data, time.RFC1123Z)
		case messageIDField:
			w.data = append(w.data, messageID...)
		case textField:
			p.encodedText.fill(w, qp, plain)
		case htmlField:
			p.encodedHTML.fill(w, qp, escaped)
		}
	}
	return Message{From: p.from, To: "<" + to + ">", Data: w.data}, nil
}

// spliceable reports whether go-mail would write to and unsubscribeURL into
// the headers as they are, on the stand-ins' lines. It writes the address
// as rcpt.String and folds a long To; it writes the link between angle
// brackets, after trimming white space and the brackets it may have.
func spliceable(rcpt *netmail.Address, to, unsubscribeURL string) bool {
	return printable(to) && rcpt.String() == "<"+to+">" &&
		len("To: <>")+len(to) <= maxUnfoldedHeader &&
		printable(unsubscribeURL) && !strings.ContainsAny(unsubscribeURL, "<>")
}

// printable reports whether s is ASCII without spaces or control
// characters, and not empty.
func printable(s string) bool {
	for i := range len(s) {
		if s[i] < '!' || s[i] > '~' {
			return false
		}
	}
	return s != ""
}

// goMailCopy has go-mail write the copy.
func (p *PreparedDigest) goMailCopy(rcpt *netmail.Address, to, unsubscribeURL string, now time.Time) (Message, error) {
	s := p.standIns
	text := strings.NewReplacer(s.recipient, to, s.unsubscribe, unsubscribeURL).Replace(p.text)
	body := strings.NewReplacer(s.recipient, html.EscapeString(to), s.unsubscribe, html.EscapeString(unsubscribeURL)).Replace(p.html)
	m := p.composer.build(rcpt, p.lang, p.subject, text, body, now)
	p.composer.setListHeaders(m, unsubscribeURL)
	return encode(m)
}

// maxLen bounds the length of the body filled in with v: quoted-printable
// at most triples a byte, and adds a three-byte soft line break only after
// 73 encoded bytes, which take at least 25 source bytes.
func (b encodedBody) maxLen(v values) int {
	n := 0
	for _, run := range b {
		n += len(run.encoded)
		for _, piece := range run.line {
			n += 4 * (len(piece.text) + len(v.of(piece.field)))
		}
	}
	return n
}

// fill writes the body filled in with v to w, encoding the lines with
// stand-ins with qp, which writes to w too.
func (b encodedBody) fill(w *appendWriter, qp *quotedprintable.Writer, v values) {
	var buf [1024]byte // holds any usual line; a longer one moves to the heap
	for _, run := range b {
		w.data = append(w.data, run.encoded...)
		if run.line == nil {
			continue
		}
		line := buf[:0]
		for _, piece := range run.line {
			line = append(line, piece.text...)
			line = append(line, v.of(piece.field)...)
		}
		// An appendWriter does not fail. Close flushes a last line without
		// a line break; after one, qp holds nothing and starts afresh.
		_, _ = qp.Write(line)
		_ = qp.Close()
	}
}

// appendWriter is an io.Writer that appends to data.
type appendWriter struct{ data []byte }

func (w *appendWriter) Write(b []byte) (int, error) {
	w.data = append(w.data, b...)
	return len(b), nil
}
