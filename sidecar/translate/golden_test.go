package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/osmen-ai/llmroute/sidecar/sse"
)

// The golden files in testdata are named <client>_<backend>_<kind>_<name>:
//
//	client, backend  chat (chat completions), messages (Anthropic), responses
//	kind             request:  <case>.in.json (client request) → <case>.want.json
//	                           (backend request), or <case>.want.err when refused
//	                 response: <case>.in.json (backend body) → <case>.want.json
//	                 stream:   <case>.in.sse (backend events) → <case>.want.sse
//	                           (client events, then a ": usage <in> <out>"
//	                           comment); a stream that ends without its
//	                           closing event is ended with Fail
//	error files are error_<client>_<backend>_<status>_<name>.in.json (or
//	.in.txt) → .want.json, through the translator's Error.
//
// Responses and streams run after the request in <case>.req.json, or after
// defaultRequest when there is none. Run with -update to rewrite the want
// files, then review the diff.

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	testModel = "backend-model"
	testNow   = 1764000000
)

var defaultRequest = map[Format]string{
	ChatCompletions: `{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}]}`,
	Messages:        `{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"Hi"}]}`,
	Responses:       `{"model":"gpt-4o","input":"Hi"}`,
}

func testClock() time.Time { return time.Unix(testNow, 0) }

// newTestTranslator returns a translator with a fixed clock.
func newTestTranslator(client, backend Format) Translator {
	tr := New(client, backend)
	if c, ok := tr.(interface{ setClock(func() time.Time) }); ok {
		c.setClock(testClock)
	}
	return tr
}

// goldenFormats maps the names of golden files to formats.
var goldenFormats = map[string]Format{"chat": ChatCompletions, "messages": Messages, "responses": Responses}

// mustRequest reads a request body, failing the test when it does not scan.
func mustRequest(t testing.TB, body []byte) *Request {
	t.Helper()
	r, err := ReadRequest(body)
	if err != nil {
		t.Fatalf("ReadRequest: %v", err)
	}
	return &r
}

func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.in.*")
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) == 0 {
		t.Fatal("no golden inputs")
	}
	sort.Strings(inputs)
	for _, in := range inputs {
		base := filepath.Base(in)
		name := base[:strings.Index(base, ".in.")]
		t.Run(name, func(t *testing.T) {
			parts := strings.SplitN(strings.TrimPrefix(name, "error_"), "_", 4)
			if len(parts) < 4 {
				t.Fatalf("bad golden name %q", name)
			}
			client, backend := goldenFormats[parts[0]], goldenFormats[parts[1]]
			if client == 0 || backend == 0 || New(client, backend) == nil {
				t.Fatalf("golden name %q names no translator", name)
			}
			input, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(name, "error_") {
				runErrorGolden(t, name, client, backend, parts[2], input)
				return
			}
			switch parts[2] {
			case "request":
				runRequestGolden(t, name, client, backend, input)
			case "response":
				runResponseGolden(t, name, client, backend, input)
			case "stream":
				runStreamGolden(t, name, client, backend, input)
			default:
				t.Fatalf("bad golden kind %q", parts[2])
			}
		})
	}
}

func goldenPath(name, ext string) string { return filepath.Join("testdata", name+ext) }

func runRequestGolden(t *testing.T, name string, client, backend Format, input []byte) {
	orig := bytes.Clone(input)
	req, err := ReadRequest(input)
	if err != nil {
		checkGoldenError(t, name, err)
		return
	}
	out, err := newTestTranslator(client, backend).Request(nil, &req, testModel)
	if !bytes.Equal(input, orig) {
		t.Fatal("Request modified its input")
	}
	if err != nil {
		checkGoldenError(t, name, err)
		return
	}
	if !json.Valid(out) {
		t.Fatalf("invalid JSON: %s", out)
	}
	again, _ := newTestTranslator(client, backend).Request(nil, &req, testModel)
	if !bytes.Equal(out, again) {
		t.Fatal("output is not deterministic")
	}
	checkGoldenJSON(t, name, out)
}

func checkGoldenError(t *testing.T, name string, err error) {
	t.Helper()
	got := err.Error() + "\n"
	var ue *UnsupportedError
	switch {
	case errors.As(err, &ue):
		got = "unsupported: " + got
	case errors.Is(err, ErrInvalidRequest):
		got = "invalid: " + got
	}
	path := goldenPath(name, ".want.err")
	if *update {
		writeGolden(t, path, []byte(got))
		return
	}
	want, rerr := os.ReadFile(path)
	if rerr != nil {
		t.Fatalf("unexpected error %v (no %s)", err, path)
	}
	if got != string(want) {
		t.Fatalf("error:\n got %s\nwant %s", got, want)
	}
}

func checkGoldenJSON(t *testing.T, name string, got []byte) {
	t.Helper()
	path := goldenPath(name, ".want.json")
	if *update {
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, got, "", "  "); err != nil {
			t.Fatal(err)
		}
		pretty.WriteByte('\n')
		writeGolden(t, path, pretty.Bytes())
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(got, want) {
		t.Fatalf("output differs from %s:\n got %s\nwant %s", path, got, want)
	}
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func writeGolden(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// requestFirst runs the case's request (or the default one) through tr.
func requestFirst(t *testing.T, tr Translator, name string, client Format) {
	t.Helper()
	req, err := os.ReadFile(goldenPath(name, ".req.json"))
	if os.IsNotExist(err) {
		req = []byte(defaultRequest[client])
	} else if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Request(nil, mustRequest(t, req), testModel); err != nil {
		t.Fatalf("request: %v", err)
	}
}

func runResponseGolden(t *testing.T, name string, client, backend Format, input []byte) {
	tr := newTestTranslator(client, backend)
	requestFirst(t, tr, name, client)
	out, u, err := tr.Response(input)
	if err != nil {
		checkGoldenError(t, name, err)
		return
	}
	if u == (Usage{}) && bytes.Contains(input, []byte(`"usage"`)) {
		t.Errorf("Response reported no usage")
	}
	checkGoldenJSON(t, name, out)
}

// translateStream feeds a whole backend stream through st, as the proxy
// does: a stream that ends without its closing event is failed.
func translateStream(st Stream, stream []byte) ([]byte, error) {
	r := sse.NewReader(bytes.NewReader(stream))
	var out []byte
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return st.Fail(out, "", "the provider's stream ended without its closing event"), nil
		}
		if err != nil {
			return out, err
		}
		var kind EventKind
		if out, kind, err = st.Event(out, ev); err != nil {
			return out, err
		}
		if kind == Done || kind == Failed {
			return out, nil
		}
	}
}

func runStreamGolden(t *testing.T, name string, client, backend Format, input []byte) {
	tr := newTestTranslator(client, backend)
	requestFirst(t, tr, name, client)
	st := tr.Stream()
	out, err := translateStream(st, input)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	u := st.Usage()
	out = fmt.Appendf(out, ": usage %d %d\n\n", u.InputTokens, u.OutputTokens)
	checkEventsValid(t, out)
	path := goldenPath(name, ".want.sse")
	if *update {
		writeGolden(t, path, out)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if msg := sseDiff(out, want); msg != "" {
		t.Fatalf("stream differs from %s: %s\n got:\n%s", path, msg, out)
	}
}

// checkEventsValid checks that every data of a translated stream is JSON,
// except OpenAI's [DONE].
func checkEventsValid(t *testing.T, stream []byte) {
	t.Helper()
	r := sse.NewReader(bytes.NewReader(stream))
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("translated stream does not parse: %v", err)
		}
		if ev.HasData() && string(ev.Data) != "[DONE]" && !json.Valid(ev.Data) {
			t.Fatalf("event data is not JSON: %s", ev.Data)
		}
	}
}

// sseDiff compares two streams event by event, data as JSON.
func sseDiff(got, want []byte) string {
	type evt struct {
		name, data, raw string
		hasData         bool
	}
	read := func(b []byte) ([]evt, error) {
		r := sse.NewReader(bytes.NewReader(b))
		var evs []evt
		for {
			ev, err := r.Next()
			if err == io.EOF {
				return evs, nil
			}
			if err != nil {
				return nil, err
			}
			evs = append(evs, evt{ev.Name, string(ev.Data), string(ev.Raw), ev.HasData()})
		}
	}
	g, err := read(got)
	if err != nil {
		return "got: " + err.Error()
	}
	w, err := read(want)
	if err != nil {
		return "want: " + err.Error()
	}
	if len(g) != len(w) {
		return fmt.Sprintf("%d events, want %d", len(g), len(w))
	}
	for i := range g {
		switch {
		case g[i].name != w[i].name:
			return fmt.Sprintf("event %d: name %q, want %q", i, g[i].name, w[i].name)
		case g[i].hasData != w[i].hasData:
			return fmt.Sprintf("event %d: data presence differs", i)
		case !g[i].hasData && g[i].raw != w[i].raw:
			return fmt.Sprintf("event %d: %q, want %q", i, g[i].raw, w[i].raw)
		case g[i].data == w[i].data:
		case !jsonEqual([]byte(g[i].data), []byte(w[i].data)):
			return fmt.Sprintf("event %d: data\n %s\nwant\n %s", i, g[i].data, w[i].data)
		}
	}
	return ""
}

func runErrorGolden(t *testing.T, name string, client, backend Format, statusText string, input []byte) {
	status, err := strconv.Atoi(statusText)
	if err != nil {
		t.Fatalf("bad status in %q", name)
	}
	out := newTestTranslator(client, backend).Error(status, input, "")
	if !json.Valid(out) {
		t.Fatalf("invalid JSON: %s", out)
	}
	checkGoldenJSON(t, name, out)
}

// setClock fixes a translator's clock, so golden outputs with timestamps are
// stable.
func (t *chatToMessages) setClock(now func() time.Time) { t.now = now }
func (t *messagesToChat) setClock(now func() time.Time) { t.now = now }

func (t *responsesToChat) setClock(now func() time.Time)     { t.now = now }
func (t *responsesToMessages) setClock(now func() time.Time) { t.now = now }
