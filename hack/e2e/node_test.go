package main

import (
	"encoding/json"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// Every address the node uses must be in 198.18.0.0/15: a private range
// could be one the machine's real network uses, and the host's blackhole
// route only covers this one.
func TestAddressesStayInTheGuardedRange(t *testing.T) {
	guard := netip.MustParsePrefix(guardCIDR)
	for _, p := range []string{podCIDR, serviceCIDR} {
		pfx := netip.MustParsePrefix(p)
		if !guard.Contains(pfx.Addr()) || pfx.Bits() < guard.Bits() {
			t.Errorf("%s is not inside %s", p, guardCIDR)
		}
	}
	for _, a := range []string{podGateway, nodeIP, hostIP, apiServerIP, dnsIP} {
		if !guard.Contains(netip.MustParseAddr(a)) {
			t.Errorf("%s is not inside %s", a, guardCIDR)
		}
	}
	if !netip.MustParsePrefix(serviceCIDR).Contains(netip.MustParseAddr(apiServerIP)) ||
		!netip.MustParsePrefix(serviceCIDR).Contains(netip.MustParseAddr(dnsIP)) {
		t.Errorf("the kubernetes and DNS Service addresses must be in %s", serviceCIDR)
	}
}

// No file of the end-to-end setup may name an address of the private ranges
// (10/8, 172.16/12, 192.168/16).
func TestNoPrivateAddresses(t *testing.T) {
	private := regexp.MustCompile(`\b(10\.\d{1,3}|172\.(1[6-9]|2\d|3[01])|192\.168)\.\d{1,3}\.\d{1,3}\b`)
	for _, root := range []string{".", filepath.Join("..", "..", "test", "e2e")} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			switch filepath.Ext(p) {
			case ".go", ".sh", ".yaml", ".toml", ".conflist", ".json":
			default:
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for i, line := range strings.Split(string(b), "\n") {
				if m := private.FindString(line); m != "" && !strings.Contains(line, "regexp.MustCompile") {
					t.Errorf("%s:%d names %s, a private address: use 198.18.0.0/15", p, i+1, m)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// The daemons' configs render and parse: a template slip would otherwise
// show only as a daemon refusing to start on a real run.
func TestConfigsRender(t *testing.T) {
	c := newCluster(options{state: t.TempDir()})
	c.pki = &pki{dir: filepath.Join(c.state, "pki")}
	c.images["pause"], c.images["coredns"] = pauseImage, corednsImage
	for _, name := range []string{"containerd.toml", "cni.conflist", "kubelet.yaml", "kube-proxy.yaml", "coredns.yaml"} {
		file := filepath.Join(c.state, name)
		if err := c.render(name, file); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "<no value>") {
			t.Errorf("%s: a template field has no value:\n%s", name, b)
		}
		switch filepath.Ext(name) {
		case ".conflist":
			var v map[string]any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		case ".yaml":
			for _, doc := range strings.Split(string(b), "\n---\n") {
				var v map[string]any
				if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
					t.Errorf("%s: %v\n%s", name, err, doc)
				}
			}
		}
	}
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/tmp/a`:          "/tmp/a",
		`/tmp/with\040sp`: "/tmp/with sp",
		`/x\134y`:         `/x\y`,
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}
