package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// daemon is a node process: run in the node's network namespace and system
// cgroup, its output in a log file.
type daemon struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// joinCgroupAndExec is the shell that starts every daemon: it moves itself
// into the node's system cgroup in every hierarchy, then becomes the daemon,
// so that nothing the daemon forks ever runs outside the node's cgroups.
const joinCgroupAndExec = `for f in $LLMROUTE_E2E_CGROUP_PROCS; do echo $$ > "$f" || exit 1; done; exec "$@"`

// start starts bin with args as a node daemon.
func (c *cluster) start(name, bin string, args ...string) error {
	procs, err := systemCgroupProcs()
	if err != nil {
		return err
	}
	logFile := filepath.Join(c.logs, name+".log")
	out, err := os.Create(logFile)
	if err != nil {
		return err
	}
	argv := append([]string{"-c", joinCgroupAndExec, "sh", "nsenter", "--net=" + c.netnsFile(), "--", bin}, args...)
	cmd := exec.Command("/bin/sh", argv...)
	cmd.Env = append(os.Environ(),
		"LLMROUTE_E2E_CGROUP_PROCS="+strings.Join(procs, " "),
		// containerd finds its shim, and kube-proxy and the CNI plugins find
		// iptables, through PATH.
		"PATH="+c.containerdDir()+":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	)
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group: a Ctrl-C reaches this program, which stops
	// the daemons in order, and not the daemons directly.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	d := &daemon{name: name, cmd: cmd, log: logFile, done: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		out.Close()
		close(d.done)
	}()
	c.daemons = append(c.daemons, d)
	return nil
}

func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits up to grace, then kills.
func (d *daemon) stop(grace time.Duration) {
	if d.exited() {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(grace):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

// tail returns the last lines of the daemon's log, for error messages.
func (d *daemon) tail(n int) string {
	b, err := os.ReadFile(d.log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}

// waitFor polls check every interval until it returns nil, a daemon dies,
// the context ends or timeout passes; the error says what was waited for
// and the last reason it was not there yet.
func (c *cluster) waitFor(ctx context.Context, what string, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		for _, d := range c.daemons {
			if d.exited() {
				return fmt.Errorf("%s exited (%v) while waiting for %s; its log ends:\n%s", d.name, d.err, what, d.tail(20))
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %s: %w", what, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// output runs a command and returns its standard output.
func output(name string, args ...string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return string(out), nil
}
