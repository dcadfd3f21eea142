package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"

	"github.com/alertd/alertd"
)

// pageNames are the files under templates/pages/ that render a whole page
// inside layout.html.
var pageNames = []string{
	"form", "check_email", "confirm", "confirmed", "confirm_expired",
	"unsubscribe", "unsubscribed", "preferences_saved", "message", "reports",
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
	// frequencies are offered to readers; nil when there is only one.
	frequencies []alertd.Frequency
	log         *slog.Logger
}

func loadPages(templates fs.FS, service string, topics []alertd.Topic, log *slog.Logger) (*pages, error) {
	p := &pages{byName: map[string]*template.Template{}, service: service, topics: topics, log: log}
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

// view is what every page template sees.
type view struct {
	Service string
	Topics  []alertd.Topic
	// Frequencies are the frequencies readers choose from; nil when there
	// is only one, and so no choice.
	Frequencies []alertd.Frequency
	// Admin is the signed-in dashboard user's address, on dashboard pages.
	Admin string
	Data  any
}

// render writes the page with status. It renders into a buffer first so that
// a template error becomes a clean 500, not half a page.
func (p *pages) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var buf bytes.Buffer
	err := p.byName[name].ExecuteTemplate(&buf, "layout", view{
		Service: p.service, Topics: p.topics, Frequencies: p.frequencies, Admin: sessionOf(r).Email, Data: data,
	})
	if err != nil {
		p.log.Error("render page", "page", name, "path", r.URL.Path, "err", err)
		http.Error(w, "Internal error: the page could not be shown.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// messageView is the data of a page that says one thing.
type messageView struct{ Title, Text string }

// message renders a page that says one thing.
func (p *pages) message(w http.ResponseWriter, r *http.Request, status int, title, text string) {
	p.render(w, r, status, "message", messageView{title, text})
}

// serverError logs err and answers a plain 500 that reveals nothing, in
// the dashboard's layout on its pages.
func (p *pages) serverError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client has gone; there is no one to answer
	}
	logFailure(p.log, r, err)
	name := "message"
	if r.URL.Path == "/admin" || strings.HasPrefix(r.URL.Path, "/admin/") {
		name = "admin/message"
	}
	p.render(w, r, http.StatusInternalServerError, name, messageView{"Something went wrong",
		"The request could not be completed. Please try again in a few minutes."})
}
