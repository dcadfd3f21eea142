package subscription

import (
	"context"
	"time"

	"github.com/alertd/alertd/internal/store"
)

// Day is what happened to the list on one UTC day: sign-ups, confirmations
// and unsubscribes.
type Day = store.SubscriberDay

// Activity returns the last n UTC days, today the last of them, oldest
// first, with what happened on each; a quiet day is all zeros. It reads
// counts kept per day as subscribers change, so it costs the same at a
// million subscribers as at ten.
func (s *Service) Activity(ctx context.Context, n int) ([]Day, error) {
	today := s.now().UTC().Truncate(24 * time.Hour)
	first := today.AddDate(0, 0, -(n - 1))
	kept, err := s.store.SubscriberDays(ctx, first, today)
	if err != nil {
		return nil, err
	}
	days := make([]Day, n)
	for i := range days {
		days[i].Day = first.AddDate(0, 0, i)
	}
	for _, d := range kept {
		days[int(d.Day.Sub(first)/(24*time.Hour))] = d
	}
	return days, nil
}
