// Command demo runs the whole llmroute chain on one machine, with no cluster:
// a Kubernetes API server (envtest), the operator and its webhook, fake
// providers, and the sidecar fed the files the operator rendered. It sends
// real requests through the sidecar and prints, step by step, what happened.
// It exits non-zero if any link of the chain did not work, so CI runs it as a
// smoke test.
//
//	go run ./hack/demo   (or: make demo)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

type options struct {
	assets  string // kube-apiserver and etcd
	manager string // the manager binary
	sidecar string // the llmroute-sidecar binary
	listen  string // the sidecar's proxy address
	verbose bool
}

func main() {
	var o options
	flag.StringVar(&o.assets, "assets", "bin/k8s", "directory holding kube-apiserver and etcd (make envtest)")
	flag.StringVar(&o.manager, "manager", "bin/manager", "the manager binary (make build)")
	flag.StringVar(&o.sidecar, "sidecar", "bin/llmroute-sidecar", "the llmroute-sidecar binary (make build)")
	flag.StringVar(&o.listen, "listen", "127.0.0.1:8089", "the sidecar's proxy address; a free port is used if it is taken")
	flag.BoolVar(&o.verbose, "v", false, "also print the manager's and the sidecar's own logs")
	flag.Parse()

	// Ctrl-C or SIGTERM cancels the context; every process and server the
	// demo started is stopped by the deferred cleanups on the way out.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d := &demo{o: o, start: time.Now()}
	err := d.run(ctx)
	d.cleanup()
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		fmt.Println("\nInterrupted: everything the demo started has been stopped.")
		os.Exit(130)
	case err != nil:
		fmt.Fprintf(os.Stderr, "\nFAILED: %v\n", err)
		os.Exit(1)
	}
}

func (o options) check() error {
	for _, f := range []string{filepath.Join(o.assets, "kube-apiserver"), filepath.Join(o.assets, "etcd"), o.manager, o.sidecar} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%s is missing: run 'make demo', which builds it first", f)
		}
	}
	return nil
}
