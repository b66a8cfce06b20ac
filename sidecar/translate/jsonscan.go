package translate

import (
	"bytes"
	"encoding/binary"
)

// A minimal JSON scanner for the stream path. It walks the members of an
// object or the elements of an array and hands back each value as its raw
// bytes, so the translators pick out the few fields an event carries without
// decoding the rest. String tokens are validated (quotes, escapes, no raw
// control characters) because they are copied verbatim into the client's
// events; containers are skipped by bracket counting, since their contents
// are never copied. Keys are compared as raw bytes: the APIs' keys are plain
// ASCII and never escaped.

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// scanString returns the index just past the string token starting at b[i]
// (which must be '"'), or -1 when the token is malformed.
func scanString(b []byte, i int) int {
	i++ // opening quote
	for {
		// Skip eight plain bytes at a time: the bulk of a token is text.
		for i+8 <= len(b) && !hasSpecial(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		if i >= len(b) {
			return -1
		}
		c := b[i]
		switch {
		case c == '"':
			return i + 1
		case c == '\\':
			if i+1 >= len(b) {
				return -1
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return -1
				}
				for _, h := range b[i+2 : i+6] {
					if !isHex(h) {
						return -1
					}
				}
				i += 6
			default:
				return -1
			}
		case c < 0x20:
			return -1
		default:
			i++
		}
	}
}

// hasSpecial reports whether any of the eight bytes in x is a quote, a
// backslash or a control character (the bytes that end or escape a string,
// or may not appear in one), using the classic "has zero byte" bit trick.
func hasSpecial(x uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q := x ^ (lo * '"')
	s := x ^ (lo * '\\')
	return ((q-lo)&^q|(s-lo)&^s|(x-lo*0x20)&^x)&hi != 0
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// skipValue returns the index just past the value starting at b[i] (no
// leading space), or -1 when there is no well-formed value there.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		return scanString(b, i)
	case c == '{' || c == '[':
		depth := 0
		for i < len(b) {
			if !structural[b[i]] {
				i++
				continue
			}
			switch b[i] {
			case '"':
				i = scanString(b, i)
				if i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	case c == 't':
		return literal(b, i, "true")
	case c == 'f':
		return literal(b, i, "false")
	case c == 'n':
		return literal(b, i, "null")
	case c == '-' || c >= '0' && c <= '9':
		j := i + 1
		for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || b[j] == '+' || b[j] == '-') {
			j++
		}
		return j
	}
	return -1
}

// structural marks the bytes that matter when skipping a container.
var structural = [256]bool{'"': true, '{': true, '[': true, '}': true, ']': true}

func literal(b []byte, i int, lit string) int {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit)
	}
	return -1
}

// members iterates the members of a JSON object:
//
//	it := members(data)
//	for it.next() { switch string(it.key) { ... it.val ... } }
//	if it.err { ... }
type members struct {
	b        []byte
	i        int
	key, val []byte // key without quotes; val raw, strings with quotes
	err      bool
	started  bool
}

func objectMembers(b []byte) members {
	m := members{b: b}
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		m.err, m.i = true, len(b)
		return m
	}
	m.i = i + 1
	return m
}

func (m *members) next() bool {
	if m.err || m.i >= len(m.b) {
		return false
	}
	b := m.b
	i := skipSpace(b, m.i)
	if i >= len(b) {
		m.err = true
		return false
	}
	if m.started {
		switch b[i] {
		case '}':
			m.i = len(b)
			return false
		case ',':
			i = skipSpace(b, i+1)
		default:
			m.err = true
			return false
		}
	} else if b[i] == '}' {
		m.i = len(b)
		return false
	}
	m.started = true
	if i >= len(b) || b[i] != '"' {
		m.err = true
		return false
	}
	end := scanString(b, i)
	if end < 0 {
		m.err = true
		return false
	}
	m.key = b[i+1 : end-1]
	i = skipSpace(b, end)
	if i >= len(b) || b[i] != ':' {
		m.err = true
		return false
	}
	i = skipSpace(b, i+1)
	end = skipValue(b, i)
	if end < 0 {
		m.err = true
		return false
	}
	m.val = b[i:end]
	m.i = end
	return true
}

// elements iterates the elements of a JSON array, like members.
type elements struct {
	b       []byte
	i       int
	val     []byte
	err     bool
	started bool
}

func arrayElements(b []byte) elements {
	e := elements{b: b}
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		e.err, e.i = true, len(b)
		return e
	}
	e.i = i + 1
	return e
}

func (e *elements) next() bool {
	if e.err || e.i >= len(e.b) {
		return false
	}
	b := e.b
	i := skipSpace(b, e.i)
	if i >= len(b) {
		e.err = true
		return false
	}
	if e.started {
		switch b[i] {
		case ']':
			e.i = len(b)
			return false
		case ',':
			i = skipSpace(b, i+1)
		default:
			e.err = true
			return false
		}
	} else if b[i] == ']' {
		e.i = len(b)
		return false
	}
	e.started = true
	end := skipValue(b, i)
	if end < 0 {
		e.err = true
		return false
	}
	e.val = b[i:end]
	e.i = end
	return true
}

// isString reports whether raw is a string token (validated when scanned).
func isString(raw []byte) bool { return len(raw) >= 2 && raw[0] == '"' }

// hasEscape reports whether a token's bytes hold an escape sequence.
func hasEscape(b []byte) bool { return bytes.IndexByte(b, '\\') >= 0 }

// isNullToken reports whether a scanned value is absent or null.
func isNullToken(raw []byte) bool { return len(raw) == 0 || string(raw) == "null" }

// parseInt reads a non-negative integer token; ok is false for anything else
// (or for values that would overflow), which callers treat as absent.
func parseInt(raw []byte) (int64, bool) {
	if len(raw) == 0 || len(raw) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// maxIndex bounds the content block and tool call indexes a stream may use,
// so a corrupt index cannot make a translator allocate without end.
const maxIndex = 4096

// parseIndex reads a content block or tool call index below maxIndex.
func parseIndex(raw []byte) (int, bool) {
	n, ok := parseInt(raw)
	if !ok || n >= maxIndex {
		return 0, false
	}
	return int(n), true
}

// stringValue decodes a string token into a Go string. For the rare values
// (error messages, type names) that must be compared or re-escaped; text on
// the hot path is copied as a token instead.
func stringValue(raw []byte) string {
	if !isString(raw) || scanString(raw, 0) != len(raw) {
		return ""
	}
	body := raw[1 : len(raw)-1]
	if !hasEscape(body) {
		return string(body)
	}
	buf := make([]byte, 0, len(body))
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' {
			buf = append(buf, c)
			continue
		}
		i++
		switch body[i] {
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r := hexRune(body[i+1 : i+5])
			i += 4
			if r >= 0xD800 && r < 0xDC00 && i+6 < len(body) && body[i+1] == '\\' && body[i+2] == 'u' {
				if lo := hexRune(body[i+3 : i+7]); lo >= 0xDC00 && lo < 0xE000 {
					r = (r-0xD800)<<10 + (lo - 0xDC00) + 0x10000
					i += 6
				}
			}
			if r >= 0xD800 && r < 0xE000 {
				r = 0xFFFD
			}
			buf = appendRune(buf, r)
		default: // '"', '\\', '/'
			buf = append(buf, body[i])
		}
	}
	return string(buf)
}

func hexRune(h []byte) rune {
	var r rune
	for _, c := range h {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		default:
			r |= rune(c-'A') + 10
		}
	}
	return r
}

// Member returns the raw value of the top-level member key of a JSON object
// (strings keep their quotes), or nil when it is absent or b is not an
// object. It decodes nothing: the proxy uses it to read usage numbers out of
// every response without encoding/json.
func Member(b []byte, key string) []byte {
	it := objectMembers(b)
	for it.next() {
		if string(it.key) == key {
			return it.val
		}
	}
	return nil
}
