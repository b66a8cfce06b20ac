package mock

import (
	"github.com/osmen-ai/llmroute/sidecar/translate"
	"net/http"
	"strconv"
)

// apiError is an error response in the abstract; each provider renders it in
// its own body format.
type apiError struct {
	status  int
	typ     string // OpenAI error.type, Anthropic error.error.type
	message string
	param   string // OpenAI error.param; empty renders null
	code    string // OpenAI error.code; empty renders null
	// cloudflare marks the errors OpenAI's edge answers itself, whose body
	// has a numeric code and its keys in another order.
	cloudflare bool
}

// openaiError returns the error OpenAI sends for status, in the words of the
// real API where they are known.
func openaiError(status int, model string) apiError {
	e := apiError{status: status, typ: "invalid_request_error"}
	switch status {
	case http.StatusBadRequest:
		e.message = "Invalid request."
	case http.StatusUnauthorized:
		e.message = "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."
		e.code = "invalid_api_key"
	case http.StatusForbidden:
		e.message = "Project does not have access to model `" + model + "`"
		e.code = "model_not_found"
	case http.StatusNotFound:
		e.message = "The model `" + model + "` does not exist or you do not have access to it."
		e.code = "model_not_found"
	case http.StatusTooManyRequests:
		e.typ = "requests"
		e.code = "rate_limit_exceeded"
		e.message = "Rate limit reached for " + model + " in organization org-mock on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s. Visit https://platform.openai.com/account/rate-limits to learn more."
	case http.StatusInternalServerError:
		e.typ = "server_error"
		e.message = "The server had an error while processing your request. Sorry about that!"
	case http.StatusBadGateway:
		e.typ, e.message, e.cloudflare = "cf_bad_gateway", "Bad gateway.", true
	case http.StatusServiceUnavailable:
		e.typ = "server_error"
		e.message = "The engine is currently overloaded, please try again later."
	case 520, 521, 522, 523:
		e.typ, e.message, e.cloudflare = "cf_service_unavailable", "Service unavailable.", true
	case 524:
		e.typ, e.message, e.cloudflare = "cf_gateway_timeout", "Gateway timeout.", true
	default:
		if status >= 500 {
			e.typ = "server_error"
		}
		e.message = http.StatusText(status)
		if e.message == "" {
			e.message = "Error " + strconv.Itoa(status) + "."
		}
	}
	return e
}

// openaiQuota is the 429 an account out of credit gets: same status as a
// rate limit, but retrying won't help.
func openaiQuota() apiError {
	return apiError{
		status:  http.StatusTooManyRequests,
		typ:     "insufficient_quota",
		code:    "insufficient_quota",
		message: "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
	}
}

func openaiContextLength(promptTokens int) apiError {
	return apiError{
		status:  http.StatusBadRequest,
		typ:     "invalid_request_error",
		param:   "messages",
		code:    "context_length_exceeded",
		message: "This model's maximum context length is 128000 tokens. However, your messages resulted in " + strconv.Itoa(128001+promptTokens) + " tokens. Please reduce the length of the messages.",
	}
}

// appendOpenAIError renders e as OpenAI does:
// {"error":{"message":...,"type":...,"param":null,"code":...}}.
func appendOpenAIError(b []byte, e apiError) []byte {
	if e.cloudflare {
		b = append(b, `{"error":{"code":`...)
		b = strconv.AppendInt(b, int64(e.status), 10)
		b = append(b, `,"message":`...)
		b = translate.AppendString(b, e.message)
		b = append(b, `,"param":null,"type":`...)
		b = translate.AppendString(b, e.typ)
		return append(b, `}}`...)
	}
	b = append(b, `{"error":{"message":`...)
	b = translate.AppendString(b, e.message)
	b = append(b, `,"type":`...)
	b = translate.AppendString(b, e.typ)
	b = append(b, `,"param":`...)
	b = appendStringOrNull(b, e.param)
	b = append(b, `,"code":`...)
	b = appendStringOrNull(b, e.code)
	return append(b, `}}`...)
}

// anthropicError returns the error Anthropic sends for status. The status to
// type mapping follows Anthropic's error documentation; statuses it doesn't
// list get invalid_request_error (4xx) or api_error (5xx), as it says.
func anthropicError(status int) apiError {
	e := apiError{status: status}
	switch status {
	case http.StatusBadRequest:
		e.typ, e.message = "invalid_request_error", "Invalid request."
	case http.StatusUnauthorized:
		e.typ, e.message = "authentication_error", "invalid x-api-key"
	case http.StatusPaymentRequired:
		e.typ, e.message = "billing_error", "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."
	case http.StatusForbidden:
		e.typ, e.message = "permission_error", "Your API key does not have permission to use the specified resource."
	case http.StatusNotFound:
		e.typ, e.message = "not_found_error", "The requested resource could not be found."
	case http.StatusRequestEntityTooLarge:
		e.typ, e.message = "request_too_large", "Request exceeds the maximum allowed number of bytes."
	case http.StatusTooManyRequests:
		e.typ, e.message = "rate_limit_error", "Number of requests has exceeded your per-minute rate limit (https://docs.anthropic.com/en/api/rate-limits); see the response headers for current usage. Please try again later."
	case http.StatusInternalServerError:
		e.typ, e.message = "api_error", "Internal server error"
	case http.StatusGatewayTimeout:
		e.typ, e.message = "timeout_error", "Request timed out"
	case 529:
		e.typ, e.message = "overloaded_error", "Overloaded"
	default:
		e.typ = "invalid_request_error"
		if status >= 500 {
			e.typ = "api_error"
		}
		e.message = http.StatusText(status)
		if e.message == "" {
			e.message = "Error " + strconv.Itoa(status)
		}
	}
	return e
}

func anthropicInvalid(message string) apiError {
	return apiError{status: http.StatusBadRequest, typ: "invalid_request_error", message: message}
}

// appendAnthropicError renders e as Anthropic does:
// {"type":"error","error":{"type":...,"message":...},"request_id":...}.
func appendAnthropicError(b []byte, e apiError, requestID string) []byte {
	b = append(b, `{"type":"error","error":{"type":`...)
	b = translate.AppendString(b, e.typ)
	b = append(b, `,"message":`...)
	b = translate.AppendString(b, e.message)
	b = append(b, `},"request_id":`...)
	b = appendStringOrNull(b, requestID)
	return append(b, '}')
}

func appendStringOrNull(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return translate.AppendString(b, s)
}

// retryable reports the statuses that carry Retry-After when a fault sets it.
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || status == 529
}
