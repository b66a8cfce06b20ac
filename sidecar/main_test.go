package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/osmen-ai/llmroute/hack/mockllm/mock"
)

// sidecarBinary builds llmroute-sidecar once for the tests that run it as a
// process: signals and exit codes can only be tested that way.
var sidecarBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "llmroute-sidecar-test")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "llmroute-sidecar")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func buildSidecar(t *testing.T) string {
	t.Helper()
	bin, err := sidecarBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func writeConfig(t *testing.T, path, upstreamURL string, attempts int) {
	t.Helper()
	cfg := fmt.Sprintf(`version: 1
providers:
- name: local
  type: OpenAICompatible
  baseURL: %s/v1
rules:
- backends: [local]
retry: {attempts: %d, initialBackoff: 10ms}
circuitBreaker: {consecutiveFailures: 100}
`, upstreamURL, attempts)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil { // atomic, as Kubernetes swaps files
		t.Fatal(err)
	}
}

type sidecarProcess struct {
	cmd   *exec.Cmd
	addr  string
	admin string
	logs  *lockedBuffer
	done  chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startSidecar(t *testing.T, configFile string) *sidecarProcess {
	t.Helper()
	p := &sidecarProcess{addr: freeAddr(t), admin: freeAddr(t), logs: &lockedBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(buildSidecar(t), "--config", configFile, "--listen", p.addr, "--admin-listen", p.admin, "--drain-timeout", "10s")
	stderr, _ := p.cmd.StderrPipe()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			p.logs.Write([]byte(sc.Text() + "\n"))
			if strings.Contains(sc.Text(), "llmroute-sidecar serving") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	select {
	case <-ready:
	case err := <-p.done:
		t.Fatalf("sidecar exited at start: %v\n%s", err, p.logs.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("sidecar did not start:\n%s", p.logs.String())
	}
	return p
}

func (p *sidecarProcess) chat(ctx context.Context) (int, string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+p.addr+"/v1/chat/completions",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func TestStartupErrors(t *testing.T) {
	bin := buildSidecar(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nproviders:\n- name: Bad_Name\n  type: Gemini\nrules: []\nretry: {atempts: 3}\n"), 0o600)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
	}{
		{"help", []string{"--help"}, 0, []string{"--config", "--listen", "--admin-listen", "--log-format", "--log-level", "--max-body-bytes", "--drain-timeout"}},
		{"no config", nil, 1, []string{"--config is required"}},
		{"missing file", []string{"--config", filepath.Join(dir, "nope.yaml")}, 1, []string{"read config", "nope.yaml"}},
		{"every problem listed", []string{"--config", bad}, 1, []string{`retry: unknown field "atempts"`}},
		{"invalid values listed", []string{"--config", writeTemp(t, "version: 1\nproviders:\n- name: Bad_Name\n  type: Gemini\nrules: []\n")}, 1,
			[]string{"providers[0].name", "providers[0].type", "rules: at least one rule"}},
		{"bad log format", []string{"--config", bad, "--log-format", "xml"}, 1, []string{"--log-format must be json or text"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(bin, tc.args...).CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d\n%s", code, tc.wantCode, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func writeTemp(t *testing.T, content string) string {
	f := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// SIGTERM must let requests in flight finish, then exit 0: Kubernetes
// sends it when the pod stops, and a cut request is a failed LLM call.
func TestSIGTERMDrainsInFlightRequests(t *testing.T) {
	m := mock.New(mock.Options{Faults: mock.Faults{Latency: 700 * time.Millisecond}})
	up := httptest.NewServer(m)
	defer up.Close()
	defer m.Close()
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, cfg, up.URL, 1)
	p := startSidecar(t, cfg)

	type result struct {
		status int
		err    error
	}
	res := make(chan result, 1)
	go func() {
		s, _, err := p.chat(context.Background())
		res <- result{s, err}
	}()
	for m.Stats().InFlight == 0 { // the request reached the upstream
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := <-res
	if r.err != nil || r.status != 200 {
		t.Fatalf("in-flight request: status %d err %v\n%s", r.status, r.err, p.logs.String())
	}
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, p.logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sidecar did not exit after draining")
	}
	if !strings.Contains(p.logs.String(), "Draining") {
		t.Errorf("no drain log line:\n%s", p.logs.String())
	}
}

// A changed file is picked up; a broken one is refused and the last good
// config keeps serving.
func TestConfigFileReload(t *testing.T) {
	m := mock.New(mock.Options{})
	up := httptest.NewServer(m)
	defer up.Close()
	defer m.Close()
	m.SetFaults(mock.Faults{Down: true})
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, cfg, up.URL, 1)
	p := startSidecar(t, cfg)

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s\n%s", what, p.logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	m.ResetStats()
	p.chat(context.Background())
	if m.Stats().Requests != 1 {
		t.Fatalf("attempts=1: upstream saw %d calls", m.Stats().Requests)
	}
	writeConfig(t, cfg, up.URL, 3)
	waitFor("the reload", func() bool { return strings.Contains(p.logs.String(), "Config reloaded") })
	m.ResetStats()
	p.chat(context.Background())
	if got := m.Stats().Requests; got != 3 {
		t.Errorf("after reloading attempts=3: upstream saw %d calls", got)
	}

	os.WriteFile(cfg, []byte("version: 1\nproviders: [\n"), 0o600)
	waitFor("the refusal", func() bool { return strings.Contains(p.logs.String(), "Config change refused") })
	m.ResetStats()
	status, _, err := p.chat(context.Background())
	if err != nil || status != 503 || m.Stats().Requests != 3 {
		t.Errorf("after a broken file the last good config must serve: status %d err %v calls %d", status, err, m.Stats().Requests)
	}
	resp, err := http.Get("http://" + p.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`llmroute_config_reloads_total{result="success"} 1`, `llmroute_config_reloads_total{result="failure"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
