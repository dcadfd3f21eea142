// Package schedule runs the periodic work: each frequency's digest on its
// schedule in digest.timezone, one catch-up digest per frequency after
// downtime that missed one of its scheduled times, and the polling of feed
// sources. A lease row per frequency in the database keeps two alertd
// processes from compiling the same series together, and a mutex keeps one
// process from compiling it twice at once.
package schedule

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/alertd/alertd/internal/store"
)

// lastRunKeyPrefix, followed by a frequency's id, is the setting that
// remembers when that frequency's schedule last fired, so that a restart
// can tell whether it missed a time.
const lastRunKeyPrefix = "digest.last_scheduled_run."

// leaseNamePrefix (and a frequency's id) and leaseTTL guard a series'
// compile across processes. The TTL outlasts any compile, so a crashed
// holder only delays the next one.
const (
	leaseNamePrefix = "digest.compile."
	leaseTTL        = 10 * time.Minute
)

// Store is what the scheduler keeps in the database.
type Store interface {
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
	Setting(ctx context.Context, key string) (string, error)
	SetSetting(ctx context.Context, key, value string) error
}

// Job is one scheduled piece of work.
type Job func(ctx context.Context) error

// Digests fires the digest compile of one frequency on its schedule.
type Digests struct {
	// lastRunKey and leaseName are the frequency's setting and lease.
	lastRunKey, leaseName string
	schedule              cron.Schedule
	location              *time.Location
	store                 Store
	compile               Job
	now                   func() time.Time
	log                   *slog.Logger
	holder                string
	running               sync.Mutex
}

// NewDigests parses spec (5 cron fields or a descriptor such as @weekly),
// read in location, the schedule of the frequency with the id.
func NewDigests(frequency, spec string, location *time.Location, st Store, compile Job, now func() time.Time, log *slog.Logger) (*Digests, error) {
	schedule, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q of frequency %q: %w", spec, frequency, err)
	}
	host, _ := os.Hostname()
	return &Digests{
		lastRunKey: lastRunKeyPrefix + frequency, leaseName: leaseNamePrefix + frequency,
		log:      log.With("frequency", frequency),
		schedule: schedule, location: location, store: st, compile: compile, now: now,
		holder: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), rand.Text()[:8]),
	}, nil
}

// Next returns the next scheduled time after now.
func (d *Digests) Next() time.Time {
	return d.schedule.Next(d.now().In(d.location))
}

// CatchUp compiles one digest when the schedule fired while alertd was down
// (one, however many times were missed). On the very first start it only
// records that the schedule starts now.
func (d *Digests) CatchUp(ctx context.Context) error {
	now := d.now()
	last, err := d.store.Setting(ctx, d.lastRunKey)
	if errors.Is(err, store.ErrNotFound) {
		return d.store.SetSetting(ctx, d.lastRunKey, now.UTC().Format(time.RFC3339Nano))
	}
	if err != nil {
		return err
	}
	lastRun, err := time.Parse(time.RFC3339Nano, last)
	if err != nil {
		return fmt.Errorf("setting %s: %w", d.lastRunKey, err)
	}
	if missed := d.schedule.Next(lastRun.In(d.location)); !missed.After(now) {
		d.log.Info("digest schedule missed a run while alertd was down; compiling one now", "missed", missed)
		return d.Fire(ctx)
	}
	return nil
}

// Fire compiles a digest now unless a compile is already running in this
// process or another holds the lease, and records the run.
func (d *Digests) Fire(ctx context.Context) error {
	if !d.running.TryLock() {
		d.log.Info("digest compile already running; skipping this run")
		return nil
	}
	defer d.running.Unlock()
	now := d.now()
	held, err := d.store.AcquireLease(ctx, d.leaseName, d.holder, now, leaseTTL)
	if err != nil {
		return err
	}
	if !held {
		d.log.Info("another alertd process is compiling the digest; skipping this run")
		return nil
	}
	defer d.store.ReleaseLease(context.WithoutCancel(ctx), d.leaseName, d.holder)
	if err := d.store.SetSetting(ctx, d.lastRunKey, now.UTC().Format(time.RFC3339Nano)); err != nil {
		return err
	}
	return d.compile(ctx)
}

// Run catches up, then fires on the schedule until ctx ends. A failing or
// panicking run is logged and the schedule goes on.
func (d *Digests) Run(ctx context.Context) {
	if err := d.CatchUp(ctx); err != nil && ctx.Err() == nil {
		d.log.Error("digest catch-up", "err", err)
	}
	c := cron.New(cron.WithLocation(d.location), cron.WithChain(cron.Recover(cronLogger{d.log})))
	c.Schedule(d.schedule, cron.FuncJob(func() {
		if err := d.Fire(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("scheduled digest", "err", err)
		}
		d.log.Info("next digest scheduled", "at", d.Next())
	}))
	d.log.Info("next digest scheduled", "at", d.Next())
	c.Start()
	<-ctx.Done()
	<-c.Stop().Done()
}

// cronLogger hands cron's log lines (a recovered panic, say) to slog.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, keysAndValues ...any) {
	l.log.Debug("cron: "+msg, keysAndValues...)
}

func (l cronLogger) Error(err error, msg string, keysAndValues ...any) {
	l.log.Error("cron: "+msg, append(keysAndValues, "err", err)...)
}
