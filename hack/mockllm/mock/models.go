package mock

import (
	"github.com/osmen-ai/llmroute/sidecar/translate"
	"net/http"
	"strconv"
)

// The models a server lists when Options.Models is empty.
var (
	defaultOpenAIModels    = []string{"gpt-4o-mini", "gpt-4o", "text-embedding-3-small"}
	defaultAnthropicModels = []string{"claude-sonnet-4-5", "claude-haiku-4-5"}
)

// modelCreated is the creation time the mock gives every model.
const (
	modelCreated   = 1700000000
	modelCreatedAt = "2023-11-14T22:13:20Z"
)

// renderOpenAIModels renders OpenAI's model list:
// {"object":"list","data":[{"id","object":"model","created","owned_by"}]}.
func renderOpenAIModels(ids []string) []byte {
	if len(ids) == 0 {
		ids = defaultOpenAIModels
	}
	b := []byte(`{"object":"list","data":[`)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendOpenAIModel(b, id)
	}
	return append(b, "]}"...)
}

func appendOpenAIModel(b []byte, id string) []byte {
	b = append(b, `{"id":`...)
	b = translate.AppendString(b, id)
	b = append(b, `,"object":"model","created":`...)
	b = strconv.AppendInt(b, modelCreated, 10)
	return append(b, `,"owned_by":"system"}`...)
}

// renderAnthropicModels renders Anthropic's model list:
// {"data":[{"type":"model","id","display_name","created_at"}],"has_more",
// "first_id","last_id"}.
func renderAnthropicModels(ids []string) []byte {
	if len(ids) == 0 {
		ids = defaultAnthropicModels
	}
	b := []byte(`{"data":[`)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendAnthropicModel(b, id)
	}
	b = append(b, `],"has_more":false,"first_id":`...)
	b = translate.AppendString(b, ids[0])
	b = append(b, `,"last_id":`...)
	b = translate.AppendString(b, ids[len(ids)-1])
	return append(b, '}')
}

func appendAnthropicModel(b []byte, id string) []byte {
	b = append(b, `{"type":"model","id":`...)
	b = translate.AppendString(b, id)
	b = append(b, `,"display_name":`...)
	b = translate.AppendString(b, id)
	b = append(b, `,"created_at":"`+modelCreatedAt+`"}`...)
	return b
}

// listModels answers GET /v1/models, in Anthropic's format when the request
// carries an anthropic-version header, else in OpenAI's.
func (x *exchange) listModels() {
	if !x.admit(0) {
		return
	}
	if x.anthropic {
		x.writeJSON(http.StatusOK, x.s.claudes)
		return
	}
	x.writeJSON(http.StatusOK, x.s.models)
}

// getModel answers GET /v1/models/{id}. The mock has every model.
func (x *exchange) getModel() {
	id := x.id
	x.model = id
	if !x.admit(0) {
		return
	}
	if x.anthropic {
		x.writeJSON(http.StatusOK, appendAnthropicModel(nil, id))
		return
	}
	x.writeJSON(http.StatusOK, appendOpenAIModel(nil, id))
}
