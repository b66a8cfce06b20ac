package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// childEnv makes the test binary one of the children below instead of
// running the tests.
const childEnv = "PROCESS_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		child(mode)
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// child is what a test starts.
func child(mode string) {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	switch mode {
	case "serve": // listens on port 0, says where, serves until SIGTERM
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		go http.Serve(ln, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		fmt.Fprintln(os.Stderr, "warming up")
		fmt.Println(strings.Repeat("x", maxLine+100)) // a line longer than kept
		fmt.Println("child listening on", ln.Addr())
		for {
			select {
			case <-usr1:
				fmt.Println("got usr1")
			case <-term:
				fmt.Println("bye")
				return
			}
		}
	case "taken": // fails as a server whose port was taken does
		fmt.Fprintln(os.Stderr, "listen tcp 127.0.0.1:8089: bind: address already in use")
		os.Exit(1)
	case "silent": // runs, never says where it listens
		fmt.Println("starting")
		<-term
	case "stubborn": // ignores SIGTERM
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready")
		select {}
	case "exit": // ends on its own
		fmt.Println("done already")
	}
}

func options(mode string) Options {
	self, _ := os.Executable()
	// A binary built with -race sleeps a second at exit unless told not to.
	return Options{Name: mode, Args: []string{self}, Env: []string{childEnv + "=" + mode, "GORACE=atexit_sleep_ms=0"}}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

func TestStartReadsTheAnnouncedAddress(t *testing.T) {
	o := options("serve")
	o.Ready = ListeningOn("child listening on")
	var seen []string // OnLine is called from one goroutine, and Stop waits for it
	var log, echo syncBuffer
	o.OnLine = func(l string) { seen = append(seen, l) }
	o.Log, o.Echo, o.EchoPrefix = &log, &echo, "[serve] "
	p, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	if len(p.Addrs) != 1 {
		t.Fatalf("Addrs = %q, want the one address announced", p.Addrs)
	}
	if err := p.WaitHTTP(context.Background(), "http://"+p.Addrs[0]+"/", 5*time.Second); err != nil {
		t.Fatalf("the announced address does not serve: %v", err)
	}

	p.Stop()
	if p.Crashed() {
		t.Error("Crashed after Stop: a stop that was asked for is no crash")
	}
	if err := p.Err(); err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0", err)
	}
	if len(seen) != 4 || seen[0] != "warming up" || len(seen[1]) != maxLine || seen[3] != "bye" {
		t.Errorf("OnLine saw %d lines; want 4, in order, the long one cut at %d bytes", len(seen), maxLine)
	}
	if !strings.Contains(log.String(), strings.Repeat("x", maxLine+100)+"\n") {
		t.Error("Log lacks the long line whole: it must get a copy of everything")
	}
	if !strings.HasPrefix(echo.String(), "[serve] warming up\n") || !strings.HasSuffix(echo.String(), "[serve] bye\n") {
		t.Errorf("Echo = %.80q…, want every line after the prefix", echo.String())
	}
	if tail := p.Tail(100); tail != "bye" && !strings.HasSuffix(tail, "\nbye") || len(tail) > 100 {
		t.Errorf("Tail(100) = %q, want at most 100 bytes ending with the last line", tail)
	}
}

// A child that does not get ready must not leave the caller guessing: the
// error names what was awaited and shows what the child said.
func TestStartSaysWhatItWaitedFor(t *testing.T) {
	tests := []struct {
		name      string
		mode      string
		want      []string
		addrInUse bool
	}{
		{"exits first", "taken", []string{`taken exited (exit status 1) before a "child listening on ADDR" line`, "bind: address already in use"}, true},
		{"never announces", "silent", []string{`silent: waited 300ms for a "child listening on ADDR" line`, "starting"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := options(tc.mode)
			o.Ready, o.ReadyTimeout = ListeningOn("child listening on"), 300*time.Millisecond
			p, err := Start(context.Background(), o)
			if err == nil {
				p.Stop()
				t.Fatal("Start succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if AddrInUse(err) != tc.addrInUse {
				t.Errorf("AddrInUse = %v, want %v", !tc.addrInUse, tc.addrInUse)
			}
		})
	}
}

func TestStartEndsWithTheContext(t *testing.T) {
	o := options("silent")
	o.Ready = ListeningOn("child listening on")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := Start(ctx, o); err == nil || !strings.Contains(err.Error(), "context deadline exceeded") {
		t.Fatalf("err = %v, want the context's", err)
	}
}

// Stop used to wait forever for a child that ignored SIGTERM.
func TestStopKillsAChildThatIgnoresSIGTERM(t *testing.T) {
	o := options("stubborn")
	o.StopTimeout = 300 * time.Millisecond
	p, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Expect(`"ready"`, func(l string) bool { return l == "ready" }).Wait(context.Background(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	p.Stop()
	if took := time.Since(t0); took < 300*time.Millisecond || took > 3*time.Second {
		t.Errorf("Stop took %s, want the 300ms stop timeout, then a kill", took)
	}
	if err := p.Err(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Err = %v, want killed", err)
	}
}

func TestCrashedWhenItExitsUnasked(t *testing.T) {
	p, err := Start(context.Background(), options("exit"))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the child did not exit")
	}
	if !p.Crashed() {
		t.Error("Crashed = false for a child that exited unasked")
	}
	if got := p.Tail(1000); got != "done already" {
		t.Errorf("Tail = %q: the output must be read to its end before Done", got)
	}
	p.Stop() // does nothing now
}

func TestExpectSeesLaterLines(t *testing.T) {
	o := options("serve")
	o.Ready = ListeningOn("child listening on")
	p, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	usr1 := p.Expect(`the "got usr1" line`, func(l string) bool { return l == "got usr1" })
	if err := p.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if line, err := usr1.Wait(context.Background(), 5*time.Second); err != nil || line != "got usr1" {
		t.Fatalf("Wait = %q, %v", line, err)
	}

	never := p.Expect(`the "never" line`, func(l string) bool { return l == "never" })
	_, err = never.Wait(context.Background(), 100*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), `serve: waited 100ms for the "never" line`) {
		t.Errorf("err = %v, want it to say what it waited for", err)
	}
	p.Stop()
	if _, err := never.Wait(context.Background(), 5*time.Second); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Errorf("err = %v, want it to say the child exited", err)
	}
}

func TestWaitHTTPAndDialFailWithWhatTheyWaitedFor(t *testing.T) {
	p, err := Start(context.Background(), options("silent"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	dead, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	err = p.WaitHTTP(context.Background(), "http://"+dead+"/readyz", 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "silent: waited 200ms for a 200 from GET http://"+dead+"/readyz (last: ") {
		t.Errorf("WaitHTTP: %v", err)
	}
	err = p.WaitDial(context.Background(), dead, 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "waited 200ms for a connection accepted on "+dead) {
		t.Errorf("WaitDial: %v", err)
	}
	p.Stop()
	if err := p.WaitDial(context.Background(), dead, 5*time.Second); err == nil || !strings.Contains(err.Error(), "silent exited") {
		t.Errorf("WaitDial after the exit: %v", err)
	}
}

func TestPoll(t *testing.T) {
	tries := 0
	err := Poll(context.Background(), "the third try", 5*time.Second, time.Millisecond, func(context.Context) error {
		if tries++; tries < 3 {
			return fmt.Errorf("try %d", tries)
		}
		return nil
	})
	if err != nil || tries != 3 {
		t.Errorf("Poll = %v after %d tries, want nil after 3", err, tries)
	}

	notYet := errors.New("not yet")
	err = Poll(context.Background(), "what never comes", 50*time.Millisecond, time.Millisecond, func(context.Context) error { return notYet })
	if !errors.Is(err, notYet) || !strings.Contains(err.Error(), "waited 50ms for what never comes") {
		t.Errorf("Poll after its timeout = %v, want it to say what it waited for and wrap the last reason", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	err = Poll(ctx, "what never comes", time.Minute, time.Millisecond, func(context.Context) error { cancel(); return notYet })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Poll once its context ended = %v, want context.Canceled", err)
	}
}

func TestLogged(t *testing.T) {
	record := func(h slog.Handler) {
		slog.New(h).Info("llmroute-sidecar serving", "version", "dev", "listen", "127.0.0.1:40001", "admin", "[::1]:40002", "rules", 2)
	}
	var js, text bytes.Buffer
	record(slog.NewJSONHandler(&js, nil))
	record(slog.NewTextHandler(&text, nil))
	a := Logged("llmroute-sidecar serving", "listen", "admin")
	tests := []struct {
		name string
		line string
		want []string
	}{
		{"slog JSON", strings.TrimSpace(js.String()), []string{"127.0.0.1:40001", "[::1]:40002"}},
		{"slog text", strings.TrimSpace(text.String()), []string{"127.0.0.1:40001", "[::1]:40002"}},
		{"zap JSON", `{"level":"info","ts":"2026-01-02T03:04:05Z","msg":"llmroute-sidecar serving","listen":"127.0.0.1:1","admin":"127.0.0.1:2"}`, []string{"127.0.0.1:1", "127.0.0.1:2"}},
		{"another message", `{"msg":"llmroute-sidecar serving soon","listen":"127.0.0.1:1","admin":"127.0.0.1:2"}`, nil},
		{"a key missing", `time=x level=INFO msg="llmroute-sidecar serving" listen=127.0.0.1:1`, nil},
		{"port 0 is no address", `{"msg":"llmroute-sidecar serving","listen":"127.0.0.1:0","admin":"127.0.0.1:2"}`, nil},
		{"not a record", `llmroute-sidecar serving on 127.0.0.1:1`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := a.Parse(tc.line)
			if ok != (tc.want != nil) || fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("Parse(%s) = %q, %v; want %q", tc.line, got, ok, tc.want)
			}
		})
	}
}

func TestLogFields(t *testing.T) {
	var text bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("Config change refused", "err", `bad "quote" and = sign`, "n", 3)
	f, ok := LogFields(text.String())
	if !ok || f["msg"] != "Config change refused" || f["err"] != `bad "quote" and = sign` || f["n"] != "3" || f["level"] != "INFO" {
		t.Errorf("text record: %q, %v", f, ok)
	}
	f, ok = LogFields(`{"msg":"Request","status":200,"tries":[{"provider":"a"}]}`)
	if !ok || f["status"] != "200" || f["tries"] != `[{"provider":"a"}]` {
		t.Errorf("JSON record: %q, %v; values that are not strings keep their JSON", f, ok)
	}
	for _, line := range []string{"", "plain words", `{"level":"info"}`, `key="unterminated`} {
		if f, ok := LogFields(line); ok {
			t.Errorf("LogFields(%q) = %q, want no record", line, f)
		}
	}
}

func TestListeningOn(t *testing.T) {
	a := ListeningOn("mockllm openai listening on")
	for line, want := range map[string]string{
		"mockllm openai listening on 127.0.0.1:9001": "127.0.0.1:9001",
		"mockllm openai listening on [::]:9001":      "[::]:9001",
		"mockllm claude listening on 127.0.0.1:9001": "",
		"mockllm openai listening on soon":           "",
		"mockllm openai listening on":                "",
	} {
		got, ok := a.Parse(line)
		if ok != (want != "") || ok && got[0] != want {
			t.Errorf("Parse(%q) = %q, %v; want %q", line, got, ok, want)
		}
	}
}
