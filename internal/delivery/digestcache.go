package delivery

import (
	"context"
	"sync"

	"github.com/alertd/alertd"
)

// DigestCache keeps the reports of the digests being delivered, so that a
// million deliveries of one digest read its reports once, not a million times.
type DigestCache struct {
	load func(ctx context.Context, digestID int64) ([]alertd.Report, error)
	mu   sync.Mutex
	// recent holds the last few digests; deliveries of more than a few
	// digests at once are rare, and an old one is simply loaded again.
	recent []cachedDigest
}

type cachedDigest struct {
	id      int64
	reports []alertd.Report
}

const digestCacheSize = 4

// NewDigestCache returns a cache that loads a digest's reports with load.
func NewDigestCache(load func(ctx context.Context, digestID int64) ([]alertd.Report, error)) *DigestCache {
	return &DigestCache{load: load}
}

// Reports returns the reports of the digest, newest first.
func (c *DigestCache) Reports(ctx context.Context, digestID int64) ([]alertd.Report, error) {
	c.mu.Lock()
	for _, d := range c.recent {
		if d.id == digestID {
			c.mu.Unlock()
			return d.reports, nil
		}
	}
	c.mu.Unlock()
	reports, err := c.load(ctx, digestID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recent = append(c.recent, cachedDigest{id: digestID, reports: reports})
	if len(c.recent) > digestCacheSize {
		c.recent = c.recent[1:]
	}
	return reports, nil
}
