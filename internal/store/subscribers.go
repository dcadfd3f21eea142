package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/alertd/alertd"
)

const subscriberColumns = `id, email, status, topics, frequency, created_at, confirmed_at, unsubscribed_at,
	signup_at, signup_ip, signup_ua, form_url, consent_version, confirm_ip, confirm_ua, lang`

type rowScanner interface{ Scan(...any) error }

func scanSubscriber(row rowScanner) (alertd.Subscriber, error) {
	var (
		sub                     alertd.Subscriber
		topics                  string
		created, signup         int64
		confirmed, unsubscribed sql.NullInt64
	)
	err := row.Scan(&sub.ID, &sub.Email, &sub.Status, &topics, &sub.Frequency, &created, &confirmed, &unsubscribed,
		&signup, &sub.Consent.SignupIP, &sub.Consent.SignupUA, &sub.Consent.FormURL,
		&sub.Consent.ConsentVersion, &sub.Consent.ConfirmIP, &sub.Consent.ConfirmUA, &sub.Lang)
	if errors.Is(err, sql.ErrNoRows) {
		return sub, ErrNotFound
	}
	if err != nil {
		return sub, err
	}
	if sub.Topics, err = decodeTopics(sub.ID, topics); err != nil {
		return sub, err
	}
	sub.CreatedAt = time.UnixMilli(created).UTC()
	sub.Consent.SignupAt = time.UnixMilli(signup).UTC()
	sub.ConfirmedAt = fromMillis(confirmed)
	if sub.ConfirmedAt != nil {
		sub.Consent.ConfirmAt = *sub.ConfirmedAt
	}
	sub.UnsubscribedAt = fromMillis(unsubscribed)
	return sub, nil
}

// decodeTopics reads a subscriber's topics column; most hold none, which
// needs no JSON decoding.
func decodeTopics(id int64, column string) ([]string, error) {
	if column == "[]" {
		return []string{}, nil
	}
	var topics []string
	if err := json.Unmarshal([]byte(column), &topics); err != nil {
		return nil, fmt.Errorf("subscriber %d topics: %w", id, err)
	}
	return topics, nil
}

func topicsJSON(topics []string) string {
	if topics == nil {
		topics = []string{}
	}
	b, _ := json.Marshal(topics) // a []string always marshals
	return string(b)
}

// SubscriberByKey returns the subscriber with the lower-cased address key.
func (t *Tx) SubscriberByKey(key string) (alertd.Subscriber, error) {
	return scanSubscriber(t.queryRow("SELECT "+subscriberColumns+" FROM subscribers WHERE email_key = ?", key))
}

// SubscriberByID returns the subscriber with id.
func (t *Tx) SubscriberByID(id int64) (alertd.Subscriber, error) {
	return scanSubscriber(t.queryRow("SELECT "+subscriberColumns+" FROM subscribers WHERE id = ?", id))
}

// frequencyOr is the frequency column for a subscriber written with the
// id, the one series of an installation that configures none when it is
// empty.
func frequencyOr(id string) string {
	if id == "" {
		return alertd.DefaultFrequency
	}
	return id
}

// Confirmation is a subscriber's live confirmation link, by the hash of its
// secret, and the times of the confirmation e-mails of the last day.
type Confirmation struct {
	Hash      string
	ExpiresAt time.Time
	Sends     []time.Time
}

func sendsJSON(sends []time.Time) string {
	ms := make([]int64, len(sends))
	for i, t := range sends {
		ms[i] = millis(t)
	}
	b, _ := json.Marshal(ms) // an []int64 always marshals
	return string(b)
}

// InsertSubscriber adds a subscriber, with its first confirmation link when
// c has one, unless the address key is taken; it returns the new id, or
// inserted = false (and id 0) when the key was taken.
func (t *Tx) InsertSubscriber(key string, sub alertd.Subscriber, c Confirmation) (id int64, inserted bool, err error) {
	consent := sub.Consent
	var expires sql.NullInt64
	if c.Hash != "" {
		expires = sql.NullInt64{Int64: millis(c.ExpiresAt), Valid: true}
	}
	res, err := t.exec(`INSERT INTO subscribers
		(email, email_key, status, topics, frequency, created_at, signup_at, signup_ip, signup_ua, form_url, consent_version,
		 confirmed_at, confirm_ip, confirm_ua, confirm_hash, confirm_expires_at, confirm_sends, lang)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (email_key) DO NOTHING`,
		sub.Email, key, sub.Status, topicsJSON(sub.Topics), frequencyOr(sub.Frequency), millis(sub.CreatedAt), millis(consent.SignupAt),
		consent.SignupIP, consent.SignupUA, consent.FormURL, consent.ConsentVersion, nullMillis(sub.ConfirmedAt),
		consent.ConfirmIP, consent.ConfirmUA, c.Hash, expires, sendsJSON(c.Sends), sub.Lang)
	if err != nil {
		return 0, false, fmt.Errorf("insert subscriber: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return 0, false, err
	}
	id, err = res.LastInsertId()
	return id, err == nil, err
}

// SetConfirmation replaces a subscriber's confirmation link and send history.
func (t *Tx) SetConfirmation(id int64, c Confirmation) error {
	_, err := t.exec("UPDATE subscribers SET confirm_hash = ?, confirm_expires_at = ?, confirm_sends = ? WHERE id = ?",
		c.Hash, millis(c.ExpiresAt), sendsJSON(c.Sends), id)
	return err
}

const confirmationQuery = "SELECT confirm_hash, confirm_expires_at, confirm_sends FROM subscribers WHERE id = ?"

func scanConfirmation(row rowScanner) (Confirmation, error) {
	var (
		c       Confirmation
		expires sql.NullInt64
		sends   string
	)
	err := row.Scan(&c.Hash, &expires, &sends)
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	if err != nil {
		return c, err
	}
	if expires.Valid {
		c.ExpiresAt = time.UnixMilli(expires.Int64).UTC()
	}
	var ms []int64
	if err := json.Unmarshal([]byte(sends), &ms); err != nil {
		return c, fmt.Errorf("confirmation sends: %w", err)
	}
	for _, m := range ms {
		c.Sends = append(c.Sends, time.UnixMilli(m).UTC())
	}
	return c, nil
}

// Confirmation returns a subscriber's confirmation link and send history.
func (t *Tx) Confirmation(id int64) (Confirmation, error) {
	return scanConfirmation(t.queryRow(confirmationQuery, id))
}

// RestartSignup turns an existing row into a fresh pending sign-up, replacing
// the consent proof of the earlier subscription.
func (t *Tx) RestartSignup(id int64, email string, topics []string, frequency string, c alertd.Consent) error {
	_, err := t.exec(`UPDATE subscribers SET email = ?, status = 'pending', topics = ?, frequency = ?,
		signup_at = ?, signup_ip = ?, signup_ua = ?, form_url = ?, consent_version = ?,
		confirmed_at = NULL, confirm_ip = '', confirm_ua = '', unsubscribed_at = NULL
		WHERE id = ?`,
		email, topicsJSON(topics), frequencyOr(frequency), millis(c.SignupAt), c.SignupIP, c.SignupUA, c.FormURL, c.ConsentVersion, id)
	return err
}

// Confirm marks a pending subscriber confirmed with the confirming request's
// details.
func (t *Tx) Confirm(id int64, at time.Time, ip, userAgent string) error {
	_, err := t.exec(`UPDATE subscribers SET status = 'confirmed', confirmed_at = ?,
		confirm_ip = ?, confirm_ua = ? WHERE id = ? AND status = 'pending'`, millis(at), ip, userAgent, id)
	return err
}

// Unsubscribe marks a subscriber unsubscribed; the workers' send-time check
// then drops its queued mail. It reports whether the status changed.
func (t *Tx) Unsubscribe(id int64, at time.Time) (bool, error) {
	res, err := t.exec(`UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = ?
		WHERE id = ? AND status IN ('pending', 'confirmed')`, millis(at), id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// SwitchFrequency moves the subscriber with the id to the series to. pending
// is the selection of what their old series has still to announce (the
// catalogue's rule). For a confirmed reader it returns, newest first, the
// reports their new series announced before now that their old one had
// still to send them — the caller mails those at once — and remembers, to
// leave out of their copies of the new series, the reports their old
// series sent them that the new one has still to announce. So a reader
// who changes frequency misses no report and gets none twice.
func (t *Tx) SwitchFrequency(id int64, to string, pending DigestSelection) (owed []int64, err error) {
	sub, err := t.SubscriberByID(id)
	if err != nil || sub.Frequency == to {
		return nil, err
	}
	if _, err := t.exec("UPDATE subscribers SET frequency = ? WHERE id = ?", to, id); err != nil {
		return nil, err
	}
	if sub.Status != alertd.StatusConfirmed || sub.ConfirmedAt == nil {
		_, err := t.exec("DELETE FROM switch_seen WHERE subscriber_id = ?", id)
		return nil, err
	}
	where, args := pending.where()
	owed, err = t.ids(`SELECT r.id FROM reports r WHERE `+where+`
		AND EXISTS (SELECT 1 FROM series_reports b WHERE b.frequency = ? AND b.report_id = r.id AND b.digest_id IS NOT NULL)
		AND NOT EXISTS (SELECT 1 FROM switch_seen s WHERE s.subscriber_id = ? AND s.report_id = r.id)
		ORDER BY r.published_at DESC, r.id DESC`, append(args, to, id)...)
	if err != nil {
		return nil, err
	}
	// Only reports some series has still to announce (the index of
	// unannounced ones) can be waiting in the new series.
	seen, err := t.ids(`SELECT r.id FROM reports r
		WHERE r.digest_id IS NULL AND r.backfilled = 0
		  AND NOT EXISTS (SELECT 1 FROM series_reports b WHERE b.frequency = ?1 AND b.report_id = r.id)
		  AND (EXISTS (SELECT 1 FROM series_reports a JOIN digests d ON d.id = a.digest_id
		               WHERE a.frequency = ?2 AND a.report_id = r.id AND d.created_at >= ?3)
		       OR EXISTS (SELECT 1 FROM switch_seen s WHERE s.subscriber_id = ?4 AND s.report_id = r.id))`,
		to, sub.Frequency, millis(*sub.ConfirmedAt), id)
	if err != nil {
		return nil, err
	}
	if _, err := t.exec("DELETE FROM switch_seen WHERE subscriber_id = ?", id); err != nil {
		return nil, err
	}
	if len(seen) > 0 {
		_, err = t.exec("INSERT INTO switch_seen (subscriber_id, report_id) SELECT ?, value FROM json_each(?)", id, jsonIDs(seen))
	}
	return owed, err
}

// SetTopics replaces a subscriber's chosen topics.
func (t *Tx) SetTopics(id int64, topics []string) error {
	_, err := t.exec("UPDATE subscribers SET topics = ? WHERE id = ?", topicsJSON(topics), id)
	return err
}

// SetLang sets the language a subscriber reads in.
func (t *Tx) SetLang(id int64, lang string) error {
	_, err := t.exec("UPDATE subscribers SET lang = ? WHERE id = ?", lang, id)
	return err
}

// GiveLang gives lang to at most limit subscribers who have no language
// yet: those from before languages were kept. It returns how many it
// changed.
func (t *Tx) GiveLang(lang string, limit int) (int64, error) {
	res, err := t.exec(`UPDATE subscribers SET lang = ?
		WHERE id IN (SELECT id FROM subscribers WHERE lang = '' LIMIT ?)`, lang, limit)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Suppressed reports whether the address hash is on the suppression list.
func (t *Tx) Suppressed(emailHash string) (bool, error) {
	var n int
	err := t.queryRow("SELECT count(*) FROM suppressions WHERE email_hash = ?", emailHash).Scan(&n)
	return n > 0, err
}

// Unsuppress removes an address hash from the suppression list, for a person
// who has given fresh consent.
func (t *Tx) Unsuppress(emailHash string) error {
	_, err := t.exec("DELETE FROM suppressions WHERE email_hash = ?", emailHash)
	return err
}

// Erase deletes everything held about a subscriber — the row, its
// messages (whose errors may quote the address), the bounces kept
// against it — and
// keeps the address hash on the suppression list. Its undelivered digest
// copies count as cancelled.
func (t *Tx) Erase(id int64, emailHash string, at time.Time) error {
	if _, err := t.exec(`UPDATE digests SET cancelled = cancelled + pending.n
		FROM (SELECT digest_id, count(*) AS n FROM outbox
		      WHERE subscriber_id = ? AND digest_id IS NOT NULL AND status IN ('queued', 'sending')
		      GROUP BY digest_id) AS pending
		WHERE digests.id = pending.digest_id`, id); err != nil {
		return err
	}
	if err := t.deleteMessages("DELETE FROM outbox WHERE subscriber_id = ? RETURNING status", id); err != nil {
		return err
	}
	if _, err := t.exec("DELETE FROM message_history WHERE subscriber_id = ?", id); err != nil {
		return err
	}
	if _, err := t.exec(eraseBounces, id); err != nil {
		return err
	}
	if _, err := t.exec("DELETE FROM switch_seen WHERE subscriber_id = ?", id); err != nil {
		return err
	}
	if _, err := t.exec("DELETE FROM subscribers WHERE id = ?", id); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO suppressions (email_hash, reason, created_at) VALUES (?, 'erased', ?)
		ON CONFLICT (email_hash) DO NOTHING`, emailHash, millis(at))
	return err
}

// eraseBounces deletes a subscriber's bounces through the index of
// subscribers' bounces (see countBounces).
const eraseBounces = "DELETE FROM bounces WHERE subscriber_id = ? AND subscriber_id <> 0"

// PurgeUnconfirmed deletes pending sign-ups made before cutoff, with their
// confirmation e-mails, and returns how many went.
func (t *Tx) PurgeUnconfirmed(cutoff time.Time) (int64, error) {
	if err := t.deleteMessages(`DELETE FROM outbox WHERE digest_id IS NULL AND subscriber_id IN
		(SELECT id FROM subscribers WHERE status = 'pending' AND signup_at < ?) RETURNING status`, millis(cutoff)); err != nil {
		return 0, err
	}
	if _, err := t.exec(`DELETE FROM message_history WHERE subscriber_id IN
		(SELECT id FROM subscribers WHERE status = 'pending' AND signup_at < ?)`, millis(cutoff)); err != nil {
		return 0, err
	}
	res, err := t.exec("DELETE FROM subscribers WHERE status = 'pending' AND signup_at < ?", millis(cutoff))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Subscribers calls each for every subscriber with the status (all when
// empty), in id order, streaming rather than loading them all.
func (s *Store) Subscribers(ctx context.Context, status alertd.SubscriberStatus, each func(alertd.Subscriber) error) error {
	rows, err := s.readRows(ctx, "SELECT "+subscriberColumns+" FROM subscribers WHERE ? = '' OR status = ? ORDER BY id", status, status)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		sub, err := scanSubscriber(rows)
		if err != nil {
			return err
		}
		if err := each(sub); err != nil {
			return err
		}
	}
	return rows.Err()
}

// CountSubscribers returns the number of subscribers in each status. It
// reads the counts the database keeps as subscribers change, not the
// subscribers.
func (s *Store) CountSubscribers(ctx context.Context) (map[alertd.SubscriberStatus]int, error) {
	rows, err := s.readRows(ctx, "SELECT status, n FROM subscriber_counts")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	counts := map[alertd.SubscriberStatus]int{
		alertd.StatusPending: 0, alertd.StatusConfirmed: 0, alertd.StatusUnsubscribed: 0, alertd.StatusBounced: 0,
	}
	for rows.Next() {
		var status alertd.SubscriberStatus
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return nil, err
		}
		counts[status] = n
	}
	return counts, rows.Err()
}

// SubscriberMessages lists, in the order they were queued, the e-mails
// queued or sent to a subscriber, for an export of what is held about them
// and the dashboard's subscriber page.
//
// The outbox has no index of digest deliveries by subscriber: one would
// double the cost of recording a million-reader digest. The few other
// messages (confirmation, welcome) are in outbox_transactional. A digest's
// deliveries are found instead by an invariant of CompileDigest: they are
// written by one INSERT … SELECT in subscriber id order, inside the write
// transaction, so they take the consecutive ids claim_to - recipients + 1
// to claim_to, and along that range subscriber_id strictly increases.
// Rows never move; retention and erasure only leave gaps. A subscriber's
// copy of a digest is therefore a binary search of its range, a score of
// lookups by id whatever the digest's size, rather than a scan of the
// whole outbox. Compiling deliveries in any other order breaks this search
// (TestSubscriberMessagesFindEveryDigestCopy and
// TestDigestDeliveriesRiseBySubscriber check it).
func (s *Store) SubscriberMessages(ctx context.Context, subscriberID int64) ([]MessageRecord, error) {
	var found []outboxRecord
	err := s.Read(ctx, func(tx *Tx) error {
		var err error
		found, err = tx.subscriberMessages(subscriberID)
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(found, func(a, b outboxRecord) int { return cmp.Compare(a.id, b.id) })
	var records []MessageRecord
	for _, r := range found {
		records = append(records, r.MessageRecord)
	}
	return records, nil
}

// outboxRecord is a MessageRecord with its outbox row's id, subscriber and
// digest, what the binary search compares.
type outboxRecord struct {
	MessageRecord
	id, subscriber, digest int64
}

const outboxRecordColumns = "id, subscriber_id, coalesce(digest_id, 0), kind, status, attempts, created_at, finished_at, last_error"

func scanOutboxRecord(row rowScanner) (outboxRecord, error) {
	var (
		r        outboxRecord
		created  int64
		finished sql.NullInt64
	)
	err := row.Scan(&r.id, &r.subscriber, &r.digest, &r.Kind, &r.Status, &r.Attempts, &created, &finished, &r.LastError)
	r.CreatedAt = time.UnixMilli(created).UTC()
	r.FinishedAt = fromMillis(finished)
	return r, err
}

// subscriberMessages gathers a subscriber's messages, unordered: the
// transactional ones through their index, one digest copy at most from
// each digest that still has rows in the outbox.
func (t *Tx) subscriberMessages(subscriberID int64) ([]outboxRecord, error) {
	rows, err := t.query("SELECT "+outboxRecordColumns+" FROM outbox WHERE subscriber_id = ? AND digest_id IS NULL", subscriberID)
	if err != nil {
		return nil, err
	}
	var found []outboxRecord
	for rows.Next() {
		r, err := scanOutboxRecord(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		found = append(found, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	type span struct{ digest, first, last int64 }
	var spans []span
	// A digest whose ids all lie below the oldest row left has none left.
	rows, err = t.query(`SELECT id, claim_to - recipients + 1, claim_to FROM digests
		WHERE recipients > 0 AND claim_to >= (SELECT min(id) FROM outbox)`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var sp span
		if err := rows.Scan(&sp.digest, &sp.first, &sp.last); err != nil {
			rows.Close()
			return nil, err
		}
		spans = append(spans, sp)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, sp := range spans {
		r, ok, err := t.digestCopy(sp.digest, sp.first, sp.last, subscriberID)
		if err != nil {
			return nil, err
		}
		if ok {
			found = append(found, r)
		}
	}
	return found, nil
}

// digestCopy finds by binary search the delivery of the digest to the
// subscriber among the outbox ids first..last, where the digest's
// deliveries rise by subscriber id. Each step looks up the first row at or
// after an id, stepping over deleted ones. A row of another message there
// (the empty row that keeps a deleted newest message's id taken, or, in a
// database of an older alertd, a message given such a freed id) came after
// the digest was compiled, so it follows all of the digest's rows and
// counts as past the end.
func (t *Tx) digestCopy(digest, first, last, subscriberID int64) (outboxRecord, bool, error) {
	const probe = "SELECT " + outboxRecordColumns + " FROM outbox WHERE id >= ? ORDER BY id LIMIT 1"
	// The subscriber's copy, if there is one, has an id in lo..hi-1: the
	// digest's rows before lo go to lower subscriber ids, those from hi on
	// to higher ones.
	lo, hi := first, last+1
	for lo < hi {
		mid := lo + (hi-lo)/2
		r, err := scanOutboxRecord(t.queryRow(probe, mid))
		gone := errors.Is(err, sql.ErrNoRows)
		if err != nil && !gone {
			return r, false, err
		}
		switch {
		case gone, r.id >= hi, r.digest != digest, r.subscriber > subscriberID:
			hi = mid
		case r.subscriber < subscriberID:
			lo = r.id + 1
		default:
			return r, true, nil
		}
	}
	return outboxRecord{}, false, nil
}

// MessageRecord is the history of one e-mail to a subscriber.
type MessageRecord struct {
	Kind       alertd.MessageKind   `json:"kind"`
	Status     alertd.MessageStatus `json:"status"`
	Attempts   int                  `json:"attempts"`
	CreatedAt  time.Time            `json:"created_at"`
	FinishedAt *time.Time           `json:"finished_at,omitempty"`
	LastError  string               `json:"last_error,omitempty"`
}

// Imported is one confirmed subscriber from a trusted import.
type Imported struct {
	Email       string `json:"email"`
	Key         string `json:"key"`
	Topics      string `json:"topics"`
	Frequency   string `json:"frequency"`
	ConfirmedAt int64  `json:"confirmed_at"`
	Suppression string `json:"suppression"`
	// Lang is the language the subscriber reads in; empty gives the first
	// configured one at the next start.
	Lang string `json:"lang"`
}

// NewImported describes a confirmed subscriber to import: address, its key,
// the hash the suppression list would hold, topics, frequency and consent
// time.
func NewImported(email, key, suppressionHash string, topics []string, frequency string, confirmedAt time.Time) Imported {
	return Imported{
		Email: email, Key: key, Topics: topicsJSON(topics), Frequency: frequencyOr(frequency), ConfirmedAt: millis(confirmedAt),
		Suppression: suppressionHash,
	}
}

// InsertImported adds confirmed subscribers from a trusted import in one
// statement, skipping addresses already known or suppressed; it returns how
// many were added. One statement for the lot, rather than one per row, is
// what makes a million-row import quick.
func (t *Tx) InsertImported(rows []Imported, source string, now time.Time) (int64, error) {
	batch, err := json.Marshal(rows)
	if err != nil {
		return 0, err
	}
	res, err := t.exec(`INSERT INTO subscribers
		(email, email_key, status, topics, frequency, created_at, signup_at, form_url, consent_version, confirmed_at, lang)
		SELECT r.value ->> 'email', r.value ->> 'key', 'confirmed', r.value ->> 'topics', r.value ->> 'frequency', ?1,
		       r.value ->> 'confirmed_at', ?2, 'imported', r.value ->> 'confirmed_at', r.value ->> 'lang'
		FROM json_each(?3) AS r
		WHERE NOT EXISTS (SELECT 1 FROM suppressions WHERE email_hash = r.value ->> 'suppression')
		ON CONFLICT (email_key) DO NOTHING`, millis(now), source, string(batch))
	if err != nil {
		return 0, fmt.Errorf("import subscribers: %w", err)
	}
	return res.RowsAffected()
}
