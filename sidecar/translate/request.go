package translate

import (
	"encoding/json"
	"errors"
)

// Request is a client's request body with the members routing reads: found
// by scanning, not decoding, since a request served in its own format is
// forwarded as it came, only its model replaced.
type Request struct {
	// Body is the client's request, never modified.
	Body []byte
	// Model is the top-level "model" member, "" when absent.
	Model string
	// Stream is whether the top-level "stream" member is true.
	Stream bool
	// modelSpan is the byte span of the model's JSON string, quotes
	// included; zero when there is no model.
	modelSpan [2]int
}

// ErrNotObject reports a request body that is not one JSON object.
var ErrNotObject = errors.New("the request body is not a JSON object")

var errModelNotString = errors.New(`"model" must be a string`)

// ReadRequest scans body for its "model" and "stream" members. It checks the
// structure (one object, well-formed strings and brackets) and not every
// token: the provider validates the document it receives.
func ReadRequest(body []byte) (Request, error) {
	r := Request{Body: body}
	b := body
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return r, ErrNotObject
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return r, endOfObject(b, i)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return r, ErrNotObject
		}
		kEnd := scanString(b, i)
		if kEnd < 0 {
			return r, ErrNotObject
		}
		key := b[i+1 : kEnd-1]
		if hasEscape(key) { // rare: compare the decoded key
			key = []byte(stringValue(b[i:kEnd]))
		}
		i = skipSpace(b, kEnd)
		if i >= len(b) || b[i] != ':' {
			return r, ErrNotObject
		}
		vStart := skipSpace(b, i+1)
		vEnd := skipValue(b, vStart)
		if vEnd < 0 {
			return r, ErrNotObject
		}
		val := b[vStart:vEnd]
		switch string(key) {
		case "model":
			if !isString(val) {
				return r, errModelNotString
			}
			if hasEscape(val) {
				if err := json.Unmarshal(val, &r.Model); err != nil {
					return r, errModelNotString
				}
			} else {
				r.Model = string(val[1 : len(val)-1])
			}
			r.modelSpan = [2]int{vStart, vEnd}
		case "stream":
			r.Stream = string(val) == "true"
		}
		i = skipSpace(b, vEnd)
		switch {
		case i < len(b) && b[i] == '}':
			return r, endOfObject(b, i)
		case i < len(b) && b[i] == ',':
			i = skipSpace(b, i+1)
		default:
			return r, ErrNotObject
		}
	}
}

// endOfObject checks that nothing but white space follows the closing
// brace at b[i].
func endOfObject(b []byte, i int) error {
	if skipSpace(b, i+1) != len(b) {
		return ErrNotObject
	}
	return nil
}

// WithModel appends the request's body to dst with its model replaced; the
// body itself is never modified, so every provider starts from the same
// request. A request without a model is appended as it is.
func (r *Request) WithModel(dst []byte, model string) []byte {
	if r.modelSpan[1] == 0 || model == r.Model {
		return append(dst, r.Body...)
	}
	dst = append(dst, r.Body[:r.modelSpan[0]]...)
	dst = AppendString(dst, model)
	return append(dst, r.Body[r.modelSpan[1]:]...)
}
