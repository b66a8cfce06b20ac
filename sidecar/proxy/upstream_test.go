package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/osmen-ai/llmroute/sidecar/credentials"
)

// An upstream request says its length and can be sent again whole: the
// transport resends it through GetBody when a kept-alive connection turns
// out to be closed.
func TestUpstreamRequestCanBeResent(t *testing.T) {
	ex := &exchange{r: httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil), id: "req-1"}
	up := &upstreamCall{p: &provider{}, body: []byte(`{"model":"m","messages":[]}`), url: "http://127.0.0.1:1/v1/chat/completions", native: true}
	req, err := ex.upstreamRequest(context.Background(), up, &credentials.Credential{})
	if err != nil {
		t.Fatal(err)
	}
	if req.ContentLength != int64(len(up.body)) {
		t.Errorf("ContentLength %d, want %d", req.ContentLength, len(up.body))
	}
	if req.GetBody == nil {
		t.Fatal("no GetBody: the request cannot be resent")
	}
	for range 2 {
		rc, err := req.GetBody()
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(rc); string(b) != string(up.body) {
			t.Errorf("GetBody gave %q, want %q", b, up.body)
		}
	}
}

// On a translated call the family headers are dropped whatever their case,
// and telling them apart allocates nothing: it runs for every header of
// every attempt.
func TestDropRequestHeader(t *testing.T) {
	for k, want := range map[string]bool{
		"Anthropic-Version": true, "anthropic-beta": true, "OpenAI-Beta": true, "Openai-Organization": true,
		"Authorization": true, "X-Stainless-Lang": false, "Content-Type": false, "User-Agent": false, "Openai": false,
	} {
		translated := dropRequestHeader(k, true)
		if translated != want {
			t.Errorf("translated: dropRequestHeader(%q) = %v, want %v", k, translated, want)
		}
	}
	if dropRequestHeader("Anthropic-Version", false) {
		t.Error("a native call dropped Anthropic-Version")
	}
	if n := testing.AllocsPerRun(100, func() { dropRequestHeader("Anthropic-Beta", true) }); n != 0 {
		t.Errorf("dropRequestHeader allocates %v times per header", n)
	}
}
