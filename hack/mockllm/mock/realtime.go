package mock

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/coder/websocket"
)

// realtimeReadLimit bounds one WebSocket message; Realtime clients send
// audio in large ones.
const realtimeReadLimit = 16 << 20

// realtime answers GET /v1/realtime?model=...: after the key check and the
// faults, it upgrades to a WebSocket (choosing the "realtime" subprotocol
// when offered) and echoes every message back as it came, text or binary,
// until either side closes; so a test can prove that a proxy tunnels an
// upgrade both ways.
func (x *exchange) realtime() {
	x.model = x.r.URL.Query().Get("model")
	if !x.admit(0) {
		return
	}
	if !strings.EqualFold(x.r.Header.Get("Upgrade"), "websocket") {
		x.fail(apiError{status: http.StatusUpgradeRequired, typ: "invalid_request_error",
			message: "The Realtime API is a WebSocket: send Upgrade: websocket."})
		return
	}
	h := x.w.Header()
	h.Set("X-Request-Id", x.requestID)
	h.Set("X-Mock-Name", x.s.name)
	x.echoHeaders(h)
	c, err := websocket.Accept(x.w, x.r, &websocket.AcceptOptions{
		Subprotocols:       []string{"realtime"},
		InsecureSkipVerify: true, // the mock serves any origin
	})
	if err != nil {
		x.status = http.StatusBadRequest // Accept answered the bad handshake
		return
	}
	x.status = http.StatusSwitchingProtocols
	defer c.CloseNow()
	c.SetReadLimit(realtimeReadLimit)

	// Close releases the connection like any held request.
	ctx, cancel := context.WithCancel(x.r.Context())
	defer cancel()
	go func() {
		select {
		case <-x.s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) == -1 && !errors.Is(err, context.Canceled) {
				x.canceled = true
			}
			return
		}
		if err := c.Write(ctx, typ, data); err != nil {
			x.canceled = true
			return
		}
	}
}
