package catalogue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
)

// Selection is the rule of which reports the next digest of the series
// frequency announces: those published by now and not announced in it yet
// (nor backfilled, nor retracted); and, for the series' first digest, only
// those published within the first window, the archive before it being
// archived for the series then so that no later digest of it brings it
// after all, nor a restore of a report retracted now. Each series keeps
// these rules on its own: a report is announced once in each.
func (s *Service) Selection(tx *store.Tx, frequency string, now time.Time) (store.DigestSelection, error) {
	sel := store.DigestSelection{Frequency: frequency, Until: now, Adopt: frequency == s.rules.Frequencies[0].ID}
	for _, f := range s.rules.Frequencies {
		sel.Series = append(sel.Series, f.ID)
	}
	compiled, err := tx.AnyDigest(frequency)
	if err != nil || compiled {
		return sel, err
	}
	sel.Since, sel.ArchiveOlder = now.Add(-s.rules.FirstWindow), true
	return sel, nil
}

// Frequencies are the configured series of digests, the first being the
// one readers get unless they choose another.
func (s *Service) Frequencies() []alertd.Frequency { return s.rules.Frequencies }

// Frequency returns the id of the series named by id: the only one when id
// is empty and there is one; an error of code Invalid when there are
// several and id is empty, or when it names none of them.
func (s *Service) Frequency(id string) (string, error) {
	return alertd.ChooseFrequency(s.rules.Frequencies, id)
}

// NextDigest lists, newest first, the reports the next digest of the
// series frequency ("" for the only one) would announce, changing nothing.
func (s *Service) NextDigest(ctx context.Context, frequency string) ([]alertd.Report, error) {
	frequency, err := s.Frequency(frequency)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var reports []alertd.Report
	err = s.store.Read(ctx, func(tx *store.Tx) error {
		sel, err := s.Selection(tx, frequency, now)
		if err != nil {
			return err
		}
		reports, err = tx.DigestCandidates(sel)
		return err
	})
	return reports, err
}

// CompileDigest records, in one transaction, the next digest of the series
// frequency ("" for the only one), the reports it announces and one
// delivery per confirmed subscriber of the series whose topics match them,
// and hands the deliveries to the outbox; created is false when no report
// is due, and then nothing is recorded.
func (s *Service) CompileDigest(ctx context.Context, frequency string) (d alertd.Digest, created bool, err error) {
	return s.compileDigest(ctx, frequency, func(*store.Tx) error { return nil })
}

// ErrDigestCompiledMeanwhile means a digest was compiled after the one a
// person saw as the newest when they chose to send: their request (a second
// click, say) must not send another.
var ErrDigestCompiledMeanwhile = alertd.Errorf(alertd.Conflict, "another digest has been compiled since; look at it before sending again")

// CompileDigestAfter is CompileDigest for a person who confirmed sending
// while the digest with id last (0: none) was the newest of the series.
// When another digest of it has been compiled since, it compiles nothing
// and returns ErrDigestCompiledMeanwhile; the check and the compile are one
// transaction, so two such requests never make two digests.
func (s *Service) CompileDigestAfter(ctx context.Context, frequency string, last int64) (d alertd.Digest, created bool, err error) {
	return s.compileDigest(ctx, frequency, func(tx *store.Tx) error {
		newest, err := tx.LastDigestID(frequency)
		if err == nil && newest != last {
			return ErrDigestCompiledMeanwhile
		}
		return err
	})
}

// compileDigest compiles the next digest of a series in a transaction that
// check, run first, may refuse.
func (s *Service) compileDigest(ctx context.Context, frequency string, check func(*store.Tx) error) (d alertd.Digest, created bool, err error) {
	frequency, err = s.Frequency(frequency)
	if err != nil {
		return d, false, err
	}
	now := s.now()
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		if err := check(tx); err != nil {
			return err
		}
		sel, err := s.Selection(tx, frequency, now)
		if err != nil {
			return err
		}
		d, created, err = tx.CompileDigest(sel)
		return err
	})
	if err != nil {
		return alertd.Digest{}, false, fmt.Errorf("compile digest: %w", err)
	}
	if created && d.Recipients > 0 {
		s.queued()
	}
	return d, created, nil
}

// Digest returns the digest with the id and its delivery counts; an error of
// code NotFound when there is none.
func (s *Service) Digest(ctx context.Context, id int64) (alertd.Digest, error) {
	d, err := s.store.Digest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return d, errNoDigest
	}
	return d, err
}

var errNoDigest = alertd.Errorf(alertd.NotFound, "no digest with this id")

// Digests lists digests newest first, with their counts: at most limit,
// those older than the digest with id before when it is positive.
func (s *Service) Digests(ctx context.Context, limit int, before int64) ([]alertd.Digest, error) {
	return s.store.Digests(ctx, limit, before)
}

// DigestReports lists the reports a digest announced, newest first.
func (s *Service) DigestReports(ctx context.Context, id int64) ([]alertd.Report, error) {
	return s.store.DigestReports(ctx, id)
}

// DigestFailures lists a digest's failed deliveries with the relay's
// replies, in order: at most limit, those after the message with id after.
func (s *Service) DigestFailures(ctx context.Context, id int64, limit int, after int64) ([]alertd.DeliveryFailure, error) {
	return s.store.DigestFailures(ctx, id, limit, after)
}

// Upcoming is the next digest of a series as it stands, and who it would
// reach.
type Upcoming struct {
	// Frequency is the id of the series.
	Frequency string
	// Reports are what it would announce, newest first; none: no digest.
	Reports []alertd.Report
	// Last is the id of the newest digest of the series, 0 when there is
	// none.
	Last int64
	// Recipients are the confirmed subscribers of the series a compile now
	// would send a
	// copy to: those who chose no topics and those whose topics one of
	// Reports shares.
	Recipients int
	// Everything counts the confirmed subscribers who chose no topics, who
	// get every report.
	Everything int
	// ByTopic counts, per topic id, the confirmed subscribers who chose it.
	ByTopic map[string]int
}

// Upcoming tells what the next digest of the series frequency ("" for the
// only one) would announce and to how many, changing nothing. It reads
// counts kept per choice of frequency and topics, never the subscribers
// themselves.
func (s *Service) Upcoming(ctx context.Context, frequency string) (Upcoming, error) {
	frequency, err := s.Frequency(frequency)
	if err != nil {
		return Upcoming{}, err
	}
	now := s.now()
	u := Upcoming{Frequency: frequency, ByTopic: map[string]int{}}
	err = s.store.Read(ctx, func(tx *store.Tx) error {
		sel, err := s.Selection(tx, frequency, now)
		if err != nil {
			return err
		}
		if u.Reports, err = tx.DigestCandidates(sel); err != nil {
			return err
		}
		if u.Last, err = tx.LastDigestID(frequency); err != nil {
			return err
		}
		choices, err := tx.ConfirmedTopicChoices(frequency)
		if err != nil {
			return err
		}
		for _, c := range choices {
			if len(c.Topics) == 0 {
				u.Everything += c.Subscribers
			}
			for _, t := range c.Topics {
				u.ByTopic[t] += c.Subscribers
			}
			if len(u.Reports) > 0 && len(alertd.ReportsFor(u.Reports, c.Topics)) > 0 {
				u.Recipients += c.Subscribers
			}
		}
		return nil
	})
	return u, err
}
