package mock

import (
	"maps"
	"sync"
)

// Stats counts what a [Server] saw and did since it started or since its
// last [Server.ResetStats]. Requests to the /mock/ control API are not
// counted.
type Stats struct {
	// Name is the server's Options.Name.
	Name string `json:"name"`
	// Requests counts the API requests received.
	Requests int64 `json:"requests"`
	// InFlight counts the requests being served now.
	InFlight int64 `json:"in_flight"`
	// Paths counts requests by URL path; a path that holds an id counts
	// under its route's pattern, such as "/v1/models/{id}".
	Paths map[string]int64 `json:"paths"`
	// Statuses counts the statuses sent in response headers. A request that
	// got no headers (reset, hung, client gone) counts under none.
	Statuses map[int]int64 `json:"statuses"`
	// Faults counts injected faults by name: "status_sequence", "fail_rate",
	// "down", "reset", "reset_mid_body", "hang", "stream_cut",
	// "stream_error", "stream_error_after", "insufficient_quota",
	// "context_length", "latency".
	Faults map[string]int64 `json:"faults"`
	// Streams counts streaming responses begun; StreamsCompleted those that
	// reached their terminating event.
	Streams          int64 `json:"streams"`
	StreamsCompleted int64 `json:"streams_completed"`
	// Resets counts connections the server dropped on purpose: Reset,
	// ResetMidBody and stream cuts.
	Resets int64 `json:"resets"`
	// Hangs counts requests held by HangHeaders.
	Hangs int64 `json:"hangs"`
	// Canceled counts requests whose client went away before the response
	// was complete.
	Canceled int64 `json:"canceled"`
	// LastAuthorization and LastAPIKey are the Authorization and x-api-key
	// headers of the latest request, kept so a test can check which
	// credential reached the upstream. LastModel is its model.
	LastAuthorization string `json:"last_authorization"`
	LastAPIKey        string `json:"last_api_key"`
	LastModel         string `json:"last_model"`
}

// counters is the live, lock-guarded form of Stats.
type counters struct {
	mu sync.Mutex
	s  Stats
}

func (c *counters) reset(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	inFlight := c.s.InFlight
	c.s = Stats{
		Name:     name,
		InFlight: inFlight,
		Paths:    map[string]int64{},
		Statuses: map[int]int64{},
		Faults:   map[string]int64{},
	}
}

func (c *counters) begin(x *exchange, path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Requests++
	c.s.InFlight++
	c.s.Paths[path]++
	c.s.LastAuthorization = x.r.Header.Get("Authorization")
	c.s.LastAPIKey = x.r.Header.Get("X-Api-Key")
}

func (c *counters) end(x *exchange) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.InFlight--
	if x.status != 0 {
		c.s.Statuses[x.status]++
	}
	for _, f := range x.faults {
		c.s.Faults[f]++
	}
	if x.model != "" {
		c.s.LastModel = x.model
	}
	if x.stream {
		c.s.Streams++
	}
	if x.streamDone {
		c.s.StreamsCompleted++
	}
	if x.reset {
		c.s.Resets++
	}
	if x.hung {
		c.s.Hangs++
	}
	if x.canceled {
		c.s.Canceled++
	}
}

func (c *counters) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.s
	s.Paths = maps.Clone(c.s.Paths)
	s.Statuses = maps.Clone(c.s.Statuses)
	s.Faults = maps.Clone(c.s.Faults)
	return s
}
