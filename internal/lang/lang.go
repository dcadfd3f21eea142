// Package lang holds the languages readers are served in: one message file
// per language (templates/i18n/<tag>.toml, read with go-i18n, which knows
// each language's plural rules), the choice of a language from a request,
// and the one way dates are written for a language, in pages and mails
// alike.
package lang

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"

	"github.com/alertd/alertd"
)

// Default is the language every message file falls back to: its embedded
// file holds every message the templates and the code use.
const Default = "en"

// Catalogue is the message files of the offered languages. It is safe for
// concurrent use.
type Catalogue struct {
	bundle   *i18n.Bundle
	offered  []string
	tags     []language.Tag
	matcher  language.Matcher
	printers map[string]*Printer
}

// Load reads i18n/<tag>.toml for English and for each offered language (the
// first is the default for readers who have not chosen): the embedded file,
// then the one in templates, an operator's templates directory over the
// embedded ones, whose messages replace those of the same id. So an
// operator's file holds only the messages it changes, or those of a
// language alertd does not ship. Dates are written in zone (nil = UTC),
// that of digest.timezone, whatever zone a time comes in.
func Load(templates fs.FS, offered []string, zone *time.Location) (*Catalogue, error) {
	if len(offered) == 0 {
		offered = []string{Default}
	}
	if zone == nil {
		zone = time.UTC
	}
	c := &Catalogue{bundle: i18n.NewBundle(language.English), printers: map[string]*Printer{}}
	c.bundle.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	files := append([]string{Default}, offered...)
	for _, name := range files {
		tag, err := language.Parse(name)
		if err != nil || tag.String() != name {
			return nil, fmt.Errorf("language %q is not a language tag like \"en\" or \"zh-Hans\"", name)
		}
		path := "i18n/" + name + ".toml"
		shipped, err := fs.ReadFile(alertd.Templates(), path)
		if err == nil {
			if _, err := c.bundle.ParseMessageFileBytes(shipped, path); err != nil {
				return nil, fmt.Errorf("parse %s: %w", path, err)
			}
		}
		src, err := fs.ReadFile(templates, path)
		if err != nil {
			return nil, fmt.Errorf("language %s: %w", name, err)
		}
		if _, err := c.bundle.ParseMessageFileBytes(src, path); err != nil {
			return nil, fmt.Errorf("parse %s: %w", path, err)
		}
	}
	for _, name := range offered {
		if _, dup := c.printers[name]; dup {
			return nil, fmt.Errorf("language %s is offered twice", name)
		}
		c.offered = append(c.offered, name)
		c.tags = append(c.tags, language.Make(name))
		p := &Printer{Lang: name, zone: zone, loc: i18n.NewLocalizer(c.bundle, name), en: i18n.NewLocalizer(c.bundle, Default)}
		var err error
		if p.dateLayout, err = p.T("date"); err == nil {
			if p.dateTimeLayout, err = p.T("datetime"); err == nil {
				p.Name, err = p.T("language_name")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("language %s: %w", name, err)
		}
		c.printers[name] = p
	}
	c.matcher = language.NewMatcher(c.tags)
	return c, nil
}

// Offered lists the offered languages' printers, in the configured order.
func (c *Catalogue) Offered() []*Printer {
	printers := make([]*Printer, len(c.offered))
	for i, name := range c.offered {
		printers[i] = c.printers[name]
	}
	return printers
}

// First is the first offered language: the one for readers who have not
// chosen and for the operators' mails.
func (c *Catalogue) First() *Printer { return c.printers[c.offered[0]] }

// Offers reports whether name is an offered language.
func (c *Catalogue) Offers(name string) bool {
	_, ok := c.printers[name]
	return ok
}

// Printer returns the printer of an offered language, else of the first.
func (c *Catalogue) Printer(name string) *Printer {
	if p, ok := c.printers[name]; ok {
		return p
	}
	return c.First()
}

// Match returns the offered language that best suits an Accept-Language
// header, the first offered language when none does.
func (c *Catalogue) Match(acceptLanguage string) *Printer {
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return c.First()
	}
	_, i, confidence := c.matcher.Match(tags...)
	if confidence == language.No {
		return c.First()
	}
	return c.printers[c.offered[i]]
}

// messageCall finds the message ids a template asks for: {{.T "id" ...}}
// or {{$.T "id" ...}}.
var messageCall = regexp.MustCompile(`\.T\s+"([^"]*)"`)

// Check returns an error naming every message a template's source asks for
// that the English file lacks, so that a misspelt id stops the program at
// start-up instead of leaving a blank on a page.
func (c *Catalogue) Check(file, source string) error {
	var errs []error
	for _, m := range messageCall.FindAllStringSubmatch(source, -1) {
		if _, err := i18n.NewLocalizer(c.bundle, Default).Localize(&i18n.LocalizeConfig{MessageID: m[1]}); err != nil {
			var missing *i18n.MessageNotFoundErr
			if errors.As(err, &missing) {
				errs = append(errs, fmt.Errorf("%s: no message %q in i18n/%s.toml", file, m[1], Default))
			}
		}
	}
	return errors.Join(errs...)
}

// Printer writes messages and dates in one language.
type Printer struct {
	// Lang is the language's tag, as <html lang> and Content-Language take it.
	Lang string
	// Name is the language's name in itself ("English", "简体中文").
	Name                       string
	loc, en                    *i18n.Localizer
	zone                       *time.Location
	dateLayout, dateTimeLayout string
}

// T returns the message id, filled in from args: pairs of a name and its
// value. A "Count" among them also chooses the plural form.
func (p *Printer) T(id string, args ...any) (string, error) {
	if len(args)%2 != 0 {
		return "", fmt.Errorf("message %q: arguments must come in name, value pairs", id)
	}
	data := make(map[string]any, len(args)/2)
	for i := 0; i < len(args); i += 2 {
		name, ok := args[i].(string)
		if !ok {
			return "", fmt.Errorf("message %q: argument name %v is not a string", id, args[i])
		}
		data[name] = args[i+1]
	}
	cfg := &i18n.LocalizeConfig{MessageID: id, TemplateData: data}
	if n, ok := data["Count"]; ok {
		cfg.PluralCount = n
	}
	s, err := p.loc.Localize(cfg)
	var missing *i18n.MessageNotFoundErr
	if errors.As(err, &missing) {
		// The language's file lacks the message: English has every one.
		s, err = p.en.Localize(cfg)
	}
	if err != nil {
		return "", fmt.Errorf("message %q in %s: %w", id, p.Lang, err)
	}
	return s, nil
}

// Date writes the day of t in the readers' zone as the language writes it
// ("30 November 2026", "2026年11月30日"): a report published at 01:04
// +02:00 on 22 December is of 22 December to readers in that zone, though
// in UTC it is still the 21st. Pages and mails all write dates with Date
// and DateTime.
func (p *Printer) Date(t time.Time) string { return t.In(p.zone).Format(p.dateLayout) }

// DateTime writes t to the minute in the readers' zone, with the zone's
// name, as the language writes it.
func (p *Printer) DateTime(t time.Time) string { return t.In(p.zone).Format(p.dateTimeLayout) }
