package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/subscription"
)

var errTrailingData = errors.New("unexpected data after the JSON object")

type subscribeBody struct {
	Email     string   `json:"email"`
	Topics    []string `json:"topics"`
	Frequency string   `json:"frequency"`
	Lang      string   `json:"lang"`
}

// formView is the data of the subscription form page.
type formView struct {
	Email  string
	Error  string
	Chosen map[string]bool
	// Frequency is the frequency chosen; "" for the first offered.
	Frequency string
	Reports   []reportView
}

// latestOnForm is how many recent reports the form page shows.
const latestOnForm = 5

func handleForm(p *pages, published publishedReports) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		reports, err := published(r.Context(), latestOnForm, 0)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		p.render(w, r, http.StatusOK, "form", formView{Reports: reportViews(reports)})
	}
}

func handleCheckEmail(p *pages) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p.render(w, r, http.StatusOK, "check_email", nil)
	}
}

// handleSubscribe answers every acceptable sign-up the same way, whatever
// state the address is in, so the form reveals nothing about who subscribes.
func handleSubscribe(p *pages, subs *subscription.Service, ips clientIPs, outcomes *prometheus.CounterVec) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		outcome := "accepted"
		defer func() { outcomes.WithLabelValues(outcome).Inc() }()
		asJSON := wantsJSON(r)
		var body subscribeBody
		var honeypot string
		var err error
		if asJSON {
			err = decodeJSON(r, &body)
		} else if err = parseForm(r); err == nil {
			body = subscribeBody{Email: r.PostForm.Get("email"), Topics: r.PostForm["topics"], Frequency: r.PostForm.Get("frequency"), Lang: r.PostForm.Get("lang")}
			honeypot = r.PostForm.Get("website")
		}
		// A page in answer is in the language the reader chose.
		r = withLang(r, body.Lang)
		switch {
		case isTooLarge(err):
			outcome = "too_large"
			refuse(w, r, p, asJSON, http.StatusRequestEntityTooLarge, body, "The request is too large.", "error_too_large")
			return
		case err != nil:
			outcome = "invalid"
			refuse(w, r, p, asJSON, http.StatusBadRequest, body, "The request could not be read: "+err.Error(), "error_unreadable")
			return
		}
		// Bots fill the field people cannot see; they get the usual answer
		// and nothing happens.
		if honeypot != "" {
			outcome = "honeypot"
		} else {
			err = subs.Subscribe(r.Context(), subscription.Request{
				Email: body.Email, Topics: body.Topics, Frequency: body.Frequency, Lang: body.Lang,
				IP: ips.of(r), UserAgent: r.UserAgent(), FormURL: r.Referer(),
			})
		}
		switch {
		case alertd.ErrorCode(err) == alertd.Invalid:
			outcome = "invalid"
			refuse(w, r, p, asJSON, errorStatus(err), body, err.Error(), invalidMessageID(err))
		case err != nil:
			outcome = "error"
			p.serverError(w, r, err)
		case asJSON:
			writeJSON(w, http.StatusAccepted, map[string]string{"status": "check-email"})
		default:
			next := "/subscribe/check-email"
			if p.langs.Offers(body.Lang) {
				next += "?lang=" + url.QueryEscape(body.Lang)
			}
			http.Redirect(w, r, next, http.StatusSeeOther)
		}
	}
}

// invalidMessageID names, among the messages of the language files, what
// is wrong with a sign-up that Subscribe refused as invalid.
func invalidMessageID(err error) string {
	var address *subscription.AddressError
	switch {
	case errors.As(err, &address) && address.ID != "":
		return address.ID
	case errors.Is(err, alertd.ErrUnknownTopic):
		return "error_unknown_topic"
	case errors.Is(err, subscription.ErrUnknownLanguage):
		return "error_unknown_language"
	case errors.Is(err, alertd.ErrUnknownFrequency):
		return "error_unknown_frequency"
	}
	return "address_generic"
}

// refuse answers a sign-up that cannot be accepted: the form again with the
// message of id in the reader's language, or a JSON error with message.
func refuse(w http.ResponseWriter, r *http.Request, p *pages, asJSON bool, status int, body subscribeBody, message, id string) {
	if asJSON {
		jsonError(w, status, message)
		return
	}
	message, err := p.printer(r).T(id)
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	chosen := map[string]bool{}
	for _, t := range body.Topics {
		chosen[t] = true
	}
	// The page is UTF-8; bytes that are not must not reach it raw.
	email := strings.ToValidUTF8(body.Email, "\uFFFD")
	p.render(w, r, status, "form", formView{Email: email, Error: message, Chosen: chosen, Frequency: body.Frequency})
}
