package subscription

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// readAll runs ReadImportCSV over input and collects what it reports.
func readAll(t *testing.T, input string) ([]ImportRow, []ImportRejection) {
	t.Helper()
	var rows []ImportRow
	rejected, err := ReadImportCSV(strings.NewReader(input), func(row ImportRow) error {
		rows = append(rows, row)
		return nil
	})
	if err != nil {
		t.Fatalf("ReadImportCSV: %v", err)
	}
	return rows, rejected
}

func date(year int, month time.Month, day, hour, minute, second int, zone *time.Location) time.Time {
	return time.Date(year, month, day, hour, minute, second, 0, zone)
}

func TestReadImportCSVReadsGoodRows(t *testing.T) {
	plus2 := time.FixedZone("", 2*60*60)
	tests := []struct {
		name  string
		input string
		want  []ImportRow
	}{
		{
			name:  "addresses only",
			input: "a@example.org\nB@Example.org\n",
			want:  []ImportRow{{Line: 1, Email: "a@example.org"}, {Line: 2, Email: "B@Example.org"}},
		},
		{
			name:  "positional columns",
			input: "a@example.org,2024-03-01,science;health\n",
			want:  []ImportRow{{Line: 1, Email: "a@example.org", ConfirmedAt: date(2024, 3, 1, 0, 0, 0, time.UTC), Topics: []string{"science", "health"}}},
		},
		{
			name:  "an export's formula guard dropped, other apostrophes kept",
			input: "'=1+2@example.org\n'-x@example.org,,'@topic\n'o'brien@example.org\n",
			want: []ImportRow{{Line: 1, Email: "=1+2@example.org"}, {Line: 2, Email: "-x@example.org", Topics: []string{"@topic"}},
				{Line: 3, Email: "'o'brien@example.org"}},
		},
		{
			name:  "topics without a date",
			input: "a@example.org,,science\n",
			want:  []ImportRow{{Line: 1, Email: "a@example.org", Topics: []string{"science"}}},
		},
		{
			name: "every date format",
			input: "a@example.org,2024-03-01T10:20:30+02:00\n" +
				"b@example.org,2024-03-01T10:20:30.5Z\n" +
				"c@example.org,2024-03-01 10:20:30\n" +
				"d@example.org,2024-03-01\n",
			want: []ImportRow{
				{Line: 1, Email: "a@example.org", ConfirmedAt: date(2024, 3, 1, 10, 20, 30, plus2)},
				{Line: 2, Email: "b@example.org", ConfirmedAt: date(2024, 3, 1, 10, 20, 30, time.UTC).Add(500 * time.Millisecond)},
				{Line: 3, Email: "c@example.org", ConfirmedAt: date(2024, 3, 1, 10, 20, 30, time.UTC)},
				{Line: 4, Email: "d@example.org", ConfirmedAt: date(2024, 3, 1, 0, 0, 0, time.UTC)},
			},
		},
		{
			name:  "every topic separator, duplicates dropped",
			input: `a@example.org,,"science; health|economy  law,science"` + "\n",
			want:  []ImportRow{{Line: 1, Email: "a@example.org", Topics: []string{"science", "health", "economy", "law"}}},
		},
		{
			name:  "cells are trimmed",
			input: "  a@example.org , 2024-03-01 , science \n",
			want:  []ImportRow{{Line: 1, Email: "a@example.org", ConfirmedAt: date(2024, 3, 1, 0, 0, 0, time.UTC), Topics: []string{"science"}}},
		},
		{
			name:  "header row is skipped",
			input: "email,confirmed_at,topics\na@example.org,2024-03-01,law\n",
			want:  []ImportRow{{Line: 2, Email: "a@example.org", ConfirmedAt: date(2024, 3, 1, 0, 0, 0, time.UTC), Topics: []string{"law"}}},
		},
		{
			name:  "header in another order, any case, with other columns ignored",
			input: "Topics,Name,EMAIL,Confirmed_At\nlaw,Ann,a@example.org,2024-03-01\n",
			want:  []ImportRow{{Line: 2, Email: "a@example.org", ConfirmedAt: date(2024, 3, 1, 0, 0, 0, time.UTC), Topics: []string{"law"}}},
		},
		{
			name:  "a lang column under a header",
			input: "email,lang\na@example.org,zh-Hans\nb@example.org,\n",
			want:  []ImportRow{{Line: 2, Email: "a@example.org", Lang: "zh-Hans"}, {Line: 3, Email: "b@example.org"}},
		},
		{
			name:  "frequency and lang without a header, in an export's order",
			input: "a@example.org,2024-03-01,law;health,daily,zh-Hans\nb@example.org,,,weekly\n",
			want: []ImportRow{
				{Line: 1, Email: "a@example.org", ConfirmedAt: date(2024, 3, 1, 0, 0, 0, time.UTC), Topics: []string{"law", "health"}, Frequency: "daily", Lang: "zh-Hans"},
				{Line: 2, Email: "b@example.org", Frequency: "weekly"},
			},
		},
		{
			name:  "header without optional columns",
			input: "name,email\nAnn,a@example.org\n",
			want:  []ImportRow{{Line: 2, Email: "a@example.org"}},
		},
		{
			name:  "byte order mark before the header",
			input: "\uFEFFemail,topics\na@example.org,law\n",
			want:  []ImportRow{{Line: 2, Email: "a@example.org", Topics: []string{"law"}}},
		},
		{
			name:  "byte order mark before a data row",
			input: "\uFEFFa@example.org\n",
			want:  []ImportRow{{Line: 1, Email: "a@example.org"}},
		},
		{
			name:  "CRLF line endings, blank lines and no final newline",
			input: "email\r\n\r\na@example.org\r\n\r\nb@example.org",
			want:  []ImportRow{{Line: 3, Email: "a@example.org"}, {Line: 5, Email: "b@example.org"}},
		},
		{
			name:  "line of a row after a quoted cell spanning lines",
			input: "a@example.org,,\"law\nscience\"\nb@example.org\n",
			want: []ImportRow{
				{Line: 1, Email: "a@example.org", Topics: []string{"law", "science"}},
				{Line: 3, Email: "b@example.org"},
			},
		},
		{
			name:  "empty file",
			input: "",
		},
		{
			name:  "header only",
			input: "email\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, rejected := readAll(t, tt.input)
			if len(rejected) != 0 {
				t.Errorf("rejected %+v, want none", rejected)
			}
			if !reflect.DeepEqual(rows, tt.want) {
				t.Errorf("rows:\n got %+v\nwant %+v", rows, tt.want)
			}
		})
	}
}

func TestReadImportCSVRejectsBadRowsAndKeepsGoodOnes(t *testing.T) {
	tests := []struct {
		name       string
		input      string
		line       int
		reasonHas  []string
		goodEmails []string
	}{
		{
			name:       "invalid address",
			input:      "a@example.org\nBob <bob@example.org>\nc@example.org\n",
			line:       2,
			reasonHas:  []string{`"Bob <bob@example.org>"`, "not a valid e-mail address", "without a name"},
			goodEmails: []string{"a@example.org", "c@example.org"},
		},
		{
			name:       "empty address",
			input:      "email,topics\n,law\nc@example.org,law\n",
			line:       2,
			reasonHas:  []string{"no e-mail address"},
			goodEmails: []string{"c@example.org"},
		},
		{
			name:       "bad date",
			input:      "a@example.org,01/03/2024\nc@example.org\n",
			line:       1,
			reasonHas:  []string{`"01/03/2024"`, "not a date", "2006-01-02", "email,,topics"},
			goodEmails: []string{"c@example.org"},
		},
		{
			name:       "bad date under a header needs no hint about positions",
			input:      "email,confirmed_at\na@example.org,yesterday\nc@example.org,\n",
			line:       2,
			reasonHas:  []string{`"yesterday"`, "not a date"},
			goodEmails: []string{"c@example.org"},
		},
		{
			name:       "impossible date",
			input:      "a@example.org,2024-02-30\nc@example.org\n",
			line:       1,
			reasonHas:  []string{`"2024-02-30"`},
			goodEmails: []string{"c@example.org"},
		},
		{
			name:       "topics spilling into a sixth column",
			input:      "a@example.org,,law,science,weekly,en\nc@example.org\n",
			line:       1,
			reasonHas:  []string{"6 columns", "';' or '|'"},
			goodEmails: []string{"c@example.org"},
		},
		{
			name:       "bare quote",
			input:      "a@exa\"mple.org\nc@example.org\n",
			line:       1,
			reasonHas:  []string{"broken CSV", "quotes"},
			goodEmails: []string{"c@example.org"},
		},
		{
			name:       "address after its rejected multi-line neighbour",
			input:      "email\n\"a@example.org\nb@example.org\"\nc@example.org\n",
			line:       2,
			reasonHas:  []string{"not a valid e-mail address"},
			goodEmails: []string{"c@example.org"},
		},
		{
			name:       "absurdly long cell is shortened in the reason",
			input:      strings.Repeat("x", 10000) + "\nc@example.org\n",
			line:       1,
			reasonHas:  []string{strconv.Quote(strings.Repeat("x", 64)) + "…"},
			goodEmails: []string{"c@example.org"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, rejected := readAll(t, tt.input)
			if len(rejected) != 1 {
				t.Fatalf("rejected %+v, want one rejection on line %d", rejected, tt.line)
			}
			if rejected[0].Line != tt.line {
				t.Errorf("rejected line %d, want %d", rejected[0].Line, tt.line)
			}
			for _, part := range tt.reasonHas {
				if !strings.Contains(rejected[0].Reason, part) {
					t.Errorf("reason %q does not say %q", rejected[0].Reason, part)
				}
			}
			if len(rejected[0].Reason) > 400 {
				t.Errorf("reason is %d bytes long", len(rejected[0].Reason))
			}
			var emails []string
			for _, row := range rows {
				emails = append(emails, row.Email)
			}
			if !reflect.DeepEqual(emails, tt.goodEmails) {
				t.Errorf("good rows %q, want %q", emails, tt.goodEmails)
			}
		})
	}
}

func TestReadImportCSVUnterminatedQuoteRejectsTheRestOfTheFile(t *testing.T) {
	rows, rejected := readAll(t, "a@example.org\n\"b@example.org\nc@example.org\n")
	if len(rows) != 1 || rows[0].Email != "a@example.org" {
		t.Errorf("rows %+v, want only a@example.org", rows)
	}
	if len(rejected) != 1 || rejected[0].Line != 2 {
		t.Errorf("rejected %+v, want one rejection starting on line 2", rejected)
	}
}

func TestReadImportCSVStopsWhenEachFails(t *testing.T) {
	stop := errors.New("database is locked")
	calls := 0
	rejected, err := ReadImportCSV(strings.NewReader("bad\na@example.org\nb@example.org\n"), func(row ImportRow) error {
		calls++
		return stop
	})
	if err != stop {
		t.Errorf("error = %v, want each's error unchanged", err)
	}
	if calls != 1 {
		t.Errorf("each called %d times after failing, want 1", calls)
	}
	if len(rejected) != 1 || rejected[0].Line != 1 {
		t.Errorf("rejected %+v, want the rejection found before stopping", rejected)
	}
}

func TestReadImportCSVReturnsReadErrors(t *testing.T) {
	broken := errors.New("disk unplugged")
	r := io.MultiReader(strings.NewReader("a@example.org\n"), iotest.ErrReader(broken))
	var rows []ImportRow
	_, err := ReadImportCSV(r, func(row ImportRow) error {
		rows = append(rows, row)
		return nil
	})
	if !errors.Is(err, broken) {
		t.Errorf("error = %v, want it to wrap %v", err, broken)
	}
	if len(rows) != 1 {
		t.Errorf("rows %+v, want the one read before the failure", rows)
	}
}

func TestReadImportCSVRefusesAHeaderNamingAColumnTwice(t *testing.T) {
	_, err := ReadImportCSV(strings.NewReader("email,Email\na@example.org,b@example.org\n"), func(ImportRow) error {
		t.Error("each called despite an unusable header")
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), `"email" appears twice`) {
		t.Errorf("error = %v, want one naming the repeated column", err)
	}
}

// generatedRows is an import file of n rows made on demand, so that a test
// can tell how much of it has been read.
type generatedRows struct {
	n, next  int
	pending  []byte
	consumed int
}

func (g *generatedRows) Read(p []byte) (int, error) {
	for len(g.pending) == 0 {
		if g.next == g.n {
			return 0, io.EOF
		}
		g.pending = fmt.Appendf(g.pending, "user%d@example.org,2024-03-01,science;law\n", g.next)
		g.next++
	}
	n := copy(p, g.pending)
	g.pending = g.pending[n:]
	g.consumed += n
	return n, nil
}

func TestReadImportCSVStreams(t *testing.T) {
	const rows = 100_000
	file := &generatedRows{n: rows}
	got := 0
	_, err := ReadImportCSV(file, func(row ImportRow) error {
		if got == 0 && file.consumed > 64<<10 {
			t.Fatalf("%d bytes read before the first row was handed over", file.consumed)
		}
		got++
		if want := "user" + strconv.Itoa(row.Line-1) + "@example.org"; row.Email != want {
			t.Fatalf("line %d: email %q, want %q", row.Line, row.Email, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != rows {
		t.Errorf("read %d rows, want %d", got, rows)
	}
}

func BenchmarkReadImportCSV(b *testing.B) {
	const rows = 100_000
	var file strings.Builder
	file.WriteString("email,confirmed_at,topics\n")
	for i := range rows {
		fmt.Fprintf(&file, "user%d@example.org,2024-03-01 10:20:30,science;law\n", i)
	}
	input := file.String()
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	for b.Loop() {
		count := 0
		rejected, err := ReadImportCSV(strings.NewReader(input), func(ImportRow) error {
			count++
			return nil
		})
		if err != nil || len(rejected) != 0 || count != rows {
			b.Fatalf("read %d rows, %d rejected, error %v", count, len(rejected), err)
		}
	}
}
