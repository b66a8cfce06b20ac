package mock

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/osmen-ai/llmroute/sidecar/translate"
)

// The mock runs a batch's requests as it creates the batch, through its own
// routes (without faults), and reports the batch in progress until it is
// first retrieved, done from then on; so a test sees both states without
// waiting.

// batchEndpoints are the endpoints an OpenAI batch may run.
var batchEndpoints = []string{"/v1/responses", "/v1/chat/completions", "/v1/embeddings", "/v1/completions", "/v1/moderations", "/v1/images/generations"}

// batch is an OpenAI batch.
type batch struct {
	id           string
	endpoint     string
	inputFileID  string
	metadata     []byte
	created      int64
	total        int
	completed    int
	failed       int
	outputFileID string
	errorFileID  string

	mu   sync.Mutex // guards done
	done bool
}

// createBatch answers POST /v1/batches: it runs the requests of the input
// file, a JSONL file of {"custom_id", "method", "url", "body"} lines.
func (x *exchange) createBatch() {
	var req struct {
		InputFileID      string          `json:"input_file_id"`
		Endpoint         string          `json:"endpoint"`
		CompletionWindow string          `json:"completion_window"`
		Metadata         json.RawMessage `json:"metadata"`
	}
	if !x.decode(&req) {
		return
	}
	if !x.admit(0) {
		return
	}
	switch {
	case req.InputFileID == "":
		x.fail(missingParameter("input_file_id"))
		return
	case req.Endpoint == "":
		x.fail(missingParameter("endpoint"))
		return
	case req.CompletionWindow == "":
		x.fail(missingParameter("completion_window"))
		return
	case !slices.Contains(batchEndpoints, req.Endpoint):
		x.fail(apiError{status: http.StatusBadRequest, typ: "invalid_request_error",
			message: "Invalid value: '" + req.Endpoint + "'. Supported values are: '" + strings.Join(batchEndpoints, "', '") + "'.", param: "endpoint", code: "invalid_value"})
		return
	case req.CompletionWindow != "24h":
		x.fail(apiError{status: http.StatusBadRequest, typ: "invalid_request_error",
			message: "Invalid value: '" + req.CompletionWindow + "'. Supported values are: '24h'.", param: "completion_window", code: "invalid_value"})
		return
	}
	in, ok := x.s.files.get(req.InputFileID)
	if !ok || in.anthropic {
		x.fail(apiError{status: http.StatusNotFound, typ: "invalid_request_error",
			message: "No such File object: " + req.InputFileID, param: "input_file_id"})
		return
	}
	bt := &batch{
		id:          randomHexIDn("batch_", 32),
		endpoint:    req.Endpoint,
		inputFileID: req.InputFileID,
		metadata:    appendRaw(nil, req.Metadata, "null"),
		created:     time.Now().Unix(),
	}
	var out, errs []byte
	for line := range bytes.Lines(in.data) {
		if line = bytes.TrimSpace(line); len(line) == 0 {
			continue
		}
		bt.total++
		result, ok := x.runBatchLine(line, req.Endpoint)
		if ok {
			bt.completed++
			out = append(out, result...)
		} else {
			bt.failed++
			errs = append(errs, result...)
		}
	}
	if out != nil {
		bt.outputFileID = x.s.batchFile(bt.id, "output", out)
	}
	if errs != nil {
		bt.errorFileID = x.s.batchFile(bt.id, "error", errs)
	}
	x.s.batches.put(bt.id, bt)
	x.writeJSON(http.StatusOK, bt.appendJSON(nil, false))
}

// runBatchLine runs one request of a batch and returns its line of the
// output file, or of the error file when it failed.
func (x *exchange) runBatchLine(line []byte, endpoint string) ([]byte, bool) {
	var req struct {
		CustomID string          `json:"custom_id"`
		Method   string          `json:"method"`
		URL      string          `json:"url"`
		Body     json.RawMessage `json:"body"`
	}
	b := append([]byte(`{"id":`), translate.AppendString(nil, randomHexIDn("batch_req_", 32))...)
	b = append(b, `,"custom_id":`...)
	var problem string
	switch err := json.Unmarshal(line, &req); {
	case err != nil:
		problem = "invalid JSON: " + err.Error()
	case req.Method != http.MethodPost:
		problem = "method must be POST"
	case req.URL != endpoint:
		problem = "url " + req.URL + " is not the batch's endpoint " + endpoint
	}
	b = appendStringOrNull(b, req.CustomID)
	if problem != "" {
		b = append(b, `,"response":null,"error":{"code":"invalid_request","message":`...)
		b = translate.AppendString(b, problem)
		return append(b, "}}\n"...), false
	}
	header := x.r.Header.Clone()
	status, body, requestID := x.s.serveInternal(x.r.Context(), http.MethodPost, req.URL, header, req.Body)
	if !json.Valid(body) {
		body = []byte(`null`)
	}
	b = append(b, `,"response":{"status_code":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"request_id":`...)
	b = translate.AppendString(b, requestID)
	b = append(b, `,"body":`...)
	b = compact(b, body)
	return append(b, "},\"error\":null}\n"...), status < 400
}

// batchFile stores a batch's output or error file and returns its id.
func (s *Server) batchFile(batchID, kind string, data []byte) string {
	f := &storedFile{
		id:       randomID("file-", 22),
		filename: batchID + "_" + kind + ".jsonl",
		purpose:  "batch_output",
		mimeType: "application/jsonl",
		data:     data,
		created:  time.Now().Unix(),
	}
	s.putFile(f)
	return f.id
}

// appendJSON renders the batch object, validating or completed.
func (bt *batch) appendJSON(b []byte, done bool) []byte {
	stamp := func(b []byte) []byte {
		if done {
			return strconv.AppendInt(b, bt.created, 10)
		}
		return append(b, "null"...)
	}
	b = append(b, `{"id":`...)
	b = translate.AppendString(b, bt.id)
	b = append(b, `,"object":"batch","endpoint":`...)
	b = translate.AppendString(b, bt.endpoint)
	b = append(b, `,"errors":null,"input_file_id":`...)
	b = translate.AppendString(b, bt.inputFileID)
	b = append(b, `,"completion_window":"24h","status":`...)
	if done {
		b = append(b, `"completed"`...)
	} else {
		b = append(b, `"validating"`...)
	}
	b = append(b, `,"output_file_id":`...)
	if done {
		b = appendStringOrNull(b, bt.outputFileID)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"error_file_id":`...)
	if done {
		b = appendStringOrNull(b, bt.errorFileID)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"created_at":`...)
	b = strconv.AppendInt(b, bt.created, 10)
	b = append(b, `,"in_progress_at":`...)
	b = stamp(b)
	b = append(b, `,"expires_at":`...)
	b = strconv.AppendInt(b, bt.created+24*60*60, 10)
	b = append(b, `,"finalizing_at":`...)
	b = stamp(b)
	b = append(b, `,"completed_at":`...)
	b = stamp(b)
	b = append(b, `,"failed_at":null,"expired_at":null,"cancelling_at":null,"cancelled_at":null,"request_counts":{"total":`...)
	total, completed, failed := 0, 0, 0
	if done {
		total, completed, failed = bt.total, bt.completed, bt.failed
	}
	b = strconv.AppendInt(b, int64(total), 10)
	b = append(b, `,"completed":`...)
	b = strconv.AppendInt(b, int64(completed), 10)
	b = append(b, `,"failed":`...)
	b = strconv.AppendInt(b, int64(failed), 10)
	b = append(b, `},"metadata":`...)
	b = append(b, bt.metadata...)
	return append(b, '}')
}

// getBatch answers GET /v1/batches/{id}; from now on the batch is done.
func (x *exchange) getBatch() {
	if !x.admit(0) {
		return
	}
	bt, ok := x.s.batches.get(x.id)
	if !ok {
		x.fail(apiError{status: http.StatusNotFound, typ: "invalid_request_error",
			message: "No batch found with id '" + x.id + "'.", param: "batch_id"})
		return
	}
	bt.mu.Lock()
	bt.done = true
	bt.mu.Unlock()
	x.writeJSON(http.StatusOK, bt.appendJSON(nil, true))
}

// listBatches answers GET /v1/batches, newest first.
func (x *exchange) listBatches() {
	if !x.admit(0) {
		return
	}
	batches := x.s.batches.list()
	slices.Reverse(batches)
	b := []byte(`{"object":"list","data":[`)
	for i, bt := range batches {
		if i > 0 {
			b = append(b, ',')
		}
		bt.mu.Lock()
		done := bt.done
		bt.mu.Unlock()
		b = bt.appendJSON(b, done)
	}
	b = appendListEnd(b, len(batches), func(i int) string { return batches[i].id })
	x.writeJSON(http.StatusOK, b)
}

// messageBatch is an Anthropic Message Batch.
type messageBatch struct {
	id        string
	created   time.Time
	succeeded int
	errored   int
	results   []byte // JSONL, one line per request

	mu    sync.Mutex // guards ended
	ended bool
}

// createMessageBatch answers POST /v1/messages/batches: it runs each
// request's params as a Messages request.
func (x *exchange) createMessageBatch() {
	var req struct {
		Requests []struct {
			CustomID string          `json:"custom_id"`
			Params   json.RawMessage `json:"params"`
		} `json:"requests"`
	}
	if !x.decode(&req) {
		return
	}
	if !x.admit(0) {
		return
	}
	if len(req.Requests) == 0 {
		x.fail(anthropicInvalid("requests: List should have at least 1 item after validation, not 0"))
		return
	}
	mb := &messageBatch{id: randomID("msgbatch_01", 22), created: time.Now().UTC().Truncate(time.Second)}
	header := x.r.Header.Clone()
	for _, r := range req.Requests {
		status, body, _ := x.s.serveInternal(x.r.Context(), http.MethodPost, "/v1/messages", header, r.Params)
		b := append(mb.results, `{"custom_id":`...)
		b = translate.AppendString(b, r.CustomID)
		if status < 400 && json.Valid(body) {
			mb.succeeded++
			b = append(b, `,"result":{"type":"succeeded","message":`...)
		} else {
			mb.errored++
			b = append(b, `,"result":{"type":"errored","error":`...)
		}
		if !json.Valid(body) {
			body = []byte("null")
		}
		b = compact(b, body)
		mb.results = append(b, "}}\n"...)
	}
	x.s.messageBatches.put(mb.id, mb)
	x.writeJSON(http.StatusOK, mb.appendJSON(nil, false, ""))
}

// appendJSON renders the message batch, in progress or ended; an ended
// one's results are at resultsURL.
func (mb *messageBatch) appendJSON(b []byte, ended bool, resultsURL string) []byte {
	processing, succeeded, errored := mb.succeeded+mb.errored, 0, 0
	if ended {
		processing, succeeded, errored = 0, mb.succeeded, mb.errored
	}
	b = append(b, `{"id":`...)
	b = translate.AppendString(b, mb.id)
	b = append(b, `,"type":"message_batch","processing_status":`...)
	if ended {
		b = append(b, `"ended"`...)
	} else {
		b = append(b, `"in_progress"`...)
	}
	b = append(b, `,"request_counts":{"processing":`...)
	b = strconv.AppendInt(b, int64(processing), 10)
	b = append(b, `,"succeeded":`...)
	b = strconv.AppendInt(b, int64(succeeded), 10)
	b = append(b, `,"errored":`...)
	b = strconv.AppendInt(b, int64(errored), 10)
	b = append(b, `,"canceled":0,"expired":0},"ended_at":`...)
	if ended {
		b = append(b, '"')
		b = mb.created.AppendFormat(b, time.RFC3339)
		b = append(b, '"')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"created_at":"`...)
	b = mb.created.AppendFormat(b, time.RFC3339)
	b = append(b, `","expires_at":"`...)
	b = mb.created.Add(24*time.Hour).AppendFormat(b, time.RFC3339)
	b = append(b, `","archived_at":null,"cancel_initiated_at":null,"results_url":`...)
	b = appendStringOrNull(b, resultsURL)
	return append(b, '}')
}

// storedMessageBatch returns the message batch the path names, answering
// Anthropic's 404 when there is none.
func (x *exchange) storedMessageBatch() (*messageBatch, bool) {
	mb, ok := x.s.messageBatches.get(x.id)
	if !ok {
		x.fail(anthropicError(http.StatusNotFound))
	}
	return mb, ok
}

// resultsURL is where the results of message batch id are, on this server.
func (x *exchange) resultsURL(id string) string {
	scheme := "http"
	if x.r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + x.r.Host + "/v1/messages/batches/" + id + "/results"
}

// getMessageBatch answers GET /v1/messages/batches/{id}; from now on the
// batch has ended.
func (x *exchange) getMessageBatch() {
	if !x.admit(0) {
		return
	}
	mb, ok := x.storedMessageBatch()
	if !ok {
		return
	}
	mb.mu.Lock()
	mb.ended = true
	mb.mu.Unlock()
	x.writeJSON(http.StatusOK, mb.appendJSON(nil, true, x.resultsURL(mb.id)))
}

// listMessageBatches answers GET /v1/messages/batches, newest first.
func (x *exchange) listMessageBatches() {
	if !x.admit(0) {
		return
	}
	batches := x.s.messageBatches.list()
	slices.Reverse(batches)
	b := []byte(`{"data":[`)
	for i, mb := range batches {
		if i > 0 {
			b = append(b, ',')
		}
		mb.mu.Lock()
		ended := mb.ended
		mb.mu.Unlock()
		url := ""
		if ended {
			url = x.resultsURL(mb.id)
		}
		b = mb.appendJSON(b, ended, url)
	}
	b = appendListEnd(b, len(batches), func(i int) string { return batches[i].id })
	x.writeJSON(http.StatusOK, b)
}

// messageBatchResults answers GET /v1/messages/batches/{id}/results with
// the JSONL results: {"custom_id", "result": {"type": "succeeded",
// "message"}} or {"type": "errored", "error"} per request.
func (x *exchange) messageBatchResults() {
	if !x.admit(0) {
		return
	}
	if mb, ok := x.storedMessageBatch(); ok {
		x.writeBody(http.StatusOK, "application/x-jsonl", mb.results)
	}
}

// randomHexIDn returns prefix and n hex digits.
func randomHexIDn(prefix string, n int) string { return prefix + randomHex(n) }
