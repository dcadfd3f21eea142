package web

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/lang"
)

// pageNames are the files under templates/pages/ that render a whole page
// inside layout.html.
var pageNames = []string{
	"form", "check_email", "confirm", "confirmed", "confirm_expired",
	"unsubscribe", "unsubscribed", "preferences_saved", "message", "reports",
	"digest", "digests",
}

// adminPageNames are the files under templates/admin/ that render a whole
// page inside admin/layout.html, beside the shared parts in
// admin/report_fields.html; they are rendered by the name "admin/" + file.
var adminPageNames = []string{"login", "check_email", "sign_in", "link_expired", "message", "overview", "audit", "sources", "settings",
	"digests", "digest_send", "digest", "reports", "review", "report", "report_form", "report_retract",
	"subscribers", "subscriber", "subscribers_import"}

// pages renders the server-side HTML.
type pages struct {
	byName  map[string]*template.Template
	service string
	topics  []alertd.Topic
	langs   *lang.Catalogue
	// frequencies are offered to readers; nil when there is only one.
	frequencies []alertd.Frequency
	log         *slog.Logger
}

func loadPages(templates fs.FS, service string, topics []alertd.Topic, langs *lang.Catalogue, log *slog.Logger) (*pages, error) {
	p := &pages{byName: map[string]*template.Template{}, service: service, topics: topics, langs: langs, log: log}
	for _, name := range append([]string{"layout"}, pageNames...) {
		// A message id the language files lack stops the start, rather
		// than leave a blank on a page.
		file := "pages/" + name + ".html"
		src, err := fs.ReadFile(templates, file)
		if err != nil {
			return nil, fmt.Errorf("page template %s: %w", name, err)
		}
		if err := langs.Check(file, string(src)); err != nil {
			return nil, err
		}
	}
	for _, name := range pageNames {
		t, err := template.ParseFS(templates, "pages/layout.html", "pages/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("page template %s: %w", name, err)
		}
		p.byName[name] = t
	}
	for _, name := range adminPageNames {
		t, err := template.ParseFS(templates, "admin/layout.html", "admin/report_fields.html", "admin/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("admin page template %s: %w", name, err)
		}
		p.byName["admin/"+name] = t
	}
	return p, nil
}

// view is what every page template sees. Its Printer writes the page's
// messages ({{.T "id"}}) and dates in the reader's language.
type view struct {
	*lang.Printer
	// Languages are the offered languages, when there is a choice.
	Languages []*lang.Printer
	Service   string
	Topics    []alertd.Topic
	// Frequencies are the frequencies readers choose from; nil when there
	// is only one, and so no choice.
	Frequencies []alertd.Frequency
	// Admin is the signed-in dashboard user's address, on dashboard pages.
	Admin string
	Data  any
	// query is the request's query, which a switch of language keeps.
	query url.Values
}

// In is this same page in another language: its query (a page of a list,
// say) kept, with lang set.
func (v view) In(lang string) string {
	q := url.Values{}
	for k, vs := range v.query {
		q[k] = vs
	}
	q.Set("lang", lang)
	return "?" + q.Encode()
}

// Href is a link to another public page that keeps the page's language,
// when there is a choice of languages.
func (v view) Href(path string) string {
	if v.Languages == nil {
		return path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "lang=" + url.QueryEscape(v.Lang)
}

// render writes the page with status. It renders into a buffer first so that
// a template error becomes a clean 500, not half a page.
func (p *pages) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var buf bytes.Buffer
	v := view{Printer: p.printer(r), Service: p.service, Topics: p.topics, Frequencies: p.frequencies, Admin: sessionOf(r).Email, Data: data, query: r.URL.Query()}
	if offered := p.langs.Offered(); len(offered) > 1 {
		v.Languages = offered
	}
	err := p.byName[name].ExecuteTemplate(&buf, "layout", v)
	if err != nil {
		p.log.Error("render page", "page", name, "path", r.URL.Path, "err", err)
		http.Error(w, "Internal error: the page could not be shown.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// langKey keys the language a handler has settled on for a request: the
// form's choice, or the subscriber's own.
type langKey struct{}

// withLang has the page answering r written in tag, unless the address
// asks for another with ?lang=.
func withLang(r *http.Request, tag string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), langKey{}, tag))
}

// printer chooses the language of the page answering r: ?lang= when it
// names an offered language, else the one a handler settled on, else the
// best match for Accept-Language.
func (p *pages) printer(r *http.Request) *lang.Printer {
	if q := r.URL.Query().Get("lang"); p.langs.Offers(q) {
		return p.langs.Printer(q)
	}
	if tag, _ := r.Context().Value(langKey{}).(string); p.langs.Offers(tag) {
		return p.langs.Printer(tag)
	}
	return p.langs.Match(r.Header.Get("Accept-Language"))
}

// messageView is the data of a page that says one thing.
type messageView struct{ Title, Text string }

// message renders a public page that says one thing, given by the ids of
// its title and text in the language files.
func (p *pages) message(w http.ResponseWriter, r *http.Request, status int, titleID, textID string) {
	pr := p.printer(r)
	title, err := pr.T(titleID)
	if err == nil {
		var text string
		if text, err = pr.T(textID); err == nil {
			p.render(w, r, status, "message", messageView{title, text})
			return
		}
	}
	p.serverError(w, r, err)
}

// serverError logs err and answers a plain 500 that reveals nothing, in
// the dashboard's layout on its pages.
func (p *pages) serverError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client has gone; there is no one to answer
	}
	logFailure(p.log, r, err)
	if r.URL.Path == "/admin" || strings.HasPrefix(r.URL.Path, "/admin/") {
		p.render(w, r, http.StatusInternalServerError, "admin/message", messageView{"Something went wrong",
			"The request could not be completed. Please try again in a few minutes."})
		return
	}
	pr := p.printer(r)
	// The embedded English file, under every language, holds both.
	title, _ := pr.T("error_server_title")
	text, _ := pr.T("error_server")
	p.render(w, r, http.StatusInternalServerError, "message", messageView{title, text})
}
