package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd/internal/alerttest"
)

// mailpit is a mailpit process: alertd's SMTP server, and an API to read
// and check what arrived.
type mailpit struct {
	api      string
	smtpPort int
	proc     *process
	seen     map[string]bool // IDs of the messages next has returned
}

// startMailpit runs mailpit on loopback ports, or skips the test when it is
// not installed.
func startMailpit(t *testing.T) *mailpit {
	t.Helper()
	var dirs []string
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(gopath))) {
			dirs = append(dirs, filepath.Join(dir, "bin"))
		}
	}
	bin := findTool(t, []string{"mailpit"}, "go install github.com/axllent/mailpit@v1.33.1", dirs...)
	m := &mailpit{smtpPort: alerttest.FreePort(t), seen: map[string]bool{}}
	httpAddr := alerttest.FreeAddr(t)
	m.api = "http://" + httpAddr
	m.proc = startProcess(t, bin, alerttest.Environ(nil), t.TempDir(),
		"--smtp", "127.0.0.1:"+strconv.Itoa(m.smtpPort),
		"--listen", httpAddr,
		"--database", filepath.Join(t.TempDir(), "mailpit.db"),
		"--disable-version-check",
		// The network is closed: a reverse DNS lookup of 127.0.0.1 could
		// only wait and fail.
		"--smtp-disable-rdns",
	)
	m.proc.waitReady(t, m.api+"/readyz")
	return m
}

// address is an address as mailpit's API shows it.
type address struct {
	Name    string
	Address string
}

// summary is one entry of mailpit's message list.
type summary struct {
	ID      string
	To      []address
	Subject string
}

// message is a message as mailpit's API shows it.
type message struct {
	ID              string
	MessageID       string
	Subject         string
	Text            string
	HTML            string
	ListUnsubscribe struct {
		Header     string
		Links      []string
		Errors     string
		HeaderPost string
	}
}

// htmlCheck is mailpit's verdict on how well mail clients support the HTML
// part, from caniemail.com's data.
type htmlCheck struct {
	Total struct {
		Nodes       int
		Supported   float64
		Partial     float64
		Unsupported float64
	}
	Warnings []struct {
		Title string
		Score struct {
			Found       int
			Partial     float64
			Unsupported float64
		}
	}
}

// next waits for a message to the address that next has not returned
// before, and returns it.
func (m *mailpit) next(t *testing.T, to string) message {
	t.Helper()
	var found summary
	err := eventually(context.Background(), 15*time.Second, func() (bool, error) {
		var list struct{ Messages []summary }
		if err := m.get("/api/v1/messages", &list); err != nil {
			return false, err
		}
		for _, s := range list.Messages {
			if !m.seen[s.ID] && len(s.To) == 1 && strings.EqualFold(s.To[0].Address, to) {
				found = s
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("waiting for a new message to %s in mailpit: %v\nmailpit says:\n%s", to, err, m.proc.output)
	}
	m.seen[found.ID] = true
	var msg message
	if err := m.get("/api/v1/message/"+found.ID, &msg); err != nil {
		t.Fatal(err)
	}
	return msg
}

func (m *mailpit) htmlCheck(t *testing.T, id string) htmlCheck {
	t.Helper()
	var check htmlCheck
	if err := m.get("/api/v1/message/"+id+"/html-check", &check); err != nil {
		t.Fatal(err)
	}
	return check
}

// raw returns the message as it arrived over SMTP.
func (m *mailpit) raw(t *testing.T, id string) []byte {
	t.Helper()
	body, err := m.fetch("/api/v1/message/" + id + "/raw")
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func (m *mailpit) get(path string, v any) error {
	body, err := m.fetch(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("mailpit GET %s: undecodable answer: %w", path, err)
	}
	return nil
}

func (m *mailpit) fetch(path string) ([]byte, error) {
	resp, err := http.Get(m.api + path)
	if err != nil {
		return nil, fmt.Errorf("mailpit GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("mailpit GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("mailpit GET %s: %s: %s", path, resp.Status, body)
	}
	return body, nil
}
