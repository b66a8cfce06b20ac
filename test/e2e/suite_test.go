//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
	"github.com/osmen-ai/llmroute/hack/mockllm/mock"
	"github.com/osmen-ai/llmroute/hack/process"
	"github.com/osmen-ai/llmroute/test/e2e/appapi"
)

// env is what `make e2e` hands the suite.
type env struct {
	kubeconfig string
	kubectl    string
	helm       string
	image      string // the operator's image, repository:tag
	mockImage  string
	appImage   string
	repo       string // the repository's root: the chart and the samples
}

func readEnv(t *testing.T) env {
	t.Helper()
	_, file, _, _ := goruntime.Caller(0)
	e := env{
		kubeconfig: os.Getenv("KUBECONFIG"),
		kubectl:    os.Getenv("E2E_KUBECTL"),
		helm:       os.Getenv("E2E_HELM"),
		image:      os.Getenv("E2E_IMAGE"),
		mockImage:  os.Getenv("E2E_MOCKLLM_IMAGE"),
		appImage:   os.Getenv("E2E_APP_IMAGE"),
		repo:       filepath.Join(filepath.Dir(file), "..", ".."),
	}
	for name, v := range map[string]string{
		"KUBECONFIG": e.kubeconfig, "E2E_KUBECTL": e.kubectl, "E2E_HELM": e.helm,
		"E2E_IMAGE": e.image, "E2E_MOCKLLM_IMAGE": e.mockImage, "E2E_APP_IMAGE": e.appImage,
	} {
		if v == "" {
			t.Fatalf("%s is not set: run the suite with 'make e2e', which brings up the cluster it needs", name)
		}
	}
	return e
}

// suite holds the clients and what the steps learn for the steps after them.
type suite struct {
	env
	cs kubernetes.Interface
	// cr reads and writes LLMRoutes as the API's Go types.
	cr client.Client

	appIP   string                 // the app pod's IP
	mocks   map[string]mock.Client // mock provider name -> its pod's control API
	calls   int                    // calls the app made through its sidecar, as the suite counted them
	reloads int                    // reloads of the sidecar's config the suite saw take effect
}

func newSuite(t *testing.T) *suite {
	e := readEnv(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", e.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := llmv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	cr, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return &suite{env: e, cs: cs, cr: cr, mocks: map[string]mock.Client{}}
}

// run runs a command as the user would type it, logs it with its output,
// and returns the output; stdin, when not empty, is piped to it.
func (s *suite) run(t *testing.T, stdin string, name string, args ...string) (string, error) {
	t.Helper()
	// Not t.Context(): cleanups run commands too, after it is cancelled.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("$ %s %s  (%s)\n%s", filepath.Base(name), strings.Join(args, " "), time.Since(start).Round(10*time.Millisecond),
		indent(strings.TrimRight(out.String(), "\n")))
	return out.String(), err
}

func (s *suite) kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := s.run(t, "", s.env.kubectl, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// kubectlApply applies manifest (YAML) with kubectl apply -f -.
func (s *suite) kubectlApply(t *testing.T, manifest string, args ...string) string {
	t.Helper()
	out, err := s.run(t, manifest, s.env.kubectl, append([]string{"apply", "-f", "-"}, args...)...)
	if err != nil {
		t.Fatalf("kubectl apply: %v", err)
	}
	return out
}

func (s *suite) helm(t *testing.T, args ...string) (string, time.Duration) {
	t.Helper()
	start := time.Now()
	out, err := s.run(t, "", s.env.helm, args...)
	if err != nil {
		t.Fatalf("helm %s: %v", strings.Join(args, " "), err)
	}
	return out, time.Since(start)
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// eventually polls check until it returns nil and fails the test with the
// last reason when timeout passes. It returns how long it took.
func eventually(t *testing.T, what string, timeout time.Duration, check func() error) time.Duration {
	t.Helper()
	start := time.Now()
	if err := process.Poll(t.Context(), what, timeout, 250*time.Millisecond, func(context.Context) error { return check() }); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

var httpClient = &http.Client{Timeout: 90 * time.Second}

// httpJSON sends a request and decodes a JSON answer into out (when not nil).
func httpJSON(method, u string, body any, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, u, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// app is the app pod's report server, reached on its pod IP.
func (s *suite) app(path string) string {
	return fmt.Sprintf("http://%s:%d%s", s.appIP, appapi.AppPort, path)
}

// call has the app make one call through its sidecar and returns what the
// app's SDK saw.
func (s *suite) call(t *testing.T, kind, model string) appapi.Result {
	t.Helper()
	var r appapi.Result
	q := url.Values{"kind": {kind}, "model": {model}}
	if err := httpJSON(http.MethodPost, s.app("/call?"+q.Encode()), nil, &r); err != nil {
		t.Fatalf("app call %s: %v", kind, err)
	}
	s.calls++
	t.Logf("app %s %s: ok=%v status=%d x-llmroute-provider=%s x-llmroute-attempts=%d %q %s",
		kind, r.Model, r.OK, r.Status, r.Provider, r.Attempts, r.Content, r.Error)
	return r
}

// trickle starts the app's steady traffic (a chat call every interval) and
// returns the function that stops it and reports every call it made.
func (s *suite) trickle(t *testing.T, interval time.Duration) func() appapi.Trickle {
	t.Helper()
	q := url.Values{"kind": {appapi.Chat}, "interval": {interval.String()}}
	if err := httpJSON(http.MethodPost, s.app("/trickle/start?"+q.Encode()), nil, nil); err != nil {
		t.Fatalf("start trickle: %v", err)
	}
	stopped := false
	stop := func() appapi.Trickle {
		var sum appapi.Trickle
		if stopped {
			return sum
		}
		stopped = true
		if err := httpJSON(http.MethodPost, s.app("/trickle/stop"), nil, &sum); err != nil {
			t.Fatalf("stop trickle: %v", err)
		}
		s.calls += sum.Calls
		t.Logf("trickle: %d calls, %d failed, by provider %v", sum.Calls, sum.Failures, sum.ByProvider)
		for _, r := range sum.Results {
			if !r.OK {
				t.Errorf("trickle call at %s failed: status %d, provider %q, attempts %d: %s",
					r.At.Format("15:04:05.000"), r.Status, r.Provider, r.Attempts, r.Error)
			}
		}
		return sum
	}
	t.Cleanup(func() { stop() })
	return stop
}

// lastTrickle returns the latest call of the running trickle.
func (s *suite) lastTrickle() (appapi.Result, error) {
	var sum appapi.Trickle
	if err := httpJSON(http.MethodGet, s.app("/trickle"), nil, &sum); err != nil {
		return appapi.Result{}, err
	}
	if len(sum.Results) == 0 {
		return appapi.Result{}, fmt.Errorf("no call yet")
	}
	return sum.Results[len(sum.Results)-1], nil
}

// waitMoreCalls waits until the running trickle has made n more calls.
func (s *suite) waitMoreCalls(t *testing.T, n int) {
	t.Helper()
	var sum appapi.Trickle
	if err := httpJSON(http.MethodGet, s.app("/trickle"), nil, &sum); err != nil {
		t.Fatal(err)
	}
	want := sum.Calls + n
	eventually(t, fmt.Sprintf("%d more calls", n), time.Minute, func() error {
		if err := httpJSON(http.MethodGet, s.app("/trickle"), nil, &sum); err != nil {
			return err
		}
		if sum.Calls < want {
			return fmt.Errorf("%d calls so far, want %d", sum.Calls, want)
		}
		return nil
	})
}

// admissions keeps creating a labelled pod with a server-side dry run, which
// goes through the webhook as a real create does, every 250ms until the
// returned function is called; it returns how many were tried and what
// failed. A labelled pod that cannot be created while the operator is
// upgraded or replaced is a failed rollout of the user's app.
func (s *suite) admissions(t *testing.T) func() (int, []string) {
	t.Helper()
	var p corev1.Pod
	if err := yaml.Unmarshal([]byte(podManifest("admission-probe", s.appImage, route, nil, nil)), &p); err != nil {
		t.Fatal(err)
	}
	type result struct {
		tried  int
		failed []string
	}
	done, out := make(chan struct{}), make(chan result, 1)
	go func() {
		var r result
		defer func() { out <- r }()
		for {
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			got, err := s.cs.CoreV1().Pods(appNS).Create(ctx, p.DeepCopy(), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			cancel()
			r.tried++
			switch {
			case err != nil:
				r.failed = append(r.failed, fmt.Sprintf("%s (after %s): %v", start.Format("15:04:05.000"), time.Since(start).Round(time.Millisecond), err))
			case len(got.Spec.InitContainers) == 0 || got.Spec.InitContainers[0].Name != "llmroute-sidecar":
				r.failed = append(r.failed, fmt.Sprintf("%s: admitted without the sidecar", start.Format("15:04:05.000")))
			}
			select {
			case <-done:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	stopped := false
	return func() (int, []string) {
		if stopped {
			return 0, nil
		}
		stopped = true
		close(done)
		r := <-out
		t.Logf("labelled pods created (server dry run) meanwhile: %d, %d refused or not injected", r.tried, len(r.failed))
		return r.tried, r.failed
	}
}

// setFaults replaces a mock provider's server-wide faults (the zero Faults
// heals it). Not t.Context(): cleanups heal the mocks too, after it is
// cancelled.
func (s *suite) setFaults(t *testing.T, name string, f mock.Faults) {
	t.Helper()
	if err := s.mocks[name].SetFaults(context.Background(), f); err != nil {
		t.Fatalf("mock %s: %v", name, err)
	}
}

// setKeys replaces the API keys a mock provider accepts.
func (s *suite) setKeys(t *testing.T, name string, keys ...string) {
	t.Helper()
	if err := s.mocks[name].SetAPIKeys(context.Background(), keys); err != nil {
		t.Fatalf("mock %s: %v", name, err)
	}
}

// mockStats reads a mock provider's counters.
func (s *suite) mockStats(name string) (mock.Stats, error) {
	return s.mocks[name].Stats(context.Background())
}

// metrics scrapes a Prometheus text endpoint into sample -> value, the
// sample written as in the exposition ("name{label=\"v\",...}").
func metrics(u string) (process.Metrics, error) {
	resp, err := httpClient.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return process.ParseMetrics(resp.Body)
}

// pod gets a pod.
func (s *suite) pod(t *testing.T, ns, name string) *corev1.Pod {
	t.Helper()
	p, err := s.cs.CoreV1().Pods(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// podReady reports whether the pod is Ready, and why not.
func podReady(p *corev1.Pod) error {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			if c.Status == corev1.ConditionTrue {
				return nil
			}
			return fmt.Errorf("pod %s Ready=%s (%s %s), phase %s", p.Name, c.Status, c.Reason, c.Message, p.Status.Phase)
		}
	}
	return fmt.Errorf("pod %s has no Ready condition, phase %s", p.Name, p.Status.Phase)
}
