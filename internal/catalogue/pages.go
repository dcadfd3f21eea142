package catalogue

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/htmlsource"
	"github.com/alertd/alertd/internal/store"
)

// What one poll of an HTML source may cost: each fetch is bounded by the
// client, and the poll as a whole by these.
const (
	// maxReportPages bounds the report pages a poll fetches: the first
	// poll of a long listing leaves the rest to the next polls.
	maxReportPages = 100
)

// pagesBudget bounds a poll's time, every listing and report page
// included; the report pages it leaves unread wait for the next poll.
var pagesBudget = 10 * time.Minute

// pageItem is one item of a source's listing pages, numbered from 1 across
// them.
type pageItem struct {
	line  int
	item  htmlsource.Item
	known bool
}

// readPages reads an HTML source's listing pages, at most its max_pages,
// and, when it reads details, the page of each report not yet in the
// catalogue. An item listed twice is read once; a listing page the item
// selector finds nothing on fails the whole poll, so that a redesigned site
// never reads as an empty one.
func (s *Service) readPages(ctx context.Context, client *http.Client, src Source) ([]pageItem, error) {
	budget, cancel := context.WithTimeout(ctx, pagesBudget)
	defer cancel()
	page, err := url.Parse(src.URL)
	if err != nil {
		return nil, err
	}
	var items []pageItem
	pagesRead, linked := map[string]bool{}, map[string]bool{}
	for n := 0; page != nil && n < src.HTML.MaxPages() && !pagesRead[page.String()]; n++ {
		pagesRead[page.String()] = true
		body, err := fetch(budget, client, page)
		if err != nil {
			return nil, err
		}
		listed, next, err := src.HTML.Listing(body, page)
		body.Close()
		if err != nil {
			return nil, fmt.Errorf("the listing page %s: %w", page.Redacted(), err)
		}
		for _, it := range listed {
			if it.Link != "" && linked[it.Link] {
				continue
			}
			linked[it.Link] = true
			items = append(items, pageItem{line: len(items) + 1, item: it})
		}
		page = next
	}
	fetched := 0
	kept := items[:0]
	for _, p := range items {
		if p.item.Problem == nil {
			_, err := s.store.ReportByGUID(ctx, p.item.Link)
			switch {
			case err == nil:
				p.known = true
			case !errors.Is(err, store.ErrNotFound):
				return nil, err
			case src.HTML.Detail() && (fetched == maxReportPages || budget.Err() != nil):
				continue
			case !src.HTML.Detail():
			case !p.admissible(s.now()):
				// The poll rejects it with the reason; its page, perhaps
				// planted, is not worth a fetch.
			default:
				fetched++
				if err := s.readDetail(budget, client, src.HTML, &p.item); err != nil {
					// Out of time, the page is no fault of the report's.
					if budget.Err() != nil {
						continue
					}
					p.item.Problem = err
				}
			}
		}
		kept = append(kept, p)
	}
	return kept, nil
}

func (s *Service) readDetail(ctx context.Context, client *http.Client, reader *htmlsource.Reader, it *htmlsource.Item) error {
	u, err := url.Parse(it.Link)
	if err != nil {
		return err
	}
	body, err := fetch(ctx, client, u)
	if err != nil {
		return fmt.Errorf("the report's page: %w", err)
	}
	defer body.Close()
	if err := reader.ReadDetail(body, it); err != nil {
		return fmt.Errorf("the report's page %s: %w", u.Redacted(), err)
	}
	return nil
}

// admissible reports whether the item, as the listing gives it, would be
// taken as a report.
func (p pageItem) admissible(now time.Time) bool {
	_, err := p.input().Report(now)
	return err == nil
}

// input is the item as a report to validate, recognised by its link.
func (p pageItem) input() Input {
	it := p.item
	return Input{
		GUID: it.Link, URL: it.Link, Title: it.Title, PublishedAt: it.PublishedAt, Series: it.Series,
		Number: it.Number, Authors: it.Authors, Abstract: it.Abstract, Keywords: it.Keywords,
	}
}

// decodeItems hands on each item as a report, as Decode does a file's.
func decodeItems(items []pageItem, now time.Time) decodeFunc {
	return func(each func(line int, rep alertd.Report) error) ([]Rejection, error) {
		d := &decoder{now: now, each: each}
		for _, p := range items {
			if p.item.Problem != nil {
				d.reject(p.line, p.item.Problem.Error())
				continue
			}
			if err := d.add(p.line, p.input()); err != nil {
				return d.rejected, err
			}
		}
		return d.rejected, nil
	}
}

// SourceItem is what a poll of a source would do with one of its items.
type SourceItem struct {
	// Line is the item's place on the pages, or in the feed, from 1.
	Line int
	// Report is the item as it would be stored; zero when it would be
	// rejected.
	Report alertd.Report
	// Known: the catalogue has a report with this guid, which a poll
	// leaves as it is.
	Known bool
	// Problem is why the item would be rejected; "" when it would be taken.
	Problem string
}

// TrySource reads the configured source with the url as a poll would, and
// says what it would do with each item, storing and recording nothing: for
// an operator tuning a source's selectors.
func (s *Service) TrySource(ctx context.Context, client *http.Client, sourceURL string) ([]SourceItem, error) {
	i := s.sourceIndex(sourceURL)
	if i < 0 {
		return nil, alertd.Errorf(alertd.NotFound, "no source with this url is configured")
	}
	src := s.rules.Sources[i]
	var decode decodeFunc
	if src.HTML != nil {
		items, err := s.readPages(ctx, client, src)
		if err != nil {
			return nil, err
		}
		decode = decodeItems(items, s.now())
	} else {
		body, err := Open(ctx, client, src.URL)
		if err != nil {
			return nil, err
		}
		defer body.Close()
		decode = decodeWith(body, FormatFeed, s.now())
	}
	var out []SourceItem
	rejected, err := decode(func(line int, rep alertd.Report) error {
		_, err := s.store.ReportByGUID(ctx, rep.GUID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		item := SourceItem{Line: line, Report: rep, Known: err == nil}
		if _, err := s.admit(rep); err != nil {
			item.Problem = err.Error()
		}
		out = append(out, item)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, r := range rejected {
		out = append(out, SourceItem{Line: r.Line, Problem: r.Reason})
	}
	slices.SortStableFunc(out, func(a, b SourceItem) int { return a.Line - b.Line })
	return out, nil
}
