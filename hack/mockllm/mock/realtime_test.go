package mock

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestRealtimeEcho(t *testing.T) {
	h := newHarness(t, Options{APIKey: "sk-rt"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(h.ts.URL, "http") + "/v1/realtime?model=gpt-realtime"

	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPHeader:   http.Header{"Authorization": {"Bearer sk-rt"}},
		Subprotocols: []string{"realtime"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	if resp.StatusCode != http.StatusSwitchingProtocols || c.Subprotocol() != "realtime" ||
		resp.Header.Get("X-Mock-Path") != "/v1/realtime" || resp.Header.Get("X-Mock-Query") != "model=gpt-realtime" || resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("handshake: %d %q %v", resp.StatusCode, c.Subprotocol(), resp.Header)
	}
	for _, m := range []struct {
		typ  websocket.MessageType
		data string
	}{
		{websocket.MessageText, `{"type":"session.update","session":{"instructions":"be brief"}}`},
		{websocket.MessageBinary, "\x00\x01audio\xff"},
		{websocket.MessageText, strings.Repeat("x", 100_000)},
	} {
		if err := c.Write(ctx, m.typ, []byte(m.data)); err != nil {
			t.Fatal(err)
		}
		typ, data, err := c.Read(ctx)
		if err != nil || typ != m.typ || string(data) != m.data {
			t.Errorf("echo of %d bytes: type %v, %d bytes, %v", len(m.data), typ, len(data), err)
		}
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Errorf("close: %v", err)
	}
	h.settle()
	st := h.s.Stats()
	if st.Statuses[http.StatusSwitchingProtocols] != 1 || st.Paths["/v1/realtime"] != 1 || st.LastModel != "gpt-realtime" || st.Canceled != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestRealtimeRefusals(t *testing.T) {
	h := newHarness(t, Options{APIKey: "sk-rt"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(h.ts.URL, "http") + "/v1/realtime?model=m"

	// The key is checked before the upgrade, and so are the faults.
	for _, tc := range []struct {
		name   string
		header http.Header
		status int
	}{
		{"no key", nil, 401},
		{"wrong key", http.Header{"Authorization": {"Bearer sk-no"}}, 401},
		{"fault", http.Header{"Authorization": {"Bearer sk-rt"}, "X-Mock-Status": {"503"}}, 503},
	} {
		_, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: tc.header})
		if err == nil || resp == nil || resp.StatusCode != tc.status || resp.Header.Get("X-Mock-Path") != "/v1/realtime" {
			t.Errorf("%s: %v %v", tc.name, resp, err)
		}
	}
	// Browsers offer the key as a subprotocol.
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"realtime", "openai-insecure-api-key.sk-rt"}})
	if err != nil {
		t.Fatalf("subprotocol key: %v", err)
	}
	c.Close(websocket.StatusNormalClosure, "")

	status, _, body := h.call("GET", "/v1/realtime?model=m", "", "Authorization", "Bearer sk-rt")
	if e := decode[oaError](t, body); status != http.StatusUpgradeRequired || e.Error == nil {
		t.Errorf("plain GET: %d %s", status, body)
	}
}

func TestRealtimeClose(t *testing.T) {
	h := newHarness(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(h.ts.URL, "http")+"/v1/realtime", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	// Server.Close releases an open socket like any held request.
	h.s.Close()
	_, _, err = c.Read(ctx)
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("read after Close = %v", err)
	}
	h.settle()
}
