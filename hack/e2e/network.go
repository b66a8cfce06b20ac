package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The node's addresses, all in 198.18.0.0/15 (RFC 2544, benchmarking): never
// a private range a real network of the machine might use.
const (
	guardCIDR   = "198.18.0.0/15" // blackholed in the host namespace for the whole run
	podCIDR     = "198.18.0.0/24"
	podGateway  = "198.18.0.1"
	nodeIP      = "198.18.255.254"
	hostIP      = "198.18.255.253" // the host's end of the veth
	serviceCIDR = "198.19.0.0/16"
	apiServerIP = "198.19.0.1" // the kubernetes Service
	dnsIP       = "198.19.0.10"

	nodeName   = "llmroute-e2e"
	hostLink   = "llmr-e2e-host"
	nodeLink   = "llmr-e2e-node"
	bridgeName = "llmr-e2e-br0"
)

// netnsFile is the node's network namespace, kept alive by a bind mount.
func (c *cluster) netnsFile() string { return filepath.Join(c.state, "netns") }

// run runs a command and returns its error with its output.
func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// inNode runs a command in the node's network namespace.
func (c *cluster) inNode(name string, args ...string) error {
	return run("nsenter", append([]string{"--net=" + c.netnsFile(), "--", name}, args...)...)
}

// setUpNetwork makes the node's network namespace and connects it to the
// host with a veth pair. The blackhole route comes first: should the veth go
// away while a client on the host still sends to a node or pod address, the
// packets die here instead of leaving through the machine's real interface.
func (c *cluster) setUpNetwork() error {
	if err := run("ip", "route", "add", "blackhole", guardCIDR); err != nil {
		return err
	}
	c.st.Blackhole = true
	if err := c.saveState(); err != nil {
		return err
	}

	ns := c.netnsFile()
	if err := os.WriteFile(ns, nil, 0o600); err != nil {
		return err
	}
	// Not 'ip netns exec': it remounts /sys, which hides the cgroup mounts
	// from the kubelet.
	if err := run("unshare", "--net="+ns, "true"); err != nil {
		return err
	}
	steps := [][]string{
		{"ip", "link", "add", hostLink, "type", "veth", "peer", "name", nodeLink, "netns", ns},
		{"ip", "addr", "add", hostIP + "/32", "dev", hostLink},
		{"ip", "link", "set", hostLink, "up"},
		{"ip", "route", "add", nodeIP + "/32", "dev", hostLink, "src", hostIP},
		{"ip", "route", "add", podCIDR, "via", nodeIP, "dev", hostLink, "src", hostIP},
	}
	for _, s := range steps {
		if err := run(s[0], s[1:]...); err != nil {
			return err
		}
	}
	inside := [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "addr", "add", nodeIP + "/32", "dev", nodeLink},
		{"ip", "link", "set", nodeLink, "up"},
		{"ip", "route", "add", hostIP + "/32", "dev", nodeLink, "src", nodeIP},
		// The default route leads to the host, whose ip_forward stays 0:
		// nothing a pod sends elsewhere leaves the machine.
		{"ip", "route", "add", "default", "via", hostIP, "dev", nodeLink, "src", nodeIP},
		{"sysctl", "-qw", "net.ipv4.ip_forward=1"},
		// Pods on the bridge reach each other's Services through iptables.
		{"sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1"},
	}
	for _, s := range inside {
		if err := c.inNode(s[0], s[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// tearDownNetwork undoes setUpNetwork in reverse, the blackhole last. Each
// step tolerates what is already gone.
func (c *cluster) tearDownNetwork() error {
	var errs []string
	if hostLinkExists() {
		// Deleting one end deletes the pair, and the routes through it. The
		// kernel also deletes it on its own once the namespace is gone,
		// which may happen meanwhile.
		if err := run("ip", "link", "del", hostLink); err != nil && hostLinkExists() {
			errs = append(errs, err.Error())
		}
	}
	if isMountPoint(c.netnsFile()) {
		if err := unmount(c.netnsFile()); err != nil {
			errs = append(errs, err.Error())
		}
	}
	for _, r := range []string{nodeIP + "/32", podCIDR} {
		if routeExists(r) {
			_ = run("ip", "route", "del", r)
		}
	}
	// Only a blackhole this program added: one it did not record is someone
	// else's, and is reported as in the way instead.
	if c.st.Blackhole && blackholeExists() {
		if err := run("ip", "route", "del", "blackhole", guardCIDR); err != nil {
			errs = append(errs, err.Error())
		} else {
			c.st.Blackhole = false
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// hostLinkExists says whether the host end of the node's veth pair is there.
func hostLinkExists() bool {
	_, err := os.Stat(filepath.Join("/sys/class/net", hostLink))
	return err == nil
}

func routeExists(dst string) bool {
	out, _ := exec.Command("ip", "-4", "route", "show", "exact", dst).Output()
	return len(bytes.TrimSpace(out)) > 0
}

func blackholeExists() bool {
	out, _ := exec.Command("ip", "-4", "route", "show", "type", "blackhole", "exact", guardCIDR).Output()
	return len(bytes.TrimSpace(out)) > 0
}

// hostRoutesInGuard lists the host's routes inside 198.18.0.0/15, other than
// the blackhole: before a run there must be none (another network using these
// addresses, or a run that did not finish).
func hostRoutesInGuard() []string {
	out, _ := exec.Command("ip", "-4", "route", "show", "root", guardCIDR).Output()
	var routes []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			routes = append(routes, l)
		}
	}
	return routes
}
