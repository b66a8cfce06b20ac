package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// process is a child process whose output is kept (and echoed with -v).
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}

	mu     sync.Mutex
	lines  []string
	onLine func(string)
}

func startProcess(ctx context.Context, name string, echo bool, bin string, args ...string) (*process, error) {
	p := &process{name: name, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	// Its own process group, so that a Ctrl-C in the terminal reaches the
	// demo first and the demo stops its children in order.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	p.cmd.Stdout = p.cmd.Stderr
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.lines = append(p.lines, line)
			f := p.onLine
			p.mu.Unlock()
			if echo {
				fmt.Fprintf(os.Stderr, "      [%s] %s\n", name, line)
			}
			if f != nil {
				f(line)
			}
		}
		io.Copy(io.Discard, out)
	}()
	go func() { p.cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits a little, then kills.
func (p *process) stop() {
	if p.exited() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// tail returns the last lines the process printed, for error messages.
func (p *process) tail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	from := max(len(p.lines)-15, 0)
	return strings.Join(p.lines[from:], "\n")
}

func (p *process) watch(f func(string)) {
	p.mu.Lock()
	p.onLine = f
	p.mu.Unlock()
}

// waitHTTP polls url until it answers 200, the process dies or time runs out.
func waitHTTP(ctx context.Context, url string, timeout time.Duration, p *process) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if p.exited() {
			return fmt.Errorf("%s exited", p.name)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer within %s", url, timeout)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// addrOrFree returns addr if it can be listened on, else a free port.
func addrOrFree(addr string) string {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return freeAddr()
	}
	ln.Close()
	return addr
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func since(t time.Time) string { return time.Since(t).Round(10 * time.Millisecond).String() }

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// readYAMLObjects reads a multi-document YAML file.
func readYAMLObjects(file string) ([]map[string]any, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := yaml.NewYAMLOrJSONDecoder(f, 4096)
	var objs []map[string]any
	for {
		var o map[string]any
		if err := dec.Decode(&o); err == io.EOF {
			return objs, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if o != nil {
			objs = append(objs, runtime.DeepCopyJSON(o))
		}
	}
}
