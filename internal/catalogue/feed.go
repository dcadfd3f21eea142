package catalogue

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/mmcdole/gofeed"
	"golang.org/x/net/html/charset"
)

// What one feed may cost. Feeds come from sites that can be hijacked, and
// gofeed holds the whole document in memory (hundreds of bytes per element)
// and recurses once per level of nesting, beyond the reach of recover. So
// the document's size and shape are checked before gofeed sees it, each
// bound far above what a real feed needs.
const (
	// MaxFeedSize: full-text feeds with hundreds of items stay under a few
	// MiB; an archive is imported as CSV or JSON, whose decoders stream.
	MaxFeedSize = 10 << 20
	// MaxFeedDepth: real feeds nest a few levels, XHTML content a few dozen.
	MaxFeedDepth = 100
	// MaxFeedNodes counts XML elements, attributes and the HTML tags in
	// their text, or JSON keys and values.
	MaxFeedNodes = 200_000
	// MaxFeedItems: a feed lists recent reports; thousands are an archive.
	MaxFeedItems = 5_000
	// MaxFeedToken bounds one tag with its attributes, or one text (an
	// item's full content): the XML decoder holds a whole one at a time.
	MaxFeedToken = 1 << 20
)

// decodeFeed reads an RSS 2.0, Atom 1.0 or JSON Feed document. An item's
// abstract is kept as gofeed gives it, markup included, and cleaned where it
// is shown; its title, authors and keywords are made plain text here (see
// feedMarkup).
func (d *decoder) decodeFeed(r io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(r, MaxFeedSize+1))
	if err != nil {
		return err
	}
	if len(data) > MaxFeedSize {
		return fmt.Errorf("the feed is refused: it is over the %d MiB a feed may be; import an archive as CSV or JSON", MaxFeedSize>>20)
	}
	if err := checkFeedShape(data); err != nil {
		return err
	}
	feed, err := gofeed.NewParser().Parse(bytes.NewReader(data))
	if errors.Is(err, gofeed.ErrFeedTypeNotDetected) {
		return errors.New("not an RSS, Atom or JSON feed; check the file, or give the right --format")
	}
	if err != nil {
		return fmt.Errorf("the feed cannot be read: %w", err)
	}
	if len(feed.Items) > MaxFeedItems {
		return fmt.Errorf("the feed is refused: it has %d items, more than the %d a feed may have; import an archive as CSV or JSON", len(feed.Items), MaxFeedItems)
	}
	// RSS feeds often link their items relative to the site.
	base, err := url.Parse(feed.Link)
	if err != nil || !base.IsAbs() {
		base = nil
	}
	markup := feedMarkup(feed.FeedType, data, len(feed.Items))
	for i, item := range feed.Items {
		in, err := feedInput(item, base, markup(i))
		if err != nil {
			d.reject(i+1, err.Error())
			continue
		}
		if err := d.add(i+1, in); err != nil {
			return err
		}
	}
	return nil
}

func feedInput(item *gofeed.Item, base *url.URL, markup itemMarkup) (Input, error) {
	in := Input{
		GUID:     item.GUID,
		Title:    item.Title,
		URL:      item.Link,
		Abstract: item.Description,
		Keywords: item.Categories,
		Authors:  feedAuthors(item),
	}
	if strings.TrimSpace(in.URL) == "" && len(item.Links) > 0 {
		in.URL = item.Links[0]
	}
	if base != nil && strings.TrimSpace(in.URL) != "" {
		if ref, err := url.Parse(strings.TrimSpace(in.URL)); err == nil && !ref.IsAbs() {
			in.URL = base.ResolveReference(ref).String()
		}
	}
	if strings.TrimSpace(in.GUID) == "" {
		in.GUID = in.URL
	}
	// A summary is what a digest wants; full content only when there is none.
	if strings.TrimSpace(in.Abstract) == "" {
		in.Abstract = item.Content
	}
	switch {
	case item.PublishedParsed != nil:
		in.PublishedAt = item.PublishedParsed
	case item.UpdatedParsed != nil:
		in.PublishedAt = item.UpdatedParsed
	case strings.TrimSpace(item.Published) != "" || strings.TrimSpace(item.Updated) != "":
		// Defaulting to now would announce an old item as new.
		given := item.Published
		if strings.TrimSpace(given) == "" {
			given = item.Updated
		}
		return in, invalid("published_at", "the feed's date %.40q is not understood", strings.TrimSpace(given))
	}
	return in.withoutStrayControls().asText(markup), nil
}

// itemMarkup says which of a feed item's short texts hold markup, as gofeed
// hands them over, rather than plain text.
type itemMarkup struct{ title, lists bool }

// feedMarkup tells, for the i-th item of a feed, which texts are markup.
// RSS says nothing of its titles, authors and categories, and publishers
// write HTML and entities in them (a CDATA title "Research &amp;
// Development"), which RSS readers render: they are markup. An Atom title
// says its type: "text" (the default) is plain text, where "a < b" or
// "&lt;template&gt;" means just that; "html", "xhtml" and base64 titles are
// markup, and so is a title holding elements whatever its type says. An
// Atom name or category has no type and is taken as markup, since markup is
// what reaches it in practice. JSON Feed's texts are plain text by its
// definition.
func feedMarkup(feedType string, data []byte, items int) func(i int) itemMarkup {
	switch feedType {
	case "rss":
		return func(int) itemMarkup { return itemMarkup{title: true, lists: true} }
	case "atom":
		textTitles := atomTextTitles(data)
		if len(textTitles) != items {
			// gofeed and the reader below disagree on the entries: a
			// title then loses what looks like a tag rather than keep one.
			textTitles = nil
		}
		return func(i int) itemMarkup {
			return itemMarkup{title: textTitles == nil || !textTitles[i], lists: true}
		}
	}
	return func(int) itemMarkup { return itemMarkup{} }
}

// atomTextTitles reads an Atom document's entries in order, as gofeed
// does, and says for each whether its title is plain text: of type "text"
// or "text/plain" (or none), not base64, and without child elements. A
// document that cannot be read gives nil.
func atomTextTitles(data []byte) []bool {
	dec := xml.NewDecoder(&controlFilter{r: bytes.NewReader(data)})
	dec.Strict = false
	dec.CharsetReader = charset.NewReaderLabel
	var titles []bool
	depth, titleDepth := 0, 0 // titleDepth: the depth of the title being read, else 0
	var entry xml.Name
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return titles
		}
		if err != nil {
			return nil
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case depth == 2 && t.Name.Local == "entry":
				entry = t.Name
				titles = append(titles, false)
			case depth == 3 && entry.Local != "" && t.Name == (xml.Name{Space: entry.Space, Local: "title"}):
				titleDepth = depth
				titles[len(titles)-1] = atomTextType(t.Attr)
			case titleDepth > 0:
				titles[len(titles)-1] = false
			}
		case xml.EndElement:
			if depth == titleDepth {
				titleDepth = 0
			}
			if depth == 2 {
				entry = xml.Name{}
			}
			depth--
			if depth == 0 {
				// gofeed reads no further than the end of the root element.
				return titles
			}
		}
	}
}

func atomTextType(attrs []xml.Attr) bool {
	text := true
	for _, a := range attrs {
		switch strings.ToLower(a.Name.Local) {
		case "type":
			t := strings.ToLower(strings.TrimSpace(a.Value))
			text = text && (t == "" || t == "text" || t == "text/plain")
		case "mode":
			text = text && strings.TrimSpace(a.Value) == ""
		}
	}
	return text
}

// feedAuthors lists the item's authors by name (else e-mail address). gofeed
// keeps only the first dc:creator of an RSS item, and reports often have
// several, so when there are more of them they are the list.
func feedAuthors(item *gofeed.Item) []string {
	var authors []string
	for _, p := range item.Authors {
		if p == nil {
			continue
		}
		name := strings.TrimSpace(p.Name)
		if name == "" {
			name = strings.TrimSpace(p.Email)
		}
		if name != "" {
			authors = append(authors, name)
		}
	}
	if item.DublinCoreExt != nil && len(item.DublinCoreExt.Creator) > len(authors) {
		authors = authors[:0]
		for _, creator := range item.DublinCoreExt.Creator {
			if creator = strings.TrimSpace(creator); creator != "" {
				authors = append(authors, creator)
			}
		}
	}
	return authors
}

var (
	errFeedTokenTooLarge = fmt.Errorf("the feed is refused: it has a tag or a text over %d MiB", MaxFeedToken>>20)
	errFeedTooDeep       = fmt.Errorf("the feed is refused: it nests more than %d levels deep", MaxFeedDepth)
	errFeedTooManyNodes  = fmt.Errorf("the feed is refused: it has more than %d nodes (elements, attributes, HTML tags in its text, JSON values)", MaxFeedNodes)
)

// checkFeedShape walks the document as a token stream, which holds one token
// at a time, and refuses it once it nests deeper than MaxFeedDepth or has more
// than MaxFeedNodes nodes. It tells JSON from XML as gofeed does, from the
// start of the document; what gofeed will not take as a feed is left to it.
func checkFeedShape(data []byte) error {
	switch gofeed.DetectFeedType(bytes.NewReader(data[:min(len(data), 4096)])) {
	case gofeed.FeedTypeJSON:
		return checkJSONShape(data)
	case gofeed.FeedTypeRSS, gofeed.FeedTypeAtom:
		return checkXMLShape(data)
	}
	return nil
}

// checkXMLShape reads the document with the decoder settings gofeed uses
// (lenient, any declared charset, C0 controls dropped), so that both see the
// same elements. encoding/xml builds a whole start tag, every attribute of
// it, before handing it on, so each token is also held to MaxFeedToken bytes.
func checkXMLShape(data []byte) error {
	in := &tokenReader{r: bufio.NewReader(&controlFilter{r: bytes.NewReader(data)})}
	dec := xml.NewDecoder(in)
	dec.Strict = false
	dec.CharsetReader = func(label string, raw io.Reader) (io.Reader, error) {
		converted, err := charset.NewReaderLabel(label, raw)
		if err != nil {
			return nil, err
		}
		in = &tokenReader{r: bufio.NewReader(converted)}
		return in, nil
	}
	depth, nodes := 0, 0
	for {
		in.used = 0
		tok, err := dec.Token()
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, errFeedTokenTooLarge):
			return err
		case err != nil:
			return fmt.Errorf("the feed cannot be read: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			nodes += 1 + len(t.Attr)
		case xml.CharData:
			// gofeed parses an item's text as HTML, to find its first image.
			nodes += bytes.Count(t, []byte("<"))
		case xml.EndElement:
			depth--
			if depth == 0 {
				// gofeed reads no further than the end of the root element.
				return nil
			}
		}
		switch {
		case depth > MaxFeedDepth:
			return errFeedTooDeep
		case nodes > MaxFeedNodes:
			return errFeedTooManyNodes
		}
	}
}

// tokenReader hands the XML decoder its input a byte at a time, which is how
// encoding/xml reads an io.ByteReader, and fails once the current token has
// taken MaxFeedToken bytes.
type tokenReader struct {
	r    *bufio.Reader
	used int
}

func (t *tokenReader) ReadByte() (byte, error) {
	if t.used == MaxFeedToken {
		return 0, errFeedTokenTooLarge
	}
	t.used++
	return t.r.ReadByte()
}

// Read serves a charset conversion, which reads ahead of the tokens; what it
// produces is counted by a tokenReader of its own.
func (t *tokenReader) Read(p []byte) (int, error) { return t.r.Read(p) }

func checkJSONShape(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	depth, nodes := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("the feed cannot be read: %w", err)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
			continue
		}
		nodes++
		switch {
		case depth > MaxFeedDepth:
			return errFeedTooDeep
		case nodes > MaxFeedNodes:
			return errFeedTooManyNodes
		}
	}
}

// controlFilter drops the C0 control bytes XML forbids (all below 0x20 but
// tab, line feed and carriage return), as gofeed does before parsing: they
// are the same bytes in UTF-8 and in every single-byte charset.
type controlFilter struct{ r io.Reader }

func (f *controlFilter) Read(p []byte) (int, error) {
	for {
		n, err := f.r.Read(p)
		kept := 0
		for _, b := range p[:n] {
			if b >= 0x20 || b == '\t' || b == '\n' || b == '\r' {
				p[kept] = b
				kept++
			}
		}
		if kept > 0 || err != nil {
			return kept, err
		}
	}
}
