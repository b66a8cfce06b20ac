package sse

import "bytes"

// AppendEvent appends one event to dst and returns the extended slice:
//
//	event: <name>\n        (only when name != "")
//	data: <line 1>\n
//	data: <line 2>\n       (one data line per line of data)
//	\n
//
// Data is split on LF, CRLF and CR, the line endings a reader recognises, so
// any data reads back unchanged. A name is cut at its first line break, since
// a line break there would end the field early and inject the rest as new
// fields.
func AppendEvent(dst []byte, name string, data []byte) []byte {
	if name != "" {
		if i := indexLineBreak(name); i >= 0 {
			name = name[:i]
		}
		dst = append(dst, "event: "...)
		dst = append(dst, name...)
		dst = append(dst, '\n')
	}
	for {
		i := indexLineBreakBytes(data)
		if i < 0 {
			dst = append(dst, "data: "...)
			dst = append(dst, data...)
			dst = append(dst, '\n', '\n')
			return dst
		}
		dst = append(dst, "data: "...)
		dst = append(dst, data[:i]...)
		dst = append(dst, '\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
}

// indexLineBreakBytes is bytes.IndexAny(b, "\r\n") with two vectorised
// IndexByte scans instead of a byte-at-a-time loop.
func indexLineBreakBytes(b []byte) int {
	lf := bytes.IndexByte(b, '\n')
	limit := b
	if lf >= 0 {
		limit = b[:lf]
	}
	if cr := bytes.IndexByte(limit, '\r'); cr >= 0 {
		return cr
	}
	return lf
}

func indexLineBreak(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '\r' || s[i] == '\n' {
			return i
		}
	}
	return -1
}
