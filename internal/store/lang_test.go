package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/alertd/alertd"
)

// A subscriber keeps the language given at sign-up or import; those without
// one (from before languages were kept) get the first configured language
// at start-up, once.
func TestSubscriberLanguage(t *testing.T) {
	ctx := context.Background()
	st := openAt(t, filepath.Join(t.TempDir(), "alertd.db"), alertd.Migrations())
	defer st.Close()
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	var none int64
	err := st.Write(ctx, func(tx *Tx) (err error) {
		if _, _, err = tx.InsertSubscriber("zh", alertd.Subscriber{Email: "zh", Status: alertd.StatusPending, Lang: "zh-Hans", CreatedAt: now}, Confirmation{}); err != nil {
			return err
		}
		if none, _, err = tx.InsertSubscriber("none", alertd.Subscriber{Email: "none", Status: alertd.StatusPending, CreatedAt: now}, Confirmation{}); err != nil {
			return err
		}
		imported := NewImported("imp", "imp", "hash-imp", nil, "", now)
		imported.Lang = "zh-Hans"
		_, err = tx.InsertImported([]Imported{imported, NewImported("imp2", "imp2", "hash-imp2", nil, "", now)}, "test", now)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	langOf := func(key string) string {
		t.Helper()
		var sub alertd.Subscriber
		if err := st.Read(ctx, func(tx *Tx) (err error) { sub, err = tx.SubscriberByKey(key); return err }); err != nil {
			t.Fatal(err)
		}
		return sub.Lang
	}
	// A batch of one at a time: the two without a language, then none.
	for _, want := range []int64{1, 1, 0} {
		var changed int64
		if err := st.Write(ctx, func(tx *Tx) (err error) { changed, err = tx.GiveLang("en", 1); return err }); err != nil {
			t.Fatal(err)
		}
		if changed != want {
			t.Errorf("GiveLang changed %d rows, want %d", changed, want)
		}
	}
	for key, want := range map[string]string{"zh": "zh-Hans", "none": "en", "imp": "zh-Hans", "imp2": "en"} {
		if got := langOf(key); got != want {
			t.Errorf("%s: lang %q, want %q", key, got, want)
		}
	}
	if err := st.Write(ctx, func(tx *Tx) error { return tx.SetLang(none, "zh-Hans") }); err != nil {
		t.Fatal(err)
	}
	if got := langOf("none"); got != "zh-Hans" {
		t.Errorf("after SetLang: %q", got)
	}
}
