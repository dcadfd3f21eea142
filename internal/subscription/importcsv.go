package subscription

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/bom"
)

// ImportRow is one good row of a subscriber import file.
type ImportRow struct {
	Line        int       // line of the file on which the row starts
	Email       string    // accepted by ParseAddress, as written in the file
	ConfirmedAt time.Time // zero when the file gives none
	Topics      []string  // nil when the file gives none; duplicates removed
	Lang        string    // empty when the file gives none
	Frequency   string    // "" when the file gives none
}

// ImportRejection is a row that could not be imported, and why.
type ImportRejection struct {
	Line   int
	Reason string
}

// The columns of `alertd subscribers import`, by the names a header row
// gives them. Without a header they come in this order.
const (
	columnEmail       = "email"
	columnConfirmedAt = "confirmed_at"
	columnTopics      = "topics"
	columnLang        = "lang"
	columnFrequency   = "frequency"
)

// importColumns holds the index of each known column in a record, or -1
// when the file has no such column.
type importColumns struct {
	email, confirmedAt, topics, frequency, lang int
	fromHeader                                  bool
}

// positionalColumns are those of a file without a header: the order of
// an export, so that one imports as it is even without its header row.
var positionalColumns = importColumns{email: 0, confirmedAt: 1, topics: 2, frequency: 3, lang: 4}

// ReadImportCSV reads a subscriber list,
// email[,confirmed_at][,topics][,frequency][,lang], and
// calls each for every good row, in file order. It streams: memory use does
// not grow with the number of good rows, so a file of millions of addresses
// is fine.
//
// The first row is a header when one of its cells is "email" (no address
// can be that); a header may put the columns in any order and may name
// other columns, which are ignored, so exports from other systems can be
// imported as they are. Without a header the columns are positional and a
// sixth column is an error.
//
// confirmed_at is RFC 3339, 2006-01-02 or 2006-01-02 15:04:05 (the last two
// in UTC). Topics within their cell are separated by ';', '|', ',' or spaces.
// The lang column gives each row's language tag.
// A leading UTF-8 byte order mark is skipped.
//
// A row with a bad address or date, or broken CSV quoting, is returned among
// the rejections with its line and a reason, and reading goes on. An error
// from each stops the reading and is returned as it is; other errors are
// those of r or of an unusable header (an alertd.Invalid error, which the
// person who sent the file can fix).
func ReadImportCSV(r io.Reader, each func(ImportRow) error) (rejected []ImportRejection, err error) {
	records := csv.NewReader(bom.Skip(r))
	records.ReuseRecord = true // the strings in a record are fresh; only the slice is reused
	records.FieldsPerRecord = -1

	columns := positionalColumns
	firstRecord := true
	for {
		record, err := records.Read()
		if errors.Is(err, io.EOF) {
			return rejected, nil
		}
		if parseErr, ok := errors.AsType[*csv.ParseError](err); ok {
			rejected = append(rejected, ImportRejection{
				Line:   parseErr.StartLine,
				Reason: fmt.Sprintf("broken CSV (%v): check the quotes on this line", parseErr.Err),
			})
			firstRecord = false
			continue
		}
		if err != nil {
			return rejected, fmt.Errorf("read subscriber CSV: %w", err)
		}
		line, _ := records.FieldPos(0)
		if firstRecord {
			firstRecord = false
			if isImportHeader(record) {
				if columns, err = headerColumns(record); err != nil {
					return rejected, alertd.Errorf(alertd.Invalid, "subscriber CSV header on line %d: %v", line, err)
				}
				continue
			}
		}
		row, reason := parseImportRow(record, columns)
		if reason != "" {
			rejected = append(rejected, ImportRejection{Line: line, Reason: reason})
			continue
		}
		row.Line = line
		if err := each(row); err != nil {
			return rejected, err
		}
	}
}

func isImportHeader(record []string) bool {
	return slices.ContainsFunc(record, func(cell string) bool { return columnName(cell) == columnEmail })
}

func columnName(cell string) string {
	return strings.ToLower(strings.TrimSpace(cell))
}

func headerColumns(header []string) (importColumns, error) {
	columns := importColumns{email: -1, confirmedAt: -1, topics: -1, frequency: -1, lang: -1, fromHeader: true}
	for i, cell := range header {
		var index *int
		switch columnName(cell) {
		case columnEmail:
			index = &columns.email
		case columnConfirmedAt:
			index = &columns.confirmedAt
		case columnTopics:
			index = &columns.topics
		case columnLang:
			index = &columns.lang
		case columnFrequency:
			index = &columns.frequency
		default:
			continue
		}
		if *index >= 0 {
			return importColumns{}, fmt.Errorf("column %q appears twice; keep one", columnName(cell))
		}
		*index = i
	}
	return columns, nil
}

// parseImportRow returns the row, or the reason it is rejected.
func parseImportRow(record []string, columns importColumns) (ImportRow, string) {
	if !columns.fromHeader && len(record) > 5 {
		return ImportRow{}, fmt.Sprintf("%d columns, want at most 5 (email,confirmed_at,topics,frequency,lang); separate several topics with ';' or '|', or quote the cell", len(record))
	}
	cell := func(index int) string {
		if index < 0 || index >= len(record) {
			return ""
		}
		return strings.TrimSpace(spreadsheetUnsafe(record[index]))
	}

	rawEmail := cell(columns.email)
	if rawEmail == "" {
		return ImportRow{}, "no e-mail address"
	}
	email, err := ParseAddress(rawEmail)
	if err != nil {
		return ImportRow{}, fmt.Sprintf("%s is not a valid e-mail address: %v", quoteCell(rawEmail), err)
	}
	row := ImportRow{Email: email, Topics: splitTopics(cell(columns.topics)), Frequency: cell(columns.frequency), Lang: cell(columns.lang)}

	if rawDate := cell(columns.confirmedAt); rawDate != "" {
		row.ConfirmedAt, err = parseConfirmedAt(rawDate)
		if err != nil {
			reason := fmt.Sprintf("confirmed_at %s is not a date: use RFC 3339 (2006-01-02T15:04:05Z), 2006-01-02 or 2006-01-02 15:04:05", quoteCell(rawDate))
			if !columns.fromHeader {
				reason += "; to give topics without a date, leave the second column empty (email,,topics)"
			}
			return ImportRow{}, reason
		}
	}
	return row, ""
}

// formulaStarts are the first characters that make a spreadsheet read a
// cell as a formula.
const formulaStarts = "=+-@\t\r"

// SpreadsheetSafe keeps a cell of an exported file from being read as a
// formula by a spreadsheet that opens it: an address may begin with = + -
// or @, and such a cell gets a leading apostrophe, which the import drops
// again, so that an export can be imported as it is.
func SpreadsheetSafe(cell string) string {
	if cell != "" && strings.ContainsRune(formulaStarts, rune(cell[0])) {
		return "'" + cell
	}
	return cell
}

// spreadsheetUnsafe undoes SpreadsheetSafe: an apostrophe before a
// formula's first character is dropped, and any other kept.
func spreadsheetUnsafe(cell string) string {
	if len(cell) > 1 && cell[0] == '\'' && strings.ContainsRune(formulaStarts, rune(cell[1])) {
		return cell[1:]
	}
	return cell
}

// parseConfirmedAt picks the layout by the value's shape, so a good date
// costs one parse and no failed attempts.
func parseConfirmedAt(value string) (time.Time, error) {
	switch {
	case len(value) == len(time.DateOnly):
		return time.Parse(time.DateOnly, value)
	case len(value) == len(time.DateTime) && value[10] == ' ':
		return time.Parse(time.DateTime, value)
	default:
		return time.Parse(time.RFC3339, value)
	}
}

func splitTopics(cell string) []string {
	if cell == "" {
		return nil
	}
	topics := strings.FieldsFunc(cell, func(r rune) bool {
		return r == ';' || r == '|' || r == ',' || unicode.IsSpace(r)
	})
	// A row names a handful of topics: a linear search beats a map.
	unique := topics[:0]
	for _, topic := range topics {
		if !slices.Contains(unique, topic) {
			unique = append(unique, topic)
		}
	}
	if len(unique) == 0 {
		return nil
	}
	return unique
}

// quoteCell quotes a cell for a rejection reason, shortened so that one
// absurd cell cannot flood the operator's terminal.
func quoteCell(cell string) string {
	const maxRunes = 64
	if utf8.RuneCountInString(cell) <= maxRunes {
		return strconv.Quote(cell)
	}
	cut := 0
	for range maxRunes {
		_, size := utf8.DecodeRuneInString(cell[cut:])
		cut += size
	}
	return strconv.Quote(cell[:cut]) + "…"
}
