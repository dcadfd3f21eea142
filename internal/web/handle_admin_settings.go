package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/alertd/alertd/internal/admin"
)

// settingsSection is one section of the settings page.
type settingsSection struct {
	Name     string
	Settings []Setting
}

// settingsView is the settings page: the configuration, and what became
// of a test mail asked for.
type settingsView struct {
	Sections []settingsSection
	// TestMailTo is where a test mail just went; TestMailError why one
	// was not sent.
	TestMailTo, TestMailError string
}

func settingsSections(settings []Setting) []settingsSection {
	var sections []settingsSection
	for _, s := range settings {
		name, _, _ := strings.Cut(s.Key, ".")
		if len(sections) == 0 || sections[len(sections)-1].Name != name {
			sections = append(sections, settingsSection{Name: name})
		}
		last := &sections[len(sections)-1]
		last.Settings = append(last.Settings, s)
	}
	return sections
}

// testMailSent is the query that brings the operator back to the settings
// page after a test mail was queued: the address shown is the session's.
const testMailSent = "test-mail=sent"

func handleAdminSettings(p *pages, settings []Setting) http.HandlerFunc {
	sections := settingsSections(settings)
	return func(w http.ResponseWriter, r *http.Request) {
		v := settingsView{Sections: sections}
		if r.URL.RawQuery == testMailSent {
			v.TestMailTo = sessionOf(r).Email
		}
		p.render(w, r, http.StatusOK, "admin/settings", v)
	}
}

// handleAdminTestMail queues a test mail to the signed-in operator and
// sends them back to the settings page, which says where it went.
func handleAdminTestMail(p *pages, svc *admin.Service, audit auditor, settings []Setting) http.HandlerFunc {
	sections := settingsSections(settings)
	return func(w http.ResponseWriter, r *http.Request) {
		who := sessionOf(r).Email
		to, err := svc.SendTestMail(r.Context(), who)
		if errors.Is(err, admin.ErrTestMailTooSoon) {
			w.Header().Set("Retry-After", strconv.Itoa(int(admin.TestMailCooldown.Seconds())))
			p.render(w, r, http.StatusTooManyRequests, "admin/settings", settingsView{Sections: sections, TestMailError: err.Error()})
			return
		}
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		audit.record(r, admin.ActionTestMail, to, "")
		http.Redirect(w, r, "/admin/settings?"+testMailSent, http.StatusSeeOther)
	}
}
