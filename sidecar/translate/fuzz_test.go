package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/osmen-ai/llmroute/sidecar/sse"
)

// addGoldenSeeds adds the golden inputs matching pattern to the corpus.
func addGoldenSeeds(f *testing.F, pattern string) {
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds for %s", pattern)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// checkRequestResult is the property of both request fuzzers: no panic, the
// input untouched, valid JSON on success, and only the documented error
// kinds on failure.
func checkRequestResult(t *testing.T, in, orig, out []byte, err error) {
	if !bytes.Equal(in, orig) {
		t.Fatal("Request modified its input")
	}
	if err != nil {
		var ue *UnsupportedError
		if !errors.As(err, &ue) && !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		return
	}
	if !json.Valid(out) {
		t.Fatalf("invalid JSON output %q for input %q", out, in)
	}
}

// fuzzRequest checks the request translation from client to backend on
// arbitrary bodies that scan as requests.
func fuzzRequest(t *testing.T, client, backend Format, in []byte) {
	orig := bytes.Clone(in)
	req, err := ReadRequest(in)
	if err != nil {
		return // the proxy answers 400 before any translator sees it
	}
	out, err := New(client, backend).Request(nil, &req, "backend-model")
	checkRequestResult(t, in, orig, out, err)
}

func FuzzChatToMessagesRequest(f *testing.F) {
	addGoldenSeeds(f, "chat_messages_request_*.in.json")
	addGoldenSeeds(f, "chat_*.req.json")
	f.Fuzz(func(t *testing.T, in []byte) { fuzzRequest(t, ChatCompletions, Messages, in) })
}

func FuzzMessagesToChatRequest(f *testing.F) {
	addGoldenSeeds(f, "messages_chat_request_*.in.json")
	f.Fuzz(func(t *testing.T, in []byte) { fuzzRequest(t, Messages, ChatCompletions, in) })
}

func FuzzResponsesToChatRequest(f *testing.F) {
	addGoldenSeeds(f, "responses_chat_request_*.in.json")
	addGoldenSeeds(f, "responses_chat_*.req.json")
	f.Fuzz(func(t *testing.T, in []byte) { fuzzRequest(t, Responses, ChatCompletions, in) })
}

func FuzzResponsesToMessagesRequest(f *testing.F) {
	addGoldenSeeds(f, "responses_messages_request_*.in.json")
	addGoldenSeeds(f, "responses_messages_*.req.json")
	f.Fuzz(func(t *testing.T, in []byte) { fuzzRequest(t, Responses, Messages, in) })
}

// FuzzReadRequest checks the scan every request goes through, and the
// identity's model replacement, against encoding/json.
func FuzzReadRequest(f *testing.F) {
	addGoldenSeeds(f, "*_request_*.in.json")
	f.Fuzz(func(t *testing.T, in []byte) {
		req, err := ReadRequest(in)
		if err != nil {
			return
		}
		var doc map[string]json.RawMessage
		if json.Unmarshal(in, &doc) != nil {
			return // structure checked, tokens not: the provider validates
		}
		var model string
		if raw, ok := doc["model"]; ok && utf8.Valid(raw) && json.Unmarshal(raw, &model) == nil && model != req.Model {
			t.Fatalf("model %q, encoding/json says %q", req.Model, model)
		}
		out := req.WithModel(nil, "replaced")
		if _, ok := doc["model"]; ok && json.Valid(in) {
			var back map[string]json.RawMessage
			if err := json.Unmarshal(out, &back); err != nil || string(back["model"]) != `"replaced"` {
				t.Fatalf("WithModel wrote %q (%v)", out, err)
			}
		}
	})
}

// FuzzStreamEvents feeds arbitrary streams to both stream translators (the
// hand-written scanner is where a malformed event could do harm) and checks
// that what they write is a well-formed stream of JSON events.
func FuzzStreamEvents(f *testing.F) {
	addGoldenSeeds(f, "*.in.sse")
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, pair := range streamPairs {
			fuzzStream(t, New(pair[0], pair[1]).Stream(), in, pair[0] == pair[1])
		}
	})
}

// streamPairs are the (client, backend) pairs whose streams FuzzStreamEvents
// drives; the identities are there for their event reading.
var streamPairs = [][2]Format{
	{ChatCompletions, Messages}, {Messages, ChatCompletions},
	{Responses, ChatCompletions}, {Responses, Messages},
	{ChatCompletions, ChatCompletions}, {Messages, Messages}, {Responses, Responses},
}

// fuzzStream feeds a stream to st as the proxy does and checks what it
// wrote: a translation writes well-formed JSON events, an identity relays
// each event's bytes exactly.
func fuzzStream(t *testing.T, st Stream, in []byte, identity bool) {
	r := sse.NewReader(bytes.NewReader(in))
	var out, raw []byte
	for {
		ev, err := r.Next()
		if err != nil {
			break
		}
		raw = append(raw, ev.Raw...)
		var kind EventKind
		if out, kind, err = st.Event(out, ev); err != nil {
			if !errors.Is(err, ErrInvalidResponse) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			break
		}
		if kind == Done || kind == Failed {
			break
		}
	}
	if identity {
		if !bytes.Equal(out, raw) {
			t.Fatalf("the identity changed the events:\n%q\n%q", raw, out)
		}
		return
	}
	checkTranslatedStream(t, st.Fail(out, "", "ended early"))
}

// checkTranslatedStream checks that every event the translator wrote parses
// and carries JSON (or OpenAI's [DONE]).
func checkTranslatedStream(t *testing.T, out []byte) {
	t.Helper()
	r := sse.NewReader(bytes.NewReader(out))
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("output does not parse: %v\n%q", err, out)
		}
		if ev.HasData() && string(ev.Data) != "[DONE]" && !json.Valid(ev.Data) {
			t.Fatalf("event data is not JSON: %q", ev.Data)
		}
	}
}

// FuzzResponses checks that response translation never panics and writes
// valid JSON.
func FuzzResponses(f *testing.F) {
	addGoldenSeeds(f, "*_response_*.in.json")
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, pair := range streamPairs {
			tr := New(pair[0], pair[1])
			out, _, err := tr.Response(in)
			if err != nil {
				if !errors.Is(err, ErrInvalidResponse) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				continue
			}
			if pair[0] != pair[1] && !json.Valid(out) {
				t.Fatalf("invalid JSON %q", out)
			}
			if out := tr.Error(500, in, "m"); !json.Valid(out) {
				t.Fatalf("Error wrote invalid JSON %q", out)
			}
		}
	})
}
