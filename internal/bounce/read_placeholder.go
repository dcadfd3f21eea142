package bounce

import (
	"bufio"
	"bytes"
	"net/textproto"
)

// Read stands in for the report reader until it lands: it reads only the
// header and calls every mail TypeOther.
func Read(raw []byte) (Report, error) {
	header, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw))).ReadMIMEHeader()
	if err != nil && len(header) == 0 {
		return Report{}, err
	}
	return Report{Type: TypeOther, Header: header}, nil
}
