package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/osmen-ai/llmroute/hack/process"
)

// Harness owns the temp dir, the built binaries and every child process.
// Children run through hack/process (own process groups, Pdeathsig) and are
// stopped by Close, which main also runs on Ctrl-C.
type Harness struct {
	Dir      string // temp dir: binaries, configs, logs
	Repo     string // module root
	Sidecar  string // the sidecar binary the sections run: Stripped unless -plain-sidecar
	Stripped string // the sidecar as shipped: -trimpath -ldflags "-s -w"
	Plain    string // the sidecar as `go build` makes it
	Mock     string // hack/mockllm
	Self     string // this binary, re-run for the reverse-proxy baseline
	Nginx    string // nginx, or "" when it is not installed

	mu       sync.Mutex
	procs    []*Proc
	logs     []*os.File
	reported map[*Proc]bool // crashes already reported
	seq      int
}

// Proc is a running child and the address it serves on.
type Proc struct {
	*process.Process
	Addr string // its main listener, host:port
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
	return &Harness{Dir: dir, Repo: repo, Self: self, reported: map[*Proc]bool{}}, nil
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
// stopped them, each with the end of its output: a crash under test.
func (h *Harness) Crashed() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, p := range h.procs {
		if p.Crashed() && !h.reported[p] {
			h.reported[p] = true
			out = append(out, fmt.Sprintf("%s exited unexpectedly (%v): %s", p.Name, p.Err(), oneLine(p.Tail(600))))
		}
	}
	return out
}

// Close stops every child, newest first, and removes the temp dir unless keep.
func (h *Harness) Close(keep bool) {
	h.mu.Lock()
	procs, logs := h.procs, h.logs
	h.procs, h.logs = nil, nil
	h.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop()
	}
	for _, f := range logs {
		f.Close()
	}
	if !keep {
		os.RemoveAll(h.Dir)
	}
}

// Start runs argv as a child named name, its output copied to a log file in
// the temp dir, and waits until it announces the address it serves on
// (ready), which becomes Proc.Addr. With a zero ready it returns as soon as
// the child runs. When the child fails, the error ends with its output.
func (h *Harness) Start(ctx context.Context, name string, argv, env []string, ready process.Announcement) (*Proc, error) {
	h.mu.Lock()
	h.seq++
	logFile := filepath.Join(h.Dir, fmt.Sprintf("%02d-%s.log", h.seq, name))
	h.mu.Unlock()
	log, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	p, err := process.Start(ctx, process.Options{Name: name, Args: argv, Env: env, Log: log, Ready: ready})
	if err != nil {
		log.Close()
		return nil, err
	}
	proc := &Proc{Process: p}
	if len(p.Addrs) > 0 {
		proc.Addr = p.Addrs[0]
	}
	h.mu.Lock()
	h.procs = append(h.procs, proc)
	h.logs = append(h.logs, log)
	h.mu.Unlock()
	return proc, nil
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
