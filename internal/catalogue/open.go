package catalogue

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// MaxDownload caps what Open fetches over HTTP: a catalogue is far smaller,
// and a wrong URL (a video, an endless stream) must not fill the memory.
const MaxDownload = 50 << 20

// Open opens what `reports import` was given: an http(s) URL, fetched with
// client (nil: NewClient(false)), or else a local file path.
func Open(ctx context.Context, client *http.Client, source string) (io.ReadCloser, error) {
	u, err := url.Parse(source)
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		return fetch(ctx, client, u)
	}
	if err == nil && u.Scheme != "" && strings.Contains(source, "://") {
		return nil, fmt.Errorf("cannot import from %s: only http and https URLs or local file paths can be imported", u.Redacted())
	}
	f, err := os.Open(source)
	if err != nil {
		return nil, fmt.Errorf("open the import file: %w", err)
	}
	return f, nil
}

func fetch(ctx context.Context, client *http.Client, u *url.URL) (io.ReadCloser, error) {
	if client == nil {
		client = NewClient(false)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", u.Redacted(), err)
	}
	req.Header.Set("User-Agent", "alertd (reports import)")
	resp, err := client.Do(req)
	if refused := asRefusal(err, u.Redacted()); refused != nil {
		return nil, refused
	}
	if err != nil {
		return nil, fmt.Errorf("fetch the import: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		resp.Body.Close()
		return nil, fmt.Errorf("fetch %s: the server answered %s; check the URL", u.Redacted(), resp.Status)
	}
	if resp.ContentLength > MaxDownload {
		resp.Body.Close()
		return nil, fmt.Errorf("fetch %s: %w", u.Redacted(), errTooLarge)
	}
	return &cappedBody{body: resp.Body, left: MaxDownload, source: u.Redacted()}, nil
}

var errTooLarge = fmt.Errorf("the response is over the %d MiB limit; download it and import the file", MaxDownload>>20)

// cappedBody fails once more than its limit has been read, rather than
// ending quietly as io.LimitReader would: a cut file must not pass for a
// whole one.
type cappedBody struct {
	body   io.ReadCloser
	left   int64
	source string
}

func (c *cappedBody) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, fmt.Errorf("fetch %s: %w", c.source, errTooLarge)
	}
	// Read one byte past the limit to tell "exactly the limit" from "over".
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.body.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n, fmt.Errorf("fetch %s: %w", c.source, errTooLarge)
	}
	return n, err
}

func (c *cappedBody) Close() error { return c.body.Close() }
