// Package mock is a fake LLM provider for tests, demos and benchmarks. A
// [Server] speaks the wire formats of the OpenAI and Anthropic APIs (and so
// of the OpenAI-compatible servers, such as Ollama and LM Studio) closely
// enough for their official clients, and injects scripted faults: error
// statuses, timeouts, connection resets and broken streams. The proxy under
// test can't tell it from the real thing, until it is told to fail.
//
// # Routes
//
// OpenAI:
//
//	POST /v1/chat/completions   chat.completion, or a chat.completion.chunk stream
//	POST /v1/completions        text_completion (legacy), or its stream
//	POST /v1/embeddings         a list of embeddings, float or base64
//	GET  /v1/models             the model list (Anthropic's, with anthropic-version)
//	GET  /v1/models/{id}        one model
//
// Anthropic:
//
//	POST /v1/messages               message, or the Messages event stream
//	POST /v1/messages/count_tokens  {"input_tokens":N}
//
// Every route answers any model name and echoes it back. The reply text is
// "Hello from NAME." and filler words, Options.CompletionWords long (or
// Options.CompletionBytes); max_tokens cuts it short with finish_reason
// "length" or stop_reason "max_tokens". Tokens are counted as words: prompt
// tokens are the words of the request's message texts (and Anthropic's
// system prompt), completion tokens the words of the reply, so a test can
// predict usage exactly.
//
// When a request offers tools and the user spoke last, the reply calls the
// first tool (or the one tool_choice names) with arguments made from its
// JSON schema: finish_reason "tool_calls" or stop_reason "tool_use", streamed
// as tool call or input_json_delta deltas. When the last message is a tool
// result, the reply is text, so a client's tool loop ends after one round.
//
// Options.APIKey, when set, must arrive as "Authorization: Bearer KEY"
// (OpenAI routes) or "x-api-key: KEY" (Anthropic routes); requests without it
// get the provider's 401. Anthropic routes also require the
// anthropic-version header, and max_tokens.
//
// Responses carry x-request-id (OpenAI) or request-id (Anthropic), and
// x-mock-name with Options.Name, so a test can tell which upstream answered.
//
// # Errors
//
// Error responses use each provider's body format, with the error type the
// real API uses for the status:
//
//	OpenAI     {"error":{"message":...,"type":...,"param":null,"code":...}}
//	           400 invalid_request_error, 401 invalid_request_error/invalid_api_key,
//	           404 invalid_request_error/model_not_found, 429 requests/rate_limit_exceeded
//	           (insufficient_quota with that fault), 500 and 503 server_error;
//	           502 and 524 come as Cloudflare writes them:
//	           {"error":{"code":502,"message":"Bad gateway.","param":null,"type":"cf_bad_gateway"}}
//	Anthropic  {"type":"error","error":{"type":...,"message":...},"request_id":"req_..."}
//	           400 invalid_request_error, 401 authentication_error, 402 billing_error,
//	           403 permission_error, 404 not_found_error, 413 request_too_large,
//	           429 rate_limit_error, 500 api_error, 504 timeout_error,
//	           529 overloaded_error; other statuses invalid_request_error (4xx)
//	           or api_error (5xx, so 502 and 503 too)
//
// # Faults
//
// A [Faults] script applies server-wide ([Options.Faults],
// [Server.SetFaults], POST /mock/faults). A request can also carry its own
// faults in headers, which take precedence, field by field, over the
// server-wide ones:
//
//	x-mock-status: 503,503,200          StatusSequence; the position is kept per
//	                                    distinct value (and x-mock-key), so a test
//	                                    scripts one sequence per header value
//	x-mock-key: test-42                 separates sequences that share a value
//	x-mock-fail-rate: 0.1               FailRate
//	x-mock-fail-status: 502             FailStatus
//	x-mock-latency: 50ms                Latency (a bare number is milliseconds)
//	x-mock-retry-after: 2               RetryAfter
//	x-mock-retry-after-ms: 1500         RetryAfterMs
//	x-mock-reset: 1                     Reset
//	x-mock-reset-mid-body: 1            ResetMidBody
//	x-mock-hang: 1                      HangHeaders
//	x-mock-stream-cut-after: 3          StreamCutAfter
//	x-mock-stream-error-before-content: 1   StreamErrorBeforeContent
//	x-mock-stream-error-after: 2        StreamErrorAfter
//	x-mock-insufficient-quota: 1        InsufficientQuota
//	x-mock-context-length: 1            ContextLengthExceeded
//	x-mock-down: 1                      Down
//
// Boolean headers take any value strconv.ParseBool accepts; a malformed
// header gets a 400 whose message starts with "mock:". See [Faults] for what
// each fault does and the order they apply in.
//
// # Control API
//
// Another process, such as a demo script, can steer a running server:
//
//	GET  /mock/stats    the Stats, as JSON
//	GET  /mock/faults   the server-wide Faults, as JSON
//	POST /mock/faults   replace the server-wide Faults with the JSON body, e.g.
//	                    {"status_sequence":[503,200],"latency":"50ms","down":false}
//	POST /mock/reset    ResetStats
//
// The control routes are never faulted, authenticated or counted.
package mock
