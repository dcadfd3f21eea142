package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
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
		return env.withAddress(ctx, "export", args, func(c *core, email string) error {
			export, err := c.subscriptions.Export(ctx, email)
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
		return env.withAddress(ctx, "erase", args, func(c *core, email string) error {
			if err := c.subscriptions.Erase(ctx, email); err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "erased %s; a hash of the address stays on the suppression list\n", email)
			return nil
		})
	}
	return usagef("unknown subcommand 'subscribers %s'", sub)
}

func (env *environment) withAddress(ctx context.Context, name string, args []string, fn func(*core, string) error) error {
	if len(args) != 1 {
		return usagef("subscribers %s takes one argument: the e-mail address", name)
	}
	err := env.withCore(ctx, func(c *core) error { return fn(c, args[0]) })
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
	w := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "EMAIL\tSTATUS\tCREATED\tCONFIRMED")
	err := env.withCore(ctx, func(c *core) error {
		return c.subscriptions.List(ctx, alertd.SubscriberStatus(*status), func(s alertd.Subscriber) error {
			confirmed := "-"
			if s.ConfirmedAt != nil {
				confirmed = s.ConfirmedAt.Format(time.DateTime)
			}
			_, err := fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", printable(s.Email), s.Status, s.CreatedAt.Format(time.DateTime), confirmed)
			return err
		})
	})
	if err != nil {
		return err
	}
	return w.Flush()
}

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
	var result subscription.ImportResult
	err = env.withCore(ctx, func(c *core) (err error) {
		result, err = c.subscriptions.Import(ctx, file, "import:"+name, *confirmed)
		return err
	})
	for _, r := range result.Rejected {
		fmt.Fprintf(env.stderr, "%s:%d: %s\n", printable(name), r.Line, printable(r.Reason))
	}
	if err != nil {
		return err
	}
	if *confirmed {
		fmt.Fprintf(env.stdout, "imported %s: %d added as confirmed, %d unchanged (already known or suppressed), %d rejected\n",
			name, result.Added, result.Unchanged, len(result.Rejected))
	} else {
		fmt.Fprintf(env.stdout, "imported %s: %s recorded, %d rejected; confirmation e-mails are queued and 'alertd serve' sends them\n",
			name, alertd.Plural(result.SignedUp, "sign-up", "sign-ups"), len(result.Rejected))
	}
	return nil
}
