// Package sse reads Server-Sent Events (text/event-stream) as the LLM APIs
// stream them.
//
// The Reader sits under every streamed response the sidecar proxies, whether
// or not the response is translated, so it is built to cost nothing per event
// once warm: events are slices of one reused buffer, common event names are
// interned strings, and multi-line data is joined into a reused scratch
// buffer. Parsing follows the WHATWG HTML "event stream interpretation" rules.
package sse

import (
	"bytes"
	"errors"
	"io"
)

// DefaultMaxEventSize bounds one event (its raw bytes, including the blank
// line that ends it) when the Reader is made with NewReader. LLM events are
// a few hundred bytes; 4 MiB leaves room for a whole tool input or a large
// non-streamed-style block while still stopping a runaway upstream from
// growing the buffer without end.
const DefaultMaxEventSize = 4 << 20

// initialBufferSize is the Reader's first buffer. It grows by doubling up to
// the maximum event size when one event does not fit.
const initialBufferSize = 4 << 10

// maxEmptyReads is how many (0, nil) reads in a row the Reader tolerates
// before failing with io.ErrNoProgress, as bufio does.
const maxEmptyReads = 100

// ErrEventTooLarge is returned by Next when an event does not end within the
// maximum event size.
var ErrEventTooLarge = errors.New("sse: event exceeds the maximum event size")

// Event is one SSE event: the lines up to and including the blank line that
// ends it.
//
// Every block of lines ended by a blank line is returned, including blocks
// that dispatch nothing under the WHATWG rules (comment-only keep-alives such
// as ": ping", or blocks with only id: or retry: fields), so that a proxy
// forwarding Raw reproduces the upstream stream exactly and keeps its
// keep-alives flowing. Such blocks have Data == nil; HasData tells them apart.
//
// Data and Raw alias the Reader's buffers and are valid only until the next
// call to Next or Reset. Name does not alias anything.
type Event struct {
	// Name is the value of the last "event:" field, "" when there is none
	// (the WHATWG default type "message"). The names of both LLM APIs are
	// interned, so reading them does not allocate.
	Name string
	// Data is the values of the "data:" fields joined with "\n"; nil when the
	// event has no data field, non-nil (possibly empty) when it has one.
	Data []byte
	// Raw is the event exactly as received: any blank lines that preceded it,
	// its field and comment lines, and the blank line that ends it, with the
	// original line endings.
	Raw []byte
}

// HasData reports whether the event has at least one data field, which is
// what makes an event dispatch in a browser or an SDK.
func (e Event) HasData() bool { return e.Data != nil }

// Reader reads events from an io.Reader. It is not safe for concurrent use.
// A Reader can be reused for another stream with Reset, which keeps its
// buffers; the zero Reader is not usable, make one with NewReader.
type Reader struct {
	rd      io.Reader
	buf     []byte // buf[start:end] holds bytes read but not yet returned
	start   int
	end     int
	rerr    error // error from rd, returned once the buffered events run out
	err     error // sticky error of Next (ErrEventTooLarge)
	max     int
	data    []byte // scratch for joining multi-line data
	last    string // the last uninterned event name, reused when it repeats
	bomDone bool   // the stream's first bytes were checked for a BOM
}

// NewReader returns a Reader with the default maximum event size.
func NewReader(r io.Reader) *Reader {
	return NewReaderSize(r, DefaultMaxEventSize)
}

// NewReaderSize returns a Reader that fails with ErrEventTooLarge on events
// larger than maxEventSize bytes (DefaultMaxEventSize when maxEventSize <= 0).
func NewReaderSize(r io.Reader, maxEventSize int) *Reader {
	if maxEventSize <= 0 {
		maxEventSize = DefaultMaxEventSize
	}
	return &Reader{rd: r, max: maxEventSize}
}

// Reset discards any buffered data and state and makes the Reader read from
// r, keeping its buffers so pooled Readers stay allocation-free.
func (r *Reader) Reset(rd io.Reader) {
	r.rd = rd
	r.start, r.end = 0, 0
	r.rerr, r.err = nil, nil
	r.data = r.data[:0]
	r.bomDone = false
	if r.max <= 0 {
		r.max = DefaultMaxEventSize
	}
}

// Next returns the next event. At the end of the stream it returns io.EOF if
// the stream ended on an event boundary (trailing blank lines allowed), and
// io.ErrUnexpectedEOF if it ended inside an event, so a cut stream can be
// told from a finished one. Other errors of the underlying reader are
// returned as they are. Errors are sticky until Reset.
func (r *Reader) Next() (Event, error) {
	if r.err != nil {
		return Event{}, r.err
	}
	var (
		off      int  // bytes of this event scanned so far, from r.start
		content  bool // a non-blank line was seen
		nameS    = -1 // the last event field's value, offsets from r.start
		nameE    int
		dataS    = -1 // the first data value, offsets from r.start
		dataE    int
		nData    int
		needMore bool
	)
	r.data = r.data[:0]
	if !r.bomDone {
		// The WHATWG rules drop one U+FEFF at the very start of the stream.
		// It stays in Raw so pass-through stays byte-exact.
		for r.end-r.start < 3 && r.rerr == nil && bytes.HasPrefix(bom, r.buf[r.start:r.end]) {
			if err := r.fill(); err != nil {
				return Event{}, err
			}
		}
		r.bomDone = true
		if bytes.HasPrefix(r.buf[r.start:r.end], bom) {
			off = len(bom)
		}
	}
	for {
		if needMore {
			needMore = false
			if r.rerr == nil {
				if err := r.fill(); err != nil {
					return Event{}, err
				}
				continue
			}
			// The stream ended before this line did.
			if !content && r.start+off == r.end {
				// Only blank lines (or nothing) since the last event.
				r.start = r.end
				r.err = r.rerr
				return Event{}, r.err
			}
			r.err = r.rerr
			if r.err == io.EOF {
				r.err = io.ErrUnexpectedEOF
			}
			return Event{}, r.err
		}
		seg := r.buf[r.start+off : r.end]
		n, tl := lineEnd(seg, r.rerr != nil)
		if tl == 0 {
			needMore = true
			continue
		}
		line := seg[:n]
		lineOff := off
		off += n + tl
		if n == 0 {
			if !content {
				continue // a blank line before the event: fold it into Raw
			}
			ev := Event{Raw: r.buf[r.start : r.start+off]}
			if nameS >= 0 {
				ev.Name = r.intern(r.buf[r.start+nameS : r.start+nameE])
			}
			switch {
			case nData == 1:
				ev.Data = r.buf[r.start+dataS : r.start+dataE]
			case nData > 1:
				ev.Data = r.data
			}
			r.start += off
			return ev, nil
		}
		content = true
		if line[0] == ':' {
			continue // comment
		}
		field, value, valOff := line, line[:0], n
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field = line[:i]
			valOff = i + 1
			if valOff < n && line[valOff] == ' ' {
				valOff++
			}
			value = line[valOff:]
		}
		switch string(field) {
		case "data":
			switch nData {
			case 0:
				dataS, dataE = lineOff+valOff, lineOff+n
			case 1:
				// A second data line: from here on the value is joined in
				// the scratch buffer, which survives buffer compaction.
				r.data = append(r.data, r.buf[r.start+dataS:r.start+dataE]...)
				r.data = append(r.data, '\n')
				r.data = append(r.data, value...)
			default:
				r.data = append(r.data, '\n')
				r.data = append(r.data, value...)
			}
			nData++
		case "event":
			nameS, nameE = lineOff+valOff, lineOff+n
		}
		// "id", "retry" and unknown fields only matter to reconnecting
		// browsers; they stay in Raw.
	}
}

var bom = []byte("\xEF\xBB\xBF")

// lineEnd finds the end of the first line in b. It returns the line's length
// and the length of its terminator (1 for LF or CR, 2 for CRLF), or tl == 0
// when b holds no complete line yet. A CR at the very end of b is a complete
// terminator only at EOF, since an LF may follow it in the next read.
func lineEnd(b []byte, eof bool) (n, tl int) {
	lf := bytes.IndexByte(b, '\n')
	limit := b
	if lf >= 0 {
		limit = b[:lf]
	}
	if cr := bytes.IndexByte(limit, '\r'); cr >= 0 {
		switch {
		case cr+1 < len(b) && b[cr+1] == '\n':
			return cr, 2
		case cr+1 < len(b) || eof:
			return cr, 1
		default:
			return 0, 0
		}
	}
	if lf >= 0 {
		return lf, 1
	}
	return 0, 0
}

// fill reads more data, first moving the unread bytes to the front of the
// buffer and growing it when it is full. It returns a non-nil error only when
// the event cannot fit; read errors are kept in r.rerr for Next to handle
// once the buffered events run out.
func (r *Reader) fill() error {
	if r.start > 0 {
		r.end = copy(r.buf, r.buf[r.start:r.end])
		r.start = 0
	}
	if r.end == len(r.buf) {
		if len(r.buf) >= r.max {
			r.err = ErrEventTooLarge
			return r.err
		}
		size := max(2*len(r.buf), initialBufferSize)
		nb := make([]byte, min(size, r.max))
		copy(nb, r.buf[:r.end])
		r.buf = nb
	}
	for range maxEmptyReads {
		n, err := r.rd.Read(r.buf[r.end:])
		if n < 0 || n > len(r.buf)-r.end {
			r.rerr = errors.New("sse: reader returned an invalid count")
			return nil
		}
		r.end += n
		if err != nil {
			r.rerr = err
			return nil
		}
		if n > 0 {
			return nil
		}
	}
	r.rerr = io.ErrNoProgress
	return nil
}

// intern returns the event name as a string without allocating for the names
// the LLM APIs use, nor for a name that repeats the previous unknown one.
func (r *Reader) intern(b []byte) string {
	switch string(b) {
	case "":
		return ""
	case "message_start":
		return "message_start"
	case "message_delta":
		return "message_delta"
	case "message_stop":
		return "message_stop"
	case "content_block_start":
		return "content_block_start"
	case "content_block_delta":
		return "content_block_delta"
	case "content_block_stop":
		return "content_block_stop"
	case "ping":
		return "ping"
	case "error":
		return "error"
	case "message":
		return "message"
	case "done":
		return "done"
	}
	if string(b) != r.last {
		r.last = string(b)
	}
	return r.last
}
