// Package process runs the child processes of the demo, the benchmark and
// the sidecar's tests, one way for all three: each child in its own process
// group, killed if its parent dies, its output kept, stopped with SIGTERM
// then SIGKILL, and ready when it says so. A child that serves is started on
// port 0 and announces the address it bound (see Announcement), so that no
// port is chosen by listening, closing and hoping nobody takes it before the
// child binds it.
//
// It uses the standard library only: the sidecar's tests import it, and
// nothing the sidecar builds on may pull in Kubernetes.
package process

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults of the Options' durations.
const (
	DefaultReadyTimeout = 20 * time.Second
	DefaultStopTimeout  = 5 * time.Second
)

const (
	// keptBytes is how much of the output's end is kept for Tail.
	keptBytes = 16 << 10
	// errorTail is how much of it an error shows.
	errorTail = 2000
	// maxLine is the longest line matched and kept; the rest of a longer
	// line is still copied to Log but otherwise dropped.
	maxLine = 64 << 10
	// drainGrace is how long the output is read after the child exits: a
	// grandchild that inherited it (and outlived its parent) may keep it
	// open for good.
	drainGrace = time.Second
)

// Options say what to run and what to do with its output. The zero value of
// every field but Args is valid.
type Options struct {
	// Name names the child in errors; "" means the program's base name.
	Name string
	// Args is the program and its arguments.
	Args []string
	// Env is added to the parent's environment.
	Env []string

	// Log, when set, gets a copy of everything the child prints (standard
	// output and error, in the order written), as it is read.
	Log io.Writer
	// Echo, when set, gets every line the child prints, each after
	// EchoPrefix.
	Echo       io.Writer
	EchoPrefix string
	// OnLine, when set, is called with every line, in order, from one
	// goroutine. It has seen a line before an Expectation the line meets
	// is met.
	OnLine func(line string)

	// Ready is the line in which the child says it serves: Start waits
	// for it and puts the addresses it names in Addrs. With the zero
	// Announcement, Start returns as soon as the child runs.
	Ready Announcement
	// ReadyTimeout bounds the wait for Ready; zero means
	// DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// StopTimeout is how long Stop waits after SIGTERM before it kills the
	// child; zero means DefaultStopTimeout.
	StopTimeout time.Duration
}

// Process is a running child.
type Process struct {
	// Name names it in errors.
	Name string
	// Addrs are the addresses it announced it serves on (Options.Ready).
	Addrs []string

	cmd         *exec.Cmd
	stopTimeout time.Duration
	done        chan struct{} // closed once it exited and its output was read
	err         error         // how it exited; set before done is closed
	stopping    atomic.Bool   // Stop was called: an exit is expected

	mu      sync.Mutex
	kept    []string // the last lines, keptBytes at most
	keptLen int
	expects []*Expectation
}

// Start runs the child and, when o.Ready is set, waits until it announces
// its addresses. When the child exits first, does not announce them in time
// or ctx ends, Start stops it and returns an error that says what it waited
// for and ends with the child's last output.
func Start(ctx context.Context, o Options) (*Process, error) {
	if len(o.Args) == 0 {
		return nil, errors.New("start a child process: no program given")
	}
	p := &Process{
		Name:        cmp.Or(o.Name, filepath.Base(o.Args[0])),
		stopTimeout: cmp.Or(o.StopTimeout, DefaultStopTimeout),
		done:        make(chan struct{}),
	}
	var ready *Expectation
	if o.Ready.Parse != nil {
		ready = p.Expect(o.Ready.What, func(line string) bool {
			_, ok := o.Ready.Parse(line)
			return ok
		})
	}

	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(o.Args[0], o.Args[1:]...)
	p.cmd.Env = append(os.Environ(), o.Env...)
	// One pipe for both: the lines arrive in the order they were written.
	p.cmd.Stdout, p.cmd.Stderr = w, w
	// Its own process group: a Ctrl-C in the terminal reaches only the
	// parent, which stops its children in order; Stop signals the whole
	// group. Pdeathsig: a child never outlives a parent that was killed.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	err = p.cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("start %s: %w", p.Name, err)
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		p.read(r, o)
	}()
	go func() {
		err := p.cmd.Wait()
		t := time.NewTimer(drainGrace)
		select {
		case <-drained:
		case <-t.C:
		}
		t.Stop()
		p.err = err
		close(p.done)
	}()

	if ready == nil {
		return p, nil
	}
	line, err := ready.Wait(ctx, cmp.Or(o.ReadyTimeout, DefaultReadyTimeout))
	if err != nil {
		p.Stop()
		return nil, err
	}
	p.Addrs, _ = o.Ready.Parse(line)
	return p, nil
}

// read reads the child's output to its end, line by line.
func (p *Process) read(r *os.File, o Options) {
	defer r.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	long := false // the line is longer than maxLine: the rest is dropped
	for {
		frag, err := br.ReadSlice('\n')
		if o.Log != nil && len(frag) > 0 {
			o.Log.Write(frag)
		}
		if !long {
			line = append(line, frag...)
			if len(line) > maxLine {
				line, long = line[:maxLine], true
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(line) > 0 {
			p.line(string(bytes.TrimRight(line, "\r\n")), o)
		}
		line, long = line[:0], false
		if err != nil {
			return
		}
	}
}

// line keeps one line of output and hands it to whoever waits for it.
func (p *Process) line(line string, o Options) {
	if o.Echo != nil {
		io.WriteString(o.Echo, o.EchoPrefix+line+"\n")
	}
	if o.OnLine != nil {
		o.OnLine(line)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.kept = append(p.kept, line)
	p.keptLen += len(line) + 1
	for len(p.kept) > 1 && p.keptLen > keptBytes {
		p.keptLen -= len(p.kept[0]) + 1
		p.kept = p.kept[1:]
	}
	waiting := p.expects[:0]
	for _, e := range p.expects {
		if e.match(line) {
			e.line = line
			close(e.met)
		} else {
			waiting = append(waiting, e)
		}
	}
	clear(p.expects[len(waiting):])
	p.expects = waiting
}

// Tail returns the end of the child's output, at most n bytes of it, cut at
// a line's start where it can be: what an error message shows.
func (p *Process) Tail(n int) string {
	p.mu.Lock()
	out := strings.Join(p.kept, "\n")
	p.mu.Unlock()
	if len(out) > n {
		out = out[len(out)-n:]
		if i := strings.IndexByte(out, '\n'); i >= 0 && i < len(out)-1 {
			out = out[i+1:]
		}
	}
	return out
}

// Pid is the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the child (not to its group).
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Done is closed once the child has exited and its output has been read.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is how the child exited (nil for status 0). Read it once Done is
// closed.
func (p *Process) Err() error { return p.err }

// Crashed reports whether the child has exited although Stop was not
// called: a crash, when the caller did not make it exit.
func (p *Process) Crashed() bool {
	select {
	case <-p.done:
		return !p.stopping.Load()
	default:
		return false
	}
}

// Stop asks the child's process group to stop (SIGTERM) and kills it when
// it has not exited after the stop timeout. It returns once the child has
// exited; calling it again, or after the child exited, does nothing.
func (p *Process) Stop() {
	if p == nil {
		return
	}
	p.stopping.Store(true)
	select {
	case <-p.done:
		return
	default:
	}
	pgid := -p.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	t := time.NewTimer(p.stopTimeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-p.done
	}
}

// exitError says that the child exited while the caller waited for what.
func (p *Process) exitError(what string) error {
	how := "exit status 0"
	if p.err != nil {
		how = p.err.Error()
	}
	return fmt.Errorf("%s exited (%s) before %s%s", p.Name, how, what, p.lastWords())
}

// timeoutError says that what did not happen within d.
func (p *Process) timeoutError(what string, d time.Duration, last error) error {
	cause := ""
	if last != nil {
		cause = fmt.Sprintf(" (last: %v)", last)
	}
	return fmt.Errorf("%s: waited %s for %s%s%s", p.Name, d, what, cause, p.lastWords())
}

// lastWords is the end of an error: what the child printed last.
func (p *Process) lastWords() string {
	if tail := p.Tail(errorTail); tail != "" {
		return "; its output ends:\n" + tail
	}
	return "; it printed nothing"
}
