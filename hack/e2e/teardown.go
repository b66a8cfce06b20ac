package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// teardown stops everything the node runs and removes everything it made,
// in reverse order of the bring-up: daemons (the kubelet first, so nothing
// restarts), every process left in the node's cgroups, mounts, the veth pair
// and routes, the blackhole route last, then cgroups and files. It works from
// what it finds, so it also finishes a run that was killed. It then checks
// that nothing is left and says what is, if anything.
func (c *cluster) teardown() error {
	start := time.Now()
	logf("teardown: stopping the node...")
	if b, err := os.ReadFile(c.statePath()); err == nil && len(c.daemons) == 0 {
		_ = json.Unmarshal(b, &c.st)
	}

	var errs []error
	stopDaemons(c.daemons, 10*time.Second, "kubelet")
	stopDaemons(c.daemons, 5*time.Second, "kube-proxy", "kube-scheduler", "kube-controller-manager", "containerd")
	stopDaemons(c.daemons, 5*time.Second, "kube-apiserver")
	stopDaemons(c.daemons, 5*time.Second, "etcd")
	// Pods, containerd's shims, and any daemon of a run that was killed.
	if err := killCgroups(15 * time.Second); err != nil {
		errs = append(errs, err)
	}
	if err := unmountAll(c.state); err != nil {
		errs = append(errs, err)
	}
	if err := c.tearDownNetwork(); err != nil {
		errs = append(errs, err)
	}
	if err := removeCgroups(); err != nil {
		errs = append(errs, err)
	}
	if err := c.removeHostPaths(); err != nil {
		errs = append(errs, err)
	}
	if err := removeState(c.state); err != nil {
		errs = append(errs, err)
	}
	if err := c.leftovers(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	logf("teardown: done in %s; no process, mount, link, route or cgroup left", since(start))
	return nil
}

// stopDaemons stops the named daemons at once and waits for them.
func stopDaemons(ds []*daemon, grace time.Duration, names ...string) {
	var wg sync.WaitGroup
	for _, d := range ds {
		if slices.Contains(names, d.name) {
			wg.Go(func() { d.stop(grace) })
		}
	}
	wg.Wait()
}

// removeHostPaths removes the paths outside the state directory that the
// node's software made, and the kubelet's log links into the state
// directory where that directory existed before.
func (c *cluster) removeHostPaths() error {
	var errs []error
	for _, p := range c.st.Created {
		if !slices.Contains(hostPaths, p) {
			continue // never remove a path this program did not list
		}
		if left := mountsUnder(p); len(left) > 0 {
			errs = append(errs, fmt.Errorf("not removing %s: still mounted: %s", p, strings.Join(left, ", ")))
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
		}
	}
	links, _ := filepath.Glob("/var/log/containers/*.log")
	for _, l := range links {
		if target, err := os.Readlink(l); err == nil && strings.HasPrefix(target, c.state+"/") {
			_ = os.Remove(l)
		}
	}
	return errors.Join(errs...)
}

// leftovers reports anything of the node that is still there.
func (c *cluster) leftovers() error {
	var left []string
	if pids := cgroupPids(); len(pids) > 0 {
		left = append(left, fmt.Sprintf("processes %v", pids))
	}
	if m := mountsUnder(c.state); len(m) > 0 {
		left = append(left, "mounts "+strings.Join(m, ", "))
	}
	if hostLinkExists() {
		left = append(left, "link "+hostLink)
	}
	if r := hostRoutesInGuard(); len(r) > 0 {
		left = append(left, "routes "+strings.Join(r, "; "))
	}
	if cg := leftoverCgroups(); len(cg) > 0 {
		left = append(left, "cgroups "+strings.Join(cg, ", "))
	}
	if _, err := os.Stat(c.state); err == nil {
		left = append(left, "directory "+c.state)
	}
	if len(left) > 0 {
		return fmt.Errorf("left behind: %s", strings.Join(left, "; "))
	}
	return nil
}
