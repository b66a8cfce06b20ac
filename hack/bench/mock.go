package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/osmen-ai/llmroute/hack/mockllm/mock"
	"github.com/osmen-ai/llmroute/hack/process"
)

// Mock is a running hack/mockllm: the fake provider every section calls.
type Mock struct {
	*Proc
	URL string // http://ADDR
}

// StartMock runs hack/mockllm on a loopback port of its choosing with the
// given flags.
func (h *Harness) StartMock(ctx context.Context, name string, flags ...string) (*Mock, error) {
	argv := append([]string{h.Mock, "--listen", "127.0.0.1:0", "--name", name, "--quiet"}, flags...)
	p, err := h.Start(ctx, "mock-"+name, argv, nil, process.ListeningOn("mockllm "+name+" listening on"))
	if err != nil {
		return nil, err
	}
	return &Mock{Proc: p, URL: "http://" + p.Addr}, nil
}

// BaseURL is what a sidecar provider's baseURL is for this mock.
func (m *Mock) BaseURL() string { return m.URL + "/v1" }

// SetFaults replaces the mock's server-wide faults (the zero Faults heals it).
func (m *Mock) SetFaults(f mock.Faults) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return m.control(http.MethodPost, "/mock/faults", b, nil)
}

// Reset zeroes the mock's counters.
func (m *Mock) Reset() error { return m.control(http.MethodPost, "/mock/reset", nil, nil) }

// Stats reads the mock's counters.
func (m *Mock) Stats() (mock.Stats, error) {
	var s mock.Stats
	err := m.control(http.MethodGet, "/mock/stats", nil, &s)
	return s, err
}

// Requests is the number of API requests the mock has received, or -1 when
// its stats cannot be read.
func (m *Mock) Requests() int64 {
	s, err := m.Stats()
	if err != nil {
		return -1
	}
	return s.Requests
}

func (m *Mock) control(method, path string, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, m.URL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("mock %s: %w", m.Name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("mock %s: %s %s: %s: %s", m.Name, method, path, resp.Status, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}
