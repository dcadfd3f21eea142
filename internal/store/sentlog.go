package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alertd/alertd"
)

// SentLog records sent messages in an append-only file beside the
// database, one write(2) per message, and folds them into the outbox in
// batches. A delivery worker must record a sent message before the relay
// takes its next one; a transaction per message would make the database
// the delivery engine's bottleneck, while an appended line is as safe against
// the process being killed (kill -9) as a commit: the kernel holds
// it. Like a lazily synced commit (SubmitLazy), a line may be lost with the
// machine; then the message goes out again, it is never lost.
//
// The file is locked while its log is open. The log of a process that
// died is folded by the next that opens the database's logs
// (FoldAbandonedSentLogs), before it claims messages.
//
// The log's files are named after its holder, which names the claims of
// the process too: while one of those files is locked the holder lives;
// once none is, its claims are handed back.
type SentLog struct {
	store  *Store
	holder string
	seq    int // of the file being written; only create and its callers use it

	mu      sync.Mutex
	file    *os.File
	pending []sent // recorded since the last successful fold
	// folded are the earlier files, whose records are in pending too:
	// kept, and locked, until a fold of those records succeeds.
	folded []*os.File
}

// errLocked is lockFile's answer when another open file holds the lock.
var errLocked = errors.New("locked by another process")

// sent is one line of a sent log.
type sent struct{ id, digestID int64 }

// sentLogPattern matches the sent logs of the database at dbPath.
func sentLogPattern(dbPath string) string { return dbPath + "-sent-*" }

// holderOf is the holder a sent log's file belongs to: its name after
// "-sent-", up to the file's number.
func holderOf(dbPath, logPath string) string {
	holder, _, _ := strings.Cut(strings.TrimPrefix(logPath, dbPath+"-sent-"), ".")
	return holder
}

// OpenSentLog starts a sent log for this process.
func (s *Store) OpenSentLog() (*SentLog, error) {
	l := &SentLog{store: s, holder: rand.Text()}
	file, err := l.create()
	if err != nil {
		return nil, err
	}
	l.file = file
	return l, nil
}

// Holder names this log's process in the claims it makes
// (Store.ClaimMessages).
func (l *SentLog) Holder() string { return l.holder }

// create makes and locks a new file for the log. A file is locked before
// the one it replaces is removed, so one is always locked while the
// process lives.
func (l *SentLog) create() (*os.File, error) {
	l.seq++
	path := l.store.path + "-sent-" + l.holder + "." + strconv.Itoa(l.seq)
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create the sent log: %w", err)
	}
	if err := lockFile(file); err != nil {
		file.Close()
		os.Remove(path)
		return nil, fmt.Errorf("lock the sent log %s: %w", path, err)
	}
	return file, nil
}

// Record appends that message id of digestID (0 for none) was sent. Once
// it returns nil the record survives the process.
func (l *SentLog) Record(id, digestID int64) error {
	var line [42]byte
	b := strconv.AppendInt(line[:0], id, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, digestID, 10)
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.file.Write(b); err != nil {
		return fmt.Errorf("write the sent log: %w", err)
	}
	l.pending = append(l.pending, sent{id, digestID})
	return nil
}

// Fold records what was logged since the last fold in the outbox and the
// digests' counts, then removes the file that held it. Logging goes on
// into a new file meanwhile.
func (l *SentLog) Fold(ctx context.Context, now time.Time) error {
	l.mu.Lock()
	idle := len(l.pending) == 0 && len(l.folded) == 0
	l.mu.Unlock()
	if idle {
		return nil
	}
	next, err := l.create()
	if err != nil {
		return err
	}
	l.mu.Lock()
	batch, old := l.pending, l.file
	l.pending, l.file = nil, next
	l.folded = append(l.folded, old)
	l.mu.Unlock()

	if err := l.store.WriteLazy(ctx, func(tx *Tx) error { return tx.recordSent(now, batch) }); err != nil {
		l.mu.Lock()
		l.pending = append(batch, l.pending...)
		l.mu.Unlock()
		return fmt.Errorf("fold the sent log: %w", err)
	}
	l.mu.Lock()
	done := l.folded
	l.folded = nil
	l.mu.Unlock()
	for _, f := range done {
		removeLog(f)
	}
	return nil
}

// Close folds what is left and removes the log.
func (l *SentLog) Close(ctx context.Context, now time.Time) error {
	if err := l.Fold(ctx, now); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	removeLog(l.file)
	return nil
}

// removeLog deletes a folded log, then lets go of its lock.
func removeLog(f *os.File) {
	_ = os.Remove(f.Name()) // folded already: a leftover is folded again, harmlessly
	f.Close()
}

// FoldAbandonedSentLogs folds the sent logs no process holds any more:
// those of processes that died. Then it hands back the messages those
// processes had claimed and not sent, at once rather than when their
// lease runs out, and returns how many. It must run before a claim may
// take their messages, or a message recorded only in such a log would go
// out again.
func (s *Store) FoldAbandonedSentLogs(ctx context.Context, now time.Time) (released int, err error) {
	paths, err := filepath.Glob(sentLogPattern(s.path))
	if err != nil {
		return 0, err
	}
	byHolder := map[string][]string{}
	for _, path := range paths {
		holder := holderOf(s.path, path)
		byHolder[holder] = append(byHolder[holder], path)
	}
	var errs []error
	for holder, paths := range byHolder {
		n, err := s.foldAbandoned(ctx, now, holder, paths)
		released += n
		errs = append(errs, err)
	}
	return released, errors.Join(errs...)
}

// foldAbandoned folds the files of one holder's log, if none of them is
// locked, and then releases the holder's claims. The holder is dead then:
// a live one always holds a lock on one of its files, and no file is ever
// unlocked and present but a dead holder's (one is locked before the one
// it replaces is removed, and removed before it is unlocked). Messages the
// dead process sent are recorded as sent first, in the same transaction,
// so that none of them is handed back.
func (s *Store) foldAbandoned(ctx context.Context, now time.Time, holder string, paths []string) (int, error) {
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, path := range paths {
		file, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			continue // folded by its owner meanwhile
		}
		if err != nil {
			return 0, fmt.Errorf("open the sent log %s: %w", path, err)
		}
		files = append(files, file)
		if err := lockFile(file); err != nil {
			if errors.Is(err, errLocked) {
				return 0, nil // a live process's log
			}
			return 0, fmt.Errorf("lock the sent log %s: %w", path, err)
		}
	}
	var records []sent
	var abandoned []string
	for _, file := range files {
		if _, err := os.Stat(file.Name()); errors.Is(err, os.ErrNotExist) {
			continue // removed by its owner between the open and the lock
		}
		more, err := readSentLog(file)
		if err != nil {
			return 0, fmt.Errorf("read the sent log %s: %w", file.Name(), err)
		}
		records = append(records, more...)
		abandoned = append(abandoned, file.Name())
	}
	if len(abandoned) == 0 {
		return 0, nil // its owner removed them all: it lives, or it ended cleanly
	}
	var released int
	// Synced: the files are gone once this returns.
	err := s.Write(ctx, func(tx *Tx) error {
		if err := tx.recordSent(now, records); err != nil {
			return err
		}
		var err error
		released, err = tx.releaseClaimsOf(holder, now)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("fold the sent log of %s: %w", holder, err)
	}
	var errs []error
	for _, path := range abandoned {
		errs = append(errs, os.Remove(path))
	}
	return released, errors.Join(errs...)
}

// readSentLog parses a log's lines. A last line without its line break
// was cut short by the crash, before its message was taken: it is left
// out.
func readSentLog(file *os.File) ([]sent, error) {
	var records []sent
	r := bufio.NewReader(file)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			if errors.Is(err, io.EOF) {
				return records, nil
			}
			return nil, err
		}
		idText, digestText, ok := bytes.Cut(bytes.TrimSuffix(line, []byte("\n")), []byte(" "))
		id, idErr := strconv.ParseInt(string(idText), 10, 64)
		digestID, digestErr := strconv.ParseInt(string(digestText), 10, 64)
		if !ok || idErr != nil || digestErr != nil {
			return nil, fmt.Errorf("line %q is not a sent record", line)
		}
		records = append(records, sent{id, digestID})
	}
}

// recordSent marks the messages sent, moving each digest's count once
// per message still being sent: a message recorded already (or erased
// meanwhile) moves nothing, so folding a log twice is harmless.
func (tx *Tx) recordSent(now time.Time, records []sent) error {
	if len(records) == 0 {
		return nil
	}
	ids := make([]int64, len(records))
	digestOf := make(map[int64]int64, len(records))
	for i, r := range records {
		ids[i] = r.id
		digestOf[r.id] = r.digestID
	}
	rows, err := tx.query(`UPDATE outbox SET status = 'sent', payload = NULL, finished_at = ?, last_error = ''
		WHERE id IN (SELECT value FROM json_each(?)) AND status = 'sending' RETURNING id`, millis(now), jsonIDs(ids))
	if err != nil {
		return err
	}
	perDigest := make(map[int64]int)
	recorded := 0
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		recorded++
		if digest := digestOf[id]; digest != 0 {
			perDigest[digest]++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for digest, n := range perDigest {
		if _, err := tx.exec("UPDATE digests SET sent = sent + ? WHERE id = ?", n, digest); err != nil {
			return err
		}
	}
	if err := tx.countFinished(now, recorded, 0); err != nil {
		return err
	}
	return tx.moveCounts(counts{alertd.MessageSending: -recorded, alertd.MessageSent: recorded})
}
