package lang_test

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/lang"
)

func load(t *testing.T, offered ...string) *lang.Catalogue {
	t.Helper()
	c, err := lang.Load(alertd.Templates(), offered, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Every shipped language holds every message of the English file, so no
// reader sees English fall-backs in the middle of a Chinese page.
func TestShippedFilesHoldTheSameMessages(t *testing.T) {
	ids := func(name string) []string {
		var m map[string]any
		if _, err := toml.DecodeFS(alertd.Templates(), "i18n/"+name+".toml", &m); err != nil {
			t.Fatal(err)
		}
		return slices.Sorted(maps.Keys(m))
	}
	if en, zh := ids("en"), ids("zh-Hans"); !slices.Equal(en, zh) {
		t.Errorf("en.toml and zh-Hans.toml differ:\n en: %v\n zh: %v", en, zh)
	}
}

func TestPluralsAndDates(t *testing.T) {
	c := load(t, "en", "zh-Hans")
	at := time.Date(2026, 11, 30, 9, 5, 0, 0, time.UTC)
	for _, tc := range []struct {
		lang, id string
		count    int
		want     string
	}{
		{"en", "digest_subject", 1, "New reports: 1 publication"},
		{"en", "digest_subject", 2, "New reports: 2 publications"},
		{"en", "duration_days", 1, "1 day"},
		{"en", "duration_hours", 72, "72 hours"},
		{"zh-Hans", "digest_subject", 1, "新报告 1 篇"},
		{"zh-Hans", "digest_subject", 3, "新报告 3 篇"},
		{"zh-Hans", "duration_hours", 72, "72 小时"},
	} {
		got, err := c.Printer(tc.lang).T(tc.id, "Count", tc.count)
		if err != nil || got != tc.want {
			t.Errorf("%s %s(%d) = %q, %v; want %q", tc.lang, tc.id, tc.count, got, err, tc.want)
		}
	}
	if got := c.Printer("en").Date(at); got != "30 November 2026" {
		t.Errorf("en date = %q", got)
	}
	if got := c.Printer("zh-Hans").Date(at); got != "2026年11月30日" {
		t.Errorf("zh-Hans date = %q", got)
	}
	if got := c.Printer("zh-Hans").DateTime(at); got != "2026年11月30日 09:05 UTC" {
		t.Errorf("zh-Hans datetime = %q", got)
	}
}

func TestMatch(t *testing.T) {
	both := load(t, "en", "zh-Hans")
	for header, want := range map[string]string{
		"":                            "en",
		"zh-CN,zh;q=0.9,en;q=0.8":     "zh-Hans",
		"zh":                          "zh-Hans",
		"en-GB,en;q=0.9":              "en",
		"fr-FR, de;q=0.5":             "en",
		"de, zh-Hans;q=0.5, en;q=0.1": "zh-Hans",
		"garbage;;q=x":                "en",
	} {
		if got := both.Match(header).Lang; got != want {
			t.Errorf("Match(%q) = %s, want %s", header, got, want)
		}
	}
	if got := load(t, "zh-Hans", "en").Match("fr").Lang; got != "zh-Hans" {
		t.Errorf("with zh-Hans first, an unmatched header gets %s", got)
	}
	if got := load(t, "en").Match("zh-CN").Lang; got != "en" {
		t.Errorf("with only en offered, zh-CN gets %s", got)
	}
}

// An operator's templates directory can override a message of a shipped
// language and add a language of its own.
func TestOverrideAndAdd(t *testing.T) {
	over := fstest.MapFS{
		"i18n/zh-Hans.toml": {Data: []byte(`form_submit = "马上订阅"`)},
		"i18n/fr.toml":      {Data: []byte("language_name = \"Français\"\ndate = \"2 January 2006\"\ndatetime = \"2 January 2006 15:04\"\nform_submit = \"S’abonner\"\n")},
	}
	c, err := lang.Load(alertd.Overlay(over, alertd.Templates()), []string{"zh-Hans", "fr"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Printer("zh-Hans").T("form_submit"); got != "马上订阅" {
		t.Errorf("overridden message = %q", got)
	}
	// The messages the override leaves out stay as shipped.
	if got, _ := c.Printer("zh-Hans").T("form_email"); got != "您的电子邮箱地址" {
		t.Errorf("a message the override leaves out = %q", got)
	}
	if got, _ := c.Printer("fr").T("form_submit"); got != "S’abonner" {
		t.Errorf("added language = %q", got)
	}
	// A message the added file lacks falls back to English.
	if got, _ := c.Printer("fr").T("form_email"); got != "Your e-mail address" {
		t.Errorf("fall-back = %q", got)
	}
	if _, err := lang.Load(alertd.Templates(), []string{"de"}, nil); err == nil || !strings.Contains(err.Error(), "i18n/de.toml") {
		t.Errorf("a language without a file: %v", err)
	}
	if _, err := lang.Load(alertd.Templates(), []string{"zh_hans"}, nil); err == nil {
		t.Error("a malformed tag was accepted")
	}
}

func TestCheckFindsUnknownIDs(t *testing.T) {
	c := load(t, "en")
	if err := c.Check("pages/x.html", `{{.T "form_submit"}} {{$.T "form_lead" "Service" .Service}}`); err != nil {
		t.Errorf("known ids: %v", err)
	}
	err := c.Check("pages/x.html", `{{.T "form_sumbit"}}`)
	if err == nil || !strings.Contains(err.Error(), `pages/x.html: no message "form_sumbit"`) {
		t.Errorf("unknown id: %v", err)
	}
}
