package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Harness owns the temp dir, the built binaries and every child process.
// Children run in their own process groups, die with the harness
// (Pdeathsig) and are stopped by Close, which main also runs on Ctrl-C.
type Harness struct {
	Dir      string // temp dir: binaries, configs, logs
	Repo     string // module root
	Sidecar  string // the sidecar binary the sections run: Stripped unless -plain-sidecar
	Stripped string // the sidecar as shipped: -trimpath -ldflags "-s -w"
	Plain    string // the sidecar as `go build` makes it
	Mock     string // hack/mockllm
	Self     string // this binary, re-run for the reverse-proxy baseline
	Nginx    string // nginx, or "" when it is not installed

	mu    sync.Mutex
	procs []*Proc
	seq   int
}

// Proc is a running child.
type Proc struct {
	Name string
	Addr string // its main listener, host:port
	cmd  *exec.Cmd
	log  string // where its stdout and stderr go
	done chan struct{}
	err  error // set when done is closed

	stopping atomic.Bool // Stop was called: an exit is expected
	reported bool        // an unexpected exit was reported (guarded by Harness.mu)
}

func newHarness(repo string) (*Harness, error) {
	dir, err := os.MkdirTemp("", "llmroute-bench-")
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return &Harness{Dir: dir, Repo: repo, Self: self}, nil
}

// Build compiles the sidecar (both ways) and the mock into the temp dir.
func (h *Harness) Build(ctx context.Context) error {
	h.Stripped = filepath.Join(h.Dir, "llmroute-sidecar")
	h.Sidecar = h.Stripped
	h.Plain = filepath.Join(h.Dir, "llmroute-sidecar-plain")
	h.Mock = filepath.Join(h.Dir, "mockllm")
	builds := [][]string{
		{"build", "-trimpath", "-ldflags", "-s -w", "-o", h.Stripped, "./sidecar"},
		{"build", "-o", h.Plain, "./sidecar"},
		{"build", "-o", h.Mock, "./hack/mockllm"},
	}
	for _, args := range builds {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = h.Repo
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// Crashed returns, once each, the children that exited although nobody
// stopped them, each with the tail of its log: a crash under test.
func (h *Harness) Crashed() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, p := range h.procs {
		select {
		case <-p.done:
			if !p.stopping.Load() && !p.reported {
				p.reported = true
				out = append(out, fmt.Sprintf("%s exited unexpectedly (%v): %s", p.Name, p.err, oneLine(tail(p.log, 600))))
			}
		default:
		}
	}
	return out
}

// Close stops every child, newest first, and removes the temp dir unless keep.
func (h *Harness) Close(keep bool) {
	h.mu.Lock()
	procs := h.procs
	h.procs = nil
	h.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop()
	}
	if !keep {
		os.RemoveAll(h.Dir)
	}
}

// readiness says when a started child is ready to serve.
type readiness func(ctx context.Context, p *Proc, stdout *bufio.Reader) error

// Start runs argv as a child named name and waits until ready says it
// serves. When it fails or exits early, the error carries its log's tail.
func (h *Harness) Start(ctx context.Context, name string, argv, env []string, ready readiness) (*Proc, error) {
	h.mu.Lock()
	h.seq++
	logFile := filepath.Join(h.Dir, fmt.Sprintf("%02d-%s.log", h.seq, name))
	h.mu.Unlock()
	logf, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	defer logf.Close()

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = logf
	// Own process group: the terminal's Ctrl-C reaches only the harness,
	// which stops the children in order. Pdeathsig: they never outlive it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	cmd.Stdout = io.MultiWriter(pw, logf)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, cmd: cmd, log: logFile, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	h.mu.Lock()
	h.procs = append(h.procs, p)
	h.mu.Unlock()

	// Keep draining stdout after readiness, so the child never blocks on it.
	stdout := bufio.NewReader(pr)
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- ready(rctx, p, stdout) }()
	select {
	case err = <-errc:
	case <-p.done:
		err = fmt.Errorf("exited before it was ready: %v", p.err)
	}
	if err != nil {
		p.Stop()
		return nil, fmt.Errorf("%s: %w\n%s", name, err, tail(logFile, 2000))
	}
	go io.Copy(io.Discard, stdout)
	return p, nil
}

// Stop asks the child to stop (SIGTERM to its group), then kills it after 5 s.
func (p *Proc) Stop() {
	if p == nil {
		return
	}
	p.stopping.Store(true)
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Pid is the child's process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Log is the path of the child's log.
func (p *Proc) Log() string { return p.log }

// waitLine is a readiness that waits for a stdout line with prefix and
// takes the address that ends it ("mockllm NAME listening on ADDR").
func waitLine(prefix string) readiness {
	return func(ctx context.Context, p *Proc, stdout *bufio.Reader) error {
		lines := make(chan string)
		go func() {
			defer close(lines)
			for {
				line, err := stdout.ReadString('\n')
				if err != nil {
					return
				}
				select {
				case lines <- strings.TrimSpace(line):
				case <-ctx.Done():
					return
				}
				if strings.HasPrefix(strings.TrimSpace(line), prefix) {
					return
				}
			}
		}()
		for {
			select {
			case <-ctx.Done():
				return fmt.Errorf("no %q line on its output: %w", prefix, ctx.Err())
			case line, ok := <-lines:
				if !ok {
					return fmt.Errorf("output ended without a %q line", prefix)
				}
				if strings.HasPrefix(line, prefix) {
					f := strings.Fields(line)
					p.Addr = f[len(f)-1]
					return nil
				}
			}
		}
	}
}

// waitHTTP is a readiness that polls url until it answers 200.
func waitHTTP(url string) readiness {
	return func(ctx context.Context, _ *Proc, _ *bufio.Reader) error {
		var last error
		for {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
				err = fmt.Errorf("GET %s: %s", url, resp.Status)
			}
			last = err
			select {
			case <-ctx.Done():
				return fmt.Errorf("not ready: %v", last)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// waitTCP is a readiness that waits until addr accepts connections.
func waitTCP(addr string) readiness {
	return func(ctx context.Context, _ *Proc, _ *bufio.Reader) error {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s does not accept connections: %v", addr, err)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// freeAddrs returns n distinct loopback addresses whose ports were free a
// moment ago. The ports come from below the kernel's ephemeral range when
// there is room: the load generators open thousands of outgoing connections,
// and any of them could take a port from that range between this check and
// the child's bind. Another listener can still take one; callers retry then.
func freeAddrs(n int) ([]string, error) {
	var addrs []string
	seen := map[string]bool{}
	low := ephemeralLow()
	for tries := 0; len(addrs) < n; tries++ {
		addr := "127.0.0.1:0"
		if low > 11000 && tries < 100 {
			addr = fmt.Sprintf("127.0.0.1:%d", 10000+rand.IntN(low-10000))
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			if tries < 200 {
				continue
			}
			return nil, err
		}
		a := ln.Addr().String()
		ln.Close()
		if !seen[a] {
			seen[a] = true
			addrs = append(addrs, a)
		}
	}
	return addrs, nil
}

// ephemeralLow is the first port of the kernel's ephemeral range (0 when
// unknown).
func ephemeralLow() int {
	f := strings.Fields(readFile("/proc/sys/net/ipv4/ip_local_port_range"))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.Atoi(f[0])
	return v
}

// freeAddr returns one address, as freeAddrs does.
func freeAddr() (string, error) {
	a, err := freeAddrs(1)
	if err != nil {
		return "", err
	}
	return a[0], nil
}

// portTaken reports whether a child failed because its port was taken in the
// meantime, which is worth another try on other ports.
func portTaken(err error) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "address already in use")
}

func tail(file string, n int) string {
	b, _ := os.ReadFile(file)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(bytes.TrimSpace(b))
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100
// on every Linux architecture Go supports.
const clockTicks = 100

// CPUTime returns the user + system CPU time of pid and, when withChildren,
// of its child processes (nginx's workers), from /proc/PID/stat.
func CPUTime(pid int, withChildren bool) (time.Duration, error) {
	total := time.Duration(0)
	for _, p := range family(pid, withChildren) {
		f, err := statFields(p)
		if err != nil {
			return 0, err
		}
		// Fields after "(comm)": [0] is state (field 3), so utime (14) is [11], stime (15) [12].
		ut, err1 := strconv.ParseInt(f[11], 10, 64)
		st, err2 := strconv.ParseInt(f[12], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", p, err)
		}
		total += time.Duration(ut+st) * time.Second / clockTicks
	}
	return total, nil
}

// RSS returns the resident set size of pid (and its children) in bytes,
// from VmRSS in /proc/PID/status.
func RSS(pid int, withChildren bool) (int64, error) {
	var total int64
	for _, p := range family(pid, withChildren) {
		v, err := statusKB(p, "VmRSS")
		if err != nil {
			return 0, err
		}
		total += v * 1024
	}
	return total, nil
}

// statusKB reads a "kB" field of /proc/PID/status.
func statusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, field)
}

func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return nil, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	return f, nil
}

// family returns pid and, when withChildren, the processes whose parent it is.
func family(pid int, withChildren bool) []int {
	out := []int{pid}
	if !withChildren {
		return out
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		if f, err := statFields(child); err == nil && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}
