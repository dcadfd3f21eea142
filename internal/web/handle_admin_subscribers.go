package web

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/admin"
	"github.com/alertd/alertd/internal/subscription"
)

// subscribersView is the data of the subscriber list.
type subscribersView struct {
	Query, Status, Topic string
	Topics               []alertd.Topic
	Statuses             []alertd.SubscriberStatus
	// StatusError and TopicError are shown beside their fields.
	StatusError, TopicError string
	Page                    subscription.SearchPage
	// Next is the address of the next page, "" on the last.
	Next string
}

var subscriberStatuses = []alertd.SubscriberStatus{
	alertd.StatusPending, alertd.StatusConfirmed, alertd.StatusUnsubscribed, alertd.StatusBounced,
}

func handleAdminSubscribers(p *pages, subs *subscription.Service, topics []alertd.Topic) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		v := subscribersView{
			Query: q.Get("q"), Status: q.Get("status"), Topic: q.Get("topic"),
			Topics: topics, Statuses: subscriberStatuses,
		}
		if v.Status != "" && !alertd.SubscriberStatus(v.Status).Valid() {
			v.StatusError = "Choose one of the statuses listed."
		}
		if v.Topic != "" && !slices.ContainsFunc(topics, func(t alertd.Topic) bool { return t.ID == v.Topic }) {
			v.TopicError = "Choose one of the topics listed."
		}
		if v.StatusError != "" || v.TopicError != "" {
			p.render(w, r, http.StatusBadRequest, "admin/subscribers", v)
			return
		}
		page, err := subs.Search(r.Context(), subscription.Search{
			Query: v.Query, Status: alertd.SubscriberStatus(v.Status), Topic: v.Topic, After: q.Get("after"),
		})
		if alertd.ErrorCode(err) == alertd.Invalid {
			p.render(w, r, http.StatusBadRequest, "admin/message", messageView{"Bad page", err.Error()})
			return
		}
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		v.Page = page
		if page.Next != "" {
			next := url.Values{"after": {page.Next}}
			for key, value := range map[string]string{"q": v.Query, "status": v.Status, "topic": v.Topic} {
				if value != "" {
					next.Set(key, value)
				}
			}
			v.Next = "/admin/subscribers?" + next.Encode()
		}
		p.render(w, r, http.StatusOK, "admin/subscribers", v)
	}
}

// subscriberMessages is how many of a subscriber's mails their page lists.
const subscriberMessages = 100

// subscriberView is the data of one subscriber's page.
type subscriberView struct {
	subscription.Export
	// Messages are the newest first, at most subscriberMessages of them;
	// Hidden counts the older ones left out.
	Messages []subscription.MessageRecord
	Hidden   int
	// Problems are the mails that failed or were answered with an error.
	Problems []subscription.MessageRecord
	// Confirm and ConfirmError are what was typed to confirm an erase,
	// and why it was refused.
	Confirm, ConfirmError string
	// Unchanged says that an unsubscribe asked for was already so.
	Unchanged bool
}

// Unsubscribable reports whether the subscriber still gets mail.
func (v subscriberView) Unsubscribable() bool {
	return v.Status == alertd.StatusPending || v.Status == alertd.StatusConfirmed
}

// subscriberFromURL reads the subscriber the path names. It answers the
// request itself, and returns false, when there is none.
func subscriberFromURL(p *pages, subs *subscription.Service, w http.ResponseWriter, r *http.Request) (subscription.Export, bool) {
	id, ok := pathID(r)
	if !ok {
		p.render(w, r, http.StatusNotFound, "admin/message", messageView{"No such subscriber", "There is no subscriber with this number."})
		return subscription.Export{}, false
	}
	export, err := subs.ExportID(r.Context(), id)
	if errors.Is(err, subscription.ErrNotFound) {
		noSubscriber(p, w, r)
		return export, false
	}
	if err != nil {
		p.serverError(w, r, err)
		return export, false
	}
	return export, true
}

func newSubscriberView(export subscription.Export) subscriberView {
	v := subscriberView{Export: export}
	for i := len(export.Messages) - 1; i >= 0; i-- {
		m := export.Messages[i]
		if len(v.Messages) < subscriberMessages {
			v.Messages = append(v.Messages, m)
		} else {
			v.Hidden++
		}
		if m.Status == alertd.MessageFailed || m.LastError != "" {
			v.Problems = append(v.Problems, m)
		}
	}
	return v
}

func handleAdminSubscriber(p *pages, subs *subscription.Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		export, ok := subscriberFromURL(p, subs, w, r)
		if !ok {
			return
		}
		v := newSubscriberView(export)
		v.Unchanged = saysNothingDone(r)
		p.render(w, r, http.StatusOK, "admin/subscriber", v)
	}
}

// subscriberSubject is how the audit log names a subscriber: by id, which
// outlives an erase without saying who it was.
func subscriberSubject(id int64) string { return "subscriber " + strconv.FormatInt(id, 10) }

// noSubscriber answers that the subscriber the path names is not there (any
// more: another operator may have erased them meanwhile).
func noSubscriber(p *pages, w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusNotFound, "admin/message", messageView{"No such subscriber",
		"There is no subscriber with this number: it may have been erased."})
}

// handleAdminUnsubscribe ends a subscription and records it; a subscriber
// already unsubscribed or bounced is left as they are, unrecorded, and
// their page says that nothing was done.
func handleAdminUnsubscribe(p *pages, subs *subscription.Service, audit auditor) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		export, ok := subscriberFromURL(p, subs, w, r)
		if !ok {
			return
		}
		path := "/admin/subscribers/" + strconv.FormatInt(export.ID, 10)
		changed, err := subs.UnsubscribeID(r.Context(), export.ID)
		switch {
		case errors.Is(err, subscription.ErrNotFound):
			noSubscriber(p, w, r)
		case err != nil:
			p.serverError(w, r, err)
		case !changed:
			http.Redirect(w, r, afterNothingDone(path), http.StatusSeeOther)
		default:
			audit.record(r, admin.ActionSubscriberUnsubscribed, subscriberSubject(export.ID), "was "+string(export.Status))
			http.Redirect(w, r, path, http.StatusSeeOther)
		}
	}
}

func handleAdminErase(p *pages, subs *subscription.Service, audit auditor) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		export, ok := subscriberFromURL(p, subs, w, r)
		if !ok {
			return
		}
		if err := parseForm(r); err != nil {
			p.render(w, r, http.StatusBadRequest, "admin/message", messageView{"Bad request", "The form could not be read."})
			return
		}
		typed := r.PostForm.Get("confirm")
		if subscription.AddressKey(strings.TrimSpace(typed)) != subscription.AddressKey(export.Email) {
			v := newSubscriberView(export)
			v.Confirm = typed
			v.ConfirmError = "This is not the subscriber's address. Type it exactly to erase them."
			p.render(w, r, http.StatusUnprocessableEntity, "admin/subscriber", v)
			return
		}
		err := subs.Erase(r.Context(), export.Email)
		if errors.Is(err, subscription.ErrNotFound) {
			noSubscriber(p, w, r)
			return
		}
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		audit.record(r, admin.ActionSubscriberErased, subscriberSubject(export.ID),
			"personal data deleted; the address is kept only as a hash on the suppression list")
		p.render(w, r, http.StatusOK, "admin/message", messageView{"Subscriber erased",
			"Everything held about this subscriber has been deleted. A hash of the address stays on the suppression list, so no import brings it back."})
	}
}

// exportFlushEvery is how many CSV rows go out between flushes.
const exportFlushEvery = 1000

// handleAdminExport streams the confirmed subscribers as CSV, in the
// columns `alertd subscribers import` reads, so the file can be imported
// again. Rows are written as they are read: memory does not grow with the
// list.
//
// The export takes personal data out of the system and is recorded, so
// although it is a GET, another site may not start it: a link or redirect
// from elsewhere, which the browser sends with the session cookie, is
// refused.
func handleAdminExport(p *pages, subs *subscription.Service, audit auditor) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
			p.render(w, r, http.StatusForbidden, "admin/message", messageView{"Request refused",
				"The export was asked for from another site. Please use the Export link of the dashboard itself."})
			return
		}
		audit.record(r, admin.ActionSubscribersExported, "confirmed subscribers", "CSV")
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="subscribers.csv"`)
		rc := http.NewResponseController(w)
		out := csv.NewWriter(w)
		out.Write([]string{"email", "confirmed_at", "topics", "frequency", "lang"})
		rows := 0
		err := subs.List(r.Context(), alertd.StatusConfirmed, func(sub alertd.Subscriber) error {
			confirmed := ""
			if sub.ConfirmedAt != nil {
				confirmed = sub.ConfirmedAt.Format(time.RFC3339)
			}
			out.Write([]string{subscription.SpreadsheetSafe(sub.Email), confirmed, subscription.SpreadsheetSafe(strings.Join(sub.Topics, ";")), sub.Frequency, sub.Lang})
			if rows++; rows%exportFlushEvery == 0 {
				out.Flush()
				if err := out.Error(); err != nil {
					return err
				}
				return rc.Flush()
			}
			return nil
		})
		out.Flush()
		if err == nil {
			err = out.Error()
		}
		if err != nil {
			// The status has gone out: cutting the connection is the only
			// way left to tell the client the file is not whole.
			if r.Context().Err() == nil {
				logFailure(p.log, r, err)
			}
			panic(http.ErrAbortHandler)
		}
	}
}

// adminImportPath is where the dashboard's subscriber import is posted;
// its body may be larger than other requests' (see maxImportBody).
const adminImportPath = "/admin/subscribers/import"

// maxImportBody is the largest subscriber file the dashboard accepts: a
// million addresses. Larger lists go through `alertd subscribers import`.
const maxImportBody = 32 << 20

// maxRejectionsShown bounds the rejected rows an import's results list.
const maxRejectionsShown = 1000

// importView is the data of the import form and its results.
type importView struct {
	Consent   string // "pending" or "confirmed"
	FileError string
	// Done is true on the results page.
	Done      bool
	Confirmed bool
	Name      string
	Result    subscription.ImportResult
	Rejected  []subscription.ImportRejection
	// More counts the rejected rows not listed.
	More int
}

func handleAdminImportForm(p *pages) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p.render(w, r, http.StatusOK, "admin/subscribers_import", importView{Consent: "pending"})
	}
}

func handleAdminImport(p *pages, subs *subscription.Service, audit auditor) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := importView{Consent: "pending"}
		refuse := func(status int, why string) {
			v.FileError = why
			p.render(w, r, status, "admin/subscribers_import", v)
		}
		tooLarge := fmt.Sprintf("The file is larger than %d MiB. Split it, or use 'alertd subscribers import'.", maxImportBody>>20)
		if r.ContentLength > maxImportBody {
			refuse(http.StatusRequestEntityTooLarge, tooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxImportBody)
		// Beyond a megabyte the upload waits in a temporary file, which
		// the server deletes when the request ends.
		err := r.ParseMultipartForm(1 << 20)
		switch {
		case isTooLarge(err):
			refuse(http.StatusRequestEntityTooLarge, tooLarge)
			return
		case err != nil:
			refuse(http.StatusBadRequest, "The upload could not be read: choose a CSV file and send the form again.")
			return
		}
		if consent := r.PostForm.Get("consent"); consent == "confirmed" || consent == "pending" {
			v.Consent = consent
		} else {
			refuse(http.StatusBadRequest, "Choose whether the addresses are confirmed or get a confirmation e-mail.")
			return
		}
		file, header, err := r.FormFile("file")
		if err != nil {
			refuse(http.StatusBadRequest, "Choose a CSV file to import.")
			return
		}
		defer file.Close()
		text := bufio.NewReader(file)
		head, _ := text.Peek(512)
		if !strings.HasPrefix(http.DetectContentType(head), "text/") {
			refuse(http.StatusUnsupportedMediaType, "This is not a CSV file: it must be text, one address a line (email,confirmed_at,topics,frequency,lang).")
			return
		}
		v.Confirmed = v.Consent == "confirmed"
		v.Name = header.Filename
		result, err := subs.Import(r.Context(), text, "import:"+header.Filename, v.Confirmed)
		if alertd.ErrorCode(err) == alertd.Invalid {
			refuse(http.StatusUnprocessableEntity, err.Error())
			return
		}
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		detail := fmt.Sprintf("%s: %d added as confirmed, %d unchanged, %d rejected", header.Filename, result.Added, result.Unchanged, len(result.Rejected))
		if !v.Confirmed {
			detail = fmt.Sprintf("%s: %d sign-ups recorded, %d rejected", header.Filename, result.SignedUp, len(result.Rejected))
		}
		audit.record(r, admin.ActionSubscribersImported, "subscribers", detail)
		v.Done, v.Result, v.Rejected = true, result, result.Rejected
		if len(v.Rejected) > maxRejectionsShown {
			v.More = len(v.Rejected) - maxRejectionsShown
			v.Rejected = v.Rejected[:maxRejectionsShown]
		}
		p.render(w, r, http.StatusOK, "admin/subscribers_import", v)
	}
}
