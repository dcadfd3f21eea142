package catalogue

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/bom"
)

// Format is the shape of a file of reports.
type Format string

// The formats of `reports import --format`.
const (
	FormatJSON  Format = "json"  // an array of report objects
	FormatJSONL Format = "jsonl" // one report object per line
	FormatCSV   Format = "csv"   // a header row naming the fields, then one report per row
	FormatFeed  Format = "feed"  // RSS 2.0, Atom 1.0 or JSON Feed
)

// FormatFromName guesses the format from a file name or URL path's extension.
func FormatFromName(name string) (Format, error) {
	switch strings.ToLower(path.Ext(name)) {
	case ".json":
		return FormatJSON, nil
	case ".jsonl", ".ndjson":
		return FormatJSONL, nil
	case ".csv":
		return FormatCSV, nil
	case ".xml", ".rss", ".atom", ".feed":
		return FormatFeed, nil
	}
	return "", fmt.Errorf("cannot tell the format of %q from its name; give --format json, jsonl, csv or feed", name)
}

// Rejection is one report of an import that was refused, and why. Line is
// the line number for CSV and JSON Lines, and the report's position (from 1)
// in a JSON array or a feed.
type Rejection struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// maxJSONLine bounds one line of JSON Lines: well above the largest valid
// report, so that a file without line breaks fails fast.
const maxJSONLine = 4 << 20

// Decode reads reports in format f and calls each with every valid one and
// its line (see Rejection). A report that is invalid is returned as a
// Rejection and the others still come through; a file that cannot be read
// as f at all, or an error from each, stops the import with that error.
func Decode(r io.Reader, f Format, now time.Time, each func(line int, rep alertd.Report) error) ([]Rejection, error) {
	d := &decoder{now: now, each: each}
	// Spreadsheets save CSV (and editors sometimes JSON) with a byte-order mark.
	br := bom.Skip(r)
	var err error
	switch f {
	case FormatJSON:
		err = d.decodeJSON(br)
	case FormatJSONL:
		err = d.decodeJSONL(br)
	case FormatCSV:
		err = d.decodeCSV(br)
	case FormatFeed:
		err = d.decodeFeed(br)
	default:
		err = fmt.Errorf("unknown import format %q; use json, jsonl, csv or feed", f)
	}
	return d.rejected, err
}

type decoder struct {
	now      time.Time
	each     func(line int, rep alertd.Report) error
	rejected []Rejection
}

func (d *decoder) reject(line int, reason string) {
	d.rejected = append(d.rejected, Rejection{Line: line, Reason: reason})
}

// add validates one report and hands it on, or rejects it.
func (d *decoder) add(line int, in Input) error {
	rep, err := in.Report(d.now)
	if err != nil {
		d.reject(line, err.Error())
		return nil
	}
	return d.each(line, rep)
}

func (d *decoder) decodeJSON(r io.Reader) error {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if errors.Is(err, io.EOF) {
		return errors.New("the file is empty; a json import is an array of reports: [{...}, ...]")
	}
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if tok != json.Delim('[') {
		return errors.New("a json import must be an array of reports: [{...}, ...]; for one report per line, use --format jsonl")
	}
	for i := 1; dec.More(); i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("report %d: broken JSON: %w", i, err)
		}
		var in Input
		if err := json.Unmarshal(raw, &in); err != nil {
			d.reject(i, err.Error())
			continue
		}
		if err := d.add(i, in); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("broken JSON at the end of the array: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the closing ] of the array")
	}
	return nil
}

// decodeJSONL rejects a line that is not JSON, unless it is the first one:
// then the file is most likely not JSON Lines at all and one error says so
// better than a rejection per line.
func (d *decoder) decodeJSONL(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxJSONLine)
	line, seen := 0, false
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		first := !seen
		seen = true
		if !json.Valid(text) {
			if first {
				return fmt.Errorf("line %d is not JSON; a jsonl import has one report object per line", line)
			}
			d.reject(line, "not valid JSON")
			continue
		}
		var in Input
		if err := json.Unmarshal(text, &in); err != nil {
			d.reject(line, err.Error())
			continue
		}
		if err := d.add(line, in); err != nil {
			return err
		}
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return fmt.Errorf("line %d is longer than %d MiB; is this a JSON Lines file?", line+1, maxJSONLine>>20)
	}
	return sc.Err()
}

// listSeparator separates the items of the authors, keywords and topics
// cells of a CSV file: commas already separate the cells.
const listSeparator = ";"

func (d *decoder) decodeCSV(r io.Reader) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // a short or long row is rejected below, not fatal
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("the CSV file is empty; its first row must name the columns (%s)", strings.Join(inputFields, ","))
	}
	if err != nil {
		return fmt.Errorf("the CSV header: %w", err)
	}
	columns, err := csvColumns(header)
	if err != nil {
		return err
	}
	for {
		record, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var parseErr *csv.ParseError
		if errors.As(err, &parseErr) {
			d.reject(parseErr.StartLine, parseErr.Error())
			continue
		}
		if err != nil {
			return err
		}
		line, _ := cr.FieldPos(0)
		if len(record) != len(columns) {
			d.reject(line, fmt.Sprintf("the row has %d cells; the header has %d", len(record), len(columns)))
			continue
		}
		in, err := csvInput(columns, record)
		if err != nil {
			d.reject(line, err.Error())
			continue
		}
		if err := d.add(line, in); err != nil {
			return err
		}
	}
}

// csvColumns reads the header row: the JSON names of the fields, in any
// order and case. A column alertd does not know is an error rather than
// ignored, because it is most likely a misspelt field whose data would be lost.
func csvColumns(header []string) ([]string, error) {
	columns := make([]string, len(header))
	var unknown []string
	for i, name := range header {
		name = strings.ToLower(strings.TrimSpace(name))
		switch {
		case !slices.Contains(inputFields, name):
			unknown = append(unknown, fmt.Sprintf("%q", name))
		case slices.Contains(columns[:i], name):
			return nil, fmt.Errorf("the CSV header names the column %q twice", name)
		}
		columns[i] = name
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown CSV column %s in the header; the columns are %s", strings.Join(unknown, ", "), strings.Join(inputFields, ","))
	}
	for _, required := range []string{"title", "url"} {
		if !slices.Contains(columns, required) {
			return nil, fmt.Errorf("the CSV header has no %q column; the columns are %s", required, strings.Join(inputFields, ","))
		}
	}
	return columns, nil
}

func csvInput(columns, record []string) (Input, error) {
	var in Input
	for i, cell := range record {
		switch columns[i] {
		case "guid":
			in.GUID = cell
		case "title":
			in.Title = cell
		case "url":
			in.URL = cell
		case "published_at":
			t, err := parseTime(cell)
			if err != nil {
				return in, invalid("published_at", "%s", err)
			}
			in.PublishedAt = t
		case "series":
			in.Series = cell
		case "number":
			in.Number = cell
		case "authors":
			in.Authors = strings.Split(cell, listSeparator)
		case "abstract":
			in.Abstract = cell
		case "keywords":
			in.Keywords = strings.Split(cell, listSeparator)
		case "topics":
			in.Topics = strings.Split(cell, listSeparator)
		}
	}
	return in, nil
}
