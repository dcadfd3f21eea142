package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/catalogue"
)

func (env *environment) sources(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "test" {
		return usagef("sources needs a subcommand: test URL")
	}
	if len(args) != 2 {
		return usagef("sources test takes one URL: the url of a configured [[sources]] entry")
	}
	return env.testSource(ctx, args[1])
}

// testSource reads a configured source once, as a poll would, and prints
// what the poll would do with each item, field by field; it stores nothing.
// Every text is the site's, so it reaches the terminal only escaped.
func (env *environment) testSource(ctx context.Context, url string) error {
	review := false
	for _, src := range env.cfg.Sources {
		if src.URL == url {
			review = src.Review
		}
	}
	var items []catalogue.SourceItem
	err := env.withCore(ctx, func(c *core) (err error) {
		items, err = c.catalogue.TrySource(ctx, catalogue.NewClient(env.cfg.Fetch.AllowPrivateNetworks), url)
		return err
	})
	if alertd.ErrorCode(err) == alertd.NotFound {
		return usagef("no [[sources]] entry has the url %q", printable(url))
	}
	if err != nil {
		return fmt.Errorf("read the source %s: %w", url, err)
	}
	var added, known, rejected int
	for _, it := range items {
		switch {
		case it.Problem != "":
			rejected++
		case it.Known:
			known++
		default:
			added++
		}
	}
	fmt.Fprintf(env.stdout, "%s: %s; a poll would add %d, leave %d known and reject %d (nothing was stored)\n",
		printable(url), alertd.Plural(len(items), "item", "items"), added, known, rejected)
	for _, it := range items {
		printSourceItem(env.stdout, it, review, env.cfg.Digest.Location)
	}
	return nil
}

func printSourceItem(w io.Writer, it catalogue.SourceItem, review bool, loc *time.Location) {
	state := "new"
	switch {
	case it.Problem != "":
		fmt.Fprintf(w, "\nitem %d: rejected: %s\n", it.Line, printable(it.Problem))
		return
	case it.Known:
		state = "known: already in the catalogue, left as it is"
	case review:
		state = "new, held for review"
	}
	r := it.Report
	fmt.Fprintf(w, "\nitem %d: %s\n", it.Line, state)
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(w, "  %-10s %s\n", name+":", printable(value))
		}
	}
	field("title", r.Title)
	field("url", r.URL)
	field("published", r.PublishedAt.In(loc).Format("2006-01-02 15:04 MST"))
	field("authors", strings.Join(r.Authors, "; "))
	field("series", r.Series)
	field("number", r.Number)
	field("keywords", strings.Join(r.Keywords, "; "))
	field("abstract", alertd.PlainText(r.Abstract, 0))
}
