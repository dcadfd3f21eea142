package store

// Chunks gathers the items of a long import and hands them to flush size at
// a time, for each chunk to share one transaction: far fewer commits than
// one per item, and no transaction that holds the writer for long.
type Chunks[T any] struct {
	size  int
	items []T
	flush func([]T) error
}

// NewChunks returns Chunks that call flush with size items at a time.
func NewChunks[T any](size int, flush func([]T) error) *Chunks[T] {
	return &Chunks[T]{size: size, flush: flush}
}

// Add gathers item and flushes when a chunk is full.
func (c *Chunks[T]) Add(item T) error {
	c.items = append(c.items, item)
	if len(c.items) < c.size {
		return nil
	}
	return c.Flush()
}

// Flush hands over the items gathered, if there are any.
func (c *Chunks[T]) Flush() error {
	if len(c.items) == 0 {
		return nil
	}
	err := c.flush(c.items)
	c.items = c.items[:0]
	return err
}
