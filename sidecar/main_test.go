package main

import (
	"bytes"
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

	"golang.org/x/net/netutil"

	"github.com/osmen-ai/llmroute/hack/mockllm/mock"
	"github.com/osmen-ai/llmroute/hack/process"
	"github.com/osmen-ai/llmroute/sidecar/config"
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

// sidecarProcess is a running llmroute-sidecar and where it serves.
type sidecarProcess struct {
	*process.Process
	addr  string // the proxy listener
	admin string
}

func startSidecar(t *testing.T, configFile string) *sidecarProcess {
	t.Helper()
	return startSidecarEnv(t, configFile, nil)
}

// serving is the log line in which the sidecar names the addresses it bound.
var serving = process.Logged("llmroute-sidecar serving", "listen", "admin")

// startSidecarEnv starts the sidecar on ports of its own choosing, with env
// added to the test's environment and args to its own.
func startSidecarEnv(t *testing.T, configFile string, env []string, args ...string) *sidecarProcess {
	t.Helper()
	argv := append([]string{buildSidecar(t), "--config", configFile, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
		"--drain-timeout", "10s"}, args...)
	p, err := process.Start(context.Background(), process.Options{Name: "sidecar", Args: argv, Env: env, Ready: serving})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return &sidecarProcess{Process: p, addr: p.Addrs[0], admin: p.Addrs[1]}
}

// expectLog expects a log line with msg from now on.
func (p *sidecarProcess) expectLog(msg string) *process.Expectation {
	return p.Expect(fmt.Sprintf("the %q log line", msg), func(line string) bool {
		f, ok := process.LogFields(line)
		return ok && f["msg"] == msg
	})
}

// wait waits for e, and fails the test with what it waited for when it
// does not come.
func wait(t *testing.T, e *process.Expectation) {
	t.Helper()
	if _, err := e.Wait(context.Background(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

func (p *sidecarProcess) chat(ctx context.Context) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+p.addr+"/v1/chat/completions",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// Whatever the log format and level, the sidecar started on port 0 says
// which ports it got: the tests, the demo and the benchmark start it so. At
// --log-level error the line was not written, and the benchmark, which runs
// the sidecar at that level, had to pick ports by listening and closing.
func TestAnnouncesTheAddressesItBound(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, cfg, "http://127.0.0.1:1", 1)
	for _, format := range config.LogFormats {
		for _, level := range config.LogLevels {
			t.Run(format+"/"+level, func(t *testing.T) {
				p := startSidecarEnv(t, cfg, nil, "--log-format", format, "--log-level", level)
				if p.addr == p.admin {
					t.Fatalf("listen and admin are both %s", p.addr)
				}
				resp, err := http.Get("http://" + p.admin + "/readyz")
				if err != nil {
					t.Fatalf("the announced admin address: %v", err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("/readyz at the announced admin address: %s", resp.Status)
				}
				if s, err := p.chat(context.Background()); err != nil || s != http.StatusBadGateway && s != http.StatusServiceUnavailable {
					t.Errorf("the announced proxy address: status %d, %v; want the dead upstream's 502 or 503", s, err)
				}
			})
		}
	}
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
	arrived := make(chan struct{})
	var once sync.Once
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(arrived) })
		m.ServeHTTP(w, r)
	}))
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
		s, err := p.chat(context.Background())
		res <- result{s, err}
	}()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatalf("the request did not reach the upstream in 10s\n%s", p.Tail(2000))
	}
	draining := p.expectLog("Draining: finishing requests in flight")
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-res:
		if r.err != nil || r.status != 200 {
			t.Fatalf("in-flight request: status %d err %v\n%s", r.status, r.err, p.Tail(2000))
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the request in flight was not answered in 10s\n%s", p.Tail(2000))
	}
	select {
	case <-p.Done():
		if err := p.Err(); err != nil {
			t.Fatalf("exit: %v\n%s", err, p.Tail(2000))
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the sidecar did not exit in 10s after draining\n%s", p.Tail(2000))
	}
	wait(t, draining)
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

	m.ResetStats()
	p.chat(context.Background())
	if m.Stats().Requests != 1 {
		t.Fatalf("attempts=1: upstream saw %d calls", m.Stats().Requests)
	}
	reloaded := p.expectLog("Config reloaded")
	writeConfig(t, cfg, up.URL, 3)
	wait(t, reloaded)
	m.ResetStats()
	p.chat(context.Background())
	if got := m.Stats().Requests; got != 3 {
		t.Errorf("after reloading attempts=3: upstream saw %d calls", got)
	}

	refused := p.expectLog("Config change refused: the last good config keeps serving")
	os.WriteFile(cfg, []byte("version: 1\nproviders: [\n"), 0o600)
	wait(t, refused)
	m.ResetStats()
	status, err := p.chat(context.Background())
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

// Whatever comes in, memory stays bounded: a 200 MiB response is relayed as
// it arrives, and 50 concurrent 10 MiB requests are taken a few at a time,
// the rest shed with 503 and Retry-After, in a sidecar run with a 128 MiB
// GOMEMLIMIT. It used to hold both whole, and the pod's OOM killer ended
// every call in it.
func TestMemoryStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("moves about 700 MB through the sidecar")
	}
	const bigResponse = 200 << 20
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("X-Test-Big") == "" {
			time.Sleep(300 * time.Millisecond) // so that the big requests overlap
			io.WriteString(w, `{"id":"c","object":"chat.completion","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}`)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(bigResponse))
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
		for sent := 0; sent < bigResponse; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer up.Close()
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, cfg, up.URL, 1)
	p := startSidecarEnv(t, cfg, []string{"GOMEMLIMIT=128MiB"})

	req, _ := http.NewRequest(http.MethodPost, "http://"+p.addr+"/v1/chat/completions", strings.NewReader(`{"model":"m","messages":[]}`))
	req.Header.Set("X-Test-Big", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != bigResponse || resp.StatusCode != 200 {
		t.Fatalf("the 200 MiB response: status %d, %d bytes, %v", resp.StatusCode, n, err)
	}

	big := append(append([]byte(`{"model":"m","messages":[{"role":"user","content":"`), bytes.Repeat([]byte("x"), 10<<20-100)...), `"}]}`...)
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post("http://"+p.addr+"/v1/chat/completions", "application/json", bytes.NewReader(big))
			status := -1
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				status = resp.StatusCode
				if status == 503 && resp.Header.Get("Retry-After") == "" {
					status = -503
				}
			}
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if statuses[200] == 0 || statuses[200]+statuses[503] != 50 {
		t.Fatalf("answers by status %v: want every request answered, 200 or 503 with Retry-After", statuses)
	}
	if s, err := p.chat(context.Background()); err != nil || s != 200 {
		t.Fatalf("the sidecar does not answer afterwards: %d %v\n%s", s, err, p.Tail(2000))
	}
	peak := peakRSS(t, p.Pid())
	t.Logf("answers by status %v; peak RSS %d MiB", statuses, peak>>20)
	if peak > 200<<20 {
		t.Errorf("peak RSS %d MiB: buffers are not bounded", peak>>20)
	}
}

// peakRSS reads a process's peak resident set size (VmHWM).
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb)
			return kb << 10
		}
	}
	t.Skip("no VmHWM")
	return 0
}

// The admin listener is open to the cluster: a connection that sends
// nothing is closed, and only so many are taken at once — it used to hold
// every keep-alive connection forever, so any pod could exhaust the sidecar.
func TestAdminServerBoundsConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const limit = 3
	srv := newAdminServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") }), 200*time.Millisecond)
	go srv.Serve(netutil.LimitListener(ln, limit))
	defer srv.Close()

	var idle []net.Conn
	for range limit {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /healthz HTTP/1.1\r\n") // never finished
		idle = append(idle, c)
	}
	// The server closes each silent connection on its own.
	for _, c := range idle {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadAll(c); err != nil {
			t.Fatalf("a silent connection was kept open: %v", err)
		}
	}
	// And then serves again.
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}
