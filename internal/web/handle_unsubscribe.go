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
	Lang   string
	// Frequency is the id of the frequency the reader gets.
	Frequency string
}

// savedView is the data of the page saying the preferences are saved.
type savedView struct {
	// Frequency: the frequency was changed, not the topics or language.
	Frequency bool
}

// handleUnsubscribePage shows the Unsubscribe button and, when there is a
// choice, the reader's preferences: topics, language and frequency. It
// changes nothing.
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
		// The page speaks the subscriber's language unless ?lang= asks otherwise.
		p.render(w, withLang(r, sub.Lang), http.StatusOK, "unsubscribe",
			unsubscribeView{Email: sub.Email, Status: status, Chosen: chosen, Lang: sub.Lang, Frequency: sub.Frequency})
	}
}

// handleUnsubscribe unsubscribes at once and answers 200 without a redirect:
// both the page's button and RFC 8058 one-click POSTs (body
// "List-Unsubscribe=One-Click", urlencoded or multipart, no cookies) land here.
// The page's preferences form posts here too, marked by its "preferences"
// field.
func handleUnsubscribe(p *pages, subs *subscription.Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := chi.URLParam(r, "token")
		// The answer speaks the reader's language, as the page did. A failed
		// look-up leaves it to the request: the reader must still be able
		// to leave.
		if sub, err := subs.Subscriber(r.Context(), token); err == nil {
			r = withLang(r, sub.Lang)
		}
		err := parseForm(r)
		if isTooLarge(err) {
			p.message(w, r, http.StatusRequestEntityTooLarge, "error_too_large_title", "error_too_large")
			return
		}
		if err == nil && r.PostForm.Get("preferences") == "frequency" {
			err = subs.SetFrequency(r.Context(), token, r.PostForm.Get("frequency"))
			switch {
			case errors.Is(err, subscription.ErrUnknownToken):
				unknownUnsubscribeToken(w, r, p)
			case alertd.ErrorCode(err) == alertd.Invalid:
				p.message(w, r, errorStatus(err), "error_unknown_frequency_title", "error_unknown_frequency")
			case err != nil:
				p.serverError(w, r, err)
			default:
				p.render(w, r, http.StatusOK, "preferences_saved", savedView{Frequency: true})
			}
			return
		}
		if err == nil && r.PostForm.Get("preferences") != "" {
			chosenLang := r.PostForm.Get("lang")
			if chosenLang != "" && !p.langs.Offers(chosenLang) {
				// Refused before the topics change: nothing or all is saved.
				p.message(w, r, http.StatusBadRequest, "error_unknown_language_title", "error_unknown_language")
				return
			}
			err = subs.SetTopics(r.Context(), token, r.PostForm["topics"])
			if err == nil && chosenLang != "" {
				err = subs.SetLang(r.Context(), token, chosenLang)
			}
			switch {
			case errors.Is(err, subscription.ErrUnknownToken):
				unknownUnsubscribeToken(w, r, p)
			case errors.Is(err, alertd.ErrUnknownTopic):
				p.message(w, r, errorStatus(err), "error_unknown_topic_title", "error_unknown_topic")
			case err != nil:
				p.serverError(w, r, err)
			default:
				// Saved: said in the language just chosen.
				if chosenLang != "" {
					r = withLang(r, chosenLang)
				}
				p.render(w, r, http.StatusOK, "preferences_saved", savedView{})
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
	p.message(w, r, http.StatusNotFound, "error_unknown_link_title", "error_unknown_link")
}
