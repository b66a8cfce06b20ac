//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
	"github.com/osmen-ai/llmroute/hack/mockllm/mock"
	"github.com/osmen-ai/llmroute/test/e2e/appapi"
)

// TestUserJourney walks through what a user does with llmroute, in order,
// on a real kubelet: each step is a user's action (helm, kubectl, an app's
// SDK call) checked by what the user sees. The first steps build what the
// rest need, so the journey stops when one of them fails.
func TestUserJourney(t *testing.T) {
	s := newSuite(t)
	steps := []struct {
		name     string
		f        func(*testing.T)
		required bool // the steps after it cannot run without it
	}{
		{"helm install with the chart's own webhook TLS", s.helmInstall, true},
		{"helm install --wait returns once the operator is ready", s.readyWhenServing, false},
		{"mock providers as pods and Services", s.deployMocks, true},
		{"kubectl apply the sample Secrets and LLMRoute", s.applyRoute, true},
		{"app pod in a restricted namespace gets the native sidecar", s.startApp, true},
		{"chat, stream and Messages calls from the app's SDKs", s.sdkCalls, false},
		{"fallback while the primary provider is down", s.fallback, false},
		{"editing the route reaches the running sidecar", s.editRoute, false},
		{"rotating a key reaches the running sidecar", s.rotateKey, false},
		{"webhook refuses a missing route, keeps an opted-out env", s.webhookEdges, false},
		{"deleting the operator pod during traffic", s.operatorFailover, false},
		{"sidecar metrics on the pod IP show the calls", s.sidecarMetrics, false},
		{"kubectl delete llmroute collects its objects", s.deleteRoute, false},
		{"helm upgrade keeps the webhook certificate", s.helmUpgrade, false},
		{"helm uninstall, reinstall, uninstall", s.uninstallReinstall, false},
	}
	for _, st := range steps {
		if !t.Run(st.name, st.f) && st.required {
			t.Fatalf("step %q failed: the steps after it need it", st.name)
		}
	}
}

func (s *suite) imageRepoTag() (string, string) {
	i := strings.LastIndex(s.image, ":")
	return s.image[:i], s.image[i+1:]
}

// helmInstallArgs are the flags a user with their own registry passes, with
// pullPolicy Never because nothing can be pulled here.
func (s *suite) helmInstallArgs() []string {
	repo, tag := s.imageRepoTag()
	return []string{"install", release, filepath.Join(s.repo, "charts", "llmroute"),
		"--namespace", releaseNS, "--create-namespace", "--wait", "--timeout", "3m",
		"--set", "image.repository=" + repo, "--set", "image.tag=" + tag, "--set", "image.pullPolicy=Never"}
}

func (s *suite) helmInstall(t *testing.T) {
	_, took := s.helm(t, s.helmInstallArgs()...)
	t.Logf("helm install --wait returned after %s", took.Round(100*time.Millisecond))

	d, err := s.cs.AppsV1().Deployments(releaseNS).Get(t.Context(), release, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status.ReadyReplicas != *d.Spec.Replicas {
		t.Errorf("operator: %d of %d replicas ready after helm install --wait", d.Status.ReadyReplicas, *d.Spec.Replicas)
	}
	s.checkWebhookRegistered(t)
}

// readyWhenServing guards `helm install --wait` returning long after the
// operator could serve: each manager pod should turn Ready within a few
// seconds of its container starting (its webhook serves within about one).
func (s *suite) readyWhenServing(t *testing.T) {
	for pod, lag := range s.readinessLags(t) {
		if lag > 4*time.Second {
			t.Errorf("operator pod %s turned Ready %s after starting although its webhook serves within about a second: "+
				"helm install/upgrade --wait waits that long for nothing (the readiness probe starts or repeats too late)", pod, lag)
		}
	}
}

// checkWebhookRegistered checks that the MutatingWebhookConfiguration trusts
// the CA of the certificate the chart generated.
func (s *suite) checkWebhookRegistered(t *testing.T) {
	t.Helper()
	mwc, err := s.cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(t.Context(), release, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("webhook not registered: %v", err)
	}
	sec, err := s.cs.CoreV1().Secrets(releaseNS).Get(t.Context(), release+"-webhook-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the chart's webhook certificate: %v", err)
	}
	if len(mwc.Webhooks) != 1 || string(mwc.Webhooks[0].ClientConfig.CABundle) != string(sec.Data["ca.crt"]) {
		t.Errorf("webhook caBundle does not hold the CA of Secret %s-webhook-tls", release)
	}
}

// readinessLags returns, per operator pod, how long after its container
// started it turned Ready.
func (s *suite) readinessLags(t *testing.T) map[string]time.Duration {
	t.Helper()
	lags := map[string]time.Duration{}
	for _, p := range s.operatorPods(t) {
		var started, ready time.Time
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Name == "manager" && cs.State.Running != nil {
				started = cs.State.Running.StartedAt.Time
			}
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready = c.LastTransitionTime.Time
			}
		}
		if started.IsZero() || ready.IsZero() {
			t.Errorf("operator pod %s: not running and Ready", p.Name)
			continue
		}
		lags[p.Name] = ready.Sub(started)
		t.Logf("operator pod %s: Ready %s after its container started", p.Name, lags[p.Name])
	}
	return lags
}

// waitOldOperatorPodsGone waits until only the Deployment's replicas are
// left, every one Ready, then a few seconds more: the window in which a
// replaced pod's endpoint may still be in use.
func (s *suite) waitOldOperatorPodsGone(t *testing.T) {
	t.Helper()
	eventually(t, "replaced operator pods gone", 90*time.Second, func() error {
		list, err := s.cs.CoreV1().Pods(releaseNS).List(t.Context(), metav1.ListOptions{
			LabelSelector: "app.kubernetes.io/instance=" + release + ",app.kubernetes.io/component=controller-manager",
		})
		if err != nil {
			return err
		}
		d, err := s.cs.AppsV1().Deployments(releaseNS).Get(t.Context(), release, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(list.Items) != int(*d.Spec.Replicas) {
			return fmt.Errorf("%d pods for %d replicas", len(list.Items), *d.Spec.Replicas)
		}
		for _, p := range list.Items {
			if err := podReady(&p); err != nil {
				return err
			}
		}
		return nil
	})
	time.Sleep(3 * time.Second)
}

func (s *suite) operatorPods(t *testing.T) []corev1.Pod {
	t.Helper()
	list, err := s.cs.CoreV1().Pods(releaseNS).List(t.Context(), metav1.ListOptions{
		LabelSelector: "app.kubernetes.io/instance=" + release + ",app.kubernetes.io/component=controller-manager",
	})
	if err != nil {
		t.Fatal(err)
	}
	var live []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			live = append(live, p)
		}
	}
	return live
}

func (s *suite) deployMocks(t *testing.T) {
	s.kubectlApply(t, mocksManifest(s.mockImage))
	for _, name := range []string{"openai", "claude", "ollama"} {
		eventually(t, "mock "+name+" ready", 90*time.Second, func() error {
			list, err := s.cs.CoreV1().Pods(mocksNS).List(t.Context(), metav1.ListOptions{LabelSelector: "app=" + name})
			if err != nil {
				return err
			}
			for _, p := range list.Items {
				if podReady(&p) == nil {
					s.mocks[name] = mock.Client{URL: fmt.Sprintf("http://%s:%d", p.Status.PodIP, mockPort), HTTP: httpClient}
					return nil
				}
			}
			return fmt.Errorf("no ready pod among %d", len(list.Items))
		})
	}
}

// sampleRoute is config/samples' LLMRoute as a user adapts it: the providers
// pointed at the mocks' Services, and shorter waits than the production
// defaults so that the outage step takes seconds (initialBackoff 100ms, an
// open breaker probing again after 2s).
func (s *suite) sampleRoute(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.repo, "config", "samples", "llm_v1alpha1_llmroute.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := yaml.Unmarshal(b, &obj); err != nil {
		t.Fatal(err)
	}
	spec := obj["spec"].(map[string]any)
	baseURLs := map[string]string{
		"openai": fmt.Sprintf("http://openai.%s.svc:%d/v1", mocksNS, mockPort),
		"claude": fmt.Sprintf("http://claude.%s.svc:%d", mocksNS, mockPort),
		"local":  fmt.Sprintf("http://ollama.%s.svc:%d/v1", mocksNS, mockPort),
	}
	for _, p := range spec["providers"].([]any) {
		p := p.(map[string]any)
		u, ok := baseURLs[p["name"].(string)]
		if !ok {
			t.Fatalf("config/samples names provider %q, which the suite has no mock for", p["name"])
		}
		p["baseURL"] = u
	}
	retry, _ := spec["retry"].(map[string]any)
	if retry == nil {
		retry = map[string]any{}
		spec["retry"] = retry
	}
	retry["initialBackoff"], retry["maxBackoff"] = "100ms", "400ms"
	cb, _ := spec["circuitBreaker"].(map[string]any)
	if cb == nil {
		cb = map[string]any{}
		spec["circuitBreaker"] = cb
	}
	cb["openTimeout"] = "2s"
	out, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func (s *suite) applyRoute(t *testing.T) {
	s.kubectlApply(t, appNamespaceManifest)
	secrets, err := os.ReadFile(filepath.Join(s.repo, "config", "samples", "secrets.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s.kubectlApply(t, string(secrets), "--namespace", appNS)
	s.kubectlApply(t, s.sampleRoute(t), "--namespace", appNS)
	s.waitRouteReady(t, 30*time.Second)
	out := s.kubectl(t, "get", "llmr", "--namespace", appNS)
	if !strings.Contains(out, route) || !strings.Contains(out, "True") {
		t.Errorf("kubectl get llmr does not show %s Ready:\n%s", route, out)
	}

	var r llmv1alpha1.LLMRoute
	if err := s.cr.Get(t.Context(), client.ObjectKey{Namespace: appNS, Name: route}, &r); err != nil {
		t.Fatal(err)
	}
	cm, err := s.cs.CoreV1().ConfigMaps(appNS).Get(t.Context(), "llmroute-"+route, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("rendered ConfigMap: %v", err)
	}
	checkOwned(t, cm.ObjectMeta, r.UID)
	var cfg struct {
		Providers []struct {
			Name       string `json:"name"`
			BaseURL    string `json:"baseURL"`
			APIKeyFile string `json:"apiKeyFile"`
		} `json:"providers"`
	}
	if err := json.Unmarshal([]byte(cm.Data["config.json"]), &cfg); err != nil {
		t.Fatalf("config.json: %v\n%s", err, cm.Data["config.json"])
	}
	var names []string
	for _, p := range cfg.Providers {
		names = append(names, p.Name)
		if p.Name == "openai" && p.APIKeyFile != "/etc/llmroute/keys/openai" {
			t.Errorf("openai apiKeyFile %q, want /etc/llmroute/keys/openai", p.APIKeyFile)
		}
	}
	if !slices.Equal(names, []string{"openai", "claude", "local"}) {
		t.Errorf("config.json providers %v, want openai, claude, local", names)
	}
	keys, err := s.cs.CoreV1().Secrets(appNS).Get(t.Context(), "llmroute-"+route+"-keys", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("rendered keys Secret: %v", err)
	}
	checkOwned(t, keys.ObjectMeta, r.UID)
	if string(keys.Data["openai"]) != openAIKey || string(keys.Data["claude"]) != anthropicKey {
		t.Errorf("keys Secret holds %v, want the sample Secrets' keys under openai and claude", slices.Sorted(mapKeys(keys.Data)))
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func checkOwned(t *testing.T, m metav1.ObjectMeta, owner types.UID) {
	t.Helper()
	for _, ref := range m.OwnerReferences {
		if ref.UID == owner && ref.Controller != nil && *ref.Controller {
			return
		}
	}
	t.Errorf("%s is not controlled by LLMRoute %s (owners %v)", m.Name, route, m.OwnerReferences)
}

// waitRouteReady waits for Accepted, ResolvedRefs and Ready to be True for
// the route's current generation.
func (s *suite) waitRouteReady(t *testing.T, timeout time.Duration) time.Duration {
	t.Helper()
	return eventually(t, "LLMRoute "+route+" Accepted, ResolvedRefs and Ready", timeout, func() error {
		var r llmv1alpha1.LLMRoute
		if err := s.cr.Get(t.Context(), client.ObjectKey{Namespace: appNS, Name: route}, &r); err != nil {
			return err
		}
		if r.Status.ObservedGeneration != r.Generation {
			return fmt.Errorf("observedGeneration %d, generation %d", r.Status.ObservedGeneration, r.Generation)
		}
		for _, typ := range []string{llmv1alpha1.ConditionAccepted, llmv1alpha1.ConditionResolvedRefs, llmv1alpha1.ConditionReady} {
			c := meta.FindStatusCondition(r.Status.Conditions, typ)
			if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != r.Generation {
				return fmt.Errorf("condition %s: %+v", typ, c)
			}
		}
		return nil
	})
}

func (s *suite) startApp(t *testing.T) {
	s.kubectlApply(t, podManifest(appPod, s.appImage, route, nil, nil))
	p := s.pod(t, appNS, appPod)

	if len(p.Spec.InitContainers) == 0 || p.Spec.InitContainers[0].Name != "llmroute-sidecar" {
		t.Fatalf("no llmroute-sidecar init container injected: %v", p.Spec.InitContainers)
	}
	sc := p.Spec.InitContainers[0]
	if sc.RestartPolicy == nil || *sc.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Errorf("sidecar restartPolicy %v, want Always (a native sidecar)", sc.RestartPolicy)
	}
	env := map[string]string{}
	for _, e := range p.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	if env["OPENAI_BASE_URL"] != "http://127.0.0.1:8089/v1" || env["ANTHROPIC_BASE_URL"] != "http://127.0.0.1:8089" {
		t.Errorf("app env %v: want the SDK base URLs pointing at the sidecar", env)
	}

	took := eventually(t, "app pod Ready", 120*time.Second, func() error {
		return podReady(s.pod(t, appNS, appPod))
	})
	t.Logf("app pod Ready %s after it was created", took.Round(100*time.Millisecond))
	out := s.kubectl(t, "get", "pod", appPod, "--namespace", appNS)
	if !strings.Contains(out, "2/2") {
		t.Errorf("kubectl get pod does not show 2/2 ready:\n%s", out)
	}

	p = s.pod(t, appNS, appPod)
	s.appIP = p.Status.PodIP
	var sidecarStarted, appStarted time.Time
	for _, cs := range p.Status.InitContainerStatuses {
		if cs.Name == "llmroute-sidecar" && cs.State.Running != nil {
			sidecarStarted = cs.State.Running.StartedAt.Time
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == "app" && cs.State.Running != nil {
			appStarted = cs.State.Running.StartedAt.Time
		}
	}
	if sidecarStarted.IsZero() || appStarted.IsZero() || appStarted.Before(sidecarStarted) {
		t.Errorf("sidecar started at %s, app at %s: the sidecar must start first", sidecarStarted, appStarted)
	}
	var st appapi.Startup
	if err := httpJSON(http.MethodGet, s.app("/startup"), nil, &st); err != nil {
		t.Fatal(err)
	}
	if st.SidecarStatus != http.StatusOK {
		t.Errorf("when the app started, the sidecar answered %d (%s): it was not serving yet", st.SidecarStatus, st.Error)
	}
}

func (s *suite) sdkCalls(t *testing.T) {
	for _, c := range []struct {
		kind, model, provider, says string
	}{
		{appapi.Chat, "gpt-4o-mini", "openai", "Hello from openai"},
		{appapi.Stream, "gpt-4o-mini", "openai", "Hello from openai"},
		{appapi.Messages, "claude-sonnet-4-5", "claude", "Hello from claude"},
	} {
		r := s.call(t, c.kind, c.model)
		if !r.OK || r.Provider != c.provider || r.Attempts != 1 || !strings.Contains(r.Content, c.says) {
			t.Errorf("%s: ok=%v provider %q attempts %d content %q: want %s on the first attempt saying %q (%s)",
				c.kind, r.OK, r.Provider, r.Attempts, r.Content, c.provider, c.says, r.Error)
		}
		if c.kind == appapi.Stream && r.Chunks < 2 {
			t.Errorf("stream: %d content chunks, want it streamed", r.Chunks)
		}
	}

	// The same from a shell in the app container, as a user debugging it would.
	out := s.kubectl(t, "exec", appPod, "--namespace", appNS, "--container", "app", "--", "/app", "call", appapi.Chat)
	s.calls++
	var r appapi.Result
	if err := json.Unmarshal([]byte(out), &r); err != nil || !r.OK || r.Provider != "openai" {
		t.Errorf("kubectl exec app call: %v: %s", err, out)
	}
}

func (s *suite) fallback(t *testing.T) {
	s.setFaults(t, "openai", mock.Faults{Down: true})
	t.Cleanup(func() { s.setFaults(t, "openai", mock.Faults{}) })

	// Three attempts on openai (retryOn 503), then claude.
	r := s.call(t, appapi.Chat, "gpt-4o-mini")
	if !r.OK || r.Provider != "claude" || r.Attempts != 4 {
		t.Errorf("during the outage: ok=%v provider %q attempts %d, want claude after 3 attempts on openai (4 in all)",
			r.OK, r.Provider, r.Attempts)
	}
	// A stream falls back too, translated from Anthropic's events.
	r = s.call(t, appapi.Stream, "gpt-4o-mini")
	if !r.OK || r.Provider != "claude" || r.Chunks < 1 {
		t.Errorf("stream during the outage: ok=%v provider %q chunks %d, want claude", r.OK, r.Provider, r.Chunks)
	}
	st, err := s.mockStats("openai")
	if err != nil {
		t.Fatal(err)
	}
	if st.Faults["down"] < 3 {
		t.Errorf("openai mock answered %d calls with its outage, want at least 3", st.Faults["down"])
	}

	// Recovery: once the breaker's openTimeout passes, openai serves again.
	s.setFaults(t, "openai", mock.Faults{})
	eventually(t, "openai serving again after the outage", 20*time.Second, func() error {
		if r := s.call(t, appapi.Chat, "gpt-4o-mini"); r.Provider != "openai" {
			return fmt.Errorf("served by %q", r.Provider)
		}
		return nil
	})
}

// setBackends patches the route's first rule's fallback order, as a user
// would with kubectl.
func (s *suite) setBackends(t *testing.T, backends ...string) {
	t.Helper()
	b, _ := json.Marshal(backends)
	s.kubectl(t, "patch", "llmroute", route, "--namespace", appNS, "--type=json",
		"-p", `[{"op":"replace","path":"/spec/rules/0/backends","value":`+string(b)+`}]`)
}

// waitServedBy waits until the running trickle's calls are served by
// provider.
func (s *suite) waitServedBy(t *testing.T, provider string, timeout time.Duration) time.Duration {
	t.Helper()
	return eventually(t, "calls served by "+provider, timeout, func() error {
		r, err := s.lastTrickle()
		if err != nil {
			return err
		}
		if r.Provider != provider {
			return fmt.Errorf("last call at %s served by %q", r.At.Format("15:04:05.000"), r.Provider)
		}
		return nil
	})
}

func (s *suite) editRoute(t *testing.T) {
	stop := s.trickle(t, 200*time.Millisecond)
	s.waitServedBy(t, "openai", 10*time.Second)

	s.setBackends(t, "claude", "openai", "local")
	operator := s.waitRouteReady(t, 30*time.Second)
	took := s.waitServedBy(t, "claude", 90*time.Second)
	t.Logf("new order: route Ready after %s, calls followed it after %s (the kubelet's sync, then the sidecar's reload)",
		operator.Round(100*time.Millisecond), took.Round(100*time.Millisecond))

	s.setBackends(t, "openai", "claude", "local")
	s.waitRouteReady(t, 30*time.Second)
	took = s.waitServedBy(t, "openai", 90*time.Second)
	t.Logf("order restored: calls followed after %s", took.Round(100*time.Millisecond))

	s.reloads += 2
	sum := stop()
	if sum.Calls < 10 || sum.Failures > 0 || sum.ByProvider["claude"] == 0 {
		t.Errorf("trickle through the edits: %d calls, %d failed, by provider %v: want no failure and calls on both orders",
			sum.Calls, sum.Failures, sum.ByProvider)
	}
}

func (s *suite) rotateKey(t *testing.T) {
	before := s.pod(t, appNS, appPod)
	stop := s.trickle(t, 200*time.Millisecond)
	s.waitServedBy(t, "openai", 10*time.Second)

	// The provider accepts both keys while the new one propagates...
	s.setKeys(t, "openai", openAIKey, openAIRotatedKey)
	t.Cleanup(func() {
		s.setKeys(t, "openai", openAIKey, openAIRotatedKey)
	})
	s.kubectlApply(t, fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: openai-creds, namespace: %s}
type: Opaque
stringData: {api-key: %s}
`, appNS, openAIRotatedKey))
	operator := eventually(t, "keys Secret holding the new key", 30*time.Second, func() error {
		keys, err := s.cs.CoreV1().Secrets(appNS).Get(t.Context(), "llmroute-"+route+"-keys", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if string(keys.Data["openai"]) != openAIRotatedKey {
			return fmt.Errorf("still the old key")
		}
		return nil
	})
	took := eventually(t, "the sidecar sending the new key", 90*time.Second, func() error {
		st, err := s.mockStats("openai")
		if err != nil {
			return err
		}
		if st.LastAuthorization != "Bearer "+openAIRotatedKey {
			return fmt.Errorf("the last call carried another key")
		}
		return nil
	})
	t.Logf("rotation: keys Secret updated after %s, the sidecar sent the new key after %s",
		operator.Round(100*time.Millisecond), took.Round(100*time.Millisecond))

	s.reloads++

	// ...then only the new one, for ten more calls.
	s.setKeys(t, "openai", openAIRotatedKey)
	s.waitMoreCalls(t, 10)
	sum := stop()
	for _, r := range sum.Results {
		if r.OK && (r.Provider != "openai" || r.Attempts != 1) {
			t.Errorf("call at %s served by %q after %d attempts: the key was refused somewhere (want openai, first attempt)",
				r.At.Format("15:04:05.000"), r.Provider, r.Attempts)
		}
	}
	after := s.pod(t, appNS, appPod)
	if after.UID != before.UID || restarts(after) != restarts(before) {
		t.Errorf("the pod was replaced or a container restarted during the rotation")
	}
}

func restarts(p *corev1.Pod) int32 {
	var n int32
	for _, cs := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
		n += cs.RestartCount
	}
	return n
}

func (s *suite) webhookEdges(t *testing.T) {
	// A pod naming a route that does not exist is refused, with the reason.
	out, err := s.run(t, podManifest("no-route", s.appImage, "nope", nil, nil), s.env.kubectl, "apply", "-f", "-")
	want := `LLMRoute "nope" not found in namespace "` + appNS + `"`
	if err == nil || !strings.Contains(out, want) || !strings.Contains(out, "denied the request") {
		t.Errorf("a pod labelled with a missing route: want it refused with %q, got (err %v):\n%s", want, err, out)
	}

	// A pod that opts out of the env keeps its own; one that sets a base URL
	// itself keeps it without opting out.
	const own = "http://my-gateway.example/v1"
	s.kubectlApply(t, podManifest("opted-out", s.appImage, route,
		map[string]string{"llm.osmen.ai/inject-env": "false"}, map[string]string{"OPENAI_BASE_URL": own}))
	s.kubectlApply(t, podManifest("own-url", s.appImage, route, nil, map[string]string{"OPENAI_BASE_URL": own}))
	t.Cleanup(func() {
		s.kubectl(t, "delete", "pod", "opted-out", "own-url", "--namespace", appNS, "--wait=false")
	})
	for name, wantEnv := range map[string]map[string]string{
		"opted-out": {"OPENAI_BASE_URL": own},
		"own-url":   {"OPENAI_BASE_URL": own, "ANTHROPIC_BASE_URL": "http://127.0.0.1:8089"},
	} {
		p := s.pod(t, appNS, name)
		got := map[string]string{}
		for _, e := range p.Spec.Containers[0].Env {
			got[e.Name] = e.Value
		}
		if fmt.Sprint(got) != fmt.Sprint(wantEnv) {
			t.Errorf("pod %s: env %v, want %v", name, got, wantEnv)
		}
		if len(p.Spec.InitContainers) == 0 || p.Spec.InitContainers[0].Name != "llmroute-sidecar" {
			t.Errorf("pod %s: no sidecar injected", name)
		}
	}
}

// leader returns the pod holding the operator's leader Lease, or "".
func (s *suite) leader(t *testing.T) (string, error) {
	l, err := s.cs.CoordinationV1().Leases(releaseNS).Get(t.Context(), "llmroute.llm.osmen.ai", metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if l.Spec.HolderIdentity == nil {
		return "", nil
	}
	pod, _, _ := strings.Cut(*l.Spec.HolderIdentity, "_")
	return pod, nil
}

// bumpRoute changes the route's spec (its stream idle timeout) and returns
// the new generation, to see whether an operator reconciles.
func (s *suite) bumpRoute(t *testing.T) int64 {
	t.Helper()
	gen, err := s.tryBumpRoute(t)
	if err != nil {
		t.Fatal(err)
	}
	return gen
}

// waitReconciled waits until the route's status has seen generation gen,
// and says how long that took.
func (s *suite) waitReconciled(t *testing.T, what string, gen int64, timeout time.Duration) time.Duration {
	t.Helper()
	return eventually(t, what, timeout, func() error {
		var r llmv1alpha1.LLMRoute
		if err := s.cr.Get(t.Context(), client.ObjectKey{Namespace: appNS, Name: route}, &r); err != nil {
			return err
		}
		if r.Status.ObservedGeneration < gen {
			return fmt.Errorf("observedGeneration %d, want %d", r.Status.ObservedGeneration, gen)
		}
		return nil
	})
}

func (s *suite) tryBumpRoute(t *testing.T) (int64, error) {
	t.Helper()
	var r llmv1alpha1.LLMRoute
	if err := s.cr.Get(t.Context(), client.ObjectKey{Namespace: appNS, Name: route}, &r); err != nil {
		return 0, err
	}
	base := r.DeepCopy()
	d := 61 * time.Second
	if r.Spec.Timeouts != nil && r.Spec.Timeouts.StreamIdle != nil && r.Spec.Timeouts.StreamIdle.Duration == d {
		d = 62 * time.Second
	}
	if r.Spec.Timeouts == nil {
		r.Spec.Timeouts = &llmv1alpha1.Timeouts{}
	}
	r.Spec.Timeouts.StreamIdle = &metav1.Duration{Duration: d}
	if err := s.cr.Patch(t.Context(), &r, client.MergeFrom(base)); err != nil {
		return 0, err
	}
	return r.Generation, nil
}

func (s *suite) operatorFailover(t *testing.T) {
	var old string
	eventually(t, "a leader", 30*time.Second, func() error {
		var err error
		if old, err = s.leader(t); err == nil && old == "" {
			err = fmt.Errorf("none")
		}
		return err
	})
	stop := s.trickle(t, 200*time.Millisecond)
	stopAdmissions := s.admissions(t)
	s.waitMoreCalls(t, 3)
	start := time.Now()
	s.kubectl(t, "delete", "pod", old, "--namespace", releaseNS)
	gen := s.bumpRoute(t)
	s.waitReconciled(t, "another replica reconciling", gen, 60*time.Second)
	now, _ := s.leader(t)
	t.Logf("leader %s deleted; %s took over and reconciled %s after the delete began", old, now, time.Since(start).Round(100*time.Millisecond))
	if now == old || now == "" {
		t.Errorf("leader after the delete: %q, want another pod than %s", now, old)
	}
	eventually(t, "the Deployment back to its replicas", 90*time.Second, func() error {
		d, err := s.cs.AppsV1().Deployments(releaseNS).Get(t.Context(), release, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Status.ReadyReplicas != *d.Spec.Replicas || d.Status.Replicas != *d.Spec.Replicas {
			return fmt.Errorf("%d ready of %d", d.Status.ReadyReplicas, *d.Spec.Replicas)
		}
		return nil
	})
	s.waitOldOperatorPodsGone(t)
	if _, failed := stopAdmissions(); len(failed) > 0 {
		t.Errorf("labelled pods refused while an operator pod was replaced (the webhook's failurePolicy is Fail):\n%s",
			indent(strings.Join(failed, "\n")))
	}
	sum := stop()
	if sum.Failures > 0 || sum.Calls < 5 {
		t.Errorf("calls while the operator pod was replaced: %d, %d failed: the data plane must not depend on the operator", sum.Calls, sum.Failures)
	}
}

func (s *suite) sidecarMetrics(t *testing.T) {
	m, err := metrics(fmt.Sprintf("http://%s:9089/metrics", s.appIP))
	if err != nil {
		t.Fatalf("scrape the sidecar on the pod IP: %v", err)
	}
	var samples []string
	for k, v := range m {
		if strings.HasPrefix(k, "llmroute_") && !strings.Contains(k, "_bucket{") {
			samples = append(samples, fmt.Sprintf("%s %v", k, v))
		}
	}
	slices.Sort(samples)
	t.Logf("the sidecar's llmroute_* samples:\n%s", indent(strings.Join(samples, "\n")))
	requests := m.Sum("llmroute_requests_total")
	t.Logf("sidecar metrics: %v requests (the suite made %d calls), by provider openai %v claude %v; fallbacks openai->claude %v; reloads ok %v",
		requests, s.calls, m.Sum("llmroute_requests_total", `provider="openai"`), m.Sum("llmroute_requests_total", `provider="claude"`),
		m.Sum("llmroute_fallbacks_total", `from="openai"`, `to="claude"`), m.Sum("llmroute_config_reloads_total", `result="success"`))
	if requests < float64(s.calls) {
		t.Errorf("llmroute_requests_total is %v, but the app made %d calls through the sidecar", requests, s.calls)
	}
	if v := m.Sum("llmroute_fallbacks_total", `from="openai"`, `to="claude"`); v < 1 {
		t.Errorf("llmroute_fallbacks_total{from=openai,to=claude} is %v, want the outage's fallbacks", v)
	}
	if v := m.Sum("llmroute_upstream_attempts_total", `provider="openai"`, `outcome="server_error"`); v < 3 {
		t.Errorf("llmroute_upstream_attempts_total{provider=openai,outcome=server_error} is %v, want the outage's 503s", v)
	}
	if v := m.Sum("llmroute_config_reloads_total", `result="success"`); v < float64(s.reloads) {
		t.Errorf("llmroute_config_reloads_total{result=success} is %v, want at least the %d reloads the route edits and the key rotation caused", v, s.reloads)
	}
	if v := m.Sum("gen_ai_client_operation_duration_seconds_count"); v < float64(s.calls) {
		t.Errorf("gen_ai_client_operation_duration_seconds_count is %v, want at least %d", v, s.calls)
	}
	// What the sidecar's log says, as kubectl logs shows it.
	s.kubectl(t, "logs", appPod, "--namespace", appNS, "--container", "llmroute-sidecar", "--tail", "8")
}

func (s *suite) deleteRoute(t *testing.T) {
	s.kubectl(t, "delete", "llmroute", route, "--namespace", appNS)
	took := eventually(t, "ConfigMap and keys Secret garbage-collected", 60*time.Second, func() error {
		_, err := s.cs.CoreV1().ConfigMaps(appNS).Get(t.Context(), "llmroute-"+route, metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("ConfigMap llmroute-%s: %v", route, err)
		}
		_, err = s.cs.CoreV1().Secrets(appNS).Get(t.Context(), "llmroute-"+route+"-keys", metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("Secret llmroute-%s-keys: %v", route, err)
		}
		return nil
	})
	t.Logf("owned objects gone %s after the delete", took.Round(100*time.Millisecond))
	// A running pod keeps the config its sidecar loaded.
	if r := s.call(t, appapi.Chat, "gpt-4o-mini"); !r.OK {
		t.Errorf("a call after the route was deleted failed: %s", r.Error)
	}
}

func (s *suite) helmUpgrade(t *testing.T) {
	// The route again, for the injection check below.
	s.kubectlApply(t, s.sampleRoute(t), "--namespace", appNS)
	s.waitRouteReady(t, 30*time.Second)

	tlsBefore, err := s.cs.CoreV1().Secrets(releaseNS).Get(t.Context(), release+"-webhook-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stopAdmissions := s.admissions(t)
	_, took := s.helm(t, "upgrade", release, filepath.Join(s.repo, "charts", "llmroute"), "--namespace", releaseNS,
		"--reuse-values", "--set", "sidecar.logLevel=debug", "--wait", "--timeout", "3m")
	t.Logf("helm upgrade --wait returned after %s", took.Round(100*time.Millisecond))
	s.waitOldOperatorPodsGone(t)
	if _, failed := stopAdmissions(); len(failed) > 0 {
		t.Errorf("labelled pods refused during and right after helm upgrade --wait (the webhook's failurePolicy is Fail):\n%s",
			indent(strings.Join(failed, "\n")))
	}

	tlsAfter, err := s.cs.CoreV1().Secrets(releaseNS).Get(t.Context(), release+"-webhook-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ca.crt", "tls.crt", "tls.key"} {
		if string(tlsBefore.Data[k]) != string(tlsAfter.Data[k]) {
			t.Errorf("helm upgrade replaced the webhook certificate's %s", k)
		}
	}
	s.checkWebhookRegistered(t)
	d, err := s.cs.AppsV1().Deployments(releaseNS).Get(t.Context(), release, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--sidecar-log-level=debug") {
		t.Errorf("manager args %v: the changed value did not arrive", d.Spec.Template.Spec.Containers[0].Args)
	}
	eventually(t, "the upgrade rolled out", 60*time.Second, func() error {
		d, err := s.cs.AppsV1().Deployments(releaseNS).Get(t.Context(), release, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Status.UpdatedReplicas != *d.Spec.Replicas || d.Status.ReadyReplicas != *d.Spec.Replicas || d.Status.Replicas != *d.Spec.Replicas {
			return fmt.Errorf("%d updated, %d ready, %d in all of %d", d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.Replicas, *d.Spec.Replicas)
		}
		return nil
	})
	s.readinessLags(t)

	// The upgraded operator injects with the new value, through the same
	// certificate.
	s.kubectlApply(t, podManifest("after-upgrade", s.appImage, route, nil, nil))
	t.Cleanup(func() { s.kubectl(t, "delete", "pod", "after-upgrade", "--namespace", appNS, "--wait=false") })
	p := s.pod(t, appNS, "after-upgrade")
	if len(p.Spec.InitContainers) == 0 || !strings.Contains(strings.Join(p.Spec.InitContainers[0].Args, " "), "--log-level debug") {
		t.Errorf("pod created after the upgrade: sidecar args %v, want --log-level debug", p.Spec.InitContainers)
	}
	eventually(t, "the pod created after the upgrade Ready", 90*time.Second, func() error {
		return podReady(s.pod(t, appNS, "after-upgrade"))
	})
}

func (s *suite) uninstallReinstall(t *testing.T) {
	s.helm(t, "uninstall", release, "--namespace", releaseNS, "--wait", "--timeout", "3m")
	s.checkReleaseGone(t)

	// Helm deletes the manager's RBAC while its pods stop, so the leader may
	// not be able to release its Lease; what matters is that a reinstall
	// does not wait for it (checked below).
	if l, err := s.cs.CoordinationV1().Leases(releaseNS).Get(t.Context(), "llmroute.llm.osmen.ai", metav1.GetOptions{}); err == nil &&
		l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "" {
		t.Logf("after helm uninstall the leader Lease is still held by %s (renewed %s, for %ds)",
			*l.Spec.HolderIdentity, l.Spec.RenewTime.Format(time.RFC3339Nano), *l.Spec.LeaseDurationSeconds)
	}

	_, took := s.helm(t, s.helmInstallArgs()...)
	t.Logf("helm install --wait (again) returned after %s", took.Round(100*time.Millisecond))
	s.readinessLags(t)
	// Right after --wait returns, the new webhook Service may not be routed
	// to its Ready pods yet (kube-proxy programs a new Service's endpoints
	// a moment later), and LLMRoute changes go through the operator's
	// validating webhook: a change sent into that window waits for the
	// webhook's timeout (10 s) and is refused (the README says so). That is
	// logged; what is checked is the Lease: once admitted, the change is
	// reconciled at once, not after an old leader's lease runs out.
	var gen int64
	start := time.Now()
	admitted := eventually(t, "the reinstalled operator's webhook admitting a route change", 30*time.Second, func() error {
		var err error
		if gen, err = s.tryBumpRoute(t); err != nil {
			t.Logf("a route change refused %s after helm install --wait returned: %v", time.Since(start).Round(100*time.Millisecond), err)
		}
		return err
	})
	t.Logf("a route change was admitted %s after helm install --wait returned", admitted.Round(100*time.Millisecond))
	lag := s.waitReconciled(t, "the reinstalled operator reconciling", gen, 60*time.Second)
	t.Logf("after the reinstall, an admitted route change was reconciled in %s", lag.Round(100*time.Millisecond))
	if lag > 5*time.Second {
		t.Errorf("the reinstalled operator reconciled an admitted route change only after %s: "+
			"no replica could take the leader Lease, or none was ready", lag.Round(100*time.Millisecond))
	}

	s.helm(t, "uninstall", release, "--namespace", releaseNS, "--wait", "--timeout", "3m")
	s.checkReleaseGone(t)
	// By Helm's design the CRD (crds/) and the routes stay.
	out := s.kubectl(t, "get", "crd", "llmroutes.llm.osmen.ai", "--output", "name")
	t.Logf("left by design: %s", strings.TrimSpace(out))
}

// checkReleaseGone checks that nothing of the release is left.
func (s *suite) checkReleaseGone(t *testing.T) {
	t.Helper()
	sel := metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + release}
	ctx := t.Context()
	eventually(t, "every object of the release gone", 60*time.Second, func() error {
		var left []string
		add := func(kind string, n int, err error) {
			if err != nil {
				left = append(left, kind+": "+err.Error())
			} else if n > 0 {
				left = append(left, fmt.Sprintf("%d %s", n, kind))
			}
		}
		d, err := s.cs.AppsV1().Deployments(releaseNS).List(ctx, sel)
		add("Deployments", len(d.Items), err)
		p, err := s.cs.CoreV1().Pods(releaseNS).List(ctx, sel)
		add("Pods", len(p.Items), err)
		sv, err := s.cs.CoreV1().Services(releaseNS).List(ctx, sel)
		add("Services", len(sv.Items), err)
		se, err := s.cs.CoreV1().Secrets(releaseNS).List(ctx, sel)
		add("Secrets", len(se.Items), err)
		sa, err := s.cs.CoreV1().ServiceAccounts(releaseNS).List(ctx, sel)
		add("ServiceAccounts", len(sa.Items), err)
		r, err := s.cs.RbacV1().Roles(releaseNS).List(ctx, sel)
		add("Roles", len(r.Items), err)
		rb, err := s.cs.RbacV1().RoleBindings(releaseNS).List(ctx, sel)
		add("RoleBindings", len(rb.Items), err)
		cr, err := s.cs.RbacV1().ClusterRoles().List(ctx, sel)
		add("ClusterRoles", len(cr.Items), err)
		crb, err := s.cs.RbacV1().ClusterRoleBindings().List(ctx, sel)
		add("ClusterRoleBindings", len(crb.Items), err)
		mwc, err := s.cs.AdmissionregistrationV1().MutatingWebhookConfigurations().List(ctx, sel)
		add("MutatingWebhookConfigurations", len(mwc.Items), err)
		pdb, err := s.cs.PolicyV1().PodDisruptionBudgets(releaseNS).List(ctx, sel)
		add("PodDisruptionBudgets", len(pdb.Items), err)
		if len(left) > 0 {
			return fmt.Errorf("left: %s", strings.Join(left, ", "))
		}
		return nil
	})
}
