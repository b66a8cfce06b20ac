package process

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Expectation is a line the child is expected to print.
type Expectation struct {
	p     *Process
	what  string
	match func(line string) bool
	met   chan struct{} // closed at the first line that matches
	line  string        // that line; set before met is closed
}

// Expect returns an Expectation of the first line, from now on, that match
// accepts; what names it in errors (`the "Config reloaded" log line`).
// Call it before doing what makes the child print the line: a line printed
// earlier is not seen. match runs on the goroutine that reads the output,
// so it must be quick.
func (p *Process) Expect(what string, match func(line string) bool) *Expectation {
	e := &Expectation{p: p, what: what, match: match, met: make(chan struct{})}
	p.mu.Lock()
	p.expects = append(p.expects, e)
	p.mu.Unlock()
	return e
}

// Wait returns the line once it has been printed. It fails when the child
// exits first, when timeout passes or when ctx ends; the error says what it
// waited for and ends with the child's last output.
func (e *Expectation) Wait(ctx context.Context, timeout time.Duration) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-e.met:
		return e.line, nil
	case <-e.p.done:
		select {
		case <-e.met: // its last words
			return e.line, nil
		default:
		}
		return "", e.p.exitError(e.what)
	case <-t.C:
		return "", e.p.timeoutError(e.what, timeout, nil)
	case <-ctx.Done():
		return "", fmt.Errorf("%s: waiting for %s: %w", e.p.Name, e.what, ctx.Err())
	}
}

// pollEvery is the pause between two tries of a poll: not much shorter,
// since a child may log every failed try (the manager logs each failed
// health check).
const pollEvery = 100 * time.Millisecond

// probeClient keeps no connection open to a child between two tries.
var probeClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// WaitHTTP waits until GET url answers 200: the readiness of a child that
// cannot announce it (see Announcement). It fails as Expectation.Wait does.
func (p *Process) WaitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	return p.poll(ctx, "a 200 from GET "+url, timeout, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := probeClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s", resp.Status)
		}
		return nil
	})
}

// WaitDial waits until addr accepts TCP connections. It fails as
// Expectation.Wait does.
func (p *Process) WaitDial(ctx context.Context, addr string, timeout time.Duration) error {
	return p.poll(ctx, "a connection accepted on "+addr, timeout, func(ctx context.Context) error {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// Poll calls try until it returns nil, timeout passes or ctx ends, pausing
// every between two tries: the wait for something that is not a child's
// (an object's status, another program's answer). The error says what it
// waited for and, after a timeout, wraps the last reason try gave.
func Poll(ctx context.Context, what string, timeout, every time.Duration, try func(context.Context) error) error {
	switch end, last := pollLoop(ctx, timeout, every, nil, try); end {
	case timedOut:
		return fmt.Errorf("waited %s for %s: %w", timeout, what, last)
	case canceled:
		return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
	}
	return nil
}

// poll calls try until it succeeds, the child exits, timeout passes or ctx
// ends. Each try gets at most a second.
func (p *Process) poll(ctx context.Context, what string, timeout time.Duration, try func(context.Context) error) error {
	bounded := func(ctx context.Context) error {
		tctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return try(tctx)
	}
	switch end, last := pollLoop(ctx, timeout, pollEvery, p.done, bounded); end {
	case exited:
		return p.exitError(what)
	case timedOut:
		return p.timeoutError(what, timeout, last)
	case canceled:
		return fmt.Errorf("%s: waiting for %s: %w", p.Name, what, ctx.Err())
	}
	return nil
}

// pollEnd is why a poll ended.
type pollEnd int

const (
	succeeded pollEnd = iota
	exited            // the child exited
	timedOut
	canceled // ctx ended
)

// pollLoop calls try, pausing every between two tries, until it succeeds,
// done is closed (nil: never), timeout passes or ctx ends. last is try's
// last error.
func pollLoop(ctx context.Context, timeout, every time.Duration, done <-chan struct{}, try func(context.Context) error) (end pollEnd, last error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if last = try(ctx); last == nil {
			return succeeded, nil
		}
		pause := time.NewTimer(every)
		select {
		case <-pause.C:
		case <-done:
			pause.Stop()
			return exited, last
		case <-deadline.C:
			pause.Stop()
			return timedOut, last
		case <-ctx.Done():
			pause.Stop()
			return canceled, last
		}
	}
}
