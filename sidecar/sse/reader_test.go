package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type wantEvent struct {
	name string
	data *string // nil: the event has no data field
	raw  string
}

func str(s string) *string { return &s }

func TestReader(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		events []wantEvent
		err    error
	}{
		{
			name: "empty stream",
			in:   "",
			err:  io.EOF,
		},
		{
			name:   "one event LF",
			in:     "data: hello\n\n",
			events: []wantEvent{{data: str("hello"), raw: "data: hello\n\n"}},
			err:    io.EOF,
		},
		{
			name:   "named event",
			in:     "event: message_start\ndata: {\"a\":1}\n\n",
			events: []wantEvent{{name: "message_start", data: str(`{"a":1}`), raw: "event: message_start\ndata: {\"a\":1}\n\n"}},
			err:    io.EOF,
		},
		{
			name:   "CRLF endings",
			in:     "event: ping\r\ndata: x\r\n\r\n",
			events: []wantEvent{{name: "ping", data: str("x"), raw: "event: ping\r\ndata: x\r\n\r\n"}},
			err:    io.EOF,
		},
		{
			name:   "CR endings",
			in:     "event: ping\rdata: x\r\r",
			events: []wantEvent{{name: "ping", data: str("x"), raw: "event: ping\rdata: x\r\r"}},
			err:    io.EOF,
		},
		{
			name:   "mixed endings",
			in:     "data: a\rdata: b\r\ndata: c\n\r\n",
			events: []wantEvent{{data: str("a\nb\nc"), raw: "data: a\rdata: b\r\ndata: c\n\r\n"}},
			err:    io.EOF,
		},
		{
			name:   "multi-line data",
			in:     "data: line1\ndata: line2\ndata:\ndata: line4\n\n",
			events: []wantEvent{{data: str("line1\nline2\n\nline4"), raw: "data: line1\ndata: line2\ndata:\ndata: line4\n\n"}},
			err:    io.EOF,
		},
		{
			name:   "only one leading space is stripped",
			in:     "data:  two\ndata:none\n\n",
			events: []wantEvent{{data: str(" two\nnone"), raw: "data:  two\ndata:none\n\n"}},
			err:    io.EOF,
		},
		{
			name:   "field without colon",
			in:     "data\n\n",
			events: []wantEvent{{data: str(""), raw: "data\n\n"}},
			err:    io.EOF,
		},
		{
			name:   "empty data value",
			in:     "data:\n\n",
			events: []wantEvent{{data: str(""), raw: "data:\n\n"}},
			err:    io.EOF,
		},
		{
			name:   "comment-only keep-alive is returned",
			in:     ": keep-alive\n\ndata: x\n\n",
			events: []wantEvent{{raw: ": keep-alive\n\n"}, {data: str("x"), raw: "data: x\n\n"}},
			err:    io.EOF,
		},
		{
			name:   "comments inside an event",
			in:     "event: a\n: note\ndata: x\n:\n\n",
			events: []wantEvent{{name: "a", data: str("x"), raw: "event: a\n: note\ndata: x\n:\n\n"}},
			err:    io.EOF,
		},
		{
			name:   "id retry and unknown fields are kept in Raw only",
			in:     "id: 7\nretry: 10\nfoo: bar\ndata: x\n\n",
			events: []wantEvent{{data: str("x"), raw: "id: 7\nretry: 10\nfoo: bar\ndata: x\n\n"}},
			err:    io.EOF,
		},
		{
			name:   "event field without data",
			in:     "event: ping\n\n",
			events: []wantEvent{{name: "ping", raw: "event: ping\n\n"}},
			err:    io.EOF,
		},
		{
			name:   "last event field wins",
			in:     "event: a\nevent: b\ndata: x\n\n",
			events: []wantEvent{{name: "b", data: str("x"), raw: "event: a\nevent: b\ndata: x\n\n"}},
			err:    io.EOF,
		},
		{
			name:   "empty event field",
			in:     "event:\ndata: x\n\n",
			events: []wantEvent{{data: str("x"), raw: "event:\ndata: x\n\n"}},
			err:    io.EOF,
		},
		{
			name:   "uninterned name",
			in:     "event: response.output_text.delta\ndata: x\n\nevent: response.output_text.delta\ndata: y\n\n",
			events: []wantEvent{{name: "response.output_text.delta", data: str("x"), raw: "event: response.output_text.delta\ndata: x\n\n"}, {name: "response.output_text.delta", data: str("y"), raw: "event: response.output_text.delta\ndata: y\n\n"}},
			err:    io.EOF,
		},
		{
			name:   "leading blank lines fold into the next event",
			in:     "\n\r\ndata: x\n\n\n\ndata: y\n\n",
			events: []wantEvent{{data: str("x"), raw: "\n\r\ndata: x\n\n"}, {data: str("y"), raw: "\n\ndata: y\n\n"}},
			err:    io.EOF,
		},
		{
			name:   "trailing blank lines end cleanly",
			in:     "data: x\n\n\n\n",
			events: []wantEvent{{data: str("x"), raw: "data: x\n\n"}},
			err:    io.EOF,
		},
		{
			name:   "BOM is skipped but kept in Raw",
			in:     "\xEF\xBB\xBFdata: x\n\n",
			events: []wantEvent{{data: str("x"), raw: "\xEF\xBB\xBFdata: x\n\n"}},
			err:    io.EOF,
		},
		{
			name:   "BOM only once",
			in:     "\xEF\xBB\xBFdata: x\n\n\xEF\xBB\xBFdata: y\n\n",
			events: []wantEvent{{data: str("x"), raw: "\xEF\xBB\xBFdata: x\n\n"}, {raw: "\xEF\xBB\xBFdata: y\n\n"}},
			err:    io.EOF,
		},
		{
			name:   "cut inside an event",
			in:     "data: x\n\ndata: y\n",
			events: []wantEvent{{data: str("x"), raw: "data: x\n\n"}},
			err:    io.ErrUnexpectedEOF,
		},
		{
			name:   "cut inside a line",
			in:     "data: x\n\ndata: y",
			events: []wantEvent{{data: str("x"), raw: "data: x\n\n"}},
			err:    io.ErrUnexpectedEOF,
		},
		{
			name:   "final lone CR ends the event",
			in:     "data: x\r\r",
			events: []wantEvent{{data: str("x"), raw: "data: x\r\r"}},
			err:    io.EOF,
		},
		{
			name:   "OpenAI done sentinel",
			in:     "data: {\"choices\":[]}\n\ndata: [DONE]\n\n",
			events: []wantEvent{{data: str(`{"choices":[]}`), raw: "data: {\"choices\":[]}\n\n"}, {data: str("[DONE]"), raw: "data: [DONE]\n\n"}},
			err:    io.EOF,
		},
	}
	readers := map[string]func(string) io.Reader{
		"whole":    func(s string) io.Reader { return strings.NewReader(s) },
		"bytewise": func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
		"dataerr":  func(s string) io.Reader { return iotest.DataErrReader(strings.NewReader(s)) },
	}
	for _, tt := range tests {
		for rname, mk := range readers {
			t.Run(tt.name+"/"+rname, func(t *testing.T) {
				r := NewReader(mk(tt.in))
				for i, w := range tt.events {
					ev, err := r.Next()
					if err != nil {
						t.Fatalf("event %d: unexpected error %v", i, err)
					}
					checkEvent(t, i, ev, w)
				}
				_, err := r.Next()
				if !errors.Is(err, tt.err) {
					t.Fatalf("final error = %v, want %v", err, tt.err)
				}
				if _, err2 := r.Next(); !errors.Is(err2, tt.err) {
					t.Fatalf("error not sticky: %v then %v", err, err2)
				}
			})
		}
	}
}

func checkEvent(t *testing.T, i int, ev Event, w wantEvent) {
	t.Helper()
	if ev.Name != w.name {
		t.Errorf("event %d: name %q, want %q", i, ev.Name, w.name)
	}
	switch {
	case w.data == nil && ev.HasData():
		t.Errorf("event %d: data %q, want none", i, ev.Data)
	case w.data != nil && !ev.HasData():
		t.Errorf("event %d: no data, want %q", i, *w.data)
	case w.data != nil && string(ev.Data) != *w.data:
		t.Errorf("event %d: data %q, want %q", i, ev.Data, *w.data)
	}
	if string(ev.Raw) != w.raw {
		t.Errorf("event %d: raw %q, want %q", i, ev.Raw, w.raw)
	}
}

// A trailing CR may be the first half of a CRLF: the reader must wait for
// the next byte rather than end the line early and see a blank line.
func TestReaderSplitCRLF(t *testing.T) {
	in := "data: a\r\n\r\ndata: b\r\n\r\n"
	for cut := 1; cut < len(in); cut++ {
		r := NewReader(io.MultiReader(strings.NewReader(in[:cut]), strings.NewReader(in[cut:])))
		var got []string
		for {
			ev, err := r.Next()
			if err != nil {
				if err != io.EOF {
					t.Fatalf("cut %d: %v", cut, err)
				}
				break
			}
			got = append(got, string(ev.Raw))
		}
		if want := []string{"data: a\r\n\r\n", "data: b\r\n\r\n"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("cut %d: got %q, want %q", cut, got, want)
		}
	}
}

func TestReaderEventTooLarge(t *testing.T) {
	big := "data: " + strings.Repeat("x", 100) + "\n\n"
	r := NewReaderSize(strings.NewReader("data: ok\n\n"+big), 64)
	if ev, err := r.Next(); err != nil || string(ev.Data) != "ok" {
		t.Fatalf("first event: %q, %v", ev.Data, err)
	}
	if _, err := r.Next(); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("got %v, want ErrEventTooLarge", err)
	}
	// An event of exactly the limit fits.
	exact := "data: " + strings.Repeat("y", 64-8) + "\n\n"
	r = NewReaderSize(strings.NewReader(exact), 64)
	if ev, err := r.Next(); err != nil || len(ev.Raw) != 64 {
		t.Fatalf("exact-size event: %d bytes, %v", len(ev.Raw), err)
	}
}

func TestReaderLargeEventGrows(t *testing.T) {
	payload := strings.Repeat("z", 3*initialBufferSize)
	in := "data: small\n\ndata: " + payload + "\n\ndata: after\n\n"
	r := NewReader(strings.NewReader(in))
	for _, want := range []string{"small", payload, "after"} {
		ev, err := r.Next()
		if err != nil || string(ev.Data) != want {
			t.Fatalf("got %d bytes, %v; want %d bytes", len(ev.Data), err, len(want))
		}
	}
}

func TestReaderPassesReadErrors(t *testing.T) {
	boom := errors.New("connection reset")
	r := NewReader(io.MultiReader(strings.NewReader("data: x\n\ndata: partial"), iotest.ErrReader(boom)))
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Fatalf("got %v, want %v", err, boom)
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestReaderNoProgress(t *testing.T) {
	if _, err := NewReader(zeroReader{}).Next(); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("got %v, want io.ErrNoProgress", err)
	}
}

func TestReaderReset(t *testing.T) {
	r := NewReader(strings.NewReader("data: a\n"))
	if _, err := r.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v", err)
	}
	r.Reset(strings.NewReader("\xEF\xBB\xBFdata: b\n\n"))
	ev, err := r.Next()
	if err != nil || string(ev.Data) != "b" {
		t.Fatalf("after Reset: %q, %v", ev.Data, err)
	}
}

// Data of a multi-line event lives in the scratch buffer; it must stay
// correct when the first line was read before a buffer compaction.
func TestReaderMultiLineAcrossReads(t *testing.T) {
	in := "data: " + strings.Repeat("a", initialBufferSize-10) + "\n\ndata: first\ndata: second\n\n"
	r := NewReader(iotest.HalfReader(strings.NewReader(in)))
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	ev, err := r.Next()
	if err != nil || string(ev.Data) != "first\nsecond" {
		t.Fatalf("got %q, %v", ev.Data, err)
	}
}

// FuzzReader checks that the reader never panics, that the Raw bytes of the
// events it returns are exactly the input they were read from, and that what
// it leaves behind at a clean end is only blank lines.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"data: x\n\n",
		"event: message_start\ndata: {}\n\n: ping\n\n",
		"data: a\r\ndata: b\r\n\r\n",
		"data: a\rdata: b\r\r",
		"\xEF\xBB\xBFdata: x\n\n\n",
		"data: cut",
		"\n\n\n",
		"id: 1\nretry: 5\n\n",
		string(openAIStream(3)),
	} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, in []byte, mode uint8) {
		var rd io.Reader = bytes.NewReader(in)
		if mode%2 == 1 {
			rd = iotest.OneByteReader(rd)
		}
		r := NewReaderSize(rd, 1<<12)
		var got []byte
		for {
			ev, err := r.Next()
			if err != nil {
				rest := in[len(got):]
				switch {
				case errors.Is(err, io.EOF):
					if len(strings.Trim(string(bytes.TrimPrefix(rest, bom)), "\r\n")) != 0 {
						t.Fatalf("clean EOF left %q unread", rest)
					}
				case errors.Is(err, io.ErrUnexpectedEOF):
					if len(rest) == 0 {
						t.Fatalf("unexpected EOF with nothing left")
					}
				case errors.Is(err, ErrEventTooLarge):
				default:
					t.Fatalf("unexpected error %v", err)
				}
				break
			}
			if len(ev.Raw) == 0 {
				t.Fatal("empty Raw")
			}
			if ev.HasData() && len(ev.Data) > len(ev.Raw) {
				t.Fatal("data longer than the event")
			}
			got = append(got, ev.Raw...)
			if !bytes.HasPrefix(in, got) {
				t.Fatalf("Raw bytes diverge from the input:\n got %q\nfrom %q", got, in)
			}
		}
	})
}
