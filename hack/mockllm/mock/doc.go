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
//	POST   /v1/chat/completions          chat.completion, or a chat.completion.chunk stream
//	GET    /v1/chat/completions          the stored chat completions: always none
//	POST   /v1/completions               text_completion (legacy), or its stream
//	POST   /v1/embeddings                a list of embeddings, float or base64
//	POST   /v1/responses                 a response, or the Responses event stream
//	GET    /v1/responses/{id}            a stored response
//	DELETE /v1/responses/{id}            {"id","object":"response","deleted":true}
//	GET    /v1/responses/{id}/input_items  the input items of a stored response
//	POST   /v1/responses/{id}/cancel     cancels a queued background response
//	POST   /v1/responses/input_tokens    {"object":"response.input_tokens","input_tokens":N}
//	POST   /v1/images/generations        n 8x8 PNGs, b64_json (or data: URLs)
//	POST   /v1/audio/speech              made-up audio, sent chunked
//	POST   /v1/audio/transcriptions      {"text"} naming the uploaded file, its size and SHA-256
//	POST   /v1/audio/translations        the same
//	POST   /v1/moderations               one result per input
//	POST   /v1/batches                   a batch, run at once (see below)
//	GET    /v1/batches, /v1/batches/{id} the batches, a batch
//	GET    /v1/realtime                  a WebSocket that echoes every message back
//
// Anthropic:
//
//	POST /v1/messages                    message, or the Messages event stream
//	POST /v1/messages/count_tokens       {"input_tokens":N}
//	POST /v1/messages/batches            a message batch, run at once (see below)
//	GET  /v1/messages/batches, /v1/messages/batches/{id}  the batches, a batch
//	GET  /v1/messages/batches/{id}/results                its results, JSONL
//
// Both, in Anthropic's format when the request carries anthropic-version:
//
//	POST   /v1/files                     a multipart upload ("file"; OpenAI also wants "purpose")
//	GET    /v1/files                     the files uploaded in the same format
//	GET    /v1/files/{id}                one's metadata
//	GET    /v1/files/{id}/content        its bytes
//	DELETE /v1/files/{id}                deletes it
//	GET    /v1/models, /v1/models/{id}   the model list, one model
//	any    /v1/echo/...                  what arrived, as JSON (see "Echo")
//
// Every route answers any model name and echoes it back. The reply text is
// "Hello from NAME." and filler words, Options.CompletionWords long (or
// Options.CompletionBytes); max_tokens (max_output_tokens) cuts it short with
// finish_reason "length", stop_reason "max_tokens" or status "incomplete".
// Tokens are counted as words: prompt tokens are the words of the request's
// message texts (Anthropic's system prompt, the Responses API's
// instructions, input items and function call outputs), completion tokens
// the words of the reply, so a test can predict usage exactly.
//
// When a request offers tools and the user spoke last, the reply calls the
// first tool (or the one tool_choice names) with arguments made from its
// JSON schema: finish_reason "tool_calls", stop_reason "tool_use" or a
// function_call output item, streamed as tool call, input_json_delta or
// function_call_arguments deltas. When the last message is a tool result (a
// function_call_output), the reply is text, so a client's tool loop ends
// after one round.
//
// Options.APIKey and Options.APIKeys, when set, are the keys accepted; they
// must arrive as "Authorization: Bearer KEY" (OpenAI routes; the Realtime
// route also takes the subprotocol "openai-insecure-api-key.KEY") or
// "x-api-key: KEY" (Anthropic routes, which also take a bearer token, as
// Anthropic's SDKs now send one); requests without one get the provider's
// 401. [Server.SetAPIKeys] and PUT /mock/keys replace the set while the
// server runs, so a test can rotate keys. Anthropic's Messages routes also
// require the anthropic-version header, and max_tokens.
//
// Options.Tokens, when set, replaces the keys: the server then accepts only
// the bearer tokens that [TokenServer] issued, while they live, and answers
// an expired, revoked or unknown one with the provider's 401 (OpenAI's
// invalid_token, Anthropic's authentication_error).
//
// Responses carry x-request-id (OpenAI) or request-id (Anthropic), and
// x-mock-name with Options.Name, so a test can tell which upstream answered.
//
// # The Responses API
//
// A response has one output item: a message with one output_text part, or
// a function_call. Its stream is, with a sequence_number on every event
// from 0 up and no [DONE] at the end:
//
//	response.created, response.in_progress, response.output_item.added,
//	response.content_part.added, response.output_text.delta (one per chunk),
//	response.output_text.done, response.content_part.done,
//	response.output_item.done, response.completed
//
// or, for a function call:
//
//	response.created, response.in_progress, response.output_item.added,
//	response.function_call_arguments.delta (one per chunk),
//	response.function_call_arguments.done, response.output_item.done,
//	response.completed
//
// and response.incomplete instead of response.completed when
// max_output_tokens cut the text. The response object repeats the
// request's settings (instructions, tools, tool_choice, temperature, text,
// metadata, ...) with OpenAI's defaults for those left out.
//
// Responses are stored unless the request says "store": false, the last
// 1000 of them. A request whose previous_response_id names none of them
// gets OpenAI's 400 previous_response_not_found; one that names a stored
// response inherits its conversation as input tokens: that response's input
// items, its output and what it inherited in turn (not its instructions).
// A "background": true request is answered "queued"; it stays queued until
// it is retrieved (then it is done) or cancelled. Cancelling a response
// made without background is a 400, as it is with OpenAI.
//
// # Batches
//
// A batch's requests run inside the server when the batch is created,
// through the same routes but without faults, stats or log lines, with the
// creating request's credentials. An OpenAI batch reads its requests from
// an uploaded JSONL file; it is "validating" until first retrieved and
// "completed" from then on, with output and error files to download. An
// Anthropic message batch is "in_progress" until first retrieved and
// "ended" from then on, its results_url pointing back at this server.
//
// # Echo
//
// Every API response, errors included, says what arrived in headers:
//
//	X-Mock-Method, X-Mock-Path, X-Mock-Query (raw)   the request line
//	X-Mock-Body-Sha256, X-Mock-Body-Bytes            the request body, hex
//	X-Mock-Content-Type                              the request's Content-Type
//	X-Mock-Header-Names                              the sorted, comma-separated canonical
//	                                                 names of the request's headers, Host
//	                                                 and Transfer-Encoding included
//
// Any method on /v1/echo/... answers {"method", "path", "query", "headers":
// {name: [values]}, "bodySha256", "bodyBytes"}, with the values of
// Authorization, X-Api-Key and Api-Key shown as "sha256:HEX" of the value.
// The WebSocket route echoes messages instead: text and binary, until
// either side closes.
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
// Inside a 200 stream, an error is OpenAI's data: {"error":{...}} (chat and
// legacy completions), the Responses API's event: error with
// {"type":"error","code":...,"message":...,"param":null,"sequence_number":N}
// (then response.failed, when the response had begun), or Anthropic's
// event: error.
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
//	PUT  /mock/keys     replace the accepted API keys with {"keys":[...]}; an
//	                    empty list lets every request in
//	GET  /mock/keys     {"count":N}, how many keys are accepted (never the keys)
//
// The control routes are never faulted, authenticated, echoed or counted.
// [Client] calls them from Go.
//
// # Token endpoints
//
// A [TokenServer] is a fake identity platform, for providers that take
// short-lived tokens instead of keys. It issues opaque tokens that expire
// after TokenOptions.Lifetime (expires_in in whole seconds, rounded up):
//
//	POST /oauth2/token       the client credentials grant (RFC 6749 §4.4): grant_type=client_credentials,
//	                         the client's secret in a Basic header or the form, or client_assertion and
//	                         client_assertion_type (RFC 7523 §2.2); scope, audience and any other field
//	                         are recorded in TokenStats.LastForm
//	POST /sts/v1/token       the token exchange (RFC 8693) as Google's STS answers it: subject_token,
//	                         subject_token_type, audience, scope, requested_token_type
//	POST /iamcredentials/v1/projects/-/serviceAccounts/ACCOUNT:generateAccessToken
//	                         Google's service account impersonation, for the bearer of a token it
//	                         issued: {"accessToken","expireTime"}
//
// Refusals are RFC 6749 §5.2 errors ({"error","error_description"}: 401
// invalid_client, 400 unsupported_grant_type, invalid_grant, invalid_target),
// and Google's error object on the impersonation route. [TokenServer.SetDown]
// scripts an outage (503 temporarily_unavailable on every token route;
// tokens issued stay valid), [TokenServer.Revoke] invalidates every token
// issued, and SetLifetime, SetClientSecret and SetClientAssertion change what
// comes next. Its control API does the same from another process:
//
//	GET  /mock/token         {"down","lifetime"}
//	POST /mock/token         {"down":true}, {"lifetime":"2s"}, {"revoke":true}
//	GET  /mock/token/stats   the TokenStats
//
// The mockllm command serves both on one listener with --issue-tokens, as
// [TokenServer.InFrontOf] puts them.
package mock
