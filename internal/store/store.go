// Package store is the only place that speaks SQL. It opens the SQLite file
// with one writer connection and a pool of readers (WAL), applies the embedded
// migrations, and group-commits concurrent writes so that a burst of sign-ups
// costs one fsync per batch rather than one per request.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"github.com/alertd/alertd"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = alertd.Errorf(alertd.NotFound, "not found")

// Store is the SQLite database.
type Store struct {
	write     *sql.DB
	read      *sql.DB
	readStmts *statements
	// path is the database file's; dsn opens it with the pragmas every
	// connection needs.
	path, dsn string
	// writeStmts are prepared on the writer connection between batches.
	writeStmts *statements
	batches    chan *batchItem
	// lastSync is when a batch last synced the log; only the batch
	// writer's goroutine uses it.
	lastSync time.Time
	done     chan struct{}
	stopped  chan struct{}
}

// Open opens (creating if needed) the database at path and applies the
// pending migrations from migrations.
//
// The database holds security.secret, every address and live confirmation
// tokens, so what alertd creates is its user's alone whatever the umask: the
// directory 0700, the file 0600. The file is created here rather than by
// SQLite, which would make it 0644 less the umask; SQLite gives the WAL and
// shared-memory files the main file's mode.
func Open(ctx context.Context, path string, migrations fs.FS) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	file, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if err := file.Close(); err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	pragmas := url.Values{}
	pragmas.Add("_pragma", "journal_mode(WAL)")
	pragmas.Add("_pragma", "busy_timeout(10000)")
	pragmas.Add("_pragma", "foreign_keys(ON)")
	pragmas.Add("_pragma", "synchronous(FULL)")
	dsn := "file:" + path + "?" + pragmas.Encode()

	// Writers take the lock when they begin, so two processes never both
	// read, then fail to upgrade; readers must not.
	// A large page cache keeps a digest's million-row transaction from
	// spilling pages to the WAL before it commits, and an in-memory temp
	// store keeps the savepoint journal of group commit off the disk.
	write, err := sql.Open("sqlite", dsn+"&_txlock=immediate&_pragma=cache_size(-16384)&_pragma=temp_store(MEMORY)")
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	read, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(readers)
	read.SetMaxIdleConns(readers)

	s := &Store{
		write:      write,
		read:       read,
		path:       path,
		dsn:        dsn,
		readStmts:  newStatements(read),
		writeStmts: newStatements(write),
		batches:    make(chan *batchItem, 1024),
		done:       make(chan struct{}),
		stopped:    make(chan struct{}),
	}
	if err := s.migrate(ctx, migrations); err != nil {
		s.closeDBs()
		return nil, err
	}
	go s.runBatches()
	return s, nil
}

// Close stops the batch writer and closes the database.
func (s *Store) Close() error {
	close(s.done)
	<-s.stopped
	return s.closeDBs()
}

func (s *Store) closeDBs() error {
	s.readStmts.close()
	s.writeStmts.close()
	return errors.Join(s.read.Close(), s.write.Close())
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.readRow(ctx, "SELECT 1").Scan(&one)
}

// Backup writes a consistent copy of the database to path (VACUUM INTO),
// which is safe while other connections read and write. The copy holds what
// the database holds, so it is created 0600, empty, before any data goes
// in (VACUUM INTO fills an empty file).
func (s *Store) Backup(ctx context.Context, path string) (err error) {
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("backup: %s already exists; choose a new file name", path)
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := file.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(path)
		}
	}()
	// A connection of its own: the readers are query-only, and the writer
	// must go on writing meanwhile.
	db, err := sql.Open("sqlite", s.dsn)
	if err != nil {
		return fmt.Errorf("backup to %s: %w", path, err)
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "VACUUM INTO ?", path)
	if err != nil {
		return fmt.Errorf("backup to %s: %w", path, err)
	}
	return nil
}

func (s *Store) migrate(ctx context.Context, migrations fs.FS) error {
	names, err := fs.Glob(migrations, "*.sql")
	if err != nil {
		return err
	}
	slices.Sort(names)
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, name := range names {
		version := strings.TrimSuffix(name, ".sql")
		body, err := fs.ReadFile(migrations, name)
		if err != nil {
			return err
		}
		err = inTx(ctx, s.write, func(tx *sql.Tx) error {
			var applied int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = ?", version).Scan(&applied); err != nil {
				return err
			}
			if applied > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", version, millis(time.Now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

// Read runs fn in a read-only transaction on a reader: one consistent
// snapshot for one lookup or several. Its statements are prepared once per
// reader pool and bound to each transaction, as the writer's are.
func (s *Store) Read(ctx context.Context, fn func(*Tx) error) error {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	stmts := &txStatements{warm: s.readStmts, bound: map[string]*sql.Stmt{}}
	err = fn(&Tx{ctx: ctx, tx: tx, stmts: stmts})
	tx.Rollback()
	for _, query := range stmts.cold {
		// A statement that fails to prepare failed in fn too.
		_, _ = s.readStmts.get(ctx, query)
	}
	return err
}

// beginner is where a write transaction starts: the writer pool, or one
// connection of it held for settings of its own.
type beginner interface {
	BeginTx(context.Context, *sql.TxOptions) (*sql.Tx, error)
}

// inTx runs fn in its own write transaction on db, outside the batch
// writer.
func inTx(ctx context.Context, db beginner, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

// millis converts t to the Unix milliseconds the schema stores.
func millis(t time.Time) int64 { return t.UnixMilli() }

// fromMillis is the inverse of millis; NULL becomes nil.
func fromMillis(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := time.UnixMilli(v.Int64).UTC()
	return &t
}

func nullMillis(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: millis(*t), Valid: true}
}
