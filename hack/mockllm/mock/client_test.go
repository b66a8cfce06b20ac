package mock

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestClient(t *testing.T) {
	h := newHarness(t, Options{Name: "remote"})
	c := Client{URL: h.ts.URL}
	ctx := t.Context()

	if err := c.SetFaults(ctx, Faults{StatusSequence: []int{429}, Latency: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if f := h.s.Faults(); !slices.Equal(f.StatusSequence, []int{429}) || f.Latency != time.Millisecond {
		t.Errorf("faults after SetFaults = %+v", f)
	}
	if status, _, _ := h.call("POST", "/v1/chat/completions", chatBody); status != 429 {
		t.Errorf("first call: %d, want the scripted 429", status)
	}
	st, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "remote" || st.Requests != 1 || st.Statuses[429] != 1 || st.Faults["status_sequence"] != 1 {
		t.Errorf("Stats = %+v", st)
	}
	if err := c.ResetStats(ctx); err != nil {
		t.Fatal(err)
	}
	if st := h.s.Stats(); st.Requests != 0 {
		t.Errorf("Requests after ResetStats = %d", st.Requests)
	}

	if err := c.SetAPIKeys(ctx, []string{"sk-new"}); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := h.call("POST", "/v1/chat/completions", chatBody, "Authorization", "Bearer sk-new"); status != http.StatusOK {
		t.Errorf("call with the new key: %d", status)
	}
	if status, _, _ := h.call("POST", "/v1/chat/completions", chatBody, "Authorization", "Bearer sk-old"); status != http.StatusUnauthorized {
		t.Errorf("call with another key: %d, want 401", status)
	}

	// A refusal is an error that carries what the server said.
	bad := Client{URL: h.ts.URL + "/nope"}
	if _, err := bad.Stats(ctx); err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "Invalid URL") {
		t.Errorf("Stats of a wrong URL: %v", err)
	}
}
