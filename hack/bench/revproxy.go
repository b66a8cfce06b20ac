package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/osmen-ai/llmroute/hack/process"
)

// revproxyCommand is the bare httputil.ReverseProxy baseline, run as
// `bench revproxy --upstream URL` in a process of its own so that it does not
// share a Go scheduler with the load generator. Its transport keeps as many
// idle connections as the sidecar's (the stdlib default keeps 2 per host,
// which would make the baseline pay for new connections under concurrency).
func revproxyCommand(args []string) error {
	fs := flag.NewFlagSet("revproxy", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	upstream := fs.String("upstream", "", "upstream base URL, e.g. http://127.0.0.1:9001")
	if err := fs.Parse(args); err != nil {
		return err
	}
	target, err := url.Parse(*upstream)
	if err != nil || target.Host == "" {
		return fmt.Errorf("--upstream %q is not a URL", *upstream)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 512,
			IdleConnTimeout:     90 * time.Second,
		},
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Println(revproxyListening, ln.Addr())
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// revproxyListening starts the line in which the baseline names the address
// it bound: StartRevProxy reads it back.
const revproxyListening = "revproxy listening on"

// StartRevProxy runs the ReverseProxy baseline in front of upstream.
func (h *Harness) StartRevProxy(ctx context.Context, name, upstream string) (*Proc, error) {
	argv := []string{h.Self, "revproxy", "--upstream", upstream}
	return h.Start(ctx, "revproxy-"+name, argv, nil, process.ListeningOn(revproxyListening))
}
