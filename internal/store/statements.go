package store

import (
	"context"
	"database/sql"
	"sync"
)

// statements caches prepared statements by their SQL text.
// Parsing SQL is a fifth of the cost of a small statement in SQLite, and the
// same few statements run thousands of times a second under load.
type statements struct {
	db    *sql.DB
	mu    sync.Mutex
	bySQL map[string]*sql.Stmt
}

func newStatements(db *sql.DB) *statements {
	return &statements{db: db, bySQL: map[string]*sql.Stmt{}}
}

// get returns the statement for query, preparing it on the pool when it is
// new. It prepares without holding the lock: preparing waits for a free
// connection, and the transactions holding the connections may need the
// lock to look up their own statements before they can end.
func (c *statements) get(ctx context.Context, query string) (*sql.Stmt, error) {
	if stmt, ok := c.lookup(query); ok {
		return stmt, nil
	}
	stmt, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if kept, ok := c.bySQL[query]; ok {
		// Prepared meanwhile by another.
		stmt.Close()
		return kept, nil
	}
	c.bySQL[query] = stmt
	return stmt, nil
}

// lookup returns the statement for query if it has been prepared.
func (c *statements) lookup(query string) (*sql.Stmt, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	stmt, ok := c.bySQL[query]
	return stmt, ok
}

func (c *statements) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, stmt := range c.bySQL {
		stmt.Close()
	}
}

// txStatements are the statements of one transaction: those its pool has
// kept from earlier transactions (warm), bound to the transaction, and those
// prepared in it for the first time (cold), which the pool keeps for the
// next transactions once this one is over. (The writer has a single
// connection, which a transaction holds, so a statement cannot be prepared
// on the pool during one.)
type txStatements struct {
	warm  *statements
	bound map[string]*sql.Stmt
	cold  []string
}

func (s *Store) txStatements() *txStatements {
	return &txStatements{warm: s.writeStmts, bound: map[string]*sql.Stmt{}}
}

// warmUp prepares on the writer connection, now free, the statements a
// batch had to prepare for itself.
func (s *Store) warmUp(stmts *txStatements) {
	for _, query := range stmts.cold {
		// A statement that fails to prepare failed in the batch too.
		_, _ = s.writeStmts.get(context.Background(), query)
	}
}

func (t *Tx) stmt(query string) (*sql.Stmt, error) {
	if stmt, ok := t.stmts.bound[query]; ok {
		return stmt, nil
	}
	if warm, ok := t.stmts.warm.lookup(query); ok {
		stmt := t.tx.StmtContext(context.WithoutCancel(t.ctx), warm)
		t.stmts.bound[query] = stmt
		return stmt, nil
	}
	stmt, err := t.tx.PrepareContext(context.WithoutCancel(t.ctx), query)
	if err != nil {
		return nil, err
	}
	t.stmts.bound[query] = stmt
	t.stmts.cold = append(t.stmts.cold, query)
	return stmt, nil
}

func (t *Tx) exec(query string, args ...any) (sql.Result, error) {
	stmt, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return stmt.ExecContext(t.ctx, args...)
}

func (t *Tx) queryRow(query string, args ...any) *sql.Row {
	stmt, err := t.stmt(query)
	if err != nil {
		// The same query fails the same way unprepared, into the Row.
		return t.tx.QueryRowContext(t.ctx, query, args...)
	}
	return stmt.QueryRowContext(t.ctx, args...)
}

func (t *Tx) query(query string, args ...any) (*sql.Rows, error) {
	stmt, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return stmt.QueryContext(t.ctx, args...)
}

func (s *Store) readRow(ctx context.Context, query string, args ...any) *sql.Row {
	stmt, err := s.readStmts.get(ctx, query)
	if err != nil {
		return s.read.QueryRowContext(ctx, query, args...)
	}
	return stmt.QueryRowContext(ctx, args...)
}

func (s *Store) readRows(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	stmt, err := s.readStmts.get(ctx, query)
	if err != nil {
		return nil, err
	}
	return stmt.QueryContext(ctx, args...)
}
