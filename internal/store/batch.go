package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"
)

// maxBatch bounds how many writes share one commit, so one slow batch cannot
// hold the lock for long.
const maxBatch = 256

// Tx is a write transaction handed to a Write function. Its methods hold the
// SQL; callers hold the rules.
type Tx struct {
	ctx   context.Context
	tx    *sql.Tx
	stmts *txStatements
}

type batchItem struct {
	ctx  context.Context
	fn   func(*Tx) error
	done chan error
	lazy bool
}

// Write runs fn in a write transaction and returns once it is durably
// committed. Concurrent calls are group-committed: they share one
// transaction, each in its own savepoint when any of them fails, so one
// failing fn rolls back only its own changes, and the batch pays for a
// single fsync.
func (s *Store) Write(ctx context.Context, fn func(*Tx) error) error {
	return s.writeAndWait(ctx, fn, false)
}

// QueuedWrites returns how many writes wait for the writer, not counting
// the batch it is committing: a test holds the writer and knows the writes
// it started are queued, to be committed together, once this says so.
func (s *Store) QueuedWrites() int {
	return len(s.batches)
}

// WriteLazy is Write for a write that may be synced lazily (see SubmitLazy).
func (s *Store) WriteLazy(ctx context.Context, fn func(*Tx) error) error {
	return s.writeAndWait(ctx, fn, true)
}

func (s *Store) writeAndWait(ctx context.Context, fn func(*Tx) error, lazy bool) error {
	item, err := s.enqueue(ctx, fn, lazy)
	if err != nil {
		return err
	}
	return s.await(item)
}

// Submit is Write without the wait: it queues fn and returns a channel that
// yields Write's result once the batch is committed, so the caller can get
// on with other work meanwhile.
func (s *Store) Submit(ctx context.Context, fn func(*Tx) error) <-chan error {
	return s.submit(ctx, fn, false)
}

// lazyWindow bounds how long a lazy write may go without a sync of the log.
const lazyWindow = 100 * time.Millisecond

// SubmitLazy is Submit for a write that must survive the process being
// killed but, unlike every other write, need not survive the machine going
// down (power loss, kernel panic): a batch of lazy writes commits without
// syncing the log, unless the last sync is lazyWindow old. The write is
// durable once the next sync happens, at most lazyWindow later. This is
// what a mail server does with a delivered message's queue entry: the
// delivery record is written at once and synced lazily, and a machine crash
// can only make it send a message again, never lose one.
func (s *Store) SubmitLazy(ctx context.Context, fn func(*Tx) error) <-chan error {
	return s.submit(ctx, fn, true)
}

func (s *Store) submit(ctx context.Context, fn func(*Tx) error, lazy bool) <-chan error {
	result := make(chan error, 1)
	item, err := s.enqueue(ctx, fn, lazy)
	if err != nil {
		result <- err
		return result
	}
	go func() { result <- s.await(item) }()
	return result
}

func (s *Store) enqueue(ctx context.Context, fn func(*Tx) error, lazy bool) (*batchItem, error) {
	item := &batchItem{ctx: ctx, fn: fn, done: make(chan error, 1), lazy: lazy}
	select {
	case s.batches <- item:
		return item, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.done:
		return nil, errClosed
	}
}

func (s *Store) await(item *batchItem) error {
	select {
	case err := <-item.done:
		return err
	case <-s.stopped:
		// Close drains the queue before it stops, so an item queued in time
		// has its answer; one queued after the drain was never run.
		select {
		case err := <-item.done:
			return err
		default:
			return errClosed
		}
	}
}

var errClosed = errors.New("store is closed")

func (s *Store) runBatches() {
	defer close(s.stopped)
	for {
		var first *batchItem
		select {
		case first = <-s.batches:
		case <-s.done:
			s.drain()
			return
		}
		batch := []*batchItem{first}
	fill:
		for len(batch) < maxBatch {
			select {
			case item := <-s.batches:
				batch = append(batch, item)
			default:
				break fill
			}
		}
		s.commitBatch(batch)
	}
}

// drain answers whatever was queued when the store closed.
func (s *Store) drain() {
	for {
		select {
		case item := <-s.batches:
			s.commitBatch([]*batchItem{item})
		default:
			return
		}
	}
}

// errGiveUp abandons the optimistic path of a batch.
var errGiveUp = errors.New("a write failed; commit the batch write by write")

func (s *Store) commitBatch(batch []*batchItem) {
	lazy := time.Since(s.lastSync) < lazyWindow
	for _, item := range batch {
		lazy = lazy && item.lazy
	}
	stmts := s.txStatements()
	defer s.warmUp(stmts)
	if s.commitTogether(batch, stmts, lazy) {
		return
	}
	stmts = s.txStatements()
	defer s.warmUp(stmts)
	results := make([]error, len(batch))
	err := s.batchTx(lazy, func(tx *sql.Tx) error {
		for i, item := range batch {
			var broken error
			results[i], broken = runSavepoint(tx, stmts, item)
			if broken != nil {
				// The transaction's state is unknown: commit nothing.
				return broken
			}
		}
		return nil
	})
	for i, item := range batch {
		if err != nil {
			results[i] = fmt.Errorf("commit: %w", err)
		}
		item.done <- results[i]
	}
}

// commitTogether runs a batch in one transaction without savepoints, which
// saves two statements per write. Almost every write succeeds; at the first
// one that fails it rolls everything back and reports false, and the batch
// runs again with a savepoint per write. Write functions set their results
// afresh on every run, so running one twice is harmless. A batch of one
// write needs no savepoint: it commits or fails here.
func (s *Store) commitTogether(batch []*batchItem, stmts *txStatements, lazy bool) bool {
	var failed error
	err := s.batchTx(lazy, func(tx *sql.Tx) error {
		for _, item := range batch {
			if failed = item.ctx.Err(); failed != nil {
				return errGiveUp
			}
			if failed = item.fn(&Tx{ctx: item.ctx, tx: tx, stmts: stmts}); failed != nil {
				return errGiveUp
			}
		}
		return nil
	})
	if len(batch) == 1 && (failed != nil || err != nil) {
		if failed == nil {
			failed = fmt.Errorf("commit: %w", err)
		}
		batch[0].done <- failed
		return true
	}
	if err != nil {
		return false
	}
	for _, item := range batch {
		item.done <- nil
	}
	return true
}

// batchTx runs fn in a transaction of the writer connection. Unless lazy,
// the commit syncs the log (synchronous = FULL, the connection's setting);
// a lazy one does not (NORMAL), and the connection is set back after it.
func (s *Store) batchTx(lazy bool, fn func(*sql.Tx) error) error {
	ctx := context.Background()
	if !lazy {
		err := inTx(ctx, s.write, fn)
		if err == nil {
			s.lastSync = time.Now()
		}
		return err
	}
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = NORMAL"); err != nil {
		return err
	}
	defer func() {
		if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = FULL"); err != nil {
			// A writer left without syncs must not serve anyone else.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	return inTx(ctx, conn, fn)
}

// runSavepoint runs one item in its own savepoint and returns the item's
// error; broken is set when the savepoint could not be closed, which leaves
// the whole transaction in doubt.
func runSavepoint(tx *sql.Tx, stmts *txStatements, item *batchItem) (err, broken error) {
	if err := item.ctx.Err(); err != nil {
		return err, nil
	}
	// The savepoint itself must be closed even when the caller has given
	// up, or its half-done changes would be committed with the batch.
	control := &Tx{ctx: context.WithoutCancel(item.ctx), tx: tx, stmts: stmts}
	if _, err := control.exec("SAVEPOINT item"); err != nil {
		return nil, err
	}
	if err := item.fn(&Tx{ctx: item.ctx, tx: tx, stmts: stmts}); err != nil {
		_, rollbackErr := control.exec("ROLLBACK TO item")
		_, releaseErr := control.exec("RELEASE item")
		return err, errors.Join(rollbackErr, releaseErr)
	}
	_, err = control.exec("RELEASE item")
	return nil, err
}
