package translate

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Error bodies and stream error events in both formats.
//
//	OpenAI:    {"error":{"message":…,"type":…,"param":null,"code":…}}
//	Anthropic: {"type":"error","error":{"type":…,"message":…}}
//
// In a stream, OpenAI's SDKs raise on any data event whose JSON has a
// top-level "error" (the Python SDK also on `event: error`); Anthropic sends
// `event: error` with its error body. The SDKs pick their exception class
// from the HTTP status, so the types below are informative: they keep the
// category, and OpenAI's codes carry the conditions applications test for
// (rate_limit_exceeded, insufficient_quota, invalid_api_key,
// context_length_exceeded, model_not_found).

// streamFailed is the message of a backend's stream error event that has
// none.
const streamFailed = "the backend stream failed"

// maxErrorText caps the message taken from a body that is not JSON (an HTML
// page from a gateway, say).
const maxErrorText = 1024

// openAIError maps an Anthropic error type to OpenAI's type and code ("" for
// a null code).
func openAIError(anthropicType, message string) (typ, code string) {
	switch anthropicType {
	case "invalid_request_error":
		if contextTooLong(message) {
			return "invalid_request_error", "context_length_exceeded"
		}
		return "invalid_request_error", ""
	case "authentication_error":
		return "authentication_error", "invalid_api_key"
	case "billing_error":
		return "insufficient_quota", "insufficient_quota"
	case "permission_error":
		return "permission_error", ""
	case "not_found_error":
		if strings.Contains(message, "model") {
			return "invalid_request_error", "model_not_found"
		}
		return "not_found_error", ""
	case "conflict_error":
		return "conflict_error", ""
	case "request_too_large":
		return "invalid_request_error", "request_too_large"
	case "rate_limit_error":
		return "rate_limit_error", "rate_limit_exceeded"
	case "overloaded_error", "api_error", "timeout_error", "":
		return "server_error", ""
	}
	return anthropicType, ""
}

// contextTooLong recognises Anthropic's messages for a prompt over the
// context window ("prompt is too long: 210000 tokens > 200000 maximum").
func contextTooLong(message string) bool {
	return strings.Contains(message, "prompt is too long") ||
		strings.Contains(message, "exceed context limit") ||
		strings.Contains(message, "context window")
}

// anthropicError maps an HTTP status and OpenAI's type and code to an
// Anthropic error type. status is 0 for an error inside a stream.
func anthropicError(status int, typ, code string) string {
	switch {
	case code == "invalid_api_key" || typ == "authentication_error" || status == http.StatusUnauthorized:
		return "authentication_error"
	case code == "insufficient_quota" || typ == "insufficient_quota" || status == http.StatusPaymentRequired:
		return "billing_error"
	case code == "rate_limit_exceeded" || typ == "rate_limit_error" || typ == "requests" || typ == "tokens" || status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case code == "context_length_exceeded":
		return "invalid_request_error"
	case status == http.StatusForbidden || typ == "permission_error":
		return "permission_error"
	case status == http.StatusNotFound || code == "model_not_found":
		return "not_found_error"
	case status == http.StatusConflict:
		return "conflict_error"
	case status == http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case status == http.StatusServiceUnavailable || status == 529:
		return "overloaded_error"
	case status == http.StatusGatewayTimeout:
		return "timeout_error"
	case status >= 500 || typ == "server_error":
		return "api_error"
	case status == 0 && typ != "invalid_request_error":
		return "api_error"
	}
	return "invalid_request_error"
}

func appendOpenAIError(dst []byte, typ, code, message string) []byte {
	dst = append(dst, `{"error":{"message":`...)
	dst = AppendString(dst, message)
	dst = append(dst, `,"type":`...)
	dst = AppendString(dst, typ)
	dst = append(dst, `,"param":null,"code":`...)
	if code == "" {
		dst = append(dst, "null"...)
	} else {
		dst = AppendString(dst, code)
	}
	return append(dst, "}}"...)
}

func appendAnthropicError(dst []byte, typ, message string) []byte {
	dst = append(dst, `{"type":"error","error":{"type":`...)
	dst = AppendString(dst, typ)
	dst = append(dst, `,"message":`...)
	dst = AppendString(dst, message)
	return append(dst, "}}"...)
}

// parsedError is what ConvertError reads from an error body of either format
// (both keep message and type under "error"), or from the shapes gateways
// use: {"error":"text"} and {"message":"text"}.
type parsedError struct {
	message, typ, code string
}

func parseError(status int, body []byte) parsedError {
	var top struct {
		Error   json.RawMessage `json:"error"`
		Message *string         `json:"message"`
	}
	var p parsedError
	if json.Unmarshal(body, &top) == nil {
		switch firstByte(top.Error) {
		case '{':
			var e struct {
				Message json.RawMessage `json:"message"`
				Type    string          `json:"type"`
				Code    json.RawMessage `json:"code"`
			}
			if json.Unmarshal(top.Error, &e) == nil {
				p.typ = e.Type
				p.message = jsonText(e.Message)
				p.code = jsonText(e.Code)
			}
		case '"':
			p.message = jsonText(top.Error)
		}
		if p.message == "" && top.Message != nil {
			p.message = *top.Message
		}
	}
	if p.message == "" {
		p.message = strings.TrimSpace(string(body))
		if !utf8.ValidString(p.message) {
			p.message = strings.ToValidUTF8(p.message, "\uFFFD")
		}
		if len(p.message) > maxErrorText {
			p.message = strings.ToValidUTF8(p.message[:maxErrorText], "") + "…"
		}
	}
	if p.message == "" {
		p.message = http.StatusText(status)
	}
	if p.message == "" {
		p.message = "upstream error"
	}
	return p
}

// jsonText renders a JSON string as its text and any other scalar (a
// numeric code, say) as its JSON; null and absence as "".
func jsonText(raw json.RawMessage) string {
	if isNull(raw) {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if c := firstByte(raw); c == '{' || c == '[' {
		return compactString(raw)
	}
	return string(bytes.TrimSpace(raw))
}

// convertError turns a backend error body (status and body in the backend's
// format) into the client's format, keeping the message and mapping the type.
// A non-empty message replaces the backend's in what is written; the
// mapping still reads the backend's own (it tells a context overflow or a
// missing model apart). A body that cannot be read keeps its text as the
// message. Between formats of one family with no new message, body is
// returned as it is.
func convertError(client, backend Format, status int, body []byte, message string) []byte {
	if client.Family() == backend.Family() && message == "" {
		return body
	}
	p := parseError(status, body)
	text := p.message
	if message != "" {
		text = message
	}
	if client.Family() == AnthropicFamily {
		typ := p.typ
		if backend.Family() != AnthropicFamily || typ == "" || typ == "error" {
			typ = anthropicError(status, p.typ, p.code)
		}
		return appendAnthropicError(nil, typ, text)
	}
	if backend.Family() == OpenAIFamily && p.typ != "" {
		return appendOpenAIError(nil, p.typ, p.code, text)
	}
	typ := p.typ
	if typ == "" || typ == "error" {
		typ = anthropicError(status, "", "")
	}
	oaType, code := openAIError(typ, p.message)
	return appendOpenAIError(nil, oaType, code, text)
}

// appendStreamError appends an error event in the client's format f, to end
// a stream that failed after content was sent. An empty errType is the
// format's generic server error. seq is the event's sequence_number, which
// Responses events carry. A chat stream's error is not followed by [DONE]:
// [DONE] marks a complete answer, and the SDKs stop at the error anyway.
func appendStreamError(dst []byte, f Format, seq int64, errType, message string) []byte {
	switch f {
	case Messages:
		if errType == "" {
			errType = "api_error"
		}
		dst = append(dst, "event: error\ndata: "...)
		dst = appendAnthropicError(dst, errType, message)
	case Responses:
		if errType == "" {
			errType = "server_error"
		}
		dst = append(dst, "event: error\ndata: {\"type\":\"error\",\"code\":"...)
		dst = AppendString(dst, errType)
		dst = append(dst, `,"message":`...)
		dst = AppendString(dst, message)
		dst = append(dst, `,"param":null,"sequence_number":`...)
		dst = appendInt(dst, seq)
		dst = append(dst, '}')
	default:
		if errType == "" {
			errType = "server_error"
		}
		dst = append(dst, "data: "...)
		dst = appendOpenAIError(dst, errType, "", message)
	}
	return append(dst, "\n\n"...)
}

// appendOpenAIStreamError writes an OpenAI error event for the data of an
// Anthropic error event.
func appendOpenAIStreamError(dst, data []byte) []byte {
	typ, message := readAnthropicStreamError(data)
	oaType, code := openAIError(typ, message)
	dst = append(dst, "data: "...)
	dst = appendOpenAIError(dst, oaType, code, message)
	return append(dst, "\n\n"...)
}

// appendAnthropicStreamErrorFromOpenAI writes an Anthropic error event for
// the "error" value of an OpenAI chunk.
func appendAnthropicStreamErrorFromOpenAI(dst, errVal []byte) []byte {
	typ, code, message := readChatStreamError(errVal)
	dst = append(dst, "event: error\ndata: "...)
	dst = appendAnthropicError(dst, anthropicError(0, typ, code), message)
	return append(dst, "\n\n"...)
}

// ErrorMessage is the human-readable message of an error body or error event
// of any format ({"error":{"message"}}, a Responses error event's top-level
// message, a gateway's {"error":"text"}), or its text when it is not JSON.
func ErrorMessage(body []byte) string {
	return parseError(0, body).message
}
