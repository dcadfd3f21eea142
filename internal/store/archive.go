package store

import (
	"context"

	"github.com/alertd/alertd"
)

// archivedDigestColumns are digestColumns with the reports counted as the
// archive shows them: those not retracted.
const archivedDigestColumns = `id, created_at,
	(SELECT count(*) FROM series_reports a JOIN reports r ON r.id = a.report_id
	  WHERE a.digest_id = digests.id AND r.retracted_at IS NULL),
	recipients, sent, failed, cancelled, frequency`

// archived is alertd.Digest.Archived as a condition on the digests table:
// a copy sent, or one still pending.
const archived = "(sent > 0 OR sent + failed + cancelled < recipients)"

// ArchivedDigests lists the digests in the public archive newest first: at
// most limit, those older than the digest with id before when it is
// positive. Each one's Reports counts the reports it announced that are not
// retracted.
func (s *Store) ArchivedDigests(ctx context.Context, limit int, before int64) ([]alertd.Digest, error) {
	return s.digestsWhere(ctx, archivedDigestColumns, archived, limit, before)
}
