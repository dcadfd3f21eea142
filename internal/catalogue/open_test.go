package catalogue_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/alertd/alertd/internal/catalogue"
)

func TestOpenFetchesAnHTTPURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/reports.csv" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "title,url\n")
	}))
	defer srv.Close()

	body, err := catalogue.Open(context.Background(), srv.Client(), srv.URL+"/reports.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	got, err := io.ReadAll(body)
	if err != nil || string(got) != "title,url\n" {
		t.Errorf("read %q, %v", got, err)
	}

	_, err = catalogue.Open(context.Background(), srv.Client(), srv.URL+"/missing.csv")
	if err == nil || !strings.Contains(err.Error(), srv.URL+"/missing.csv") || !strings.Contains(err.Error(), "404 Not Found") {
		t.Errorf("error %v; want one naming the URL and the 404", err)
	}
}

func TestOpenRefusesABodyOverTheLimit(t *testing.T) {
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		size := catalogue.MaxDownload
		if r.URL.Query().Has("over") {
			size++
		}
		if r.URL.Query().Has("declared") {
			w.Header().Set("Content-Length", strconv.Itoa(size))
		}
		for size > 0 {
			n := min(size, len(chunk))
			if _, err := w.Write(chunk[:n]); err != nil {
				return
			}
			size -= n
		}
	}))
	defer srv.Close()

	tests := []struct {
		query   string
		wantErr bool
	}{
		{"?exact", false},
		{"?over", true},
		{"?over&declared", true},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			body, err := catalogue.Open(context.Background(), srv.Client(), srv.URL+"/big"+tt.query)
			var n int64
			if err == nil {
				n, err = io.Copy(io.Discard, body)
				body.Close()
			}
			if !tt.wantErr {
				if err != nil || n != catalogue.MaxDownload {
					t.Errorf("read %d bytes, %v; want the whole %d", n, err, catalogue.MaxDownload)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "over the 50 MiB limit") || !strings.Contains(err.Error(), srv.URL) {
				t.Errorf("error %v; want one naming the URL and the 50 MiB limit", err)
			}
		})
	}
}

func TestOpenReadsALocalFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reports.json")
	if err := os.WriteFile(path, []byte("[]"), 0o600); err != nil {
		t.Fatal(err)
	}
	body, err := catalogue.Open(context.Background(), nil, path)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	if got, _ := io.ReadAll(body); string(got) != "[]" {
		t.Errorf("read %q", got)
	}

	missing := filepath.Join(t.TempDir(), "missing.json")
	if _, err := catalogue.Open(context.Background(), nil, missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("error %v; want one naming %s", err, missing)
	}
}

func TestOpenRefusesOtherURLSchemes(t *testing.T) {
	_, err := catalogue.Open(context.Background(), nil, "ftp://user:secret@reports.example/r.csv")
	if err == nil || !strings.Contains(err.Error(), "only http and https") || strings.Contains(err.Error(), "secret") {
		t.Errorf("error %v; want one refusing ftp without showing the password", err)
	}
}
