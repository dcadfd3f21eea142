package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/subscription"
)

func (env *environment) subscribers(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("subscribers needs a subcommand: import, list, export or erase")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "import":
		return env.importSubscribers(ctx, args)
	case "list":
		return env.listSubscribers(ctx, args)
	case "export":
		return env.withAddress(ctx, "export", args, func(a *app, email string) error {
			export, err := a.subscriptions.Export(ctx, email)
			if err != nil {
				return err
			}
			out, err := json.MarshalIndent(export, "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(env.stdout, printable(string(out)))
			return err
		})
	case "erase":
		return env.withAddress(ctx, "erase", args, func(a *app, email string) error {
			if err := a.subscriptions.Erase(ctx, email); err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "erased %s; a hash of the address stays on the suppression list\n", email)
			return nil
		})
	}
	return usagef("unknown subcommand 'subscribers %s'", sub)
}

func (env *environment) withAddress(ctx context.Context, name string, args []string, fn func(*app, string) error) error {
	if len(args) != 1 {
		return usagef("subscribers %s takes one argument: the e-mail address", name)
	}
	a, err := env.newApp(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	err = fn(a, args[0])
	if errors.Is(err, subscription.ErrNotFound) {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	return err
}

func (env *environment) listSubscribers(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("subscribers list", flag.ContinueOnError)
	flags.SetOutput(env.stderr)
	status := flags.String("status", "", "only this status: pending, confirmed, unsubscribed or bounced")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if *status != "" && !alertd.SubscriberStatus(*status).Valid() {
		return usagef("--status must be one of pending, confirmed, unsubscribed, bounced")
	}
	st, err := env.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	w := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "EMAIL\tSTATUS\tCREATED\tCONFIRMED")
	err = st.Subscribers(ctx, alertd.SubscriberStatus(*status), func(s alertd.Subscriber) error {
		confirmed := "-"
		if s.ConfirmedAt != nil {
			confirmed = s.ConfirmedAt.Format(time.DateTime)
		}
		_, err := fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", printable(s.Email), s.Status, s.CreatedAt.Format(time.DateTime), confirmed)
		return err
	})
	if err != nil {
		return err
	}
	return w.Flush()
}

// importChunk is how many rows share one transaction in a trusted import.
const importChunk = 5000

func (env *environment) importSubscribers(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("subscribers import", flag.ContinueOnError)
	flags.SetOutput(env.stderr)
	confirmed := flags.Bool("confirmed", false, "trust the file's consent: add as confirmed, send no mail")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if flags.NArg() != 1 {
		return usagef("subscribers import takes one argument: the CSV file")
	}
	name := flags.Arg(0)
	file, err := os.Open(name)
	if err != nil {
		return usagef("cannot read %s: %v", name, err)
	}
	defer file.Close()
	a, err := env.newApp(ctx)
	if err != nil {
		return err
	}
	defer a.close()

	var (
		total    subscription.ImportCounts
		chunk    []subscription.ImportRow
		queued   int
		rejected []subscription.ImportRejection
	)
	flush := func() error {
		counts, bad, err := a.subscriptions.ImportConfirmed(ctx, chunk, "import:"+name)
		rejected = append(rejected, bad...)
		total.Added += counts.Added
		total.Unchanged += counts.Unchanged
		chunk = chunk[:0]
		return err
	}
	unreadable, err := subscription.ReadImportCSV(file, func(row subscription.ImportRow) error {
		if *confirmed {
			chunk = append(chunk, row)
			if len(chunk) == importChunk {
				return flush()
			}
			return nil
		}
		err := a.subscriptions.Subscribe(ctx, subscription.Request{
			Email: row.Email, Topics: row.Topics, FormURL: "import:" + name,
		})
		if errors.Is(err, subscription.ErrUnknownTopic) || errors.Is(err, subscription.ErrInvalidAddress) {
			rejected = append(rejected, subscription.ImportRejection{Line: row.Line, Reason: err.Error()})
			return nil
		}
		if err == nil {
			queued++
		}
		return err
	})
	if err == nil && len(chunk) > 0 {
		err = flush()
	}
	rejected = append(rejected, unreadable...)
	slices.SortFunc(rejected, func(a, b subscription.ImportRejection) int { return a.Line - b.Line })
	for _, r := range rejected {
		fmt.Fprintf(env.stderr, "%s:%d: %s\n", printable(name), r.Line, printable(r.Reason))
	}
	if err != nil {
		return err
	}
	if *confirmed {
		fmt.Fprintf(env.stdout, "imported %s: %d added as confirmed, %d unchanged (already known or suppressed), %d rejected\n",
			name, total.Added, total.Unchanged, len(rejected))
	} else {
		fmt.Fprintf(env.stdout, "imported %s: %d sign-ups recorded, %d rejected; confirmation e-mails are queued and 'alertd serve' sends them\n",
			name, queued, len(rejected))
	}
	return nil
}
