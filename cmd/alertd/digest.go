package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/alertd/alertd"
)

func (env *environment) digest(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("digest needs a subcommand: preview, send or list")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "preview":
		return env.previewDigest(ctx, args)
	case "send":
		return env.sendDigest(ctx, args)
	case "list":
		return env.listDigests(ctx, args)
	}
	return usagef("unknown subcommand 'digest %s'", sub)
}

// frequencyFlag is --frequency, the series a digest command is about.
func (env *environment) frequencyFlag(flags *flag.FlagSet) *string {
	return flags.String("frequency", "", "the frequency (its id under [[frequencies]]); may be left out when there is only one")
}

// chooseFrequency checks --frequency against the configuration, before
// anything is opened.
func (env *environment) chooseFrequency(id string) (string, error) {
	frequency, err := alertd.ChooseFrequency(env.cfg.Frequencies, id)
	if err != nil {
		return "", usagef("--frequency: %v", err)
	}
	return frequency, nil
}

// previewDigest renders the next digest of a frequency as a subscriber
// without topics would get it, and records nothing.
func (env *environment) previewDigest(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("digest preview", flag.ContinueOnError)
	flags.SetOutput(env.stderr)
	asHTML := flags.Bool("html", false, "print the HTML part instead of the text part")
	frequencyID := env.frequencyFlag(flags)
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	frequency, err := env.chooseFrequency(*frequencyID)
	if err != nil {
		return err
	}
	a, err := env.newApp(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	reports, err := a.catalogue.NextDigest(ctx, frequency)
	if err != nil {
		return err
	}
	if len(reports) == 0 {
		fmt.Fprintln(env.stdout, "no new reports: no digest would be sent")
		return nil
	}
	subject, text, html, err := a.renderer.PreviewDigest(reports, nil)
	if err != nil {
		return err
	}
	body := text
	if *asHTML {
		body = html
	}
	_, err = fmt.Fprintf(env.stdout, "Subject: %s\n\n%s", printable(subject), printable(body))
	return err
}

// sendDigest compiles the next digest of a frequency and delivers it, with
// a progress line on a terminal, until it is delivered or only retries are
// left.
func (env *environment) sendDigest(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("digest send", flag.ContinueOnError)
	flags.SetOutput(env.stderr)
	frequencyID := env.frequencyFlag(flags)
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	frequency, err := env.chooseFrequency(*frequencyID)
	if err != nil {
		return err
	}
	a, err := env.newApp(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	d, created, err := a.catalogue.CompileDigest(ctx, frequency)
	if err != nil {
		return err
	}
	if !created {
		fmt.Fprintln(env.stdout, "no new reports: no digest compiled, nothing sent")
		return nil
	}
	fmt.Fprintf(env.stdout, "digest %d: %s for %s\n", d.ID,
		alertd.Plural(d.Reports, "report", "reports"), alertd.Plural(d.Recipients, "recipient", "recipients"))
	drained := make(chan struct{})
	go func() {
		a.engine.Drain(ctx)
		close(drained)
	}()
	progress := newProgress(env.stdout, d.Recipients, time.Now())
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for done := false; !done; {
		select {
		case <-drained:
			done = true
		case <-ticker.C:
		}
		if d, err = a.catalogue.Digest(context.WithoutCancel(ctx), d.ID); err != nil {
			return err
		}
		progress.show(d, time.Now())
	}
	progress.finish()
	fmt.Fprintf(env.stdout, "digest %d: %d sent, %d failed, %d cancelled (unsubscribed meanwhile), %d pending\n",
		d.ID, d.Sent, d.Failed, d.Cancelled, d.Pending)
	if d.Pending > 0 {
		fmt.Fprintln(env.stdout, "the pending deliveries wait for a retry; a running 'alertd serve' sends them")
	}
	return ctx.Err()
}

// progress draws "sent/total, rate, ETA" on one terminal line; on anything
// but a terminal it stays quiet.
type progress struct {
	w        io.Writer
	terminal bool
	total    int
	start    time.Time
}

func newProgress(w io.Writer, total int, start time.Time) *progress {
	f, ok := w.(*os.File)
	terminal := false
	if ok {
		if info, err := f.Stat(); err == nil {
			terminal = info.Mode()&os.ModeCharDevice != 0
		}
	}
	return &progress{w: w, terminal: terminal, total: total, start: start}
}

func (p *progress) show(d alertd.Digest, now time.Time) {
	if !p.terminal {
		return
	}
	done := d.Sent + d.Failed + d.Cancelled
	elapsed := now.Sub(p.start).Seconds()
	rate, eta := 0.0, "?"
	if elapsed > 0 && done > 0 {
		rate = float64(done) / elapsed
		eta = (time.Duration(float64(d.Pending)/rate) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r\033[Ksent %d/%d, failed %d, %.0f msg/s, ETA %s", d.Sent, p.total, d.Failed, rate, eta)
}

func (p *progress) finish() {
	if p.terminal {
		fmt.Fprintln(p.w)
	}
}

func (env *environment) listDigests(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("digest list", flag.ContinueOnError)
	flags.SetOutput(env.stderr)
	limit := flags.Int("limit", 20, "how many of the most recent digests")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if *limit < 1 {
		return usagef("--limit must be at least 1")
	}
	var digests []alertd.Digest
	err := env.withCore(ctx, func(c *core) (err error) {
		digests, err = c.catalogue.Digests(ctx, *limit, 0)
		return err
	})
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tFREQUENCY\tCREATED\tSTATUS\tREPORTS\tRECIPIENTS\tSENT\tFAILED\tCANCELLED\tPENDING")
	for _, d := range digests {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", d.ID, d.Frequency, d.CreatedAt.Format("2006-01-02 15:04"), d.Status,
			d.Reports, d.Recipients, d.Sent, d.Failed, d.Cancelled, d.Pending)
	}
	return w.Flush()
}
