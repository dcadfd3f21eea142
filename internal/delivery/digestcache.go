package delivery

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/mail"
)

// DigestCache keeps the digests being delivered: their reports, read once,
// and their rendering for each set of topics, made once, so that a million
// deliveries of one digest cost neither a million reads nor a million
// template executions.
type DigestCache struct {
	load func(ctx context.Context, digestID int64) ([]alertd.Report, error)
	mu   sync.Mutex
	// recent holds the last few digests; deliveries of more than a few
	// digests at once are rare, and an old one is simply loaded again.
	recent []*cachedDigest
}

type cachedDigest struct {
	id      int64
	reports []alertd.Report
	// prepared maps a sorted, comma-joined topic choice to its rendering.
	prepared map[string]*mail.PreparedDigest
}

const (
	digestCacheSize = 4
	// maxTopicSets bounds the renderings kept per digest; choices beyond
	// it are rendered per message.
	maxTopicSets = 256
)

// NewDigestCache returns a cache that loads a digest's reports with load.
func NewDigestCache(load func(ctx context.Context, digestID int64) ([]alertd.Report, error)) *DigestCache {
	return &DigestCache{load: load}
}

// Reports returns the reports of the digest, newest first.
func (c *DigestCache) Reports(ctx context.Context, digestID int64) ([]alertd.Report, error) {
	d, err := c.digest(ctx, digestID)
	if err != nil {
		return nil, err
	}
	return d.reports, nil
}

// Prepared returns the digest rendered for subscribers who chose topics
// and read lang, making it with prepare the first time.
func (c *DigestCache) Prepared(ctx context.Context, digestID int64, topics []string, lang string,
	prepare func(digestID int64, reports []alertd.Report, topics []string, lang string) (*mail.PreparedDigest, error)) (*mail.PreparedDigest, error) {
	d, err := c.digest(ctx, digestID)
	if err != nil {
		return nil, err
	}
	sorted := slices.Sorted(slices.Values(topics))
	key := lang + ":" + strings.Join(sorted, ",")
	c.mu.Lock()
	p, ok := d.prepared[key]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err = prepare(digestID, d.reports, sorted, lang)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(d.prepared) < maxTopicSets {
		d.prepared[key] = p
	}
	c.mu.Unlock()
	return p, nil
}

func (c *DigestCache) digest(ctx context.Context, digestID int64) (*cachedDigest, error) {
	c.mu.Lock()
	for _, d := range c.recent {
		if d.id == digestID {
			c.mu.Unlock()
			return d, nil
		}
	}
	c.mu.Unlock()
	reports, err := c.load(ctx, digestID)
	if err != nil {
		return nil, err
	}
	d := &cachedDigest{id: digestID, reports: reports, prepared: map[string]*mail.PreparedDigest{}}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recent = append(c.recent, d)
	if len(c.recent) > digestCacheSize {
		c.recent = c.recent[1:]
	}
	return d, nil
}
