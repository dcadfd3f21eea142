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

// ErrUnknownTopic means a report names a topic that is not configured.
var ErrUnknownTopic = errors.New("unknown topic")

// IsInvalid reports whether err is about the input (a 400, or exit code 2)
// rather than a failure of alertd.
func IsInvalid(err error) bool {
	return errors.Is(err, ErrInvalid) || errors.Is(err, ErrUnknownTopic)
}

// Service keeps the catalogue and compiles digests from it.
type Service struct {
	store *store.Store
	rules Rules
	now   func() time.Time
	// queued is told when a digest has put deliveries in the outbox.
	queued func()
}

// Rules are the operator's digest settings.
type Rules struct {
	// FirstWindow limits the first digest ever to reports this recent.
	FirstWindow time.Duration
	// Topics are the configured topics; reports may only name these.
	Topics []alertd.Topic
}

// NewService returns a Service; queued is called after a digest's
// deliveries are committed.
func NewService(st *store.Store, rules Rules, now func() time.Time, queued func()) *Service {
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
	for _, t := range rep.Topics {
		if !slices.ContainsFunc(s.rules.Topics, func(c alertd.Topic) bool { return c.ID == t }) {
			return rep, fmt.Errorf("topics: %w %q (configured topics are the ids under [[topics]])", ErrUnknownTopic, t)
		}
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
	var (
		result ImportResult
		chunk  []alertd.Report
		lines  []int
	)
	flush := func() error {
		var added, unchanged int
		var rejected []Rejection
		err := s.store.Write(ctx, func(tx *store.Tx) error {
			added, unchanged, rejected = 0, 0, nil
			for i, rep := range chunk {
				_, created, err := tx.AddReport(rep, backfill)
				if err != nil {
					rejected = append(rejected, Rejection{Line: lines[i], Reason: err.Error()})
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
		chunk, lines = chunk[:0], lines[:0]
		return err
	}
	rejected, err := Decode(r, format, s.now(), func(line int, rep alertd.Report) error {
		rep, err := s.admit(rep)
		if err != nil {
			result.Rejected = append(result.Rejected, Rejection{Line: line, Reason: err.Error()})
			return nil
		}
		chunk, lines = append(chunk, rep), append(lines, line)
		if len(chunk) == importChunk {
			return flush()
		}
		return nil
	})
	if err == nil && len(chunk) > 0 {
		err = flush()
	}
	result.Rejected = append(result.Rejected, rejected...)
	slices.SortStableFunc(result.Rejected, func(a, b Rejection) int { return a.Line - b.Line })
	return result, err
}

// Published lists the reports whose publication time has come, newest
// first, at most limit, after the report with id before (when > 0).
func (s *Service) Published(ctx context.Context, limit int, before int64) ([]alertd.Report, error) {
	return s.store.PublishedReports(ctx, s.now(), limit, before)
}

// All lists every report but the retracted ones, embargoed ones too, newest
// first.
func (s *Service) All(ctx context.Context, limit int, before int64) ([]alertd.Report, error) {
	return s.store.Reports(ctx, limit, before)
}

// Retract takes the report with the id back from the pages, the feeds and
// every digest not yet compiled, and returns it; store.ErrNotFound when
// there is none. Retracting twice is harmless.
func (s *Service) Retract(ctx context.Context, id int64) (alertd.Report, error) {
	return s.store.RetractReport(ctx, id, s.now())
}

func (s *Service) digestRules() store.DigestRules {
	return store.DigestRules{Now: s.now(), FirstWindow: s.rules.FirstWindow}
}

// NextDigest lists the reports the next digest would announce, changing
// nothing.
func (s *Service) NextDigest(ctx context.Context) ([]alertd.Report, error) {
	return s.store.NextDigestReports(ctx, s.digestRules())
}

// CompileDigest records the next digest and its deliveries (SPEC §6) and
// hands them to the outbox; created is false when no report is due.
func (s *Service) CompileDigest(ctx context.Context) (store.Digest, bool, error) {
	d, created, err := s.store.CompileDigest(ctx, s.digestRules())
	if err == nil && created && d.Recipients > 0 {
		s.queued()
	}
	return d, created, err
}
