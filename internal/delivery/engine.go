// Package delivery is the outbox's engine: workers claim due messages from
// the database, check that the recipient still wants them, render and send
// them over their own reusable connection, classify the reply and record the
// outcome durably before the next message goes out.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/time/rate"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/mail"
	"github.com/alertd/alertd/internal/metrics"
	"github.com/alertd/alertd/internal/store"
)

// Renderer turns a claimed outbox row into the message for its subscriber.
type Renderer interface {
	Render(ctx context.Context, m alertd.Message, sub alertd.Subscriber) (mail.Message, error)
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
	// worker or process may take it: the guard against a live worker that
	// is stuck. A dead process's claims come back at once (its sent log
	// tells that it is dead); those of a process without a sent log only
	// when their lease runs out.
	Lease time.Duration
	// Backoff is a worker's first pause after its connection failed (a 421,
	// a network error, a refused connect); it doubles up to MaxBackoff while
	// the trouble lasts. Only that worker pauses; the others go on.
	Backoff, MaxBackoff time.Duration
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
	metrics   *metrics.Metrics
	wake      []chan struct{}
	sentLog   *store.SentLog // nil when it could not be opened
	// claimant names this process in its claims: its sent log's holder,
	// or "" without one.
	claimant string
}

// New returns an engine; Run or Drain starts it. With m nil the engine
// counts into collectors nobody reads.
func New(st *store.Store, transport mail.Transport, render Renderer, s Settings, now func() time.Time, log *slog.Logger, m *metrics.Metrics) *Engine {
	if m == nil {
		m = metrics.New(func() float64 { return 0 })
	}
	s.Workers = max(1, s.Workers)
	if s.Lease <= 0 {
		s.Lease = 5 * time.Minute
	}
	if s.Backoff <= 0 {
		s.Backoff = time.Second
	}
	if s.MaxBackoff < s.Backoff {
		s.MaxBackoff = max(s.Backoff, time.Minute)
	}
	e := &Engine{store: st, transport: transport, render: render, settings: s, now: now, log: log, metrics: m}
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

// Run delivers until ctx is cancelled, then lets each worker finish and
// record the message it is sending and hands the rest of its claim back.
func (e *Engine) Run(ctx context.Context) { e.start(ctx, false) }

// Drain delivers until no message is due (only retries due later remain)
// and returns; for commands that send and exit.
func (e *Engine) Drain(ctx context.Context) { e.start(ctx, true) }

func (e *Engine) start(ctx context.Context, stopWhenIdle bool) {
	e.foldAbandonedSentLogs()
	sentLog, err := e.store.OpenSentLog()
	if err != nil {
		e.log.Warn("no sent log; sent messages are recorded in the database one by one", "err", err)
	}
	e.sentLog = sentLog
	if sentLog != nil {
		e.claimant = sentLog.Holder()
	}
	stopFolding, folded := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(folded)
		e.fold(stopFolding)
	}()

	done := make(chan struct{})
	for i := range e.settings.Workers {
		go func() {
			defer func() { done <- struct{}{} }()
			w := &worker{engine: e, wake: e.wake[i]}
			w.beforeContent = w.awaitRecorded
			w.run(ctx, stopWhenIdle)
		}()
	}
	for range e.settings.Workers {
		<-done
	}
	close(stopFolding)
	<-folded
}

// foldEvery is how often the sent log is folded into the outbox: how long
// a digest's counts may lag behind its deliveries. Logs of processes that
// died are looked for every foldAbandonedEvery: long before their
// messages' leases run out and a claim could take them.
const (
	foldEvery          = 50 * time.Millisecond
	foldAbandonedEvery = time.Second
)

// fold folds the sent log into the outbox, and the logs of processes that
// died, until stop is closed; then it folds the rest and closes the log.
func (e *Engine) fold(stop <-chan struct{}) {
	ticker, abandoned := time.NewTicker(foldEvery), time.NewTicker(foldAbandonedEvery)
	defer ticker.Stop()
	defer abandoned.Stop()
	for {
		select {
		case <-abandoned.C:
			e.foldAbandonedSentLogs()
		case <-ticker.C:
			if e.sentLog == nil {
				continue
			}
			if err := e.sentLog.Fold(context.Background(), e.now()); err != nil {
				e.log.Error("fold the sent log", "err", err)
			}
		case <-stop:
			if e.sentLog == nil {
				return
			}
			if err := e.sentLog.Close(context.Background(), e.now()); err != nil {
				e.log.Error("fold the sent log; the next start folds it", "err", err)
			}
			return
		}
	}
}

// foldAbandonedSentLogs folds the sent logs of processes that died and
// takes back their claims, waking the workers for them.
func (e *Engine) foldAbandonedSentLogs() {
	released, err := e.store.FoldAbandonedSentLogs(context.Background(), e.now())
	if err != nil {
		e.log.Error("fold the sent log of a process that ended", "err", err)
	}
	if released > 0 {
		e.log.Info("took back the messages a process that ended had claimed", "messages", released)
		e.Wake()
	}
}

// claimSize is how many messages a worker leases at a time: enough to keep
// claiming, the engine's largest database cost, cheap per message (the
// figures are in BENCHMARKS.md). A crash strands none of them: the next process takes them
// back as soon as it finds the dead one's sent log.
const claimSize = 64

// worker owns one connection and sends one message at a time over it.
type worker struct {
	engine  *Engine
	wake    <-chan struct{}
	conn    mail.Conn
	backoff time.Duration
	// paused is set once the backoff has been waited out, so that a
	// message given up after the pause does not make the next one wait
	// again before the dial.
	paused bool
	// recorded yields the result of recording the previous message's
	// outcome in the database (a sent message is recorded in the sent log
	// at once instead). The next message's preparation and envelope overlap
	// with the recording, but its content, whose end the relay takes, waits
	// for it: at most one message per worker is ever sent but not yet
	// recorded, and after a crash duplicates are bounded by the number of
	// workers.
	recorded <-chan error
	// beforeContent is awaitRecorded, which each send calls between the
	// envelope and the content; bound once, so that no send allocates it.
	beforeContent func()
}

func (w *worker) run(ctx context.Context, stopWhenIdle bool) {
	e := w.engine
	defer w.close()
	for ctx.Err() == nil {
		now := e.now()
		leaseUntil := now.Add(e.settings.Lease)
		claimed, err := e.store.ClaimMessages(ctx, e.claimant, now, leaseUntil, claimSize)
		if err != nil {
			if ctx.Err() == nil {
				e.log.Error("claim messages", "err", err)
			}
			if !w.idle(ctx, time.Second) {
				return
			}
			continue
		}
		if len(claimed) == 0 {
			if stopWhenIdle || !w.idle(ctx, e.untilNextDue(ctx)) {
				return
			}
			continue
		}
		for i, m := range claimed {
			if ctx.Err() != nil {
				e.release(claimed[i:])
				return
			}
			if !w.deliver(ctx, m, leaseUntil) {
				w.handBack(claimed[i:], leaseUntil)
				break
			}
		}
	}
}

// handBack gives up the rest of a claim whose lease runs short. While the
// lease lasts the messages are still this worker's to release; once it has
// run out another worker may have claimed them already, so they are left
// alone: they are due again anyway.
func (w *worker) handBack(ms []alertd.Message, leaseUntil time.Time) {
	if w.engine.now().Before(leaseUntil) {
		w.engine.release(ms)
	}
}

// idle waits for a wake-up, the timeout or the end; it reports false at the end.
func (w *worker) idle(ctx context.Context, timeout time.Duration) bool {
	w.awaitRecorded()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-w.wake:
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

func (e *Engine) release(ms []alertd.Message) {
	ids := make([]int64, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	if err := e.store.ReleaseMessages(context.Background(), e.now(), ids); err != nil {
		e.log.Error("release messages", "err", err)
	}
}

func (w *worker) close() {
	w.awaitRecorded()
	if w.conn != nil {
		w.conn.Close()
	}
}

func (w *worker) awaitRecorded() {
	if w.recorded == nil {
		return
	}
	if err := <-w.recorded; err != nil {
		w.engine.log.Error("record delivery outcome", "err", err)
	}
	w.recorded = nil
}

// deliver sends one message and has its outcome recorded: a sent message
// in the sent log, with one write before deliver returns; any other
// outcome in the database, overlapping with preparing the next message and
// sending its envelope. Once a send has started it is finished and
// recorded even if ctx ends meanwhile, so a graceful stop leaves no message
// sent but unrecorded. It reports false, having neither sent nor recorded
// anything, when the claim's lease ran too short to send or the engine is
// stopping.
func (w *worker) deliver(ctx context.Context, m alertd.Message, leaseUntil time.Time) bool {
	e := w.engine
	keep := context.WithoutCancel(ctx)
	// Once the lease has run out another worker may claim the message and
	// send it too; a send begun with half the lease left has ample time to
	// finish and be recorded before that.
	claimedAt := leaseUntil.Add(-e.settings.Lease)
	outcome, attempted := w.attempt(ctx, m, claimedAt, leaseUntil.Add(-e.settings.Lease/2))
	if !attempted {
		return false
	}
	outcome.ID, outcome.SubscriberID, outcome.DigestID = m.ID, m.SubscriberID, m.DigestID
	e.count(m, outcome)
	if outcome.Status == alertd.MessageSent && e.sentLog != nil {
		err := e.sentLog.Record(m.ID, m.DigestID)
		if err == nil {
			return true
		}
		e.log.Error("record a sent message in the sent log; recording it in the database", "message", m.ID, "err", err)
	}
	w.awaitRecorded()
	w.recorded = e.store.SubmitLazy(keep, func(tx *store.Tx) error {
		return tx.RecordOutcome(e.now(), outcome)
	})
	return true
}

// wantedStatus is the status a subscriber must still have, at send time, to
// receive a message of the kind.
func wantedStatus(kind alertd.MessageKind) alertd.SubscriberStatus {
	if kind == alertd.KindConfirmation {
		return alertd.StatusPending
	}
	return alertd.StatusConfirmed
}

// recipient is the send-time check's reading of m's subscriber, after the
// waits: the claim's while it is recent, else a fresh one; nil when the
// subscriber has been erased.
func (e *Engine) recipient(ctx context.Context, m alertd.Message, claimedAt time.Time) (*alertd.Subscriber, error) {
	if e.now().Sub(claimedAt) <= recheckAfter {
		return m.Recipient, nil
	}
	var fresh alertd.Subscriber
	err := e.store.Read(ctx, func(tx *store.Tx) (err error) {
		fresh, err = tx.SubscriberByID(m.SubscriberID)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return &fresh, nil
}

// recheckAfter is how old the claim's reading of a recipient may be at
// the send; an older one (a rate-limited or troubled worker's) is read
// again.
const recheckAfter = time.Second

// attempt tries to send m, claimed at claimedAt, starting the send no later
// than sendBy, and returns the outcome to record. The waits before the send
// (a backoff pause, the rate limit, the dial) end when stop does; once the
// send starts it runs to its end. It reports attempted false, with nothing
// to record, when it gave up before the send because the claim's lease ran
// too short meanwhile or the engine is stopping: the claim is handed back.
func (w *worker) attempt(stop context.Context, m alertd.Message, claimedAt, sendBy time.Time) (o alertd.Outcome, attempted bool) {
	e := w.engine
	ctx := context.WithoutCancel(stop)
	if w.pause(stop) != nil || e.limiter.Wait(stop) != nil || e.now().After(sendBy) {
		return alertd.Outcome{}, false
	}
	if w.conn == nil {
		var err error
		if w.conn, err = e.transport.Dial(stop); err != nil {
			if stop.Err() != nil {
				return alertd.Outcome{}, false
			}
			w.conn = nil
			w.troubled(err)
			return e.retry(m, err), true
		}
	}
	var recipient alertd.Subscriber
	if m.Kind.ToSubscriber() {
		sub, err := e.recipient(ctx, m, claimedAt)
		if err != nil {
			return e.retry(m, fmt.Errorf("read subscriber: %w", err)), true
		}
		if sub == nil || sub.Status != wantedStatus(m.Kind) {
			return alertd.Outcome{Status: alertd.MessageCancelled, Error: "recipient no longer subscribed"}, true
		}
		recipient = *sub
	}
	msg, err := e.render.Render(ctx, m, recipient)
	if errors.Is(err, ErrNothingToSend) {
		return alertd.Outcome{Status: alertd.MessageCancelled, Error: err.Error()}, true
	}
	if err != nil {
		// Rendering reads the database too; a broken template fails the
		// message once the retries are used up.
		e.log.Error("render message", "message", m.ID, "kind", m.Kind, "err", err)
		return e.retry(m, fmt.Errorf("render: %w", err)), true
	}
	start := time.Now()
	err = w.conn.Send(ctx, msg, w.beforeContent)
	e.metrics.SendSeconds.Observe(time.Since(start).Seconds())
	if err == nil {
		w.backoff = 0
		return alertd.Outcome{Status: alertd.MessageSent}, true
	}
	return w.refused(m, err), true
}

// troubled drops the connection and makes this worker pause before it
// dials again, doubling the pause while the trouble lasts.
func (w *worker) troubled(err error) {
	s := w.engine.settings
	w.backoff = min(s.MaxBackoff, max(s.Backoff, 2*w.backoff))
	w.paused = false
	w.engine.log.Warn("SMTP connection trouble; this connection pauses", "pause", w.backoff, "err", err)
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
}

// pause waits out the worker's backoff, if any.
func (w *worker) pause(ctx context.Context) error {
	if w.backoff == 0 || w.conn != nil || w.paused {
		return nil
	}
	timer := time.NewTimer(w.backoff)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		w.paused = true
		return nil
	}
}

// retry schedules the next attempt after a temporary failure, or fails the
// message once the schedule is used up.
func (e *Engine) retry(m alertd.Message, err error) alertd.Outcome {
	if m.Attempts > len(e.settings.RetrySchedule) {
		e.log.Warn("message failed after retries", "message", m.ID, "attempts", m.Attempts, "err", err)
		return alertd.Outcome{Status: alertd.MessageFailed, Error: err.Error(), RetriesExhausted: true}
	}
	wait := e.settings.RetrySchedule[m.Attempts-1]
	e.log.Info("message deferred", "message", m.ID, "attempt", m.Attempts, "retry_in", wait, "err", err)
	return alertd.Outcome{Status: alertd.MessageQueued, RetryAt: e.now().Add(wait), Error: err.Error(), Connection: mail.ConnectionTrouble(err)}
}

// count reports an outcome to the metrics.
func (e *Engine) count(m alertd.Message, o alertd.Outcome) {
	switch o.Status {
	case alertd.MessageSent:
		e.metrics.MessagesSent.WithLabelValues(string(m.Kind)).Inc()
	case alertd.MessageCancelled:
		e.metrics.MessagesCancelled.WithLabelValues(string(m.Kind)).Inc()
	case alertd.MessageQueued:
		reason := "temporary"
		if o.Connection {
			reason = "connection"
		}
		e.metrics.MessagesRetried.WithLabelValues(reason).Inc()
	case alertd.MessageFailed:
		reason := "permanent"
		switch {
		case o.Bounced:
			reason = "bad_address"
		case o.RetriesExhausted:
			reason = "retries_exhausted"
		}
		e.metrics.MessagesFailed.WithLabelValues(string(m.Kind), reason).Inc()
	}
}
