package mock

import (
	"encoding/json"
	"github.com/osmen-ai/llmroute/sidecar/translate"
	"slices"
)

// toolCall is the call the mock makes when a request offers tools: the first
// tool (or the one tool_choice names), with arguments made up from its JSON
// schema.
type toolCall struct {
	id        string // call_... (tool_use's toolu_...)
	itemID    string // the Responses API's function_call item id, fc_...
	name      string
	arguments string // a JSON object
	pieces    [][]byte
}

func newToolCall(id, name string, schema json.RawMessage, chunks int) *toolCall {
	c := &toolCall{id: id, name: name, arguments: toolArguments(schema)}
	n := chunks
	if n <= 0 {
		n = max(1, countWords(c.arguments))
	}
	for _, p := range splitBytes(c.arguments, n) {
		c.pieces = append(c.pieces, translate.AppendString(nil, p))
	}
	return c
}

// tokens is the call's completion token count: the words of its arguments,
// like the mock counts any text.
func (c *toolCall) tokens() int { return countWords(c.arguments) }

// toolArguments returns a JSON object that fits schema well enough for a
// client to parse: every property, in name order, with the first enum value
// or a value of its type ("mock", 1, true, [], {}), formatted with spaces
// after colons and commas so that its word count is stable.
func toolArguments(schema json.RawMessage) string {
	var s struct {
		Properties map[string]struct {
			Type json.RawMessage   `json:"type"`
			Enum []json.RawMessage `json:"enum"`
		} `json:"properties"`
	}
	if len(schema) == 0 || json.Unmarshal(schema, &s) != nil || len(s.Properties) == 0 {
		return "{}"
	}
	names := make([]string, 0, len(s.Properties))
	for name := range s.Properties {
		names = append(names, name)
	}
	slices.Sort(names)
	b := []byte{'{'}
	for i, name := range names {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = translate.AppendString(b, name)
		b = append(b, ": "...)
		p := s.Properties[name]
		if len(p.Enum) > 0 {
			b = append(b, p.Enum[0]...)
			continue
		}
		switch schemaType(p.Type) {
		case "integer", "number":
			b = append(b, '1')
		case "boolean":
			b = append(b, "true"...)
		case "array":
			b = append(b, "[]"...)
		case "object":
			b = append(b, "{}"...)
		case "null":
			b = append(b, "null"...)
		default:
			b = append(b, `"mock"`...)
		}
	}
	return string(append(b, '}'))
}

// schemaType returns a JSON schema "type": the string, or the first non-null
// entry of a list such as ["string", "null"].
func schemaType(raw json.RawMessage) string {
	var t string
	if json.Unmarshal(raw, &t) == nil {
		return t
	}
	var ts []string
	if json.Unmarshal(raw, &ts) == nil {
		for _, t := range ts {
			if t != "null" {
				return t
			}
		}
		if len(ts) > 0 {
			return ts[0]
		}
	}
	return ""
}

// words is a message content decoded only as far as its word count, which
// the mock reports as prompt tokens.
type words int

func (w *words) UnmarshalJSON(b []byte) error {
	*w = words(contentWords(b))
	return nil
}

// contentWords counts the words of a JSON content value: a string; an array
// of strings, parts or token ids (one token each); or a part, whose "text"
// and nested "content" (Anthropic's tool results) count.
func contentWords(raw []byte) int {
	if len(raw) == 0 {
		return 0
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0
		}
		return countWords(s)
	case c == '[':
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return 0
		}
		n := 0
		for _, it := range items {
			n += contentWords(it)
		}
		return n
	case c == '{':
		var p struct {
			Text    json.RawMessage `json:"text"`
			Content json.RawMessage `json:"content"`
		}
		if json.Unmarshal(raw, &p) != nil {
			return 0
		}
		return contentWords(p.Text) + contentWords(p.Content)
	case c == '-' || c >= '0' && c <= '9':
		return 1
	}
	return 0
}
