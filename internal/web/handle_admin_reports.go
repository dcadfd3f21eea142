package web

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/admin"
	"github.com/alertd/alertd/internal/catalogue"
)

// reportsPage is how many reports one dashboard page lists.
const reportsPage = 50

// reportRow is a report as the dashboard lists it, with where it stands
// for readers: a published report whose time has not come is scheduled.
type reportRow struct {
	alertd.Report
	Standing string
}

func rowOf(rep alertd.Report, now time.Time) reportRow {
	standing := string(rep.Status())
	if rep.Status() == alertd.ReportPublished && rep.PublishedAt.After(now) {
		standing = "scheduled"
	}
	return reportRow{rep, standing}
}

// statusFilter is one choice of the catalogue's status filter.
type statusFilter struct {
	Value, Label string
	Selected     bool
}

type reportsView struct {
	Query    string
	Statuses []statusFilter
	Reports  []reportRow
	// Older is the address of the next page; "" on the last.
	Older string
	// Searched is true when the page stopped at the search's budget
	// before it was full: Older continues the search.
	Searched bool
	Error    string
}

// reportStatuses are the status filter's choices; "all" lists every report.
var reportStatuses = []statusFilter{
	{Value: "all", Label: "All"},
	{Value: string(alertd.ReportPublished), Label: "Published"},
	{Value: string(alertd.ReportHeld), Label: "Held for review"},
	{Value: string(alertd.ReportRetracted), Label: "Retracted"},
}

func handleAdminReports(p *pages, cat *catalogue.Service, now func() time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		query := r.URL.Query()
		status := query.Get("status")
		if status == "" {
			status = "all"
		}
		v := reportsView{Query: query.Get("q")}
		known := false
		for _, s := range reportStatuses {
			s.Selected = s.Value == status
			known = known || s.Selected
			v.Statuses = append(v.Statuses, s)
		}
		before, err := parseCursor(query.Get("before"))
		if !known || err != nil {
			p.render(w, r, http.StatusBadRequest, "admin/message", messageView{"Bad page",
				"status must be all, published, held or retracted, and before the number of a report."})
			return
		}
		search := catalogue.Search{Text: v.Query, Limit: reportsPage, Before: before}
		if status != "all" {
			search.Status = alertd.ReportStatus(status)
		}
		page, err := cat.Search(r.Context(), search)
		if alertd.ErrorCode(err) == alertd.Invalid {
			v.Error = err.Error()
			p.render(w, r, http.StatusBadRequest, "admin/reports", v)
			return
		}
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		v.Searched = page.Searched
		if page.Next != 0 {
			next := url.Values{"status": {status}, "before": {strconv.FormatInt(page.Next, 10)}}
			if v.Query != "" {
				next.Set("q", v.Query)
			}
			v.Older = "/admin/reports?" + next.Encode()
		}
		for _, rep := range page.Reports {
			v.Reports = append(v.Reports, rowOf(rep, now()))
		}
		p.render(w, r, http.StatusOK, "admin/reports", v)
	}
}

type reviewView struct {
	Reports []alertd.Report
	Older   int64
}

func handleAdminReview(p *pages, cat *catalogue.Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		before, err := parseCursor(r.URL.Query().Get("before"))
		if err != nil {
			p.render(w, r, http.StatusBadRequest, "admin/message", messageView{"Bad page", "before must be the number of a report."})
			return
		}
		held, err := cat.Held(r.Context(), reportsPage+1, before)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		var v reviewView
		v.Reports, v.Older = page(held, reportsPage, func(r alertd.Report) int64 { return r.ID })
		p.render(w, r, http.StatusOK, "admin/review", v)
	}
}

// reportOf reads the report named by the path's {id}; it answers the
// request itself, and returns false, when there is none.
func reportOf(p *pages, cat *catalogue.Service, w http.ResponseWriter, r *http.Request) (alertd.Report, bool) {
	id, ok := pathID(r)
	if !ok {
		p.render(w, r, http.StatusNotFound, "admin/message", messageView{"No such report", "There is no report with this number."})
		return alertd.Report{}, false
	}
	rep, err := cat.Report(r.Context(), id)
	if alertd.ErrorCode(err) == alertd.NotFound {
		p.render(w, r, http.StatusNotFound, "admin/message", messageView{"No such report", "There is no report with this number."})
		return rep, false
	}
	if err != nil {
		p.serverError(w, r, err)
		return rep, false
	}
	return rep, true
}

// reportPage is the data of a report's page; Unchanged says that the
// change asked for was already so.
type reportPage struct {
	reportRow
	Unchanged bool
}

func handleAdminReport(p *pages, cat *catalogue.Service, now func() time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rep, ok := reportOf(p, cat, w, r)
		if !ok {
			return
		}
		p.render(w, r, http.StatusOK, "admin/report", reportPage{rowOf(rep, now()), saysNothingDone(r)})
	}
}

func handleAdminRetractPage(p *pages, cat *catalogue.Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if rep, ok := reportOf(p, cat, w, r); ok {
			p.render(w, r, http.StatusOK, "admin/report_retract", rep)
		}
	}
}

// reportAction is a change to one report that the dashboard makes by a
// button: the service's method, what the audit log calls it, and whether
// it is a review's decision, which is only for held reports and leads back
// to the review queue.
type reportAction struct {
	change func(*catalogue.Service, context.Context, int64) (alertd.Report, bool, error)
	audit  string
	review bool
}

var (
	retractAction = reportAction{change: (*catalogue.Service).Retract, audit: admin.ActionReportRetracted}
	restoreAction = reportAction{change: (*catalogue.Service).Restore, audit: admin.ActionReportRestored}
	approveAction = reportAction{change: (*catalogue.Service).Approve, audit: admin.ActionReportApproved, review: true}
	rejectAction  = reportAction{change: (*catalogue.Service).Retract, audit: admin.ActionReportRejected, review: true}
)

// handleAdminReportAction makes the change, records it in the audit log and
// sends the browser on; a change that was already so is not recorded, and
// the report's page says that nothing was done. Approve and reject are for
// held reports: on any other they would be a retraction without its
// confirmation, or nothing.
func handleAdminReportAction(p *pages, cat *catalogue.Service, audit auditor, a reportAction) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rep, ok := reportOf(p, cat, w, r)
		if !ok {
			return
		}
		if a.review && rep.Status() != alertd.ReportHeld {
			p.render(w, r, http.StatusConflict, "admin/message", messageView{"Not held",
				"This report is not held for review, so it cannot be approved or rejected. Its own page shows where it stands."})
			return
		}
		rep, changed, err := a.change(cat, r.Context(), rep.ID)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		if !changed {
			http.Redirect(w, r, afterNothingDone(reportPath(rep.ID)), http.StatusSeeOther)
			return
		}
		audit.record(r, a.audit, reportSubject(rep.ID), rep.Title)
		next := reportPath(rep.ID)
		if a.review {
			next = "/admin/reports/review"
		}
		http.Redirect(w, r, next, http.StatusSeeOther)
	}
}

func reportPath(id int64) string { return "/admin/reports/" + strconv.FormatInt(id, 10) }

// reportSubject is how the audit log names a report.
func reportSubject(id int64) string { return "report " + strconv.FormatInt(id, 10) }

// formField is one field of the report form, as the template draws it.
type formField struct {
	Name, Label, Hint, Value, Error string
	// Type is an input's type, or "textarea".
	Type     string
	Required bool
}

// topicBox is one topic's checkbox on the report form.
type topicBox struct {
	alertd.Topic
	Checked bool
}

type reportFormView struct {
	// Report is the report being edited; nil on the add form.
	Report *alertd.Report
	Action string
	Fields []formField
	Topics []topicBox
	// TopicsError is the error beside the topics.
	TopicsError string
	// Error is about the report as a whole.
	Error string
	// Existing is the report that already has the url added again.
	Existing int64
	// Version is the report's version the edit began from.
	Version string
}

// formTime is how the form shows a publication time, in UTC, as the
// datetime-local input takes it.
const formTime = "2006-01-02T15:04:05"

func formOf(rep alertd.Report) url.Values {
	return url.Values{"version": {catalogue.Version(rep)},
		"title": {rep.Title}, "url": {rep.URL}, "published_at": {rep.PublishedAt.UTC().Format(formTime)},
		"series": {rep.Series}, "number": {rep.Number}, "authors": {strings.Join(rep.Authors, "\n")},
		"abstract": {rep.Abstract}, "keywords": {strings.Join(rep.Keywords, "\n")}, "topics": rep.Topics,
	}
}

// input reads the form into a report's input; an unreadable publication
// time is an error of that field, given with the input's other problems.
func input(form url.Values) (catalogue.Input, error) {
	lines := func(name string) []string { return strings.Split(form.Get(name), "\n") }
	in := catalogue.Input{
		Title: form.Get("title"), URL: form.Get("url"), Series: form.Get("series"), Number: form.Get("number"),
		Authors: lines("authors"), Abstract: form.Get("abstract"), Keywords: lines("keywords"), Topics: form["topics"],
	}
	if s := strings.TrimSpace(form.Get("published_at")); s != "" {
		for _, layout := range []string{formTime, "2006-01-02T15:04", time.RFC3339} {
			if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
				in.PublishedAt = &t
				return in, nil
			}
		}
		found := catalogue.ValidationErrors{&catalogue.ValidationError{Field: "published_at", Problem: "must be a date and time like 2026-03-01T09:00 (UTC)"}}
		if _, err := in.Report(time.Time{}); err != nil {
			found = append(found, problemsOf(err)...)
		}
		return in, found
	}
	return in, nil
}

// reportForm returns the form with its values and err's message beside the
// field it is about.
func (p *pages) reportForm(rep *alertd.Report, form url.Values, err error) reportFormView {
	v := reportFormView{Report: rep, Action: "/admin/reports/new", Version: form.Get("version")}
	publishedHint := "Leave empty to publish now. Times are UTC."
	if rep != nil {
		v.Action = reportPath(rep.ID) + "/edit"
		publishedHint = "Leave empty to keep the stored time. Times are UTC."
	}
	v.Fields = []formField{
		{Name: "title", Label: "Title", Type: "text", Required: true},
		{Name: "url", Label: "URL", Hint: "The report's page, starting with https:// or http://.", Type: "url", Required: true},
		{Name: "published_at", Label: "Published", Hint: publishedHint, Type: "datetime-local"},
		{Name: "authors", Label: "Authors", Hint: "One per line.", Type: "textarea"},
		{Name: "series", Label: "Series", Hint: "For example: Research Report.", Type: "text"},
		{Name: "number", Label: "Number", Hint: "For example: No. 26, 2020.", Type: "text"},
		{Name: "abstract", Label: "Abstract", Type: "textarea"},
		{Name: "keywords", Label: "Keywords", Hint: "One per line.", Type: "textarea"},
	}
	for i := range v.Fields {
		v.Fields[i].Value = form.Get(v.Fields[i].Name)
	}
	for _, t := range p.topics {
		v.Topics = append(v.Topics, topicBox{t, slices.Contains(form["topics"], t.ID)})
	}
	for _, problem := range problemsOf(err) {
		if !v.place(problem) && v.Error == "" {
			v.Error = problem.Error()
		}
	}
	return v
}

// problemsOf lists the problems err holds, one a field.
func problemsOf(err error) []error {
	if err == nil {
		return nil
	}
	if all, ok := errors.AsType[catalogue.ValidationErrors](err); ok {
		return all
	}
	return []error{err}
}

// place puts the problem beside its field, and reports whether it has one
// on the form.
func (v *reportFormView) place(problem error) bool {
	invalid, ok := errors.AsType[*catalogue.ValidationError](problem)
	switch {
	case len(v.Topics) > 0 && ok && invalid.Field == "topics":
		v.TopicsError = invalid.Problem
		return true
	case len(v.Topics) > 0 && errors.Is(problem, alertd.ErrUnknownTopic):
		v.TopicsError = problem.Error()
		return true
	case !ok:
		return false
	}
	for i := range v.Fields {
		f := &v.Fields[i]
		// A report added without a guid is known by its url.
		if invalid.Field == f.Name || (f.Name == "url" && invalid.Field == "guid") {
			if f.Error == "" {
				f.Error = invalid.Problem
			}
			return true
		}
	}
	return false
}

// setError puts the problem beside the named field.
func (v *reportFormView) setError(name, problem string) {
	for i := range v.Fields {
		if v.Fields[i].Name == name {
			v.Fields[i].Error = problem
		}
	}
}

// editedMeanwhile answers an edit refused because the report changed after
// the form was opened: the form again, with the operator's input and the
// report's new version, so that a second save is a choice made knowingly.
func (p *pages) editedMeanwhile(w http.ResponseWriter, r *http.Request, cat *catalogue.Service) {
	rep, ok := reportOf(p, cat, w, r)
	if !ok {
		return
	}
	form := maps.Clone(r.PostForm)
	form.Set("version", catalogue.Version(rep))
	v := p.reportForm(&rep, form, nil)
	v.Error = "Someone changed this report after you opened this form, so nothing was saved. " +
		"Its page shows the report as it is now; saving this form again replaces that change with what is below."
	p.render(w, r, http.StatusConflict, "admin/report_form", v)
}

func handleAdminReportNew(p *pages) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p.render(w, r, http.StatusOK, "admin/report_form", p.reportForm(nil, url.Values{}, nil))
	}
}

func handleAdminReportEditPage(p *pages, cat *catalogue.Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if rep, ok := reportOf(p, cat, w, r); ok {
			p.render(w, r, http.StatusOK, "admin/report_form", p.reportForm(&rep, formOf(rep), nil))
		}
	}
}

// readReportForm parses the form; it answers the request itself, and
// returns false, when the body cannot be read.
func readReportForm(p *pages, w http.ResponseWriter, r *http.Request) bool {
	if err := parseForm(r); err != nil {
		status, text := http.StatusBadRequest, "The form could not be read. Please go back and try again."
		if isTooLarge(err) {
			status, text = http.StatusRequestEntityTooLarge, "The form is over 64 KiB. Please shorten the abstract."
		}
		p.render(w, r, status, "admin/message", messageView{"Form refused", text})
		return false
	}
	return true
}

func handleAdminReportCreate(p *pages, cat *catalogue.Service, audit auditor) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !readReportForm(p, w, r) {
			return
		}
		in, err := input(r.PostForm)
		var rep alertd.Report
		created := false
		if err == nil {
			rep, created, err = cat.Add(r.Context(), in, false)
		}
		switch {
		case alertd.ErrorCode(err) == alertd.Invalid:
			p.render(w, r, errorStatus(err), "admin/report_form", p.reportForm(nil, r.PostForm, err))
		case err != nil:
			p.serverError(w, r, err)
		case !created:
			v := p.reportForm(nil, r.PostForm, nil)
			v.Existing = rep.ID
			v.setError("url", "a report with this url is already in the catalogue; nothing was added")
			p.render(w, r, http.StatusConflict, "admin/report_form", v)
		default:
			audit.record(r, admin.ActionReportAdded, reportSubject(rep.ID), rep.Title)
			http.Redirect(w, r, reportPath(rep.ID), http.StatusSeeOther)
		}
	}
}

// handleAdminReportEdit saves the edit form and records what changed; a
// save that changes nothing is not recorded, and the report's page says so.
func handleAdminReportEdit(p *pages, cat *catalogue.Service, audit auditor) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rep, ok := reportOf(p, cat, w, r)
		if !ok || !readReportForm(p, w, r) {
			return
		}
		in, err := input(r.PostForm)
		// The form shows the time to the second: the same time sent back
		// keeps the stored one, milliseconds and all.
		if in.PublishedAt != nil && in.PublishedAt.Equal(rep.PublishedAt.Truncate(time.Second)) {
			in.PublishedAt = nil
		}
		var before, after alertd.Report
		if err == nil {
			before, after, err = cat.Edit(r.Context(), rep.ID, r.PostForm.Get("version"), in)
		}
		var taken *catalogue.URLTakenError
		switch {
		case alertd.ErrorCode(err) == alertd.Invalid:
			p.render(w, r, errorStatus(err), "admin/report_form", p.reportForm(&rep, r.PostForm, err))
		case errors.As(err, &taken):
			v := p.reportForm(&rep, r.PostForm, nil)
			v.Existing = taken.Other
			v.setError("url", taken.Error())
			p.render(w, r, http.StatusConflict, "admin/report_form", v)
		case errors.Is(err, catalogue.ErrEditedMeanwhile):
			p.editedMeanwhile(w, r, cat)
		case err != nil:
			p.serverError(w, r, err)
		default:
			changed := catalogue.Changed(before, after)
			if len(changed) == 0 {
				http.Redirect(w, r, afterNothingDone(reportPath(after.ID)), http.StatusSeeOther)
				return
			}
			audit.record(r, admin.ActionReportEdited, reportSubject(after.ID), "changed "+strings.Join(changed, ", "))
			http.Redirect(w, r, reportPath(after.ID), http.StatusSeeOther)
		}
	}
}
