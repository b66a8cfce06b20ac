package mock

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/osmen-ai/llmroute/sidecar/translate"
)

// form is a multipart/form-data request body, read.
type form struct {
	fields map[string]string
	file   *formFile // the part named "file", if any
}

type formFile struct {
	name        string
	contentType string
	data        []byte // its own copy: the request buffer is recycled
}

// readForm parses the request body as multipart/form-data, answering 400
// when it isn't.
func (x *exchange) readForm() (*form, bool) {
	ct := x.r.Header.Get("Content-Type")
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil || mediaType != "multipart/form-data" || params["boundary"] == "" {
		x.fail(x.invalid("Invalid Content-Type header (" + ct + "), expected multipart/form-data."))
		return nil, false
	}
	mr := multipart.NewReader(bytes.NewReader(*x.buf), params["boundary"])
	f := &form{fields: map[string]string{}}
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return f, true
		}
		var data []byte
		if err == nil {
			data, err = io.ReadAll(p)
		}
		if err != nil {
			x.fail(x.invalid("Could not parse multipart form: " + err.Error()))
			return nil, false
		}
		if p.FormName() == "file" {
			f.file = &formFile{name: p.FileName(), contentType: p.Header.Get("Content-Type"), data: data}
		} else {
			f.fields[p.FormName()] = string(data)
		}
	}
}

// storedFile is an uploaded file, or a batch's output. A file belongs to
// the format it was uploaded in: OpenAI's and Anthropic's Files APIs share
// a path but never see each other's files.
type storedFile struct {
	id        string
	filename  string
	purpose   string // OpenAI's
	mimeType  string
	data      []byte
	created   int64
	anthropic bool
}

// openaiPurposes are the purposes OpenAI accepts for an upload.
var openaiPurposes = []string{"assistants", "batch", "fine-tune", "vision", "user_data", "evals"}

// putFile stores f, forgetting the oldest files beyond storedFiles or
// storedFileBytes.
func (s *Server) putFile(f *storedFile) {
	s.fileBytes.Add(int64(len(f.data)))
	for _, old := range s.files.put(f.id, f) {
		s.fileBytes.Add(-int64(len(old.data)))
	}
	for s.fileBytes.Load() > storedFileBytes {
		old, ok := s.files.evictOldest()
		if !ok {
			break
		}
		s.fileBytes.Add(-int64(len(old.data)))
	}
}

// uploadFile answers POST /v1/files, a multipart upload with a file and
// (OpenAI) its purpose.
func (x *exchange) uploadFile() {
	if !x.admit(0) {
		return
	}
	form, ok := x.readForm()
	if !ok {
		return
	}
	if form.file == nil {
		if x.anthropic {
			x.fail(anthropicInvalid("file: Field required"))
		} else {
			x.fail(missingParameter("file"))
		}
		return
	}
	f := &storedFile{
		filename:  form.file.name,
		mimeType:  form.file.contentType,
		data:      form.file.data,
		created:   time.Now().Unix(),
		anthropic: x.anthropic,
	}
	if f.mimeType == "" {
		f.mimeType = "application/octet-stream"
	}
	if x.anthropic {
		f.id = randomID("file_011C", 20)
	} else {
		f.id = randomID("file-", 22)
		f.purpose = form.fields["purpose"]
		switch {
		case f.purpose == "":
			x.fail(missingParameter("purpose"))
			return
		case !slices.Contains(openaiPurposes, f.purpose):
			x.fail(apiError{status: http.StatusBadRequest, typ: "invalid_request_error",
				message: "'" + f.purpose + "' is not one of ['assistants', 'batch', 'fine-tune', 'vision', 'user_data', 'evals'] - 'purpose'", param: "purpose"})
			return
		}
	}
	x.s.putFile(f)
	x.writeJSON(http.StatusOK, f.appendJSON(nil))
}

// appendJSON renders the file's metadata: OpenAI's file object, or
// Anthropic's. The mock lets every file be downloaded.
func (f *storedFile) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = translate.AppendString(b, f.id)
	if f.anthropic {
		b = append(b, `,"type":"file","filename":`...)
		b = translate.AppendString(b, f.filename)
		b = append(b, `,"mime_type":`...)
		b = translate.AppendString(b, f.mimeType)
		b = append(b, `,"size_bytes":`...)
		b = strconv.AppendInt(b, int64(len(f.data)), 10)
		b = append(b, `,"created_at":"`...)
		b = time.Unix(f.created, 0).UTC().AppendFormat(b, time.RFC3339)
		return append(b, `","downloadable":true}`...)
	}
	b = append(b, `,"object":"file","bytes":`...)
	b = strconv.AppendInt(b, int64(len(f.data)), 10)
	b = append(b, `,"created_at":`...)
	b = strconv.AppendInt(b, f.created, 10)
	b = append(b, `,"expires_at":null,"filename":`...)
	b = translate.AppendString(b, f.filename)
	b = append(b, `,"purpose":`...)
	b = translate.AppendString(b, f.purpose)
	return append(b, `,"status":"processed","status_details":null}`...)
}

// listFiles answers GET /v1/files: the files of the request's format,
// newest first (OpenAI: unless order=asc), OpenAI's filtered by purpose.
func (x *exchange) listFiles() {
	if !x.admit(0) {
		return
	}
	q := x.r.URL.Query()
	var files []*storedFile
	for _, f := range x.s.files.list() {
		if f.anthropic == x.anthropic && (x.anthropic || q.Get("purpose") == "" || q.Get("purpose") == f.purpose) {
			files = append(files, f)
		}
	}
	if x.anthropic || q.Get("order") != "asc" {
		slices.Reverse(files)
	}
	b := []byte(`{`)
	if !x.anthropic {
		b = append(b, `"object":"list",`...)
	}
	b = append(b, `"data":[`...)
	for i, f := range files {
		if i > 0 {
			b = append(b, ',')
		}
		b = f.appendJSON(b)
	}
	b = appendListEnd(b, len(files), func(i int) string { return files[i].id })
	if x.anthropic {
		// Anthropic's newer cursor: none, as the list is whole.
		b = append(b[:len(b)-1], `,"next_page":null}`...)
	}
	x.writeJSON(http.StatusOK, b)
}

// appendListEnd closes a list's data array and adds the cursors both
// providers put after it: first_id, last_id (null when empty), has_more.
// The mock always answers the whole list.
func appendListEnd(b []byte, n int, id func(int) string) []byte {
	first, last := "", ""
	if n > 0 {
		first, last = id(0), id(n-1)
	}
	b = append(b, `],"first_id":`...)
	b = appendStringOrNull(b, first)
	b = append(b, `,"last_id":`...)
	b = appendStringOrNull(b, last)
	return append(b, `,"has_more":false}`...)
}

// storedFile returns the file the path names, answering 404 in the
// request's format when there is none.
func (x *exchange) storedFile() (*storedFile, bool) {
	f, ok := x.s.files.get(x.id)
	if ok && f.anthropic == x.anthropic {
		return f, true
	}
	if x.anthropic {
		e := anthropicError(http.StatusNotFound)
		e.message = "File not found: " + x.id
		x.fail(e)
	} else {
		x.fail(apiError{status: http.StatusNotFound, typ: "invalid_request_error",
			message: "No such File object: " + x.id, param: "id"})
	}
	return nil, false
}

// getFile answers GET /v1/files/{id}.
func (x *exchange) getFile() {
	if !x.admit(0) {
		return
	}
	if f, ok := x.storedFile(); ok {
		x.writeJSON(http.StatusOK, f.appendJSON(nil))
	}
}

// fileContent answers GET /v1/files/{id}/content with the file's bytes.
func (x *exchange) fileContent() {
	if !x.admit(0) {
		return
	}
	f, ok := x.storedFile()
	if !ok {
		return
	}
	ct := "application/octet-stream"
	if f.anthropic {
		ct = f.mimeType
	}
	x.writeBody(http.StatusOK, ct, f.data)
}

// deleteFile answers DELETE /v1/files/{id}.
func (x *exchange) deleteFile() {
	if !x.admit(0) {
		return
	}
	f, ok := x.storedFile()
	if !ok {
		return
	}
	if _, ok := x.s.files.remove(f.id); ok {
		x.s.fileBytes.Add(-int64(len(f.data)))
	}
	b := append([]byte(`{"id":`), translate.AppendString(nil, f.id)...)
	if f.anthropic {
		b = append(b, `,"type":"file_deleted"}`...)
	} else {
		b = append(b, `,"object":"file","deleted":true}`...)
	}
	x.writeJSON(http.StatusOK, b)
}
