package web

import (
	"container/list"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// maxLimitedClients bounds how many clients a limiter remembers, so that its
// memory stays the same however many addresses a flood comes from. About a
// hundred bytes each: a few megabytes at most.
const maxLimitedClients = 50_000

// clientKey is what a per-client limit counts by: an IPv4 address alone, an
// IPv6 address by its /64, the smallest network a single subscriber line is
// given, so that one client cannot get a fresh budget from every address of
// its network. An address that could not be read shares one key with every
// other such address.
func clientKey(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	if !ip.IsValid() {
		return netip.Prefix{}
	}
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

// limiter allows each key limit events per window, the window starting at
// the key's first event. It remembers at most capacity keys: when full, the
// key seen least recently is forgotten. A client busy enough to matter is
// seen often, so it stays; forgetting one means it starts a new window.
type limiter struct {
	limit    int
	window   time.Duration
	capacity int
	now      func() time.Time

	mu      sync.Mutex
	entries map[netip.Prefix]*list.Element // of *limitEntry
	recency *list.List                     // most recently seen at the front
}

type limitEntry struct {
	key    netip.Prefix
	start  time.Time
	events int
}

func newLimiter(limit int, window time.Duration, capacity int, now func() time.Time) *limiter {
	return &limiter{
		limit: limit, window: window, capacity: capacity, now: now,
		entries: make(map[netip.Prefix]*list.Element), recency: list.New(),
	}
}

// take counts one event for key. When the key has used its limit already,
// nothing is counted and take returns false with the time until its window
// ends.
func (l *limiter) take(key netip.Prefix) (retryAfter time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e := l.entry(key, now)
	if e.events >= l.limit {
		return e.start.Add(l.window).Sub(now), false
	}
	e.events++
	return 0, true
}

// entry returns key's entry for the window that holds now, making room for
// it when the key is new.
func (l *limiter) entry(key netip.Prefix, now time.Time) *limitEntry {
	if el, ok := l.entries[key]; ok {
		l.recency.MoveToFront(el)
		e := el.Value.(*limitEntry)
		if !now.Before(e.start.Add(l.window)) {
			e.start, e.events = now, 0
		}
		return e
	}
	if l.recency.Len() >= l.capacity {
		oldest := l.recency.Back()
		l.recency.Remove(oldest)
		delete(l.entries, oldest.Value.(*limitEntry).key)
	}
	e := &limitEntry{key: key, start: now}
	l.entries[key] = l.recency.PushFront(e)
	return e
}

// size is how many keys the limiter remembers.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// retryAfterSeconds is d as a Retry-After value: whole seconds, rounded up,
// at least one.
func retryAfterSeconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(s, 1), 10)
}
