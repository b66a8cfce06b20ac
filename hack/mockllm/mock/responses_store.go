package mock

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/osmen-ai/llmroute/sidecar/translate"
)

// storedResponse returns the stored response the path names, answering 404
// as OpenAI does when there is none.
func (x *exchange) storedResponse() (*response, bool) {
	rs, ok := x.s.responses.get(x.id)
	if !ok {
		x.fail(apiError{status: http.StatusNotFound, typ: "invalid_request_error",
			message: "Response with id '" + x.id + "' not found."})
		return nil, false
	}
	x.model = rs.model
	return rs, true
}

// getResponse answers GET /v1/responses/{id}. A queued background
// response is done by the time it is retrieved.
func (x *exchange) getResponse() {
	if !x.admit(0) {
		return
	}
	rs, ok := x.storedResponse()
	if !ok {
		return
	}
	rs.mu.Lock()
	if rs.status == "queued" {
		rs.status = rs.finalStatus()
	}
	status := rs.status
	rs.mu.Unlock()
	x.writeJSON(http.StatusOK, rs.appendObject(nil, status))
}

// deleteResponse answers DELETE /v1/responses/{id}.
func (x *exchange) deleteResponse() {
	if !x.admit(0) {
		return
	}
	if _, ok := x.storedResponse(); !ok {
		return
	}
	x.s.responses.remove(x.id)
	b := append([]byte(`{"id":`), translate.AppendString(nil, x.id)...)
	x.writeJSON(http.StatusOK, append(b, `,"object":"response","deleted":true}`...))
}

// cancelResponse answers POST /v1/responses/{id}/cancel. Only a background
// response can be cancelled; one that is done already stays as it is.
func (x *exchange) cancelResponse() {
	if !x.admit(0) {
		return
	}
	rs, ok := x.storedResponse()
	if !ok {
		return
	}
	if !rs.background {
		x.fail(x.invalid("Cannot cancel a synchronous response."))
		return
	}
	rs.mu.Lock()
	if rs.status == "queued" || rs.status == "in_progress" {
		rs.status = "cancelled"
	}
	status := rs.status
	rs.mu.Unlock()
	x.writeJSON(http.StatusOK, rs.appendObject(nil, status))
}

// responseInputItems answers GET /v1/responses/{id}/input_items with the
// items of the request that created the response, newest first unless
// order=asc, limit (1 to 100, default 20) at a time after the item named
// by after.
func (x *exchange) responseInputItems() {
	if !x.admit(0) {
		return
	}
	rs, ok := x.storedResponse()
	if !ok {
		return
	}
	q := x.r.URL.Query()
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			x.fail(apiError{status: http.StatusBadRequest, typ: "invalid_request_error",
				message: "Invalid 'limit': expected an integer between 1 and 100.", param: "limit", code: "invalid_value"})
			return
		}
		limit = n
	}
	entries := slices.Clone(rs.items)
	if q.Get("order") != "asc" {
		slices.Reverse(entries)
	}
	if after := q.Get("after"); after != "" {
		// An id that isn't there lists from the start (IndexFunc is -1).
		i := slices.IndexFunc(entries, func(e storedItem) bool { return e.id == after })
		entries = entries[i+1:]
	}
	more := len(entries) > limit
	if more {
		entries = entries[:limit]
	}
	b := []byte(`{"object":"list","data":[`)
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e.json...)
	}
	b = append(b, `],"first_id":`...)
	first, last := "", ""
	if len(entries) > 0 {
		first, last = entries[0].id, entries[len(entries)-1].id
	}
	b = appendStringOrNull(b, first)
	b = append(b, `,"last_id":`...)
	b = appendStringOrNull(b, last)
	b = append(b, `,"has_more":`...)
	b = strconv.AppendBool(b, more)
	x.writeJSON(http.StatusOK, append(b, '}'))
}

// responseInputTokens answers POST /v1/responses/input_tokens: the input
// tokens a response to the same request would use, the words of the
// instructions, the input and the conversation it continues.
func (x *exchange) responseInputTokens() {
	var req responsesRequest
	if !x.decode(&req) {
		return
	}
	x.model = req.Model
	in, inputOK := parseInput(req.Input)
	prompt := in.tokens + contentWords(req.Instructions)
	if !x.admit(prompt) {
		return
	}
	if !inputOK {
		x.fail(apiError{status: http.StatusBadRequest, typ: "invalid_request_error", message: errBadInput, param: "input", code: "invalid_type"})
		return
	}
	inherited, ok := x.previousContext(req.PreviousResponseID)
	if !ok {
		return
	}
	b := append([]byte(`{"object":"response.input_tokens","input_tokens":`), strconv.Itoa(prompt+inherited)...)
	x.writeJSON(http.StatusOK, append(b, '}'))
}
