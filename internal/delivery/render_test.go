package delivery_test

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/alerttest"
	"github.com/alertd/alertd/internal/catalogue"
	"github.com/alertd/alertd/internal/delivery"
	"github.com/alertd/alertd/internal/mail"
	"github.com/alertd/alertd/internal/mail/mailtest"
	"github.com/alertd/alertd/internal/store"
)

var now = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

const baseURL = "https://alerts.example.org"

// fiveReports are a digest's reports, newest first: R5 economy, R4 water,
// R3 economy and water, R2 without topics, R1 economy.
func fiveReports() []alertd.Report {
	topics := map[int][]string{5: {"economy"}, 4: {"water"}, 3: {"economy", "water"}, 1: {"economy"}}
	var reports []alertd.Report
	for n := 5; n >= 1; n-- {
		reports = append(reports, alertd.Report{
			GUID: fmt.Sprintf("r%d", n), URL: fmt.Sprintf("https://example.org/r/%d", n), Title: fmt.Sprintf("Report R%d", n),
			PublishedAt: now.Add(-time.Duration(6-n) * time.Hour), Series: "Research Report", Number: fmt.Sprintf("No. %d, 2026", n),
			Authors: []string{"A. Author"}, Abstract: "Findings.", Topics: topics[n], CreatedAt: now,
		})
	}
	return reports
}

func renderer(t *testing.T, maxReports int, digests *delivery.DigestCache) delivery.MailRenderer {
	t.Helper()
	composer, err := mail.NewComposer(mail.Settings{
		ServiceName: "Research Alerts", From: "Research Alerts <alerts@example.org>",
		ListID: "Research alerts <alerts.example.org>", BaseURL: baseURL,
	}, alertd.Templates())
	if err != nil {
		t.Fatal(err)
	}
	return delivery.MailRenderer{
		Composer: composer, BaseURL: baseURL, MaxReports: maxReports,
		Subject:          template.Must(template.New("digest.subject").Parse("New reports: {{.Count}} publications")),
		Digests:          digests,
		UnsubscribeToken: func(id int64) string { return fmt.Sprintf("token-%d", id) },
		Now:              func() time.Time { return now },
	}
}

func titles(reports []alertd.Report) []string {
	var out []string
	for _, r := range reports {
		out = append(out, r.Title)
	}
	return out
}

func TestDigestForListsWhatTheSubscriberChoseUpToMaxReports(t *testing.T) {
	tests := []struct {
		name       string
		maxReports int
		topics     []string
		listed     []string
		more       int
		subject    string
	}{
		{"all reports, cut to max_reports", 3, nil, []string{"Report R5", "Report R4", "Report R3"}, 2, "New reports: 5 publications"},
		{"all reports under max_reports", 50, nil, []string{"Report R5", "Report R4", "Report R3", "Report R2", "Report R1"}, 0, "New reports: 5 publications"},
		{"one topic", 3, []string{"water"}, []string{"Report R4", "Report R3"}, 0, "New reports: 2 publications"},
		{"one topic exactly at max_reports", 3, []string{"economy"}, []string{"Report R5", "Report R3", "Report R1"}, 0, "New reports: 3 publications"},
		{"two topics, cut to max_reports", 3, []string{"economy", "water"}, []string{"Report R5", "Report R4", "Report R3"}, 1, "New reports: 4 publications"},
		{"no matching topic", 3, []string{"sport"}, nil, 0, "New reports: 0 publications"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := renderer(t, tt.maxReports, nil).DigestFor(fiveReports(), tt.topics)
			if err != nil {
				t.Fatal(err)
			}
			if got := titles(d.Reports); !slices.Equal(got, tt.listed) {
				t.Errorf("listed %v, want %v", got, tt.listed)
			}
			if d.More != tt.more {
				t.Errorf("More = %d, want %d", d.More, tt.more)
			}
			if d.Subject != tt.subject {
				t.Errorf("subject %q, want %q", d.Subject, tt.subject)
			}
		})
	}
}

// compiledDigest stores the five reports in a real database and compiles
// them into a digest, whose id it returns with the store.
func compiledDigest(t *testing.T) (*store.Store, int64) {
	t.Helper()
	ctx := context.Background()
	st := alerttest.OpenStore(t, filepath.Join(t.TempDir(), "alertd.db"))
	err := st.Write(ctx, func(tx *store.Tx) error {
		for _, r := range fiveReports() {
			if _, _, err := tx.AddReport(r, false); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	d, created, err := compileDigest(ctx, st, now, 168*time.Hour)
	if err != nil || !created || d.Reports != 5 {
		t.Fatalf("compile: %+v created=%v %v", d, created, err)
	}
	return st, d.ID
}

func TestRenderDigestBuildsTheWholeListMessage(t *testing.T) {
	st, digestID := compiledDigest(t)
	r := renderer(t, 3, delivery.NewDigestCache(st.DigestReports))
	tests := []struct {
		name    string
		sub     alertd.Subscriber
		subject string
		listed  []string
		more    string // the "and K more" line, or "" when all are listed
	}{
		{"without topics", alertd.Subscriber{ID: 7, Email: "Ada@example.org"},
			"New reports: 5 publications", []string{"R5", "R4", "R3"}, "and 2 more"},
		{"with a topic", alertd.Subscriber{ID: 8, Email: "bob@example.org", Topics: []string{"water"}},
			"New reports: 2 publications", []string{"R4", "R3"}, ""},
	}
	moreLink := regexp.MustCompile(`and \d+ more: <a href="` + regexp.QuoteMeta(baseURL+"/reports") + `"`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.sub.Status = alertd.StatusConfirmed
			msg, err := r.Render(context.Background(), alertd.Message{
				Kind: alertd.KindDigest, SubscriberID: tt.sub.ID, DigestID: digestID,
			}, tt.sub)
			if err != nil {
				t.Fatal(err)
			}
			m := mailtest.Message{Data: msg.Data}.Parse(t)

			if m.Subject != tt.subject {
				t.Errorf("subject %q, want %q", m.Subject, tt.subject)
			}
			if to := m.Header.Get("To"); !strings.Contains(to, tt.sub.Email) {
				t.Errorf("To = %q, want %s", to, tt.sub.Email)
			}
			if !slices.Equal(m.PartTypes, []string{"text/plain", "text/html"}) {
				t.Errorf("parts %v, want text/plain then text/html", m.PartTypes)
			}
			unsubscribe := fmt.Sprintf("%s/unsubscribe/token-%d", baseURL, tt.sub.ID)
			for _, h := range []struct{ name, want string }{
				{"List-Unsubscribe", "<" + unsubscribe + ">"},
				{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"},
				{"List-Id", "Research alerts <alerts.example.org>"},
				{"Precedence", "bulk"},
				{"Auto-Submitted", "auto-generated"},
			} {
				if got := m.Header.Get(h.name); got != h.want {
					t.Errorf("%s = %q, want %q", h.name, got, h.want)
				}
			}
			for part, body := range map[string]string{"text": m.Text, "html": m.HTML} {
				if !strings.Contains(body, unsubscribe) {
					t.Errorf("the %s part has no visible unsubscribe link", part)
				}
				for _, n := range []string{"R5", "R4", "R3", "R2", "R1"} {
					if want := slices.Contains(tt.listed, n); strings.Contains(body, "Report "+n) != want {
						t.Errorf("the %s part lists Report %s: %v, want %v", part, n, !want, want)
					}
				}
			}
			if tt.more == "" {
				if strings.Contains(m.Text+m.HTML, "more:") {
					t.Error("a digest that lists every report says there are more")
				}
				return
			}
			if want := tt.more + ": " + baseURL + "/reports"; !strings.Contains(m.Text, want) {
				t.Errorf("the text part lacks %q:\n%s", want, m.Text)
			}
			if !moreLink.MatchString(m.HTML) || !strings.Contains(m.HTML, tt.more) {
				t.Errorf("the html part does not link %q to the catalogue:\n%s", tt.more, m.HTML)
			}
		})
	}
}

func TestDigestCacheLoadsADigestOnce(t *testing.T) {
	loads := map[int64]int{}
	cache := delivery.NewDigestCache(func(_ context.Context, id int64) ([]alertd.Report, error) {
		loads[id]++
		return []alertd.Report{{ID: id}}, nil
	})
	ctx := context.Background()
	for _, id := range []int64{1, 1, 2, 1, 2} {
		reports, err := cache.Reports(ctx, id)
		if err != nil || len(reports) != 1 || reports[0].ID != id {
			t.Fatalf("digest %d: %v %v", id, reports, err)
		}
	}
	if loads[1] != 1 || loads[2] != 1 {
		t.Errorf("loads = %v, want each digest loaded once", loads)
	}
}

// compileDigest compiles the next digest at now, the way the catalogue does.
func compileDigest(ctx context.Context, st *store.Store, now time.Time, firstWindow time.Duration) (alertd.Digest, bool, error) {
	cat := catalogue.NewService(st, catalogue.Rules{FirstWindow: firstWindow}, func() time.Time { return now }, func() {})
	return cat.CompileDigest(ctx, "")
}

// TestRenderDigestInEachReadersLanguage proves that readers of one digest
// with the same topics each get it in their own language, with the
// language's subject when digest.subject renders empty, and a link to the
// digest's public page in that language.
func TestRenderDigestInEachReadersLanguage(t *testing.T) {
	st, digestID := compiledDigest(t)
	composer, err := mail.NewComposer(mail.Settings{
		ServiceName: "Research Alerts", From: "Research Alerts <alerts@example.org>", BaseURL: baseURL,
		Languages: []string{"en", "zh-Hans"},
	}, alertd.Templates())
	if err != nil {
		t.Fatal(err)
	}
	r := renderer(t, 50, delivery.NewDigestCache(st.DigestReports))
	r.Composer = composer
	r.Subject = template.Must(template.New("digest.subject").Parse(""))
	for _, tc := range []struct {
		sub     alertd.Subscriber
		subject string
		says    string
	}{
		{alertd.Subscriber{ID: 7, Email: "ada@example.org", Lang: "en"}, "New reports: 5 publications", "Manage your subscription"},
		{alertd.Subscriber{ID: 8, Email: "li@example.org", Lang: "zh-Hans"}, "新报告 5 篇", "管理订阅"},
		{alertd.Subscriber{ID: 9, Email: "bo@example.org", Lang: "en"}, "New reports: 5 publications", "Manage your subscription"},
	} {
		tc.sub.Status = alertd.StatusConfirmed
		msg, err := r.Render(context.Background(), alertd.Message{Kind: alertd.KindDigest, SubscriberID: tc.sub.ID, DigestID: digestID}, tc.sub)
		if err != nil {
			t.Fatal(err)
		}
		m := mailtest.Message{Data: msg.Data}.Parse(t)
		if m.Subject != tc.subject || m.Header.Get("Content-Language") != tc.sub.Lang || !strings.Contains(m.HTML, tc.says) {
			t.Errorf("%s: subject %q, Content-Language %q; want %q in %s:\n%s", tc.sub.Email, m.Subject, m.Header.Get("Content-Language"), tc.says, tc.sub.Lang, m.HTML)
		}
		if want := fmt.Sprintf(`href="%s/digests/%d?lang=%s"`, baseURL, digestID, tc.sub.Lang); !strings.Contains(m.HTML, want) {
			t.Errorf("%s: no link to the digest's page (%s):\n%s", tc.sub.Email, want, m.HTML)
		}
	}
}
