// Package appapi is what the end-to-end suite's app (test/e2e/app) reports:
// each LLM call it made through the sidecar with the official SDKs, as the
// app saw it. The app serves it as JSON on AppPort; the suite reads it.
package appapi

import "time"

// AppPort is where the app serves its reports, on the pod's IP.
const AppPort = 8080

// The kinds of call the app makes.
const (
	// Chat is a Chat Completions call with the OpenAI SDK.
	Chat = "chat"
	// Stream is a streamed Chat Completions call with the OpenAI SDK.
	Stream = "stream"
	// Messages is a Messages call with the Anthropic SDK.
	Messages = "messages"
)

// Result is one call.
type Result struct {
	Kind  string `json:"kind"`
	Model string `json:"model"`
	// OK is true when the SDK returned no error.
	OK bool `json:"ok"`
	// Status is the HTTP status the SDK got.
	Status int `json:"status"`
	// Provider and Attempts are the sidecar's x-llmroute-provider and
	// x-llmroute-attempts response headers.
	Provider string `json:"provider"`
	Attempts int    `json:"attempts"`
	// Content is the reply's text; Chunks counts a stream's content events.
	Content string    `json:"content"`
	Chunks  int       `json:"chunks,omitempty"`
	Error   string    `json:"error,omitempty"`
	Millis  float64   `json:"ms"`
	At      time.Time `json:"at"`
}

// Startup is what the app saw of the sidecar when it started, before
// anything else: the native sidecar must be serving by then.
type Startup struct {
	// SidecarStatus is the status of GET /v1/models on the sidecar, 0 when
	// it could not be reached.
	SidecarStatus int       `json:"sidecarStatus"`
	Error         string    `json:"error,omitempty"`
	At            time.Time `json:"at"`
}

// Trickle summarises the calls a steady trickle made.
type Trickle struct {
	Calls      int            `json:"calls"`
	Failures   int            `json:"failures"`
	ByProvider map[string]int `json:"byProvider"`
	Results    []Result       `json:"results"`
}
