package main

import (
	"context"
	"flag"
	"fmt"
	"path"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/catalogue"
)

func (env *environment) reports(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("reports needs a subcommand: add, import, list or retract")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "add":
		return env.addReport(ctx, args)
	case "import":
		return env.importReports(ctx, args)
	case "list":
		return env.listReports(ctx, args)
	case "retract":
		return env.retractReport(ctx, args)
	}
	return usagef("unknown subcommand 'reports %s'", sub)
}

func (env *environment) addReport(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("reports add", flag.ContinueOnError)
	flags.SetOutput(env.stderr)
	var in catalogue.Input
	flags.StringVar(&in.Title, "title", "", "title (required)")
	flags.StringVar(&in.URL, "url", "", "absolute http(s) URL of the report (required)")
	flags.StringVar(&in.GUID, "guid", "", "unique id (default: the url)")
	published := flags.String("published", "", "publication time, RFC 3339 (default: now)")
	flags.StringVar(&in.Series, "series", "", `series, e.g. "Research Report"`)
	flags.StringVar(&in.Number, "number", "", `number, e.g. "No. 26, 2020"`)
	authors := flags.String("authors", "", "comma-separated authors")
	flags.StringVar(&in.Abstract, "abstract", "", "abstract")
	keywords := flags.String("keywords", "", "comma-separated keywords")
	topics := flags.String("topics", "", "comma-separated topic ids")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return usagef("reports add takes only flags (got %q)", flags.Arg(0))
	}
	if *published != "" {
		t, err := time.Parse(time.RFC3339, *published)
		if err != nil {
			return usagef("--published must be an RFC 3339 time like 2026-03-01T09:00:00Z (got %q)", *published)
		}
		in.PublishedAt = &t
	}
	// The catalogue trims the items and drops the empty ones, as it does
	// for every importer's lists.
	in.Authors, in.Keywords, in.Topics = strings.Split(*authors, ","), strings.Split(*keywords, ","), strings.Split(*topics, ",")
	return env.withCore(ctx, func(c *core) error {
		rep, created, err := c.catalogue.Add(ctx, in, false)
		if err != nil {
			return err
		}
		env.printAdded(rep, created)
		return nil
	})
}

// printAdded says what adding rep did.
func (env *environment) printAdded(rep alertd.Report, created bool) {
	if !created {
		state := "exists"
		if rep.RetractedAt != nil {
			state = "exists, retracted,"
		}
		fmt.Fprintf(env.stdout, "report %d already %s with guid %s; unchanged\n", rep.ID, state, printable(rep.GUID))
		return
	}
	fmt.Fprintf(env.stdout, "added report %d: %s (published %s)\n", rep.ID, printable(alertd.OneLine(rep.Title)), rep.PublishedAt.Format(time.RFC3339))
}

func (env *environment) importReports(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("reports import", flag.ContinueOnError)
	flags.SetOutput(env.stderr)
	formatName := flags.String("format", "", "json, jsonl, csv or feed (default: from the file name)")
	backfill := flags.Bool("backfill", false, "mark the reports as already announced: an archive must not flood the next digest")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if flags.NArg() != 1 {
		return usagef("reports import takes one FILE or URL")
	}
	source := flags.Arg(0)
	format := catalogue.Format(*formatName)
	if format == "" {
		var err error
		if format, err = catalogue.FormatFromName(path.Base(source)); err != nil {
			return usagef("%v", err)
		}
	}
	var (
		result    catalogue.ImportResult
		importErr error
	)
	err := env.withCore(ctx, func(c *core) error {
		body, err := catalogue.Open(ctx, catalogue.NewClient(env.cfg.Fetch.AllowPrivateNetworks), source)
		if err != nil {
			return err
		}
		defer body.Close()
		result, importErr = c.catalogue.Import(ctx, body, format, *backfill)
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range result.Rejected {
		fmt.Fprintf(env.stderr, "%s:%d: rejected: %s\n", printable(source), r.Line, printable(r.Reason))
	}
	if importErr != nil {
		return fmt.Errorf("import %s: %w", source, importErr)
	}
	note := ""
	if *backfill {
		note = " (backfilled: never announced)"
	}
	fmt.Fprintf(env.stdout, "imported %s: %d added%s, %d unchanged, %d rejected\n",
		source, result.Added, note, result.Unchanged, len(result.Rejected))
	return nil
}

func (env *environment) listReports(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("reports list", flag.ContinueOnError)
	flags.SetOutput(env.stderr)
	limit := flags.Int("limit", 20, "how many of the newest reports")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if *limit < 1 {
		return usagef("--limit must be at least 1")
	}
	var reports []alertd.Report
	err := env.withCore(ctx, func(c *core) (err error) {
		reports, err = c.catalogue.All(ctx, *limit, 0)
		return err
	})
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tPUBLISHED\tTITLE\tURL")
	for _, r := range reports {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", r.ID, r.PublishedAt.Format("2006-01-02 15:04"), printable(alertd.OneLine(r.Title)), printable(r.URL))
	}
	return w.Flush()
}

// retractReport takes a report back, named by its id or its guid; a number
// that is no report's id may still be a guid.
func (env *environment) retractReport(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return usagef("reports retract takes one argument: the report's id or guid")
	}
	ref := args[0]
	var rep alertd.Report
	err := env.withCore(ctx, func(c *core) (err error) {
		rep, err = retract(ctx, c.catalogue, ref)
		return err
	})
	if alertd.ErrorCode(err) == alertd.NotFound {
		return alertd.Errorf(alertd.NotFound, "no report has the id or guid %q", ref)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "retracted report %d: %s (since %s); it is in no page, feed or new digest\n",
		rep.ID, printable(alertd.OneLine(rep.Title)), rep.RetractedAt.Format(time.RFC3339))
	return nil
}

// retract takes back the report whose id, else whose guid, is ref.
func retract(ctx context.Context, cat *catalogue.Service, ref string) (alertd.Report, error) {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil && id > 0 {
		rep, _, err := cat.Retract(ctx, id)
		if alertd.ErrorCode(err) != alertd.NotFound {
			return rep, err
		}
	}
	rep, err := cat.ByGUID(ctx, ref)
	if err != nil {
		return rep, err
	}
	rep, _, err = cat.Retract(ctx, rep.ID)
	return rep, err
}
