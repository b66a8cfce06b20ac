package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

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

func FuzzOpenAIToAnthropicRequest(f *testing.F) {
	addGoldenSeeds(f, "o2a_request_*.in.json")
	addGoldenSeeds(f, "*.req.json")
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		out, err := New(OpenAI, Anthropic).Request(in, "claude")
		checkRequestResult(t, in, orig, out, err)
	})
}

func FuzzAnthropicToOpenAIRequest(f *testing.F) {
	addGoldenSeeds(f, "a2o_request_*.in.json")
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		out, err := New(Anthropic, OpenAI).Request(in, "gpt")
		checkRequestResult(t, in, orig, out, err)
	})
}

// FuzzStreamEvents feeds arbitrary streams to both stream translators (the
// hand-written scanner is where a malformed event could do harm) and checks
// that what they write is a well-formed stream of JSON events.
func FuzzStreamEvents(f *testing.F) {
	addGoldenSeeds(f, "*.in.sse")
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, tr := range []Translator{New(OpenAI, Anthropic), New(Anthropic, OpenAI)} {
			r := sse.NewReader(bytes.NewReader(in))
			var out []byte
			for {
				ev, err := r.Next()
				if err != nil {
					if err == io.EOF {
						out = tr.StreamEnd(out)
					}
					break
				}
				if out, err = tr.StreamEvent(out, ev); err != nil {
					if !errors.Is(err, ErrInvalidResponse) {
						t.Fatalf("unexpected error kind: %v", err)
					}
					break
				}
				_ = IsErrorEvent(OpenAI, ev)
				_ = IsErrorEvent(Anthropic, ev)
			}
			checkTranslatedStream(t, out)
		}
	})
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
		for _, tr := range []Translator{New(OpenAI, Anthropic), New(Anthropic, OpenAI)} {
			out, err := tr.Response(in)
			if err != nil {
				if !errors.Is(err, ErrInvalidResponse) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				continue
			}
			if !json.Valid(out) {
				t.Fatalf("invalid JSON %q", out)
			}
		}
		for _, f := range []Format{OpenAI, Anthropic} {
			if out := ConvertError(f, 3-f, 500, in); !json.Valid(out) {
				t.Fatalf("ConvertError wrote invalid JSON %q", out)
			}
		}
	})
}
