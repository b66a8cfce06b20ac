package mock

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/osmen-ai/llmroute/sidecar/translate"
)

// moderationCategories are the categories a moderation result scores, in
// the order OpenAI lists them.
var moderationCategories = []string{"harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
	"self-harm", "self-harm/intent", "self-harm/instructions", "sexual", "sexual/minors", "violence", "violence/graphic"}

// moderationFlag is the text that gets an input flagged, for violence, so
// that a test can script both outcomes.
const moderationFlag = "mock:flag"

// moderations answers POST /v1/moderations with one result per input: a
// string, an array of strings, or an array of text and image parts (one
// result for them all). Nothing is flagged unless it contains "mock:flag".
func (x *exchange) moderations() {
	var req struct {
		Model string          `json:"model"`
		Input json.RawMessage `json:"input"`
	}
	if !x.decode(&req) {
		return
	}
	if req.Model == "" {
		req.Model = "omni-moderation-latest"
	}
	x.model = req.Model
	words := contentWords(req.Input)
	if !x.admit(words) {
		return
	}
	var texts []string
	var one string
	var many []json.RawMessage
	switch {
	case json.Unmarshal(req.Input, &one) == nil:
		texts = []string{one}
	case json.Unmarshal(req.Input, &many) == nil && len(many) > 0:
		if many[0][0] == '"' {
			for _, m := range many {
				var s string
				_ = json.Unmarshal(m, &s)
				texts = append(texts, s)
			}
		} else {
			texts = []string{string(req.Input)} // parts: one result
		}
	default:
		x.fail(missingParameter("input"))
		return
	}
	b := append([]byte(`{"id":`), translate.AppendString(nil, randomID("modr-", 29))...)
	b = append(b, `,"model":`...)
	b = translate.AppendString(b, req.Model)
	b = append(b, `,"results":[`...)
	for i, t := range texts {
		if i > 0 {
			b = append(b, ',')
		}
		flagged := strings.Contains(t, moderationFlag)
		b = append(b, `{"flagged":`...)
		b = strconv.AppendBool(b, flagged)
		b = append(b, `,"categories":{`...)
		for j, c := range moderationCategories {
			if j > 0 {
				b = append(b, ',')
			}
			b = translate.AppendString(b, c)
			b = append(b, ':')
			b = strconv.AppendBool(b, flagged && c == "violence")
		}
		b = append(b, `},"category_scores":{`...)
		for j, c := range moderationCategories {
			if j > 0 {
				b = append(b, ',')
			}
			b = translate.AppendString(b, c)
			if flagged && c == "violence" {
				b = append(b, ":0.99"...)
			} else {
				b = append(b, ":0.0001"...)
			}
		}
		b = append(b, `},"category_applied_input_types":{`...)
		for j, c := range moderationCategories {
			if j > 0 {
				b = append(b, ',')
			}
			b = translate.AppendString(b, c)
			b = append(b, `:["text"]`...)
		}
		b = append(b, "}}"...)
	}
	x.writeJSON(http.StatusOK, append(b, "]}"...))
}
