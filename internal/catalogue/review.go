package catalogue

import (
	"context"
	"errors"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
)

// Held lists the reports held for approval (the review queue), retracted
// ones left out, newest first, at most limit, after the report with id
// before (when > 0).
func (s *Service) Held(ctx context.Context, limit int, before int64) ([]alertd.Report, error) {
	return s.store.HeldReports(ctx, limit, before)
}

// Approve releases the held report with the id to the pages, the feeds and
// the next digest, and returns it and whether it changed; an error of code
// NotFound when there is none. Approving a report not held is harmless, and a retracted report
// stays retracted.
//
// The report keeps its publication time, so the digest rule treats it as
// any report not yet announced: after the first digest, the next digest
// announces it whatever its date; before it, the first digest's window
// applies to it, and a report held past the first digest that was
// published before that digest's window is archive, never announced.
func (s *Service) Approve(ctx context.Context, id int64) (rep alertd.Report, changed bool, err error) {
	rep, changed, err = s.store.ApproveReport(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return rep, false, errNoReport
	}
	return rep, changed, err
}
