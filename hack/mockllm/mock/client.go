package mock

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Client drives the /mock/ control API of a Server that runs elsewhere: a
// hack/mockllm process or a mock's pod. URL is the server's base URL
// (http://HOST:PORT); HTTP nil means http.DefaultClient. Every call returns
// an error for a status other than 2xx, with the body the server sent.
type Client struct {
	URL  string
	HTTP *http.Client
}

// SetFaults replaces the server-wide fault script (the zero Faults heals
// the server), as [Server.SetFaults] does.
func (c Client) SetFaults(ctx context.Context, f Faults) error {
	return c.do(ctx, http.MethodPost, "/mock/faults", f, nil)
}

// Stats reads the server's counters.
func (c Client) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := c.do(ctx, http.MethodGet, "/mock/stats", nil, &s)
	return s, err
}

// ResetStats zeroes the server's counters, as [Server.ResetStats] does.
func (c Client) ResetStats(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/mock/reset", nil, nil)
}

// SetAPIKeys replaces the keys the server accepts, as [Server.SetAPIKeys]
// does.
func (c Client) SetAPIKeys(ctx context.Context, keys []string) error {
	return c.do(ctx, http.MethodPut, "/mock/keys", struct {
		Keys []string `json:"keys"`
	}{keys}, nil)
}

// do sends in (when not nil) as JSON and decodes the answer into out (when
// not nil).
func (c Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.URL, "/")+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, req.URL, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, req.URL, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}
