package main

import (
	"context"
	"fmt"
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
	ctx, cancel := controlContext()
	defer cancel()
	return m.named(m.control().SetFaults(ctx, f))
}

// Reset zeroes the mock's counters.
func (m *Mock) Reset() error {
	ctx, cancel := controlContext()
	defer cancel()
	return m.named(m.control().ResetStats(ctx))
}

// Stats reads the mock's counters.
func (m *Mock) Stats() (mock.Stats, error) {
	ctx, cancel := controlContext()
	defer cancel()
	s, err := m.control().Stats(ctx)
	return s, m.named(err)
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

// control is the client of the mock's control API.
func (m *Mock) control() mock.Client { return mock.Client{URL: m.URL} }

// controlContext bounds a call of a mock's control API.
func controlContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}

func (m *Mock) named(err error) error {
	if err != nil {
		return fmt.Errorf("mock %s: %w", m.Name, err)
	}
	return nil
}
