package main

import (
	"bytes"
	"context"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"text/template"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

//go:embed conf
var confFS embed.FS

type options struct {
	bin      string
	state    string
	logs     string
	image    string
	imageTag string
}

// cluster is one run of the node.
type cluster struct {
	options
	pki     *pki
	daemons []*daemon
	client  kubernetes.Interface
	st      runState
	images  map[string]string // role -> image name, for the command's environment
}

// runState is what a run did that its teardown must undo and cannot see for
// itself. It is saved in the state directory, so that `e2e down` (or the
// next run) can finish the teardown of a run that was killed.
type runState struct {
	// Blackhole: the host's blackhole route for 198.18.0.0/15 is ours.
	Blackhole bool `json:"blackhole"`
	// Created lists host paths the node's software creates on its own
	// (outside the state directory), which did not exist before the run.
	Created []string `json:"created"`
}

// hostPaths are paths outside the state directory that containerd, the
// kubelet or the CNI plugins create whatever they are configured with.
var hostPaths = []string{
	"/run/containerd",     // shim sockets
	"/var/lib/cni",        // CNI result cache
	"/var/log/containers", // the kubelet's log symlinks
	"/var/log/pods",
	"/var/lib/kubelet",
	"/etc/cni",
	"/opt/cni",
	"/opt/containerd",
	"/var/run/netns",
	"/run/nri",   // containerd's NRI socket, should the plugin be enabled
	"/run/mount", // libmount's table of the netns bind mount
}

func newCluster(o options) *cluster {
	return &cluster{options: o, images: map[string]string{}}
}

func (c *cluster) statePath() string     { return filepath.Join(c.state, "state.json") }
func (c *cluster) containerdDir() string { return filepath.Join(c.bin, "containerd") }
func (c *cluster) kubectl() string       { return filepath.Join(c.bin, "k8s", "kubectl") }
func (c *cluster) kubeconfigPath() string {
	return filepath.Join(c.state, "admin.kubeconfig")
}

func (c *cluster) saveState() error {
	b, err := json.Marshal(c.st)
	if err != nil {
		return err
	}
	return os.WriteFile(c.statePath(), b, 0o600)
}

// lockFile is machine-wide, whatever the state directory: the node's names,
// addresses and cgroups are.
const lockFile = "/run/lock/llmroute-e2e.lock"

// lock makes sure one run at a time uses the node's names and addresses.
func (c *cluster) lock() (func(), error) {
	f, err := os.OpenFile(lockFile, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another run holds %s: one node at a time on a machine", lockFile)
	}
	return func() { f.Close() }, nil
}

// preflight says why this machine cannot run the node, if it cannot.
func preflight() error {
	if os.Geteuid() != 0 {
		return errors.New("make e2e needs root: it creates a network namespace, a veth pair, routes, cgroups and mounts (run it as root, or in CI on a VM)")
	}
	for _, tool := range []string{"ip", "nsenter", "unshare", "sysctl", "iptables", "runc", "/usr/lib/cni/bridge"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: hack/e2e/build.sh installs it (make e2e runs it)", tool)
		}
	}
	if out, err := exec.Command("unshare", "--net", "true").CombinedOutput(); err != nil {
		return fmt.Errorf("cannot create a network namespace (unshare --net: %v: %s)", err, bytes.TrimSpace(out))
	}
	hs, err := cgroupHierarchies()
	if err != nil || len(hs) == 0 {
		return fmt.Errorf("no cgroup hierarchy is mounted under /sys/fs/cgroup (%v)", err)
	}
	return nil
}

// cleanUpEarlierRun tears down what a run that was killed left, and refuses
// to start when addresses of 198.18.0.0/15 are in use by something else.
func (c *cluster) cleanUpEarlierRun() error {
	_, stateErr := os.Stat(c.state)
	if stateErr == nil || hostLinkExists() || len(leftoverCgroups()) > 0 {
		logf("cleaning up after an earlier run that did not finish")
		if err := c.teardown(); err != nil {
			return fmt.Errorf("cleaning up the earlier run: %w", err)
		}
	}
	if routes := hostRoutesInGuard(); len(routes) > 0 {
		return fmt.Errorf("the host already has routes in %s (%s): the node's addresses would clash; remove them first",
			guardCIDR, strings.Join(routes, "; "))
	}
	return nil
}

// step runs one stage of the bring-up with a progress line and its time.
func step(ctx context.Context, n, total int, title string, f func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	logf("[%d/%d] %s...", n, total, title)
	if err := f(ctx); err != nil {
		return fmt.Errorf("%s: %w", title, err)
	}
	logf("[%d/%d] %s: done in %s", n, total, title, since(start))
	return nil
}

// up brings the node up, step by step.
func (c *cluster) up(ctx context.Context) error {
	steps := []struct {
		title string
		f     func(context.Context) error
	}{
		{"building the test images (pause, CoreDNS, mockllm, app)", c.buildImages},
		{"network namespace, veth pair, routes (blackhole first), cgroups", c.setUpHost},
		{"certificates, tokens, kubeconfigs, daemon configs", c.writeConfigs},
		{"containerd, and importing the images", c.startContainerd},
		{"etcd and kube-apiserver", c.startControlPlane},
		{"kube-controller-manager, kube-scheduler, kubelet, kube-proxy; node Ready", c.startNode},
		{"CoreDNS, and the default service account", c.startAddons},
	}
	for i, s := range steps {
		if err := step(ctx, i+1, len(steps), s.title, s.f); err != nil {
			return err
		}
	}
	return nil
}

func (c *cluster) setUpHost(context.Context) error {
	if err := os.MkdirAll(c.state, 0o755); err != nil {
		return err
	}
	for _, p := range hostPaths {
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			c.st.Created = append(c.st.Created, p)
		}
	}
	if err := c.saveState(); err != nil {
		return err
	}
	if err := c.setUpNetwork(); err != nil {
		return err
	}
	return makeCgroups()
}

// confData is what the templates in conf/ fill in.
type confData struct {
	State, PKI, Cgroup, NodeName, NodeIP, PodCIDR, PodGateway, DNSIP, Bridge string
	Runc, CNIBin, PauseImage, Image                                          string
}

func (c *cluster) conf() confData {
	return confData{
		State: c.state, PKI: c.pki.dir, Cgroup: cgroupName, NodeName: nodeName, NodeIP: nodeIP,
		PodCIDR: podCIDR, PodGateway: podGateway, DNSIP: dnsIP, Bridge: bridgeName,
		Runc: mustLookPath("runc"), CNIBin: "/usr/lib/cni", PauseImage: c.images["pause"],
		Image: c.images["coredns"],
	}
}

func mustLookPath(name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		return name
	}
	return p
}

// render writes conf/NAME, filled in, to file.
func (c *cluster) render(name, file string) error {
	t, err := template.ParseFS(confFS, "conf/"+name)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, c.conf()); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	return os.WriteFile(file, b.Bytes(), 0o644)
}

// The cluster's users: each component authenticates with a static token.
var (
	adminID     = &identity{name: "admin", user: "llmroute-e2e-admin", groups: []string{"system:masters"}}
	kubeletID   = &identity{name: "kubelet", user: "system:node:" + nodeName, groups: []string{"system:nodes"}}
	kcmID       = &identity{name: "kube-controller-manager", user: "system:kube-controller-manager"}
	schedulerID = &identity{name: "kube-scheduler", user: "system:kube-scheduler"}
	proxyID     = &identity{name: "kube-proxy", user: "system:kube-proxy"}
)

func (c *cluster) writeConfigs(context.Context) error {
	var err error
	if c.pki, err = newPKI(filepath.Join(c.state, "pki")); err != nil {
		return err
	}
	if err := c.pki.issue("apiserver", "kube-apiserver", nil,
		nodeIP, apiServerIP, "127.0.0.1", "localhost", nodeName,
		"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"); err != nil {
		return err
	}
	if err := c.pki.issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client", []string{"system:masters"}); err != nil {
		return err
	}
	if err := c.pki.serviceAccountKey(); err != nil {
		return err
	}
	ids := []*identity{adminID, kubeletID, kcmID, schedulerID, proxyID}
	if err := tokenFile(c.pki.path("tokens.csv"), ids); err != nil {
		return err
	}
	for _, id := range ids {
		if err := kubeconfig(filepath.Join(c.state, id.name+".kubeconfig"), "https://"+nodeIP+":6443", c.pki.path("ca.crt"), id); err != nil {
			return err
		}
	}
	// The node's resolv.conf: what pods with dnsPolicy Default (CoreDNS
	// itself) get. No server: nothing is resolved outside the cluster.
	if err := os.WriteFile(filepath.Join(c.state, "resolv.conf"), []byte("options ndots:1\n"), 0o644); err != nil {
		return err
	}
	for name, file := range map[string]string{
		"containerd.toml": filepath.Join(c.state, "containerd", "config.toml"),
		"cni.conflist":    filepath.Join(c.state, "cni", "net.d", "10-llmroute-e2e.conflist"),
		"kubelet.yaml":    filepath.Join(c.state, "kubelet.yaml"),
		"kube-proxy.yaml": filepath.Join(c.state, "kube-proxy.yaml"),
		"coredns.yaml":    filepath.Join(c.state, "coredns.yaml"),
	} {
		if err := c.render(name, file); err != nil {
			return err
		}
	}
	for _, dir := range []string{c.logs, filepath.Join(c.state, "pod-logs"), filepath.Join(c.state, "kubelet")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfigPath())
	if err != nil {
		return err
	}
	c.client, err = kubernetes.NewForConfig(cfg)
	return err
}

func (c *cluster) containerdSocket() string {
	return filepath.Join(c.state, "containerd", "containerd.sock")
}

func (c *cluster) ctr(args ...string) (string, error) {
	return output(filepath.Join(c.containerdDir(), "ctr"), append([]string{"--address", c.containerdSocket(), "--namespace", "k8s.io"}, args...)...)
}

func (c *cluster) startContainerd(ctx context.Context) error {
	if err := c.start("containerd", filepath.Join(c.containerdDir(), "containerd"),
		"--config", filepath.Join(c.state, "containerd", "config.toml")); err != nil {
		return err
	}
	if err := c.waitFor(ctx, "containerd to answer", 30*time.Second, func() error {
		_, err := c.ctr("version")
		return err
	}); err != nil {
		return err
	}
	tarballs, _ := filepath.Glob(filepath.Join(c.state, "images", "*.tar"))
	if c.image != "" {
		tarballs = append(tarballs, c.image)
	}
	for _, t := range tarballs {
		if _, err := c.ctr("images", "import", t); err != nil {
			return err
		}
	}
	return nil
}

func (c *cluster) startControlPlane(ctx context.Context) error {
	k8s := filepath.Join(c.bin, "k8s")
	if err := c.start("etcd", filepath.Join(k8s, "etcd"),
		"--data-dir", filepath.Join(c.state, "etcd"),
		"--listen-client-urls", "http://127.0.0.1:2379",
		"--advertise-client-urls", "http://127.0.0.1:2379",
		"--listen-peer-urls", "http://127.0.0.1:2380",
		"--initial-advertise-peer-urls", "http://127.0.0.1:2380",
		"--initial-cluster", "default=http://127.0.0.1:2380",
		"--unsafe-no-fsync", // a throwaway cluster: speed over durability
		"--log-level", "warn",
	); err != nil {
		return err
	}
	pki := c.pki.path
	if err := c.start("kube-apiserver", filepath.Join(k8s, "kube-apiserver"),
		"--etcd-servers", "http://127.0.0.1:2379",
		"--advertise-address", nodeIP,
		"--secure-port", "6443",
		"--service-cluster-ip-range", serviceCIDR,
		"--tls-cert-file", pki("apiserver.crt"),
		"--tls-private-key-file", pki("apiserver.key"),
		"--client-ca-file", pki("ca.crt"),
		"--token-auth-file", pki("tokens.csv"),
		"--authorization-mode", "Node,RBAC",
		"--enable-admission-plugins", "NodeRestriction",
		"--allow-privileged=true",
		"--kubelet-client-certificate", pki("apiserver-kubelet-client.crt"),
		"--kubelet-client-key", pki("apiserver-kubelet-client.key"),
		// The API server would dial the kubelet by host name for logs and
		// exec; the node's name resolves nowhere.
		"--kubelet-preferred-address-types", "InternalIP",
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", pki("sa.pub"),
		"--service-account-signing-key-file", pki("sa.key"),
		"--profiling=false",
	); err != nil {
		return err
	}
	return c.waitFor(ctx, "kube-apiserver /readyz", 90*time.Second, func() error {
		return c.apiGet("/readyz")
	})
}

// apiGet GETs path on the API server as the admin and wants a 200.
func (c *cluster) apiGet(path string) error {
	body, err := c.client.CoreV1().RESTClient().Get().AbsPath(path).DoRaw(context.Background())
	if err != nil {
		return fmt.Errorf("%w: %s", err, bytes.TrimSpace(body))
	}
	return nil
}

func (c *cluster) startNode(ctx context.Context) error {
	k8s := filepath.Join(c.bin, "k8s")
	if err := c.start("kube-controller-manager", filepath.Join(k8s, "kube-controller-manager"),
		"--kubeconfig", filepath.Join(c.state, kcmID.name+".kubeconfig"),
		"--service-account-private-key-file", c.pki.path("sa.key"),
		"--root-ca-file", c.pki.path("ca.crt"),
		"--use-service-account-credentials=true",
		"--service-cluster-ip-range", serviceCIDR,
		"--cluster-name", nodeName,
		"--bind-address", "127.0.0.1",
		"--leader-elect=false",
	); err != nil {
		return err
	}
	if err := c.start("kube-scheduler", filepath.Join(k8s, "kube-scheduler"),
		"--kubeconfig", filepath.Join(c.state, schedulerID.name+".kubeconfig"),
		"--bind-address", "127.0.0.1",
		"--leader-elect=false",
	); err != nil {
		return err
	}
	if err := c.start("kubelet", filepath.Join(k8s, "kubelet"),
		"--config", filepath.Join(c.state, "kubelet.yaml"),
		"--kubeconfig", filepath.Join(c.state, kubeletID.name+".kubeconfig"),
		"--root-dir", filepath.Join(c.state, "kubelet"),
		"--cert-dir", filepath.Join(c.state, "kubelet", "pki"),
		"--hostname-override", nodeName,
		"--node-ip", nodeIP,
	); err != nil {
		return err
	}
	if err := c.start("kube-proxy", filepath.Join(k8s, "kube-proxy"),
		"--config", filepath.Join(c.state, "kube-proxy.yaml"),
	); err != nil {
		return err
	}
	return c.waitFor(ctx, "node "+nodeName+" Ready", 90*time.Second, func() error {
		n, err := c.client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				if cond.Status == corev1.ConditionTrue {
					return nil
				}
				return fmt.Errorf("node condition Ready=%s: %s", cond.Status, cond.Message)
			}
		}
		return errors.New("no Ready condition yet")
	})
}

func (c *cluster) startAddons(ctx context.Context) error {
	if out, err := exec.Command(c.kubectl(), "--kubeconfig", c.kubeconfigPath(), "apply", "-f",
		filepath.Join(c.state, "coredns.yaml")).CombinedOutput(); err != nil {
		return fmt.Errorf("kubectl apply coredns.yaml: %w: %s", err, out)
	}
	if err := c.waitFor(ctx, "CoreDNS available", 90*time.Second, func() error {
		d, err := c.client.AppsV1().Deployments("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Status.AvailableReplicas < 1 {
			return fmt.Errorf("%d of %d replicas available", d.Status.AvailableReplicas, *d.Spec.Replicas)
		}
		return nil
	}); err != nil {
		return err
	}
	return c.waitFor(ctx, "the default service account", 60*time.Second, func() error {
		_, err := c.client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return errors.New("not created yet")
		}
		return err
	})
}

// runCommand runs the command against the cluster and returns its exit
// code. It gets the admin kubeconfig, kubectl and the images' names in its
// environment. When ctx ends, its process group gets SIGTERM, then SIGKILL.
func (c *cluster) runCommand(ctx context.Context, command []string) int {
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(),
		"KUBECONFIG="+c.kubeconfigPath(),
		"E2E_KUBECTL="+c.kubectl(),
		"E2E_IMAGE="+c.imageTag,
		"E2E_MOCKLLM_IMAGE="+c.images["mockllm"],
		"E2E_APP_IMAGE="+c.images["app"],
		"E2E_NODE_NAME="+nodeName,
	)
	// Its own process group, signalled as a whole below; and killed should
	// this program be killed outright, rather than left running against a
	// cluster that the next run tears down. (Pdeathsig follows the thread
	// that started the child: keep that thread for the start.)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	runtime.LockOSThread()
	err := cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
		case <-done:
		}
	}()
	err = cmd.Wait()
	close(done)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit) && exit.ExitCode() > 0:
		return exit.ExitCode()
	default:
		if ctx.Err() == nil {
			fmt.Fprintf(os.Stderr, "e2e: %s: %v\n", command[0], err)
		}
		return 1
	}
}

// diagnose prints what helps understand a failure: the pods, the recent
// events, the daemons that died, before the teardown removes it all.
func (c *cluster) diagnose() {
	fmt.Println("e2e: ---- diagnostics ----")
	for _, d := range c.daemons {
		if d.exited() {
			fmt.Printf("e2e: %s exited (%v); its log ends:\n%s\n", d.name, d.err, d.tail(30))
		}
	}
	if c.client == nil {
		return
	}
	if err := c.apiGet("/readyz"); err != nil {
		fmt.Printf("e2e: the API server does not answer: %v\n", err)
		return
	}
	for _, args := range [][]string{
		{"get", "nodes,pods", "-A", "-o", "wide"},
		{"get", "events", "-A", "--sort-by=.lastTimestamp"},
	} {
		cmd := exec.Command(c.kubectl(), append([]string{"--kubeconfig", c.kubeconfigPath(), "--request-timeout=10s"}, args...)...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
		_ = cmd.Run()
	}
	fmt.Printf("e2e: daemon logs: %s\n", c.logs)
	fmt.Println("e2e: ---- end of diagnostics ----")
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
