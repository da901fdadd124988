package sql

import "strconv"

// jsonRows builds the rows of one rollup statement as a JSON array of arrays, a
// single argument that the statement reads with jsonb_each (which hands
// each row over parsed once, as JSONB): one statement
// per table and batch instead of one per row. Text and blobs go as hex
// strings, read back with unhex (CAST … AS TEXT for text), so that any
// bytes pass unchanged and nothing needs escaping; integers as numbers,
// days as their YYYY-MM-DD text.
type jsonRows struct {
	buf    []byte
	n      int  // rows
	cols   int  // values in the current row
	closed bool // text closed the array
}

const hexDigits = "0123456789abcdef"

// reset empties j.
func (j *jsonRows) reset() {
	j.buf = append(j.buf[:0], '[')
	j.n, j.cols, j.closed = 0, 0, false
}

// row starts a row.
func (j *jsonRows) row() {
	if j.n > 0 {
		j.buf = append(j.buf, ']', ',')
	}
	j.buf = append(j.buf, '[')
	j.n++
	j.cols = 0
}

func (j *jsonRows) sep() {
	if j.cols > 0 {
		j.buf = append(j.buf, ',')
	}
	j.cols++
}

// int adds an integer.
func (j *jsonRows) int(v int64) {
	j.sep()
	j.buf = strconv.AppendInt(j.buf, v, 10)
}

// null adds a NULL.
func (j *jsonRows) null() {
	j.sep()
	j.buf = append(j.buf, "null"...)
}

// ascii adds s as a JSON string as it is: s must need no escaping (a day).
func (j *jsonRows) ascii(s string) {
	j.sep()
	j.buf = append(j.buf, '"')
	j.buf = append(j.buf, s...)
	j.buf = append(j.buf, '"')
}

// hexString adds the bytes of s in hex.
func (j *jsonRows) hexString(s string) {
	j.sep()
	j.buf = append(j.buf, '"')
	for i := 0; i < len(s); i++ {
		j.buf = append(j.buf, hexDigits[s[i]>>4], hexDigits[s[i]&0x0f])
	}
	j.buf = append(j.buf, '"')
}

// hexBytes adds b in hex.
func (j *jsonRows) hexBytes(b []byte) {
	j.sep()
	j.buf = append(j.buf, '"')
	for _, c := range b {
		j.buf = append(j.buf, hexDigits[c>>4], hexDigits[c&0x0f])
	}
	j.buf = append(j.buf, '"')
}

// text returns the JSON of the rows, as TEXT: a BLOB would be read as
// JSONB. It closes the array: no row may be added after it, until reset.
func (j *jsonRows) text() string {
	if !j.closed {
		if j.n > 0 {
			j.buf = append(j.buf, ']')
		}
		j.buf = append(j.buf, ']')
		j.closed = true
	}
	return string(j.buf)
}
