// Package delivery is the outbox's engine: workers claim due messages from
// the database, check that the recipient still wants them, render and send
// them over their own reusable connection, classify the reply and record the
// outcome before taking the next one.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	gomail "github.com/wneessen/go-mail"
	"golang.org/x/time/rate"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/mail"
	"github.com/alertd/alertd/internal/store"
)

// Renderer turns a claimed outbox row into the message for its subscriber.
type Renderer interface {
	Render(ctx context.Context, m store.Message, sub alertd.Subscriber) (*gomail.Msg, error)
}

// Settings tune the engine.
type Settings struct {
	// Workers is the number of concurrent connections (smtp.connections).
	Workers int
	// RatePerSecond caps messages per second across all workers; 0 = none.
	RatePerSecond float64
	// RetrySchedule is the wait before each retry after a temporary failure.
	RetrySchedule []time.Duration
	// Lease is how long a claimed message stays with a worker before another
	// worker or process may take it (a crashed worker's messages come back).
	Lease time.Duration
}

// Engine runs the delivery workers.
type Engine struct {
	store     *store.Store
	transport mail.Transport
	render    Renderer
	settings  Settings
	limiter   *rate.Limiter
	now       func() time.Time
	log       *slog.Logger
	wake      []chan struct{}
}

// New returns an engine; Run starts it.
func New(st *store.Store, transport mail.Transport, render Renderer, s Settings, now func() time.Time, log *slog.Logger) *Engine {
	s.Workers = max(1, s.Workers)
	if s.Lease <= 0 {
		s.Lease = 5 * time.Minute
	}
	e := &Engine{store: st, transport: transport, render: render, settings: s, now: now, log: log}
	e.limiter = rate.NewLimiter(rate.Inf, 1)
	if s.RatePerSecond > 0 {
		e.limiter = rate.NewLimiter(rate.Limit(s.RatePerSecond), 1)
	}
	for range s.Workers {
		e.wake = append(e.wake, make(chan struct{}, 1))
	}
	return e
}

// Wake tells idle workers that new mail is due.
func (e *Engine) Wake() {
	for _, c := range e.wake {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// Run delivers until ctx is cancelled, then lets each worker finish the
// message it is sending and hands the rest of its claim back to the queue.
func (e *Engine) Run(ctx context.Context) {
	done := make(chan struct{})
	for i := range e.settings.Workers {
		go func() {
			defer func() { done <- struct{}{} }()
			e.work(ctx, e.wake[i], false)
		}()
	}
	for range e.settings.Workers {
		<-done
	}
}

// Drain delivers until no message is due (only retries due later remain)
// and returns; for commands that send and exit.
func (e *Engine) Drain(ctx context.Context) {
	done := make(chan struct{})
	for i := range e.settings.Workers {
		go func() {
			defer func() { done <- struct{}{} }()
			e.work(ctx, e.wake[i], true)
		}()
	}
	for range e.settings.Workers {
		<-done
	}
}

// claimSize is how many messages a worker leases at a time: enough to keep
// claiming cheap, few enough that a crash strands little for long.
const claimSize = 8

func (e *Engine) work(ctx context.Context, wake <-chan struct{}, stopWhenIdle bool) {
	w := &worker{engine: e}
	defer w.close()
	for ctx.Err() == nil {
		now := e.now()
		claimed, err := e.store.ClaimMessages(ctx, now, now.Add(e.settings.Lease), claimSize)
		if err != nil {
			if ctx.Err() == nil {
				e.log.Error("claim messages", "err", err)
			}
			if !e.idle(ctx, wake, time.Second) {
				return
			}
			continue
		}
		if len(claimed) == 0 {
			if stopWhenIdle {
				return
			}
			if !e.idle(ctx, wake, e.untilNextDue(ctx)) {
				return
			}
			continue
		}
		for i, m := range claimed {
			if ctx.Err() != nil {
				e.release(claimed[i:])
				return
			}
			w.deliver(ctx, m)
		}
	}
}

// idle waits for a wake-up, the timeout or the end; it reports false at the end.
func (e *Engine) idle(ctx context.Context, wake <-chan struct{}, timeout time.Duration) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-wake:
	case <-timer.C:
	}
	return true
}

// untilNextDue is how long an idle worker may sleep: until the next retry
// falls due, and never so long that another process's abandoned lease waits.
func (e *Engine) untilNextDue(ctx context.Context) time.Duration {
	const longest = 30 * time.Second
	next, ok, err := e.store.NextDue(ctx, e.now())
	if err != nil || !ok {
		return longest
	}
	return min(longest, max(10*time.Millisecond, next.Sub(e.now())))
}

func (e *Engine) release(ms []store.Message) {
	ids := make([]int64, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	if err := e.store.ReleaseMessages(context.Background(), e.now(), ids); err != nil {
		e.log.Error("release messages", "err", err)
	}
}

// worker owns one connection.
type worker struct {
	engine *Engine
	conn   mail.Conn
}

func (w *worker) close() {
	if w.conn != nil {
		w.conn.Close()
	}
}

// deliver sends one message and records what became of it. Once a send has
// started it is finished and recorded even if ctx ends meanwhile, so a
// graceful stop leaves no message sent but unrecorded.
func (w *worker) deliver(ctx context.Context, m store.Message) {
	e := w.engine
	keep := context.WithoutCancel(ctx)
	outcome := w.attempt(keep, m)
	outcome.ID, outcome.SubscriberID = m.ID, m.SubscriberID
	if err := e.store.RecordOutcomes(keep, e.now(), []store.Outcome{outcome}); err != nil {
		e.log.Error("record delivery outcome", "message", m.ID, "err", err)
	}
}

// wantedStatus is the status a subscriber must still have, at send time, to
// receive a message of the kind.
func wantedStatus(kind string) alertd.SubscriberStatus {
	if kind == "confirmation" {
		return alertd.StatusPending
	}
	return alertd.StatusConfirmed
}

func (w *worker) attempt(ctx context.Context, m store.Message) store.Outcome {
	e := w.engine
	sub, err := e.store.SubscriberByID(ctx, m.SubscriberID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && sub.Status != wantedStatus(m.Kind)) {
		return store.Outcome{Status: "cancelled", Error: "recipient no longer subscribed"}
	}
	if err != nil {
		return e.retry(m, fmt.Errorf("read subscriber: %w", err))
	}
	msg, err := e.render.Render(ctx, m, sub)
	if err != nil {
		// Rendering reads the database too; a broken template fails the
		// message once the retries are used up.
		e.log.Error("render message", "message", m.ID, "kind", m.Kind, "err", err)
		return e.retry(m, fmt.Errorf("render: %w", err))
	}
	if err := e.limiter.Wait(ctx); err != nil {
		return e.retry(m, err)
	}
	if w.conn == nil {
		if w.conn, err = e.transport.Dial(ctx); err != nil {
			w.conn = nil
			return e.retry(m, err)
		}
	}
	err = w.conn.Send(ctx, msg)
	if err == nil {
		return store.Outcome{Status: "sent"}
	}
	switch mail.Classify(err) {
	case mail.BadAddress:
		e.log.Info("address bounced", "message", m.ID, "err", err)
		return store.Outcome{Status: "failed", Error: err.Error(), Bounced: true}
	case mail.Permanent:
		e.log.Warn("message refused", "message", m.ID, "err", err)
		return store.Outcome{Status: "failed", Error: err.Error()}
	default:
		return e.retry(m, err)
	}
}

// retry schedules the next attempt after a temporary failure, or fails the
// message once the schedule is used up.
func (e *Engine) retry(m store.Message, err error) store.Outcome {
	if m.Attempts > len(e.settings.RetrySchedule) {
		e.log.Warn("message failed after retries", "message", m.ID, "attempts", m.Attempts, "err", err)
		return store.Outcome{Status: "failed", Error: err.Error()}
	}
	wait := e.settings.RetrySchedule[m.Attempts-1]
	e.log.Info("message deferred", "message", m.ID, "attempt", m.Attempts, "retry_in", wait, "err", err)
	return store.Outcome{Status: "queued", RetryAt: e.now().Add(wait), Error: err.Error()}
}
