package subscription

import (
	"context"
	"errors"
	"io"
	"slices"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
)

// Lookup returns the subscriber with the address (any case).
func (s *Service) Lookup(ctx context.Context, email string) (alertd.Subscriber, error) {
	var sub alertd.Subscriber
	err := s.store.Read(ctx, func(tx *store.Tx) error {
		var err error
		sub, err = tx.SubscriberByKey(AddressKey(email))
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return sub, ErrNotFound
	}
	return sub, err
}

// List calls each for every subscriber with the status (all when empty),
// in the order they signed up, holding no more than one in memory.
func (s *Service) List(ctx context.Context, status alertd.SubscriberStatus, each func(alertd.Subscriber) error) error {
	return s.store.Subscribers(ctx, status, each)
}

// MessageRecord is one e-mail to a subscriber, as an Export lists it.
type MessageRecord = store.MessageRecord

// Export is everything alertd holds about one address.
type Export struct {
	alertd.Subscriber
	Consent  alertd.Consent  `json:"consent"`
	Messages []MessageRecord `json:"messages"`
	// EarlierMessages sums up, by kind and outcome, the finished messages
	// deleted after delivery.keep_messages_for.
	EarlierMessages []store.MessageSummary `json:"earlier_messages"`
	// Bounces are the bounces and complaints kept against the subscriber,
	// each with its evidence, oldest first.
	Bounces []alertd.Bounce `json:"bounces"`
}

// Export gathers everything held about the address.
func (s *Service) Export(ctx context.Context, email string) (Export, error) {
	sub, err := s.Lookup(ctx, email)
	if err != nil {
		return Export{}, err
	}
	return s.export(ctx, sub)
}

// ExportID gathers everything held about the subscriber with the id.
func (s *Service) ExportID(ctx context.Context, id int64) (Export, error) {
	var sub alertd.Subscriber
	err := s.store.Read(ctx, func(tx *store.Tx) error {
		var err error
		sub, err = tx.SubscriberByID(id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return Export{}, ErrNotFound
	}
	if err != nil {
		return Export{}, err
	}
	return s.export(ctx, sub)
}

func (s *Service) export(ctx context.Context, sub alertd.Subscriber) (Export, error) {
	messages, err := s.store.SubscriberMessages(ctx, sub.ID)
	if err != nil {
		return Export{}, err
	}
	earlier, err := s.store.SubscriberMessageHistory(ctx, sub.ID)
	if err != nil {
		return Export{}, err
	}
	bounces, err := s.store.SubscriberBounces(ctx, sub.ID)
	if err != nil {
		return Export{}, err
	}
	return Export{Subscriber: sub, Consent: sub.Consent, Messages: messages, EarlierMessages: earlier, Bounces: bounces}, nil
}

// Erase removes the personal data held about the address and keeps a hash of
// it on the suppression list, so that no import brings it back.
func (s *Service) Erase(ctx context.Context, email string) error {
	now := s.now()
	return s.store.Write(ctx, func(tx *store.Tx) error {
		sub, err := tx.SubscriberByKey(AddressKey(email))
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return tx.Erase(sub.ID, SuppressionHash(sub.Email), now)
	})
}

// ImportCounts says what an import did.
type ImportCounts struct {
	Added     int `json:"added"`
	Unchanged int `json:"unchanged"`
}

// ImportConfirmed adds rows whose consent was gathered elsewhere (a migration
// from another system) as confirmed subscribers, sending no mail. Known and
// suppressed addresses are left as they are; a row naming an unknown topic is
// rejected. The rows share one transaction.
func (s *Service) ImportConfirmed(ctx context.Context, rows []ImportRow, source string) (ImportCounts, []ImportRejection, error) {
	now := s.now()
	var (
		counts   ImportCounts
		rejected []ImportRejection
	)
	imported := make([]store.Imported, 0, len(rows))
	for _, row := range rows {
		topics, err := s.checkTopics(row.Topics)
		if err != nil {
			rejected = append(rejected, ImportRejection{Line: row.Line, Reason: err.Error()})
			continue
		}
		lang, err := s.checkLang(row.Lang)
		if err != nil {
			rejected = append(rejected, ImportRejection{Line: row.Line, Reason: err.Error()})
			continue
		}
		frequency, err := s.checkFrequency(row.Frequency)
		if err != nil {
			rejected = append(rejected, ImportRejection{Line: row.Line, Reason: err.Error()})
			continue
		}
		confirmed := row.ConfirmedAt
		if confirmed.IsZero() {
			confirmed = now
		}
		one := store.NewImported(row.Email, AddressKey(row.Email), SuppressionHash(row.Email), topics, frequency, confirmed)
		one.Lang = lang
		imported = append(imported, one)
	}
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		added, err := tx.InsertImported(imported, source, now)
		counts = ImportCounts{Added: int(added), Unchanged: len(imported) - int(added)}
		return err
	})
	return counts, rejected, err
}

// ImportResult says what an import of a subscriber file did.
type ImportResult struct {
	// ImportCounts counts the rows of a confirmed import.
	ImportCounts
	// SignedUp counts the sign-ups recorded by an import that is not
	// confirmed.
	SignedUp int
	// Rejected are the rows left out, in file order, with the reason.
	Rejected []ImportRejection
}

// importChunk is how many rows share one transaction in a confirmed import.
const importChunk = 5000

// Import reads a subscriber CSV file (see ReadImportCSV), naming source as
// where the consent came from. With confirmed the file's consent is trusted:
// the rows are added as confirmed subscribers and no mail is sent (see
// ImportConfirmed). Without, each row is a sign-up as if made on the form,
// and gets a confirmation e-mail. Rejected rows are returned with any error.
func (s *Service) Import(ctx context.Context, r io.Reader, source string, confirmed bool) (ImportResult, error) {
	var result ImportResult
	chunks := store.NewChunks(importChunk, func(rows []ImportRow) error {
		counts, rejected, err := s.ImportConfirmed(ctx, rows, source)
		result.Rejected = append(result.Rejected, rejected...)
		result.Added += counts.Added
		result.Unchanged += counts.Unchanged
		return err
	})
	unreadable, err := ReadImportCSV(r, func(row ImportRow) error {
		if confirmed {
			return chunks.Add(row)
		}
		err := s.Subscribe(ctx, Request{Email: row.Email, Topics: row.Topics, Lang: row.Lang, Frequency: row.Frequency, FormURL: source})
		if alertd.ErrorCode(err) == alertd.Invalid {
			result.Rejected = append(result.Rejected, ImportRejection{Line: row.Line, Reason: err.Error()})
			return nil
		}
		if err == nil {
			result.SignedUp++
		}
		return err
	})
	if err == nil {
		err = chunks.Flush()
	}
	result.Rejected = append(result.Rejected, unreadable...)
	slices.SortFunc(result.Rejected, func(a, b ImportRejection) int { return a.Line - b.Line })
	return result, err
}

// Purge deletes pending sign-ups older than the rules allow and returns how
// many went.
func (s *Service) Purge(ctx context.Context) (int64, error) {
	now := s.now()
	var purged int64
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		var err error
		purged, err = tx.PurgeUnconfirmed(now.Add(-s.rules.PurgeUnconfirmedAfter))
		return err
	})
	return purged, err
}
