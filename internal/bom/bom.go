// Package bom reads past the byte order mark that spreadsheet programs and
// some editors put at the start of a UTF-8 file ("CSV UTF-8").
package bom

import (
	"bufio"
	"bytes"
	"io"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// Skip returns a buffered reader of r without its leading UTF-8 byte order
// mark, when it has one.
func Skip(r io.Reader) *bufio.Reader {
	buffered := bufio.NewReader(r)
	if start, _ := buffered.Peek(len(utf8BOM)); bytes.Equal(start, utf8BOM) {
		// Discarding bytes already buffered by Peek cannot fail.
		buffered.Discard(len(utf8BOM))
	}
	return buffered
}
