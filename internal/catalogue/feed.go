package catalogue

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/mmcdole/gofeed"
)

// decodeFeed reads an RSS 2.0, Atom 1.0 or JSON Feed document. The items'
// text is kept as gofeed gives it: entities decoded, markup kept.
func (d *decoder) decodeFeed(r io.Reader) error {
	feed, err := gofeed.NewParser().Parse(r)
	if errors.Is(err, gofeed.ErrFeedTypeNotDetected) {
		return errors.New("not an RSS, Atom or JSON feed; check the file, or give the right --format")
	}
	if err != nil {
		return fmt.Errorf("the feed cannot be read: %w", err)
	}
	// RSS feeds often link their items relative to the site.
	base, err := url.Parse(feed.Link)
	if err != nil || !base.IsAbs() {
		base = nil
	}
	for i, item := range feed.Items {
		in, err := feedInput(item, base)
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

func feedInput(item *gofeed.Item, base *url.URL) (Input, error) {
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
	return in.withoutStrayControls(), nil
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
