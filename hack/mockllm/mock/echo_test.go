package mock

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestEchoRoute(t *testing.T) {
	h := newHarness(t, Options{})
	body := `{"x":1}`
	status, hdr, b := h.call("PATCH", "/v1/echo/some/path?b=2&a=1", body,
		"Authorization", "Bearer sk-secret", "X-Api-Key", "k2", "Api-Key", "k3", "X-Custom", "v1")
	if status != 200 {
		t.Fatalf("status %d: %s", status, b)
	}
	var echo struct {
		Method     string              `json:"method"`
		Path       string              `json:"path"`
		Query      string              `json:"query"`
		Headers    map[string][]string `json:"headers"`
		BodySHA256 string              `json:"bodySha256"`
		BodyBytes  int                 `json:"bodyBytes"`
	}
	if err := json.Unmarshal(b, &echo); err != nil {
		t.Fatal(err)
	}
	hash := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:]) }
	if echo.Method != "PATCH" || echo.Path != "/v1/echo/some/path" || echo.Query != "b=2&a=1" || echo.BodyBytes != len(body) || echo.BodySHA256 != hash(body) {
		t.Errorf("echo = %s", b)
	}
	for name, want := range map[string]string{
		"Authorization": "sha256:" + hash("Bearer sk-secret"),
		"X-Api-Key":     "sha256:" + hash("k2"),
		"Api-Key":       "sha256:" + hash("k3"),
		"X-Custom":      "v1",
		"Content-Type":  "application/json",
		"Host":          strings.TrimPrefix(h.ts.URL, "http://"),
	} {
		if got := echo.Headers[name]; len(got) != 1 || got[0] != want {
			t.Errorf("headers[%s] = %v, want %q", name, got, want)
		}
	}
	if bytes.Contains(b, []byte("sk-secret")) {
		t.Error("the echo shows a credential")
	}

	// Every route's response carries the echo headers, errors included.
	if hdr.Get("X-Mock-Query") != "b=2&a=1" || hdr.Get("X-Mock-Body-Bytes") != "7" || hdr.Get("X-Mock-Body-Sha256") != hash(body) {
		t.Errorf("echo headers = %v", hdr)
	}
	names := strings.Split(hdr.Get("X-Mock-Header-Names"), ",")
	for _, n := range []string{"Accept-Encoding", "Api-Key", "Authorization", "Content-Length", "Content-Type", "Host", "User-Agent", "X-Api-Key", "X-Custom"} {
		if !slices.Contains(names, n) {
			t.Errorf("X-Mock-Header-Names %v lacks %s", names, n)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("X-Mock-Header-Names %v not sorted", names)
	}
	status, hdr, _ = h.call("POST", "/v1/chat/completions", "{", "Connection", "X-Hop", "X-Hop", "1")
	if status != 400 || hdr.Get("X-Mock-Path") != "/v1/chat/completions" || !strings.Contains(hdr.Get("X-Mock-Header-Names"), "X-Hop") ||
		hdr.Get("X-Mock-Body-Bytes") != "1" {
		t.Errorf("error response echo = %d %v", status, hdr)
	}

	// A chunked upload says so.
	req, _ := http.NewRequest("PUT", h.ts.URL+"/v1/echo/up", io.MultiReader(strings.NewReader("ab"), strings.NewReader("cd")))
	req.ContentLength = -1
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(b, []byte(`"Transfer-Encoding":["chunked"]`)) || resp.Header.Get("X-Mock-Body-Bytes") != "4" {
		t.Errorf("chunked echo = %s", b)
	}
}

func BenchmarkEchoHeaders(b *testing.B) {
	r := httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(chatBody))
	for _, h := range []string{"Content-Type", "Authorization", "User-Agent", "Accept", "X-Stainless-Lang"} {
		r.Header.Set(h, "v")
	}
	body := []byte(chatBody)
	x := &exchange{r: r, buf: &body}
	h := http.Header{}
	b.ReportAllocs()
	for b.Loop() {
		x.echoHeaders(h)
	}
}
