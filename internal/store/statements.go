package store

import (
	"context"
	"database/sql"
	"sync"
)

// statements caches the readers' prepared statements by their SQL text.
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

func (c *statements) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if stmt, ok := c.bySQL[query]; ok {
		return stmt, nil
	}
	stmt, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.bySQL[query] = stmt
	return stmt, nil
}

func (c *statements) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, stmt := range c.bySQL {
		stmt.Close()
	}
}

// stmt returns query prepared in the transaction. A batch shares one
// transaction, so each statement is parsed once per batch however many
// writes of the batch run it. (The writer has a single connection, which the
// transaction holds, so statements cannot be prepared on the pool.)
func (t *Tx) stmt(query string) (*sql.Stmt, error) {
	if stmt, ok := t.prepared[query]; ok {
		return stmt, nil
	}
	stmt, err := t.tx.PrepareContext(context.WithoutCancel(t.ctx), query)
	if err != nil {
		return nil, err
	}
	t.prepared[query] = stmt
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
