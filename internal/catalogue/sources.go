package catalogue

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/htmlsource"
)

// Source is a configured source: a feed, or a site's HTML pages.
type Source struct {
	URL string
	// Schedule is when the source is polled, a cron spec; it is only shown.
	Schedule string
	// Review holds the source's new reports until someone approves them:
	// a feed that was tampered with must not reach every reader unseen.
	Review bool
	// HTML reads the source's pages, for a site without a feed; nil for a
	// feed.
	HTML *htmlsource.Reader
}

// Poll fetches the configured source with the url through client and stores
// its new reports — held for approval when the source is under review —
// and records the poll on the source's status, failed or not. Reports
// already known by guid are left as they are.
func (s *Service) Poll(ctx context.Context, client *http.Client, url string) (ImportResult, error) {
	i := s.sourceIndex(url)
	if i < 0 {
		return ImportResult{}, alertd.Errorf(alertd.NotFound, "no source with this url is configured")
	}
	result, err := s.fetchAndImport(ctx, client, s.rules.Sources[i])
	if ctx.Err() != nil {
		// Stopping is no outcome of the source's.
		return result, err
	}
	if recErr := s.store.RecordPoll(ctx, url, s.now(), result.Added, err); recErr != nil {
		return result, errors.Join(err, fmt.Errorf("record the poll of %s: %w", url, recErr))
	}
	return result, err
}

func (s *Service) fetchAndImport(ctx context.Context, client *http.Client, src Source) (ImportResult, error) {
	if src.HTML != nil {
		items, err := s.readPages(ctx, client, src)
		if err != nil {
			return ImportResult{}, err
		}
		return s.importReports(ctx, decodeItems(items, s.now()), false, src.Review)
	}
	body, err := Open(ctx, client, src.URL)
	if err != nil {
		return ImportResult{}, err
	}
	defer body.Close()
	return s.importReports(ctx, decodeWith(body, FormatFeed, s.now()), false, src.Review)
}

func (s *Service) sourceIndex(url string) int {
	for i, src := range s.rules.Sources {
		if src.URL == url {
			return i
		}
	}
	return -1
}

// Sources returns the status of each configured source, in the order of
// the configuration; a source never polled has no times and no outcome.
func (s *Service) Sources(ctx context.Context) ([]alertd.SourceStatus, error) {
	records, err := s.store.PollRecords(ctx)
	if err != nil {
		return nil, err
	}
	statuses := make([]alertd.SourceStatus, 0, len(s.rules.Sources))
	for _, src := range s.rules.Sources {
		st := records[src.URL]
		st.URL, st.Schedule, st.Review = src.URL, src.Schedule, src.Review
		statuses = append(statuses, st)
	}
	return statuses, nil
}
