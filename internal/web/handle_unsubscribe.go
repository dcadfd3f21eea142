package web

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/subscription"
)

type unsubscribeView struct {
	Email  string
	Status string
	Chosen map[string]bool
	// Frequency is the id of the frequency the reader gets.
	Frequency string
}

// handleUnsubscribePage shows the Unsubscribe button and, when topics exist,
// the topic preferences. It changes nothing.
func handleUnsubscribePage(p *pages, subs *subscription.Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sub, err := subs.Subscriber(r.Context(), chi.URLParam(r, "token"))
		switch {
		case errors.Is(err, subscription.ErrUnknownToken):
			unknownUnsubscribeToken(w, r, p)
			return
		case err != nil:
			p.serverError(w, r, err)
			return
		}
		chosen := map[string]bool{}
		for _, t := range sub.Topics {
			chosen[t] = true
		}
		status := string(sub.Status)
		if sub.Status == alertd.StatusBounced {
			status = "unsubscribed"
		}
		p.render(w, r, http.StatusOK, "unsubscribe", unsubscribeView{Email: sub.Email, Status: status, Chosen: chosen, Frequency: sub.Frequency})
	}
}

// handleUnsubscribe unsubscribes at once and answers 200 without a redirect:
// both the page's button and RFC 8058 one-click POSTs (body
// "List-Unsubscribe=One-Click", urlencoded or multipart, no cookies) land here.
// The page's topic form posts here too, marked by its "preferences" field.
func handleUnsubscribe(p *pages, subs *subscription.Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := chi.URLParam(r, "token")
		err := parseForm(r)
		if isTooLarge(err) {
			p.message(w, r, http.StatusRequestEntityTooLarge, "Request too large", "The request is too large.")
			return
		}
		if err == nil && r.PostForm.Get("preferences") == "frequency" {
			err = subs.SetFrequency(r.Context(), token, r.PostForm.Get("frequency"))
			switch {
			case errors.Is(err, subscription.ErrUnknownToken):
				unknownUnsubscribeToken(w, r, p)
			case alertd.ErrorCode(err) == alertd.Invalid:
				p.message(w, r, errorStatus(err), "Unknown frequency", "Choose how often from the list on the page.")
			case err != nil:
				p.serverError(w, r, err)
			default:
				p.render(w, r, http.StatusOK, "preferences_saved", nil)
			}
			return
		}
		if err == nil && r.PostForm.Get("preferences") != "" {
			err = subs.SetTopics(r.Context(), token, r.PostForm["topics"])
			switch {
			case errors.Is(err, subscription.ErrUnknownToken):
				unknownUnsubscribeToken(w, r, p)
			case errors.Is(err, alertd.ErrUnknownTopic):
				p.message(w, r, errorStatus(err), "Unknown topic", "Choose topics from the list on the page.")
			case err != nil:
				p.serverError(w, r, err)
			default:
				p.render(w, r, http.StatusOK, "preferences_saved", nil)
			}
			return
		}
		// A body that does not parse still means "unsubscribe": the token in
		// the URL is what counts, and a reader must always be able to leave.
		err = subs.Unsubscribe(r.Context(), token)
		switch {
		case errors.Is(err, subscription.ErrUnknownToken):
			unknownUnsubscribeToken(w, r, p)
		case err != nil:
			p.serverError(w, r, err)
		default:
			p.render(w, r, http.StatusOK, "unsubscribed", nil)
		}
	}
}

func unknownUnsubscribeToken(w http.ResponseWriter, r *http.Request, p *pages) {
	p.message(w, r, http.StatusNotFound, "Unknown link",
		"This unsubscribe link is not valid. Copy the whole link from the e-mail, or reply to the e-mail to ask us to remove you.")
}
