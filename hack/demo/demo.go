package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
	"github.com/osmen-ai/llmroute/controllers"
	"github.com/osmen-ai/llmroute/hack/mockllm/mock"
	"github.com/osmen-ai/llmroute/hack/process"
)

const namespace = "default"

// demo holds what the run started, so that cleanup can stop all of it.
type demo struct {
	o        options
	start    time.Time
	step     int
	cleanups []func()

	env     *envtest.Environment
	k8s     client.Client
	mocks   map[string]*mock.Server
	urls    map[string]string
	dir     string // the emulated pod volumes
	sidecar *process.Process
	proxy   string // the sidecar's proxy address
	admin   string
	tally   tally
}

func (d *demo) defer_(f func()) { d.cleanups = append(d.cleanups, f) }

func (d *demo) cleanup() {
	for i := len(d.cleanups) - 1; i >= 0; i-- {
		d.cleanups[i]()
	}
	d.cleanups = nil
}

const totalSteps = 10

func (d *demo) stepf(format string, args ...any) {
	d.step++
	fmt.Printf("\n[%d/%d] %s\n", d.step, totalSteps, fmt.Sprintf(format, args...))
}

func say(format string, args ...any) { fmt.Printf("      "+format+"\n", args...) }

func (d *demo) run(ctx context.Context) error {
	if err := d.o.check(); err != nil {
		return err
	}
	// envtest's own logging is noise here; the demo prints what matters.
	logf.SetLogger(logr.Discard())
	steps := []func(context.Context) error{
		d.startAPIServer,
		d.startOperator,
		d.startProviders,
		d.applyRoute,
		d.createPod,
		d.startSidecar,
		d.sendRequests,
		d.editRoute,
		d.recover,
		d.expiringTokens,
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s(ctx); err != nil {
			return err
		}
	}
	d.summary()
	return d.tally.verify()
}

func (d *demo) startAPIServer(ctx context.Context) error {
	d.stepf("Starting a Kubernetes API server (envtest: etcd and kube-apiserver from %s)", d.o.assets)
	t0 := time.Now()
	d.env = &envtest.Environment{
		BinaryAssetsDirectory: d.o.assets,
		CRDDirectoryPaths:     []string{filepath.Join("config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			Paths:            []string{filepath.Join("config", "webhook")},
			LocalServingHost: "127.0.0.1",
		},
	}
	cfg, err := d.env.Start()
	if err != nil {
		return fmt.Errorf("start the API server: %w", err)
	}
	d.defer_(func() { d.env.Stop() })
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := llmv1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	if d.k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return err
	}
	say("API server at %s, the LLMRoute CRD and the pod webhook registered (%s)", cfg.Host, since(t0))
	return nil
}

func (d *demo) startOperator(ctx context.Context) error {
	d.stepf("Starting the operator (%s) with its webhook", d.o.manager)
	user, err := d.env.ControlPlane.AddUser(envtest.User{Name: "llmroute-demo", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("create a user for the manager: %w", err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "llmroute-demo-")
	if err != nil {
		return err
	}
	d.dir = dir
	d.defer_(func() { os.RemoveAll(dir) })
	kcFile := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kcFile, kubeconfig, 0o600); err != nil {
		return err
	}
	mgr, err := d.startManager(ctx, kcFile)
	if err != nil {
		return fmt.Errorf("the manager did not become ready: %w", err)
	}
	d.defer_(mgr.Stop)
	say("manager ready: reconciling LLMRoutes, webhook serving on 127.0.0.1:%d", d.env.WebhookInstallOptions.LocalServingPort)
	return nil
}

// echo is where the children's own logs go: the terminal with -v.
func (d *demo) echo() io.Writer {
	if d.o.verbose {
		return os.Stderr
	}
	return nil
}

func (d *demo) startProviders(ctx context.Context) error {
	d.stepf("Starting fake providers (hack/mockllm) in place of OpenAI, Anthropic and Ollama")
	d.mocks, d.urls = map[string]*mock.Server{}, map[string]string{}
	for _, p := range []struct {
		name, key, note string
		faults          mock.Faults
	}{
		{"openai", "sk-demo-openai", "fails 40% of requests with 503 (transient)", mock.Faults{FailRate: 0.4, FailStatus: 503, Seed: 7}},
		{"claude", "sk-demo-anthropic", "healthy (Anthropic Messages format)", mock.Faults{}},
		{"local", "", "healthy", mock.Faults{}},
	} {
		m := mock.New(mock.Options{Name: p.name, APIKey: p.key, Faults: p.faults, StreamChunks: 6, StreamInterval: 40 * time.Millisecond})
		addr, err := d.serveMock(p.name, m, m)
		if err != nil {
			return err
		}
		d.urls[p.name] = "http://" + addr
		say("%-7s on %s: %s", p.name, addr, p.note)
	}
	return nil
}

// serveMock serves h, which is or fronts the fake provider m, on a loopback
// port until the demo ends, and returns the address.
func (d *demo) serveMock(name string, m *mock.Server, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	d.defer_(func() { m.Close(); srv.Close() })
	d.mocks[name] = m
	return ln.Addr().String(), nil
}

func (d *demo) applyRoute(ctx context.Context) error {
	d.stepf("Applying config/samples: the API key Secrets and the LLMRoute \"chat\"")
	objs, err := readYAMLObjects(filepath.Join("config", "samples", "secrets.yaml"))
	if err != nil {
		return err
	}
	for _, o := range objs {
		var s corev1.Secret
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o, &s); err != nil {
			return err
		}
		s.Namespace = namespace
		if err := d.k8s.Create(ctx, &s); err != nil {
			return fmt.Errorf("create Secret %s: %w", s.Name, err)
		}
		say("Secret %s created", s.Name)
	}
	route, err := d.sampleRoute()
	if err != nil {
		return err
	}
	if err := d.k8s.Create(ctx, route); err != nil {
		return fmt.Errorf("create the LLMRoute: %w", err)
	}
	say("LLMRoute chat created; the demo points its providers at the fake ones and shortens")
	say("the backoff (200ms, capped at 1s) and the breaker's open time (3s) to keep the run short")
	r, err := d.waitReady(ctx, "")
	if err != nil {
		return err
	}
	for _, c := range r.Status.Conditions {
		say("condition %-12s %-5s %s", c.Type, c.Status, c.Reason)
	}
	say("rendered ConfigMap %s and Secret %s (configHash %s)",
		controllers.ConfigMapName("chat"), controllers.KeysSecretName("chat"), r.Status.ConfigHash)
	return nil
}

// sampleRoute is config/samples' route with the fake providers' addresses.
func (d *demo) sampleRoute() (*llmv1alpha1.LLMRoute, error) {
	b, err := os.ReadFile(filepath.Join("config", "samples", "llm_v1alpha1_llmroute.yaml"))
	if err != nil {
		return nil, err
	}
	var r llmv1alpha1.LLMRoute
	if err := yaml.UnmarshalStrict(b, &r); err != nil {
		return nil, fmt.Errorf("config/samples/llm_v1alpha1_llmroute.yaml: %w", err)
	}
	r.Namespace = namespace
	for i := range r.Spec.Providers {
		p := &r.Spec.Providers[i]
		base := d.urls[p.Name]
		if base == "" {
			return nil, fmt.Errorf("the sample has a provider %q the demo does not fake", p.Name)
		}
		if p.Type != llmv1alpha1.ProviderAnthropic {
			base += "/v1"
		}
		p.BaseURL = base
	}
	r.Spec.Retry.InitialBackoff = &metav1.Duration{Duration: 200 * time.Millisecond}
	r.Spec.Retry.MaxBackoff = &metav1.Duration{Duration: time.Second}
	r.Spec.CircuitBreaker.OpenTimeout = &metav1.Duration{Duration: 3 * time.Second}
	return &r, nil
}

// waitReady waits until the route is Ready with a configHash other than notHash.
func (d *demo) waitReady(ctx context.Context, notHash string) (*llmv1alpha1.LLMRoute, error) {
	var r llmv1alpha1.LLMRoute
	err := process.Poll(ctx, "the LLMRoute Ready", 30*time.Second, 100*time.Millisecond, func(ctx context.Context) error {
		if err := d.k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "chat"}, &r); err != nil {
			return err
		}
		switch {
		case r.Status.ObservedGeneration != r.Generation:
			return fmt.Errorf("observedGeneration %d, generation %d", r.Status.ObservedGeneration, r.Generation)
		case r.Status.ConfigHash == notHash:
			return fmt.Errorf("configHash still %q", notHash)
		case !meta.IsStatusConditionTrue(r.Status.Conditions, llmv1alpha1.ConditionReady):
			return fmt.Errorf("conditions %+v", r.Status.Conditions)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

func (d *demo) createPod(ctx context.Context) error {
	d.stepf("Creating a Pod labelled llm.osmen.ai/route=chat: the webhook injects the sidecar")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: namespace, Labels: map[string]string{"llm.osmen.ai/route": "chat"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "my-agent:1.0"}}},
	}
	if err := d.k8s.Create(ctx, pod); err != nil {
		return fmt.Errorf("create the pod: %w", err)
	}
	var sc *corev1.Container
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == "llmroute-sidecar" {
			sc = &pod.Spec.InitContainers[i]
		}
	}
	if sc == nil {
		return fmt.Errorf("the pod came back without the llmroute-sidecar container")
	}
	show := struct {
		Name           string                         `json:"name"`
		Image          string                         `json:"image"`
		Command        []string                       `json:"command"`
		Args           []string                       `json:"args"`
		RestartPolicy  *corev1.ContainerRestartPolicy `json:"restartPolicy"`
		ReadinessProbe string                         `json:"readinessProbe"`
		VolumeMounts   []corev1.VolumeMount           `json:"volumeMounts"`
	}{sc.Name, sc.Image, sc.Command, sc.Args, sc.RestartPolicy,
		fmt.Sprintf("GET :%s%s", sc.ReadinessProbe.HTTPGet.Port.String(), sc.ReadinessProbe.HTTPGet.Path), sc.VolumeMounts}
	b, _ := yaml.Marshal(show)
	say("injected native sidecar (initContainers, restartPolicy Always):")
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		say("  %s", l)
	}
	for _, e := range pod.Spec.Containers[0].Env {
		say("app container env: %s=%s", e.Name, e.Value)
	}
	// A pod naming a route that does not exist is refused.
	bad := pod.DeepCopy()
	bad.ObjectMeta = metav1.ObjectMeta{Name: "stray", Namespace: namespace, Labels: map[string]string{"llm.osmen.ai/route": "nope"}}
	bad.Spec.InitContainers = nil
	if err := d.k8s.Create(ctx, bad); err == nil {
		return fmt.Errorf("a pod naming a missing route was admitted")
	} else {
		say("a pod labelled route=nope is refused: %s", firstLine(err.Error()))
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func since(t time.Time) string { return time.Since(t).Round(10 * time.Millisecond).String() }

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// readYAMLObjects reads a multi-document YAML file.
func readYAMLObjects(file string) ([]map[string]any, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	var objs []map[string]any
	for {
		var o map[string]any
		if err := dec.Decode(&o); err == io.EOF {
			return objs, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if o != nil {
			objs = append(objs, runtime.DeepCopyJSON(o))
		}
	}
}
