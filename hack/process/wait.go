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

// poll calls try until it succeeds, the child exits, timeout passes or ctx
// ends. Each try gets at most a second.
func (p *Process) poll(ctx context.Context, what string, timeout time.Duration, try func(context.Context) error) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var last error
	for {
		tctx, cancel := context.WithTimeout(ctx, time.Second)
		last = try(tctx)
		cancel()
		if last == nil {
			return nil
		}
		pause := time.NewTimer(pollEvery)
		select {
		case <-pause.C:
		case <-p.done:
			pause.Stop()
			return p.exitError(what)
		case <-deadline.C:
			pause.Stop()
			return p.timeoutError(what, timeout, last)
		case <-ctx.Done():
			pause.Stop()
			return fmt.Errorf("%s: waiting for %s: %w", p.Name, what, ctx.Err())
		}
	}
}
