package catalogue

import (
	"context"
	"errors"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
)

// Retract takes the report with the id back from the pages, the feeds and
// every digest not yet compiled, and returns it and whether it changed; an
// error of code NotFound when there is none. Retracting twice is harmless.
func (s *Service) Retract(ctx context.Context, id int64) (rep alertd.Report, changed bool, err error) {
	rep, changed, err = s.store.RetractReport(ctx, id, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return rep, false, errNoReport
	}
	return rep, changed, err
}

var errNoReport = alertd.Errorf(alertd.NotFound, "no report with this id")
