package mock

import (
	"net/http"
	"strings"
)

// apiFormat says whose conventions a route follows: the error body, the
// credential header and the request-id header.
type apiFormat uint8

const (
	openaiFormat    apiFormat = iota
	anthropicFormat           // the routes only Anthropic has
	headerFormat              // routes both have: Anthropic's when the request carries anthropic-version
)

// route is what a request's method and path lead to.
type route struct {
	handle func(*exchange) // nil: no such route
	format apiFormat
	// pattern names a route whose path holds an id, such as
	// /v1/files/{id}, so that Stats.Paths counts it once and not per id.
	pattern string
	id      string // the id in the path
}

// statsPath is the key Stats.Paths counts the request under.
func (rt route) statsPath(path string) string {
	if rt.pattern != "" {
		return rt.pattern
	}
	return path
}

// lookup returns the route of a request. It allocates nothing for the
// routes without an id, which the benchmarks hit.
func lookup(method, path string) route {
	get, post := method == http.MethodGet, method == http.MethodPost
	switch path {
	case "/v1/chat/completions":
		switch {
		case post:
			return route{handle: (*exchange).chatCompletions}
		case get:
			return route{handle: (*exchange).listChatCompletions}
		}
	case "/v1/completions":
		if post {
			return route{handle: (*exchange).completions}
		}
	case "/v1/embeddings":
		if post {
			return route{handle: (*exchange).embeddings}
		}
	case "/v1/responses":
		if post {
			return route{handle: (*exchange).createResponse}
		}
	case "/v1/responses/input_tokens":
		if post {
			return route{handle: (*exchange).responseInputTokens}
		}
	case "/v1/images/generations":
		if post {
			return route{handle: (*exchange).generateImages}
		}
	case "/v1/audio/speech":
		if post {
			return route{handle: (*exchange).speech}
		}
	case "/v1/audio/transcriptions", "/v1/audio/translations":
		if post {
			return route{handle: (*exchange).transcription}
		}
	case "/v1/moderations":
		if post {
			return route{handle: (*exchange).moderations}
		}
	case "/v1/batches":
		switch {
		case post:
			return route{handle: (*exchange).createBatch}
		case get:
			return route{handle: (*exchange).listBatches}
		}
	case "/v1/realtime":
		if get {
			return route{handle: (*exchange).realtime}
		}
	case "/v1/files":
		switch {
		case post:
			return route{handle: (*exchange).uploadFile, format: headerFormat}
		case get:
			return route{handle: (*exchange).listFiles, format: headerFormat}
		}
	case "/v1/models":
		if get {
			return route{handle: (*exchange).listModels, format: headerFormat}
		}
	case "/v1/messages":
		if post {
			return route{handle: (*exchange).messages, format: anthropicFormat}
		}
	case "/v1/messages/count_tokens":
		if post {
			return route{handle: (*exchange).countTokens, format: anthropicFormat}
		}
	case "/v1/messages/batches":
		switch {
		case post:
			return route{handle: (*exchange).createMessageBatch, format: anthropicFormat}
		case get:
			return route{handle: (*exchange).listMessageBatches, format: anthropicFormat}
		}
	case "/v1/echo":
		return route{handle: (*exchange).echo, format: headerFormat}
	}
	return lookupID(method, path)
}

// lookupID returns the route of a path that holds an id.
func lookupID(method string, path string) route {
	get, post, del := method == http.MethodGet, method == http.MethodPost, method == http.MethodDelete
	if id, sub, ok := splitID(path, "/v1/responses/"); ok {
		switch {
		case sub == "" && get:
			return route{handle: (*exchange).getResponse, pattern: "/v1/responses/{id}", id: id}
		case sub == "" && del:
			return route{handle: (*exchange).deleteResponse, pattern: "/v1/responses/{id}", id: id}
		case sub == "input_items" && get:
			return route{handle: (*exchange).responseInputItems, pattern: "/v1/responses/{id}/input_items", id: id}
		case sub == "cancel" && post:
			return route{handle: (*exchange).cancelResponse, pattern: "/v1/responses/{id}/cancel", id: id}
		}
	}
	if id, sub, ok := splitID(path, "/v1/files/"); ok {
		switch {
		case sub == "" && get:
			return route{handle: (*exchange).getFile, format: headerFormat, pattern: "/v1/files/{id}", id: id}
		case sub == "" && del:
			return route{handle: (*exchange).deleteFile, format: headerFormat, pattern: "/v1/files/{id}", id: id}
		case sub == "content" && get:
			return route{handle: (*exchange).fileContent, format: headerFormat, pattern: "/v1/files/{id}/content", id: id}
		}
	}
	if id, sub, ok := splitID(path, "/v1/batches/"); ok && sub == "" && get {
		return route{handle: (*exchange).getBatch, pattern: "/v1/batches/{id}", id: id}
	}
	if id, sub, ok := splitID(path, "/v1/messages/batches/"); ok {
		switch {
		case sub == "" && get:
			return route{handle: (*exchange).getMessageBatch, format: anthropicFormat, pattern: "/v1/messages/batches/{id}", id: id}
		case sub == "results" && get:
			return route{handle: (*exchange).messageBatchResults, format: anthropicFormat, pattern: "/v1/messages/batches/{id}/results", id: id}
		}
	}
	if id, ok := strings.CutPrefix(path, "/v1/models/"); ok && id != "" && get {
		// Model ids may hold slashes (org/model), so the id is the rest.
		return route{handle: (*exchange).getModel, format: headerFormat, pattern: "/v1/models/{id}", id: id}
	}
	if strings.HasPrefix(path, "/v1/echo/") {
		return route{handle: (*exchange).echo, format: headerFormat}
	}
	if strings.HasPrefix(path, "/v1/messages") {
		return route{format: anthropicFormat}
	}
	return route{format: headerFormat}
}

// splitID cuts path, which starts with prefix, into the id that follows the
// prefix and the rest after a slash: "/v1/files/file-1/content" with prefix
// "/v1/files/" is "file-1", "content".
func splitID(path, prefix string) (id, sub string, ok bool) {
	rest, ok := strings.CutPrefix(path, prefix)
	if !ok || rest == "" {
		return "", "", false
	}
	id, sub, _ = strings.Cut(rest, "/")
	return id, sub, id != ""
}
