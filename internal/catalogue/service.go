package catalogue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
)

// Service keeps the catalogue and compiles digests from it.
type Service struct {
	store *store.Store
	rules Rules
	now   func() time.Time
	// queued is told when a digest has put deliveries in the outbox.
	queued func()
}

// Rules are the operator's catalogue and digest settings.
type Rules struct {
	// FirstWindow limits the first digest of each series to reports this
	// recent.
	FirstWindow time.Duration
	// Frequencies are the configured series of digests; at least one.
	Frequencies []alertd.Frequency
	// Topics are the configured topics; reports may only name these.
	Topics []alertd.Topic
	// Sources are the configured feed sources, in the order of the
	// configuration.
	Sources []Source
	// SearchBudget is how many reports a page of Search reads to match
	// words the trigram index does not serve; 0 for searchBudget.
	SearchBudget int
}

// NewService returns a Service; queued is called after a digest's
// deliveries are committed.
func NewService(st *store.Store, rules Rules, now func() time.Time, queued func()) *Service {
	if rules.SearchBudget == 0 {
		rules.SearchBudget = searchBudget
	}
	if len(rules.Frequencies) == 0 {
		rules.Frequencies = []alertd.Frequency{{ID: alertd.DefaultFrequency, Name: "Weekly"}}
	}
	return &Service{store: st, rules: rules, now: now, queued: queued}
}

// Add validates and stores one report. The same guid again leaves the
// stored report unchanged and returns it with created = false.
func (s *Service) Add(ctx context.Context, in Input, backfill bool) (rep alertd.Report, created bool, err error) {
	rep, err = s.validate(in)
	if err != nil {
		return rep, false, err
	}
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		rep, created, err = tx.AddReport(rep, backfill)
		return err
	})
	return rep, created, err
}

func (s *Service) validate(in Input) (alertd.Report, error) {
	rep, err := in.Report(s.now())
	if err != nil {
		return rep, err
	}
	return s.admit(rep)
}

// admit checks what only the configuration can tell: that the report's
// topics exist.
func (s *Service) admit(rep alertd.Report) (alertd.Report, error) {
	if err := alertd.CheckTopics(s.rules.Topics, rep.Topics); err != nil {
		return rep, fmt.Errorf("topics: %w (configured topics are the ids under [[topics]])", err)
	}
	rep.CreatedAt = s.now()
	return rep, nil
}

// ImportResult counts what an import did.
type ImportResult struct {
	Added     int         `json:"added"`
	Unchanged int         `json:"unchanged"`
	Rejected  []Rejection `json:"rejected"`
}

// importChunk is how many reports share one transaction during an import.
const importChunk = 1000

// Import reads reports in the format and stores the valid ones; a bad row is
// rejected with its line and reason and the others still go in. With
// backfill the reports are marked as already announced, so that loading an
// archive never floods the next digest.
func (s *Service) Import(ctx context.Context, r io.Reader, format Format, backfill bool) (ImportResult, error) {
	return s.importReports(ctx, decodeWith(r, format, s.now()), backfill, false)
}

// decodeFunc reads reports and hands each valid one to each, as Decode does.
type decodeFunc func(each func(line int, rep alertd.Report) error) ([]Rejection, error)

func decodeWith(r io.Reader, format Format, now time.Time) decodeFunc {
	return func(each func(line int, rep alertd.Report) error) ([]Rejection, error) {
		return Decode(r, format, now, each)
	}
}

// importReports stores what decode reads, as Import does; with held, the
// new reports are held for approval.
func (s *Service) importReports(ctx context.Context, decode decodeFunc, backfill, held bool) (ImportResult, error) {
	type numbered struct {
		line int
		rep  alertd.Report
	}
	var result ImportResult
	chunks := store.NewChunks(importChunk, func(chunk []numbered) error {
		var added, unchanged int
		var rejected []Rejection
		err := s.store.Write(ctx, func(tx *store.Tx) error {
			added, unchanged, rejected = 0, 0, nil
			for _, n := range chunk {
				_, created, err := tx.AddReport(n.rep, backfill)
				if err != nil {
					rejected = append(rejected, Rejection{Line: n.line, Reason: err.Error()})
					continue
				}
				if created {
					added++
				} else {
					unchanged++
				}
			}
			return nil
		})
		result.Added += added
		result.Unchanged += unchanged
		result.Rejected = append(result.Rejected, rejected...)
		return err
	})
	rejected, err := decode(func(line int, rep alertd.Report) error {
		rep, err := s.admit(rep)
		if err != nil {
			result.Rejected = append(result.Rejected, Rejection{Line: line, Reason: err.Error()})
			return nil
		}
		if held {
			rep.HeldAt = &rep.CreatedAt
		}
		return chunks.Add(numbered{line, rep})
	})
	if err == nil {
		err = chunks.Flush()
	}
	result.Rejected = append(result.Rejected, rejected...)
	slices.SortStableFunc(result.Rejected, func(a, b Rejection) int { return a.Line - b.Line })
	return result, err
}

// Published lists the reports whose publication time has come, neither
// retracted nor held, newest first, at most limit, after the report with id before (when > 0).
func (s *Service) Published(ctx context.Context, limit int, before int64) ([]alertd.Report, error) {
	return s.store.PublishedReports(ctx, s.now(), limit, before)
}

// All lists every report but the retracted and the held ones, embargoed
// ones too, newest first.
func (s *Service) All(ctx context.Context, limit int, before int64) ([]alertd.Report, error) {
	return s.store.Reports(ctx, limit, before)
}

// ByGUID returns the report with the guid; an error of code NotFound when
// there is none.
func (s *Service) ByGUID(ctx context.Context, guid string) (alertd.Report, error) {
	return s.store.ReportByGUID(ctx, guid)
}

// Stats is where the list and the deliveries stand.
type Stats struct {
	Subscribers map[alertd.SubscriberStatus]int
	// Messages counts the outbox's messages by status.
	Messages map[alertd.MessageStatus]int
	// LastDigest is nil until a digest has been compiled.
	LastDigest *alertd.Digest
}

// Stats counts the subscribers by status and the messages by status, and
// returns the last digest.
func (s *Service) Stats(ctx context.Context) (Stats, error) {
	subscribers, err := s.store.CountSubscribers(ctx)
	if err != nil {
		return Stats{}, err
	}
	messages, err := s.store.MessageCounts(ctx)
	if err != nil {
		return Stats{}, err
	}
	stats := Stats{Subscribers: subscribers, Messages: messages}
	if d, err := s.store.LastDigest(ctx); err == nil {
		stats.LastDigest = &d
	} else if !errors.Is(err, store.ErrNotFound) {
		return Stats{}, err
	}
	return stats, nil
}

// Health returns an error of code Unavailable, wrapping the cause, when the
// database does not answer.
func (s *Service) Health(ctx context.Context) error {
	if err := s.store.Ping(ctx); err != nil {
		return fmt.Errorf("%w: %w", errDatabaseDown, err)
	}
	return nil
}

var errDatabaseDown = alertd.Errorf(alertd.Unavailable, "the database is not answering")

// Deliveries counts the messages sent and those that failed for good over
// the last n UTC days, today the last of them. It reads counts kept per
// day as outcomes are recorded, not the outbox.
func (s *Service) Deliveries(ctx context.Context, n int) (sent, failed int, err error) {
	today := s.now().UTC()
	return s.store.Finished(ctx, today.AddDate(0, 0, -(n-1)), today)
}
