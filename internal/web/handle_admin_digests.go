package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/admin"
	"github.com/alertd/alertd/internal/catalogue"
)

// How many digests one page of the history shows, and how many failures
// one page of a digest's.
const (
	digestHistoryPage  = 20
	digestFailuresPage = 50
)

// PreviewDigest renders the subject and the text and HTML parts that a
// subscriber with the chosen topics (none: every report) would get of a
// digest of reports, through the renderer the real mail uses.
type PreviewDigest func(reports []alertd.Report, topics []string) (subject, text, html string, err error)

// topicReaders is one topic of the preview's choice, with how many
// confirmed readers chose it and how many of the next digest's reports
// they would get.
type topicReaders struct {
	ID, Name         string
	Readers, Reports int
}

type digestsView struct {
	Next catalogue.Upcoming
	// Frequency is the series shown; Frequencies all of them, to choose
	// from when there are several.
	Frequency   alertd.Frequency
	Frequencies []alertd.Frequency
	// Topic is the view previewed: a topic's id, or "" for the readers who
	// chose none; TopicError says why the one asked for was refused.
	Topic, TopicError string
	Topics            []topicReaders
	// Shown counts the reports the previewed readers get; Subject and
	// Text are their copy, and FrameURL serves its HTML part.
	Shown         int
	Subject, Text string
	FrameURL      string
	History       []alertd.Digest
	// Older is the ?before= of the history's next page; 0 on the last.
	Older int64
	// NothingSent says that a send asked for found no report due.
	NothingSent bool
}

// pageFrequency is the series a dashboard page is about: the one the
// frequency parameter names, or the first configured when it is empty;
// ok = false for an id not configured.
func pageFrequency(cat *catalogue.Service, id string) (alertd.Frequency, bool) {
	frequencies := cat.Frequencies()
	if id == "" {
		return frequencies[0], true
	}
	i := slices.IndexFunc(frequencies, func(f alertd.Frequency) bool { return f.ID == id })
	if i < 0 {
		return alertd.Frequency{}, false
	}
	return frequencies[i], true
}

// frequencyName is the name of the configured series with the id, or the
// id itself for a series no longer configured.
func frequencyName(cat *catalogue.Service, id string) string {
	if f, ok := pageFrequency(cat, id); ok && id != "" {
		return f.Name
	}
	return id
}

var noSuchFrequency = messageView{"No such frequency", "Choose one of the configured frequencies."}

// previewTopics is the topics a preview of the topic id shows: none (every
// report) for "", and ok = false for an id not configured.
func previewTopics(topics []alertd.Topic, id string) ([]string, bool) {
	if id == "" {
		return nil, true
	}
	return []string{id}, slices.ContainsFunc(topics, func(t alertd.Topic) bool { return t.ID == id })
}

func handleAdminDigests(p *pages, cat *catalogue.Service, preview PreviewDigest, topics []alertd.Topic) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		before, err := parseCursor(r.URL.Query().Get("before"))
		if err != nil {
			p.render(w, r, http.StatusBadRequest, "admin/message", messageView{"Bad page", "before must be a positive whole number."})
			return
		}
		frequency, ok := pageFrequency(cat, r.URL.Query().Get("frequency"))
		if !ok {
			p.render(w, r, http.StatusBadRequest, "admin/message", noSuchFrequency)
			return
		}
		status := http.StatusOK
		v := digestsView{Topic: r.URL.Query().Get("topic"), NothingSent: saysNothingDone(r),
			Frequency: frequency, Frequencies: cat.Frequencies()}
		chosen, ok := previewTopics(topics, v.Topic)
		if !ok {
			status, v.TopicError, v.Topic, chosen = http.StatusBadRequest, "Choose one of the topics in the list.", "", nil
		}
		next, err := cat.Upcoming(r.Context(), frequency.ID)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		v.Next = next
		for _, t := range topics {
			v.Topics = append(v.Topics, topicReaders{ID: t.ID, Name: t.Name, Readers: next.ByTopic[t.ID],
				Reports: len(alertd.ReportsFor(next.Reports, []string{t.ID}))})
		}
		v.Shown = len(alertd.ReportsFor(next.Reports, chosen))
		if v.Shown > 0 {
			if v.Subject, v.Text, _, err = preview(next.Reports, chosen); err != nil {
				p.serverError(w, r, err)
				return
			}
			v.FrameURL = "/admin/digests/preview?" + url.Values{"topic": {v.Topic}, "frequency": {frequency.ID}}.Encode()
		}
		history, err := cat.Digests(r.Context(), digestHistoryPage+1, before)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		v.History, v.Older = page(history, digestHistoryPage, func(d alertd.Digest) int64 { return d.ID })
		p.render(w, r, status, "admin/digests", v)
	}
}

// handleAdminDigestFrame serves the HTML part of the next digest for the
// preview's sandboxed frame. It is the one dashboard response that may be
// framed, and only by the dashboard; its policy runs no script whatever
// the catalogue's text holds, and lets in only the mail's inline styles.
func handleAdminDigestFrame(p *pages, cat *catalogue.Service, preview PreviewDigest, topics []alertd.Topic) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'")
		h.Set("X-Frame-Options", "SAMEORIGIN")
		chosen, ok := previewTopics(topics, r.URL.Query().Get("topic"))
		if !ok {
			http.Error(w, "No such topic.", http.StatusBadRequest)
			return
		}
		frequency, ok := pageFrequency(cat, r.URL.Query().Get("frequency"))
		if !ok {
			http.Error(w, "No such frequency.", http.StatusBadRequest)
			return
		}
		next, err := cat.Upcoming(r.Context(), frequency.ID)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		if len(alertd.ReportsFor(next.Reports, chosen)) == 0 {
			http.Error(w, "Nothing to preview: these readers would get no digest now.", http.StatusNotFound)
			return
		}
		_, _, html, err := preview(next.Reports, chosen)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, html)
	}
}

// digestSendView is the question asked before sending a series' digest.
type digestSendView struct {
	catalogue.Upcoming
	FrequencyName string
	// Several says that there is more than one series, so the page names it.
	Several bool
}

func handleAdminDigestConfirm(p *pages, cat *catalogue.Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		frequency, ok := pageFrequency(cat, r.URL.Query().Get("frequency"))
		if !ok {
			p.render(w, r, http.StatusBadRequest, "admin/message", noSuchFrequency)
			return
		}
		next, err := cat.Upcoming(r.Context(), frequency.ID)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		p.render(w, r, http.StatusOK, "admin/digest_send", digestSendView{next, frequency.Name, len(cat.Frequencies()) > 1})
	}
}

// handleAdminDigestSend compiles and queues the next digest, as the API and
// the CLI do. The form carries the newest digest its page saw, so that a
// second submit finds that one sent since and only shows it.
func handleAdminDigestSend(p *pages, cat *catalogue.Service, audit auditor) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := parseForm(r); err != nil {
			p.render(w, r, http.StatusBadRequest, "admin/message", messageView{"Bad request", "The form could not be read. Please send it again."})
			return
		}
		last, err := strconv.ParseInt(r.PostForm.Get("last"), 10, 64)
		if err != nil || last < 0 {
			p.render(w, r, http.StatusBadRequest, "admin/message", messageView{"Bad request",
				"The form lacks the digest it was confirmed against. Please start again from the Digests page."})
			return
		}
		frequency, ok := pageFrequency(cat, r.PostForm.Get("frequency"))
		if !ok {
			p.render(w, r, http.StatusBadRequest, "admin/message", noSuchFrequency)
			return
		}
		d, created, err := cat.CompileDigestAfter(r.Context(), frequency.ID, last)
		switch {
		case errors.Is(err, catalogue.ErrDigestCompiledMeanwhile):
			next, err := cat.Upcoming(r.Context(), frequency.ID)
			if err != nil || next.Last == 0 {
				p.serverError(w, r, fmt.Errorf("newest digest: %w", err))
				return
			}
			http.Redirect(w, r, fmt.Sprintf("/admin/digests/%d", next.Last), http.StatusSeeOther)
			return
		case err != nil:
			p.serverError(w, r, err)
			return
		case !created:
			http.Redirect(w, r, afterNothingDone("/admin/digests")+"&"+url.Values{"frequency": {frequency.ID}}.Encode(), http.StatusSeeOther)
			return
		}
		audit.record(r, admin.ActionDigestSent, fmt.Sprintf("digest %d", d.ID),
			alertd.Plural(d.Reports, "report", "reports")+" to "+alertd.Plural(d.Recipients, "reader", "readers"))
		http.Redirect(w, r, fmt.Sprintf("/admin/digests/%d", d.ID), http.StatusSeeOther)
	}
}

type digestView struct {
	Digest alertd.Digest
	// FrequencyName names the digest's series.
	FrequencyName string
	// Done counts the copies that are finished: sent, failed or cancelled.
	Done     int
	Reports  []alertd.Report
	Failures []alertd.DeliveryFailure
	// After is this page's ?after=; Next the next page's, 0 on the last.
	After, Next int64
}

func handleAdminDigest(p *pages, cat *catalogue.Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID(r)
		if !ok {
			p.render(w, r, http.StatusNotFound, "admin/message", messageView{"No such digest", "There is no digest with this id."})
			return
		}
		after, err := parseCursor(r.URL.Query().Get("after"))
		if err != nil {
			p.render(w, r, http.StatusBadRequest, "admin/message", messageView{"Bad page", "after must be a positive whole number."})
			return
		}
		d, err := cat.Digest(r.Context(), id)
		if alertd.ErrorCode(err) == alertd.NotFound {
			p.render(w, r, http.StatusNotFound, "admin/message", messageView{"No such digest", "There is no digest with this id."})
			return
		}
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		v := digestView{Digest: d, FrequencyName: frequencyName(cat, d.Frequency), Done: d.Sent + d.Failed + d.Cancelled, After: after}
		// The reports are listed on the first page only: a later page is
		// for reading on through the failures, and a digest may carry
		// hundreds of reports.
		if after == 0 {
			if v.Reports, err = cat.DigestReports(r.Context(), id); err != nil {
				p.serverError(w, r, err)
				return
			}
		}
		failures, err := cat.DigestFailures(r.Context(), id, digestFailuresPage+1, after)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		v.Failures, v.Next = page(failures, digestFailuresPage, func(f alertd.DeliveryFailure) int64 { return f.MessageID })
		p.render(w, r, http.StatusOK, "admin/digest", v)
	}
}
