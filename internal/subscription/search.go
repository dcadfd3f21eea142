package subscription

import (
	"context"
	"strings"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
)

const (
	// SearchPageSize is how many subscribers a page of a search shows.
	SearchPageSize = 50
	// searchBudget is how many subscribers one page of a search looks at
	// to apply a filter no index serves (a topic; a status within an
	// address search): enough to fill most pages, few enough to answer in
	// under 50 ms at a million subscribers. Rows in id order are read
	// in file order; those found by address or domain are scattered
	// through the file and cost several times more each, hence the
	// smaller budget for an address search.
	searchBudget          = 50_000
	searchBudgetByAddress = 30_000
)

// SearchPage is one page of a Search.
type SearchPage = store.SubscriberPage

// Search is what the dashboard asks of the subscriber list.
type Search struct {
	// Query is the start of an address, or "@" and a whole domain.
	Query  string
	Status alertd.SubscriberStatus
	Topic  string
	// After is the Next of the page before.
	After string
}

// Search returns one page of subscribers: those whose address starts with
// the query in address order, those of the domain when the query starts
// with "@", or all; newest first but for an address search.
func (s *Service) Search(ctx context.Context, q Search) (SearchPage, error) {
	if q.Status != "" && !q.Status.Valid() {
		return SearchPage{}, alertd.Errorf(alertd.Invalid, "status must be one of pending, confirmed, unsubscribed, bounced")
	}
	if q.Topic != "" {
		if _, err := s.checkTopics([]string{q.Topic}); err != nil {
			return SearchPage{}, err
		}
	}
	search := store.SubscriberSearch{Status: q.Status, Topic: q.Topic, After: q.After, Limit: SearchPageSize, Budget: searchBudget}
	switch query := AddressKey(strings.TrimSpace(q.Query)); {
	case query == "":
	case strings.HasPrefix(query, "@"):
		search.Domain, search.Budget = query, searchBudgetByAddress
	default:
		search.Prefix, search.Budget = query, searchBudgetByAddress
	}
	var page SearchPage
	err := s.store.Read(ctx, func(tx *store.Tx) error {
		var err error
		page, err = tx.SearchSubscribers(search)
		return err
	})
	return page, err
}
