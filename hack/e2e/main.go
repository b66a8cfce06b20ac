// Command e2e runs a real single-node Kubernetes cluster on this machine,
// offline, for llmroute's end-to-end suite: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, a kubelet with containerd 2, runc
// and the CNI bridge, kube-proxy and CoreDNS, all inside a network namespace
// of the node's own, with addresses from 198.18.0.0/15 only. Every image is
// built here from static binaries and imported; nothing is pulled.
//
//	e2e [flags] run -- COMMAND [ARGS]   bring the cluster up, run COMMAND with
//	                                    KUBECONFIG set, tear everything down
//	e2e [flags] down                    tear down what an interrupted run left
//	e2e image -o FILE -tag IMAGE [-version V]
//	                                    build the operator's image as a
//	                                    docker/OCI tarball (make image-tarball)
//
// It needs root: it makes a network namespace, a veth pair, routes, cgroups
// and mounts, and it says so and fails when it cannot. However the run ends
// (the command fails, Ctrl-C, SIGTERM), it tears down in reverse and checks
// that no process, mount, link, route or cgroup is left.
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

func main() {
	if len(os.Args) > 1 && os.Args[1] == "image" {
		if err := imageCommand(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "e2e image: %v\n", err)
			os.Exit(1)
		}
		return
	}

	var o options
	flag.StringVar(&o.bin, "bin", "bin", "the directory hack/e2e/build.sh built the node's binaries into")
	flag.StringVar(&o.state, "state", "/tmp/llmroute-e2e", "the node's state `directory`; removed on teardown")
	flag.StringVar(&o.logs, "logs", "/tmp/llmroute-e2e-logs", "`directory` for the daemons' logs, kept after the run")
	flag.StringVar(&o.image, "image", "", "the operator's image tarball (make image-tarball) to import")
	flag.StringVar(&o.imageTag, "image-tag", "", "the tag the operator's tarball holds, passed to the command as E2E_IMAGE")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: e2e [flags] run -- COMMAND [ARGS] | down | image ...\n\nFlags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		flag.Usage()
		os.Exit(2)
	}
	var err error
	for _, p := range []*string{&o.bin, &o.state, &o.logs, &o.image} {
		if *p != "" {
			if *p, err = filepath.Abs(*p); err != nil {
				fatal(err)
			}
		}
	}

	switch args[0] {
	case "run":
		if len(args) < 2 || args[1] != "--" || len(args) < 3 {
			fatal(errors.New("usage: e2e run -- COMMAND [ARGS]"))
		}
		os.Exit(runCluster(o, args[2:]))
	case "down":
		c := newCluster(o)
		if err := preflight(); err != nil {
			fatal(err)
		}
		unlock, err := c.lock()
		if err != nil {
			fatal(err)
		}
		defer unlock()
		if err := c.teardown(); err != nil {
			fatal(err)
		}
	default:
		flag.Usage()
		os.Exit(2)
	}
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Printf("e2e: "+format+"\n", args...)
}

// runCluster brings the cluster up, runs the command, tears down, and
// returns the exit code: the command's, or 1 when the cluster could not be
// brought up or not torn down clean, or 130 when interrupted.
func runCluster(o options, command []string) int {
	start := time.Now()
	if err := preflight(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: cannot run a node on this machine: %v\n", err)
		return 1
	}
	c := newCluster(o)
	unlock, err := c.lock()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer unlock()

	// The first SIGINT, SIGTERM or SIGHUP stops the bring-up or the command
	// and goes on to the teardown; later ones are reported and ignored, so
	// that the teardown always finishes.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		for n := 0; ; n++ {
			s, ok := <-sigs
			if !ok {
				return
			}
			if n == 0 {
				logf("%s: stopping, then tearing everything down", s)
				cancel()
			} else {
				logf("%s: still tearing down, please wait", s)
			}
		}
	}()

	var code int
	if err := c.cleanUpEarlierRun(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	if err := c.up(ctx); err != nil {
		if ctx.Err() == nil {
			fmt.Fprintf(os.Stderr, "e2e: bring-up failed: %v\n", err)
			c.diagnose()
		}
		code = 1
	} else {
		logf("cluster up in %s; running %s", since(start), command[0])
		code = c.runCommand(ctx, command)
		if code != 0 && ctx.Err() == nil {
			c.diagnose()
		}
	}
	if ctx.Err() != nil {
		code = 130
	}
	if err := c.teardown(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: TEARDOWN INCOMPLETE: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	logf("finished in %s (exit code %d); daemon logs in %s", since(start), code, c.logs)
	return code
}

func since(t time.Time) string { return time.Since(t).Round(100 * time.Millisecond).String() }
