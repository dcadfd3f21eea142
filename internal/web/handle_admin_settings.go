package web

import (
	"net/http"
	"strings"
)

// settingsSection is one section of the settings page.
type settingsSection struct {
	Name     string
	Settings []Setting
}

func handleAdminSettings(p *pages, settings []Setting) http.HandlerFunc {
	var sections []settingsSection
	for _, s := range settings {
		name, _, _ := strings.Cut(s.Key, ".")
		if len(sections) == 0 || sections[len(sections)-1].Name != name {
			sections = append(sections, settingsSection{Name: name})
		}
		last := &sections[len(sections)-1]
		last.Settings = append(last.Settings, s)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		p.render(w, r, http.StatusOK, "admin/settings", sections)
	}
}
