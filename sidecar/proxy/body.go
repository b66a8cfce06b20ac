package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"sync"

	"github.com/osmen-ai/llmroute/sidecar/translate"
)

// bufPool recycles request and response buffers: the body of every request is
// read once into one of these and replayed for each attempt.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuffer keeps a rare huge body from pinning memory in the pool.
const maxPooledBuffer = 1 << 20

func getBuffer() *bytes.Buffer { return bufPool.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b == nil || b.Cap() > maxPooledBuffer {
		return
	}
	b.Reset()
	bufPool.Put(b)
}

// requestFields is what routing needs from a request body.
type requestFields struct {
	model    string
	modelPos [2]int // byte span of the model's JSON string, quotes included
	stream   bool
}

var errNotObject = errors.New("the request body is not a JSON object")

// scanRequest finds the top-level "model" and "stream" members of a JSON
// object without decoding the document: on the pass-through path the sidecar
// reads those two fields and forwards the rest of the bytes untouched.
func scanRequest(b []byte) (requestFields, error) {
	var f requestFields
	s := scanner{b: b}
	if !s.byte('{') {
		return f, errNotObject
	}
	if s.byte('}') {
		return f, nil
	}
	for {
		s.ws()
		kStart := s.i
		if !s.skipString() {
			return f, errNotObject
		}
		key := b[kStart+1 : s.i-1]
		if !s.byte(':') {
			return f, errNotObject
		}
		s.ws()
		vStart := s.i
		if !s.skipValue() {
			return f, errNotObject
		}
		val := b[vStart:s.i]
		if bytes.IndexByte(key, '\\') >= 0 { // an escaped key: rare, decode it properly
			var k string
			if json.Unmarshal(b[kStart:kStart+len(key)+2], &k) == nil {
				key = []byte(k)
			}
		}
		switch string(key) {
		case "model":
			if len(val) < 2 || val[0] != '"' {
				return f, errors.New(`"model" must be a string`)
			}
			if bytes.IndexByte(val, '\\') < 0 {
				f.model = string(val[1 : len(val)-1])
			} else if err := json.Unmarshal(val, &f.model); err != nil {
				return f, errors.New(`"model" must be a string`)
			}
			f.modelPos = [2]int{vStart, s.i}
		case "stream":
			f.stream = string(val) == "true"
		}
		if s.byte('}') {
			s.ws()
			if s.i != len(b) {
				return f, errNotObject
			}
			return f, nil
		}
		if !s.byte(',') {
			return f, errNotObject
		}
	}
}

// withModel returns body with its model replaced, appended to dst; body is
// never modified, so it can be replayed for the next provider.
func withModel(dst, body []byte, f requestFields, model string) []byte {
	dst = append(dst, body[:f.modelPos[0]]...)
	dst = translate.AppendString(dst, model)
	return append(dst, body[f.modelPos[1]:]...)
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// byte skips white space and consumes c if it comes next.
func (s *scanner) byte(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) skipString() bool {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return false
	}
	for s.i++; s.i < len(s.b); s.i++ {
		switch s.b[s.i] {
		case '\\':
			s.i++
		case '"':
			s.i++
			return true
		}
	}
	return false
}

// skipValue skips one JSON value. It checks structure (brackets, strings), not
// every token: the provider validates the document it receives.
func (s *scanner) skipValue() bool {
	s.ws()
	if s.i >= len(s.b) {
		return false
	}
	switch s.b[s.i] {
	case '"':
		return s.skipString()
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if !s.skipString() {
					return false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return true
				}
			}
			s.i++
		}
		return false
	}
	start := s.i
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return s.i > start
		}
		s.i++
	}
	return s.i > start
}
