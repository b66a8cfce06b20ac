package mock

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestKeyRotation walks a key rotation: the old key, then old and new, then
// only the new one.
func TestKeyRotation(t *testing.T) {
	h := newHarness(t, Options{APIKey: "sk-old", APIKeys: []string{"sk-old", ""}})
	try := func(key string) int {
		status, _, _ := h.call("POST", "/v1/chat/completions", chatBody, "Authorization", "Bearer "+key)
		return status
	}
	tryAnthropic := func(key string) int {
		status, _, _ := h.anthropic(messagesBody, "x-api-key", key)
		return status
	}
	control := func(method, body string) (int, string) {
		req, _ := http.NewRequest(method, h.ts.URL+"/mock/keys", strings.NewReader(body))
		resp, err := h.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if _, body := control("GET", ""); !strings.Contains(body, `"count": 1`) || strings.Contains(body, "sk-") {
		t.Errorf("GET /mock/keys = %s", body)
	}
	if try("sk-old") != 200 || try("sk-new") != 401 {
		t.Error("before rotation")
	}
	if status, body := control("PUT", `{"keys":["sk-old","sk-new"]}`); status != 200 || !strings.Contains(body, `"count": 2`) {
		t.Fatalf("PUT /mock/keys = %d %s", status, body)
	}
	if try("sk-old") != 200 || try("sk-new") != 200 || tryAnthropic("sk-new") != 200 {
		t.Error("during rotation")
	}
	h.s.SetAPIKeys([]string{"sk-new"})
	if try("sk-old") != 401 || try("sk-new") != 200 || tryAnthropic("sk-old") != 401 {
		t.Error("after rotation")
	}
	if status, _ := control("PUT", `{"kyes":[]}`); status != 400 {
		t.Errorf("misspelt field: %d", status)
	}
	// No keys: everyone is let in.
	if status, body := control("PUT", `{"keys":[]}`); status != 200 || !strings.Contains(body, `"count": 0`) || try("anything") != 200 {
		t.Errorf("empty key set: %d %s", status, body)
	}
	// The control routes are never counted.
	if st := h.s.Stats(); st.Paths["/mock/keys"] != 0 {
		t.Errorf("paths = %v", st.Paths)
	}
}
