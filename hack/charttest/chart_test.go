/*
Copyright 2026 The llmroute Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package charttest renders the Helm chart in charts/llmroute with the helm
// binary 'make helm' builds, and checks what comes out: both webhooks' wiring
// and TLS chain, the values that reach the manager's flags, each install
// mode's rights, the leader-election Lease, the schema's refusal of typos,
// and that the chart's CRD, RBAC and LLMRoute webhook match the generated
// ones in config/.
//
// Without bin/helm-<version> the tests skip, unless CI is set: then they fail.
package charttest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/osmen-ai/llmroute/controllers"
)

const (
	helmVersion = "v3.22.0"
	release     = "llmroute"
	namespace   = "llmroute-system"
	crdFile     = "llm.osmen.ai_llmroutes.yaml"
	routeLabel  = "llm.osmen.ai/route"
	webhookPath = "/mutate--v1-pod"
	// namespaceNameLabel is the label the API server sets on every namespace
	// to its name.
	namespaceNameLabel = "kubernetes.io/metadata.name"
	injectCAFrom       = "cert-manager.io/inject-ca-from"
	certDirFlag        = "--webhook-cert-path"
	// The manager's Role in each watched namespace (or its ClusterRole), and
	// the leader-election Role in the release namespace.
	managerRole        = release + "-manager"
	leaderElectionRole = release + "-leader-election"
)

// repoRoot is the module root, two directories up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	return root
}

func chartDir(t *testing.T) string { return filepath.Join(repoRoot(t), "charts", "llmroute") }

// helmBin is $HELM, or the helm 'make helm' builds. When it is missing the
// test skips, or fails when CI is set.
func helmBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("HELM")
	if bin == "" {
		bin = filepath.Join(repoRoot(t), "bin", "helm-"+helmVersion)
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("helm not found at %s (CI is set): run 'make helm'", bin)
		}
		t.Skipf("helm not found at %s: run 'make helm' to test the chart", bin)
	}
	return bin
}

// runHelm runs helm and returns its stdout, and an error holding its stderr
// when it fails.
func runHelm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helmBin(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// object is one rendered manifest: its kind and metadata, and its JSON.
type object struct {
	metav1.TypeMeta
	Metadata metav1.ObjectMeta `json:"metadata"`
	raw      []byte
}

// rendered is the output of one 'helm template'.
type rendered struct {
	t       *testing.T
	objects []object
}

// render runs 'helm template' on the chart with extra arguments (values
// files, --set) and parses the documents.
func render(t *testing.T, args ...string) *rendered {
	t.Helper()
	out, err := runHelm(t, append([]string{"template", release, chartDir(t), "--namespace", namespace}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := parseManifests(out)
	if err != nil {
		t.Fatal(err)
	}
	return &rendered{t: t, objects: objs}
}

// parseManifests parses the documents of a multi-document YAML stream. Two
// objects of one kind and name in one namespace are an error: the second
// would overwrite the first. The same name in two namespaces is fine (a Role
// per watched namespace).
func parseManifests(out string) ([]object, error) {
	type key struct{ kind, namespace, name string }
	seen := map[key]bool{}
	var objs []object
	for _, doc := range splitDocuments(out) {
		j, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("rendered document is not YAML: %w\n%s", err, doc)
		}
		if string(j) == "null" {
			continue // comments only
		}
		o := object{raw: j}
		if err := json.Unmarshal(j, &o); err != nil {
			return nil, fmt.Errorf("rendered document: %w\n%s", err, doc)
		}
		if o.Kind == "" || o.APIVersion == "" || o.Metadata.Name == "" {
			return nil, fmt.Errorf("rendered document without apiVersion, kind or name:\n%s", doc)
		}
		k := key{o.Kind, o.namespace(), o.Metadata.Name}
		if seen[k] {
			return nil, fmt.Errorf("%s %s/%s rendered twice", o.Kind, k.namespace, o.Metadata.Name)
		}
		seen[k] = true
		objs = append(objs, o)
	}
	return objs, nil
}

// namespace is where the object lands: helm installs a namespaced object
// that names none into the release namespace. Cluster-scoped objects all map
// to the release namespace too, which keeps them apart by kind and name only.
func (o object) namespace() string {
	if o.Metadata.Namespace == "" {
		return namespace
	}
	return o.Metadata.Namespace
}

var separator = regexp.MustCompile(`(?m)^---\s*$`)

func splitDocuments(s string) []string {
	var docs []string
	for _, d := range separator.Split(s, -1) {
		if strings.TrimSpace(d) != "" {
			docs = append(docs, d)
		}
	}
	return docs
}

// all returns the objects of a kind.
func (r *rendered) all(kind string) []object {
	var objs []object
	for _, o := range r.objects {
		if o.Kind == kind {
			objs = append(objs, o)
		}
	}
	return objs
}

// one decodes the only object of a kind into into.
func (r *rendered) one(kind string, into any) {
	r.t.Helper()
	objs := r.all(kind)
	if len(objs) != 1 {
		r.t.Fatalf("want exactly one %s, got %d", kind, len(objs))
	}
	if err := json.Unmarshal(objs[0].raw, into); err != nil {
		r.t.Fatalf("decode %s: %v", kind, err)
	}
}

// decode decodes a rendered object into into.
func (r *rendered) decode(o object, into any) {
	r.t.Helper()
	if err := json.Unmarshal(o.raw, into); err != nil {
		r.t.Fatalf("decode %s %s/%s: %v", o.Kind, o.namespace(), o.Metadata.Name, err)
	}
}

// named decodes the object of a kind and name in the release namespace (or a
// cluster-scoped one) into into.
func (r *rendered) named(kind, name string, into any) {
	r.t.Helper()
	r.namedIn(kind, namespace, name, into)
}

// has reports whether an object of a kind and name is rendered in namespace ns.
func (r *rendered) has(kind, ns, name string) bool {
	return slices.ContainsFunc(r.all(kind), func(o object) bool { return o.namespace() == ns && o.Metadata.Name == name })
}

// namedIn decodes the object of a kind and name in namespace ns into into.
func (r *rendered) namedIn(kind, ns, name string, into any) {
	r.t.Helper()
	for _, o := range r.all(kind) {
		if o.namespace() == ns && o.Metadata.Name == name {
			r.decode(o, into)
			return
		}
	}
	r.t.Fatalf("no %s %s/%s", kind, ns, name)
}

func (r *rendered) webhook() admissionv1.MutatingWebhookConfiguration {
	var c admissionv1.MutatingWebhookConfiguration
	r.one("MutatingWebhookConfiguration", &c)
	if len(c.Webhooks) != 1 {
		r.t.Fatalf("want one webhook, got %d", len(c.Webhooks))
	}
	return c
}

// routeWebhook returns the LLMRoute ValidatingWebhookConfiguration.
func (r *rendered) routeWebhook() admissionv1.ValidatingWebhookConfiguration {
	var c admissionv1.ValidatingWebhookConfiguration
	r.one("ValidatingWebhookConfiguration", &c)
	if len(c.Webhooks) != 1 {
		r.t.Fatalf("want one LLMRoute webhook, got %d", len(c.Webhooks))
	}
	return c
}

func (r *rendered) deployment() appsv1.Deployment {
	var d appsv1.Deployment
	r.one("Deployment", &d)
	return d
}

// managerContainer returns the manager container of the Deployment.
func (r *rendered) managerContainer() corev1.Container {
	d := r.deployment()
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == "manager" {
			return c
		}
	}
	r.t.Fatal("the Deployment has no container named manager")
	return corev1.Container{}
}

// flags returns the manager's --name=value arguments as a map; a flag with
// no value maps to "true".
func flags(t *testing.T, c corev1.Container) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, a := range c.Args {
		if !strings.HasPrefix(a, "--") {
			t.Fatalf("manager argument %q is not a --flag", a)
		}
		name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !ok {
			value = "true"
		}
		if _, dup := m[name]; dup {
			t.Fatalf("manager flag --%s given twice", name)
		}
		m[name] = value
	}
	return m
}

func wantFlags(t *testing.T, got map[string]string, want map[string]string) {
	t.Helper()
	for name, v := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("manager flag --%s missing; want %q", name, v)
		} else if g != v {
			t.Errorf("manager flag --%s = %q, want %q", name, g, v)
		}
	}
}

// chartMeta reads Chart.yaml.
func chartMeta(t *testing.T) (appVersion string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chartDir(t), "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if c.AppVersion == "" {
		t.Fatal("Chart.yaml has no appVersion")
	}
	return c.AppVersion
}

// TestParseManifests checks the duplicate check every render goes through: it
// must refuse an object that would overwrite another, and accept the same
// name in another namespace, as the namespaced install renders.
func TestParseManifests(t *testing.T) {
	const (
		roleA        = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: m\n  namespace: a\n"
		roleB        = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: m\n  namespace: b\n"
		roleRelease  = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: m\n  namespace: " + namespace + "\n"
		roleNoNS     = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: m\n"
		bindingA     = "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: m\n  namespace: a\n"
		clusterRole  = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: m\n"
		commentsOnly = "# nothing rendered here\n"
	)
	tests := []struct {
		name    string
		docs    []string
		want    int
		wantErr string
	}{
		{name: "same name, other namespaces", docs: []string{roleA, roleB, clusterRole}, want: 3},
		{name: "same name, other kind", docs: []string{roleA, bindingA}, want: 2},
		{name: "comments only", docs: []string{commentsOnly, roleA}, want: 1},
		{name: "twice in one namespace", docs: []string{roleA, roleB, roleA}, wantErr: "Role a/m rendered twice"},
		// helm installs an object without a namespace into the release one.
		{name: "no namespace is the release namespace", docs: []string{roleRelease, roleNoNS}, wantErr: "Role " + namespace + "/m rendered twice"},
		{name: "cluster-scoped twice", docs: []string{clusterRole, clusterRole}, wantErr: "rendered twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := parseManifests("---\n" + strings.Join(tc.docs, "---\n"))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) != tc.want {
				t.Errorf("parsed %d objects, want %d", len(objs), tc.want)
			}
		})
	}
}

func TestLint(t *testing.T) {
	if out, err := runHelm(t, "lint", "--strict", chartDir(t)); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(chartDir(t), "ci", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no values files in charts/llmroute/ci")
	}
	for _, f := range files {
		if out, err := runHelm(t, "lint", "--strict", chartDir(t), "-f", f); err != nil {
			t.Errorf("%v\n%s", err, out)
		}
	}
}

func TestDefaults(t *testing.T) {
	r := render(t)
	tag := chartMeta(t)
	image := "ghcr.io/osmen-ai/llmroute:" + tag

	c := r.managerContainer()
	if c.Image != image {
		t.Errorf("manager image = %q, want %q", c.Image, image)
	}
	wantFlags(t, flags(t, c), map[string]string{
		"leader-elect":              "true",
		"health-probe-bind-address": ":8081",
		"metrics-bind-address":      ":8080",
		"sidecar-image":             image,
		"sidecar-image-pull-policy": "IfNotPresent",
		"sidecar-cpu-request":       "10m",
		"sidecar-memory-request":    "32Mi",
		"sidecar-cpu-limit":         "",
		"sidecar-memory-limit":      "128Mi",
		"sidecar-log-format":        "json",
		"sidecar-log-level":         "info",
	})

	d := r.deployment()
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas = %v, want 2", d.Spec.Replicas)
	}
	checkProbes(t, c)
	checkSecurity(t, d)

	wh := r.webhook()
	if _, ok := wh.Annotations[injectCAFrom]; ok {
		t.Error("cert-manager annotation without certManager.enabled")
	}
	w := wh.Webhooks[0]
	if w.FailurePolicy == nil || *w.FailurePolicy != admissionv1.Fail {
		t.Errorf("failurePolicy = %v, want Fail", w.FailurePolicy)
	}
	if w.SideEffects == nil || *w.SideEffects != admissionv1.SideEffectClassNone {
		t.Errorf("sideEffects = %v, want None", w.SideEffects)
	}
	if !slices.Equal(w.AdmissionReviewVersions, []string{"v1"}) {
		t.Errorf("admissionReviewVersions = %v, want [v1]", w.AdmissionReviewVersions)
	}
	if w.ReinvocationPolicy == nil || *w.ReinvocationPolicy != admissionv1.NeverReinvocationPolicy {
		t.Errorf("reinvocationPolicy = %v, want Never", w.ReinvocationPolicy)
	}
	if w.TimeoutSeconds == nil || *w.TimeoutSeconds != 10 {
		t.Errorf("timeoutSeconds = %v, want 10", w.TimeoutSeconds)
	}
	if w.ClientConfig.Service == nil || w.ClientConfig.Service.Path == nil || *w.ClientConfig.Service.Path != webhookPath {
		t.Errorf("webhook service/path = %+v, want path %s", w.ClientConfig.Service, webhookPath)
	}
	checkRules(t, w)
	checkObjectSelector(t, w)
	checkNamespaceSelector(t, "pod webhook", w.NamespaceSelector, nil, []string{namespace, "kube-system"})
	checkWebhookWiring(t, r, w.ClientConfig)
	checkGeneratedTLS(t, r, w.ClientConfig)

	if n := len(r.all("ServiceMonitor")); n != 0 {
		t.Errorf("%d ServiceMonitors without metrics.serviceMonitor.enabled", n)
	}
	for _, kind := range []string{"Certificate", "Issuer"} {
		if n := len(r.all(kind)); n != 0 {
			t.Errorf("%d %ss without certManager.enabled", n, kind)
		}
	}
	var metricsSvc corev1.Service
	r.named("Service", release+"-metrics", &metricsSvc)
	if len(metricsSvc.Spec.Ports) != 1 || metricsSvc.Spec.Ports[0].Port != 8080 || metricsSvc.Spec.Ports[0].TargetPort.StrVal != "metrics" {
		t.Errorf("metrics Service ports = %+v, want 8080 -> metrics", metricsSvc.Spec.Ports)
	}
	if n := len(r.all("PodDisruptionBudget")); n != 1 {
		t.Errorf("%d PodDisruptionBudgets with 2 replicas, want 1", n)
	}
	checkLeaderElectionRole(t, r, true)
	checkRoleBindings(t, r)
	checkServiceAccount(t, r, d)
}

func TestCIValues(t *testing.T) {
	r := render(t, "-f", filepath.Join(chartDir(t), "ci", "full-values.yaml"))

	c := r.managerContainer()
	if c.Image != "registry.example.com/llmroute:v9.9.9" || c.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("manager image = %q %q", c.Image, c.ImagePullPolicy)
	}
	f := flags(t, c)
	wantFlags(t, f, map[string]string{
		"metrics-bind-address":      ":8443",
		"sidecar-image":             "registry.example.com/llmroute-sidecar:v9.9.8",
		"sidecar-image-pull-policy": "IfNotPresent",
		"sidecar-cpu-request":       "25m",
		"sidecar-memory-request":    "48Mi",
		"sidecar-cpu-limit":         "500m",
		"sidecar-memory-limit":      "96Mi",
		"sidecar-log-format":        "text",
		"sidecar-log-level":         "debug",
		"zap-log-level":             "debug",
	})
	if _, ok := f["leader-elect"]; ok {
		t.Error("--leader-elect with one replica and leaderElection.enabled=false")
	}
	checkLeaderElectionRole(t, r, false)
	checkRoleBindings(t, r)
	if n := len(r.all("PodDisruptionBudget")); n != 0 {
		t.Errorf("%d PodDisruptionBudgets with one replica, want none", n)
	}

	d := r.deployment()
	spec := d.Spec.Template.Spec
	if spec.NodeSelector["kubernetes.io/os"] != "linux" || len(spec.Tolerations) != 1 || spec.Affinity == nil ||
		spec.Affinity.PodAntiAffinity == nil || spec.PriorityClassName != "platform-critical" ||
		len(spec.ImagePullSecrets) != 1 || d.Spec.Template.Annotations["example.com/scrape"] != "true" ||
		d.Spec.Template.Labels["team"] != "platform" {
		t.Errorf("scheduling values did not reach the pod spec: %+v", spec)
	}
	if q := c.Resources.Limits[corev1.ResourceMemory]; q.String() != "512Mi" {
		t.Errorf("manager memory limit = %s, want 512Mi", q.String())
	}
	checkProbes(t, c)
	checkSecurity(t, d)
	checkServiceAccount(t, r, d)
	if spec.ServiceAccountName != "llmroute-operator" {
		t.Errorf("serviceAccountName = %q, want llmroute-operator", spec.ServiceAccountName)
	}

	w := r.webhook().Webhooks[0]
	if w.FailurePolicy == nil || *w.FailurePolicy != admissionv1.Ignore {
		t.Errorf("failurePolicy = %v, want Ignore", w.FailurePolicy)
	}
	if w.TimeoutSeconds == nil || *w.TimeoutSeconds != 5 {
		t.Errorf("timeoutSeconds = %v, want 5", w.TimeoutSeconds)
	}
	checkObjectSelector(t, w)
	checkNamespaceSelector(t, "pod webhook", w.NamespaceSelector, nil, []string{namespace, "kube-system", "monitoring"})
	checkGeneratedTLS(t, r, w.ClientConfig)

	var sm struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
		Spec     struct {
			Endpoints []struct {
				Port, Path, Interval, ScrapeTimeout string
			} `json:"endpoints"`
			Selector metav1.LabelSelector `json:"selector"`
		} `json:"spec"`
	}
	r.one("ServiceMonitor", &sm)
	if sm.Metadata.Labels["release"] != "prometheus" || len(sm.Spec.Endpoints) != 1 ||
		sm.Spec.Endpoints[0].Port != "metrics" || sm.Spec.Endpoints[0].Interval != "30s" {
		t.Errorf("ServiceMonitor = %+v", sm)
	}
	var metricsSvc corev1.Service
	r.named("Service", release+"-metrics", &metricsSvc)
	for k, v := range sm.Spec.Selector.MatchLabels {
		if metricsSvc.Labels[k] != v {
			t.Errorf("the ServiceMonitor selects %s=%s, which the metrics Service does not carry", k, v)
		}
	}
	var webhookSvc corev1.Service
	r.named("Service", release+"-webhook", &webhookSvc)
	if webhookSvc.Labels["app.kubernetes.io/component"] == sm.Spec.Selector.MatchLabels["app.kubernetes.io/component"] {
		t.Error("the ServiceMonitor also selects the webhook Service")
	}
	if metricsSvc.Spec.Ports[0].Port != 8443 {
		t.Errorf("metrics Service port = %d, want 8443", metricsSvc.Spec.Ports[0].Port)
	}
}

func TestSetValues(t *testing.T) {
	// The sidecar follows the manager's image unless told otherwise.
	r := render(t, "--set", "image.repository=example.org/lr", "--set", "image.tag=v1.2.3",
		"--set", "image.pullPolicy=Never", "--set", "webhook.failurePolicy=Ignore",
		"--set", "sidecar.resources.limits.memory=", "--set", "leaderElection.enabled=false",
		"--set", "metrics.enabled=false")
	f := flags(t, r.managerContainer())
	wantFlags(t, f, map[string]string{
		"sidecar-image":             "example.org/lr:v1.2.3",
		"sidecar-image-pull-policy": "Never",
		"sidecar-memory-limit":      "",
		"leader-elect":              "true", // two replicas
		"metrics-bind-address":      "0",
	})
	if w := r.webhook().Webhooks[0]; w.FailurePolicy == nil || *w.FailurePolicy != admissionv1.Ignore {
		t.Errorf("failurePolicy = %v, want Ignore", w.FailurePolicy)
	}
	for _, s := range r.all("Service") {
		if strings.HasSuffix(s.Metadata.Name, "-metrics") {
			t.Error("metrics Service with metrics.enabled=false")
		}
	}

	if _, err := runHelm(t, "template", release, chartDir(t), "--namespace", namespace,
		"--set", "metrics.enabled=false", "--set", "metrics.serviceMonitor.enabled=true"); err == nil {
		t.Error("a ServiceMonitor without metrics rendered")
	}
}

func TestCertManager(t *testing.T) {
	r := render(t, "-f", filepath.Join(chartDir(t), "ci", "certmanager-values.yaml"))

	var cert struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
		Spec     struct {
			SecretName string   `json:"secretName"`
			DNSNames   []string `json:"dnsNames"`
			IssuerRef  struct{ Name, Kind, Group string }
		} `json:"spec"`
	}
	r.one("Certificate", &cert)
	var issuer object
	r.one("Issuer", &issuer)
	if cert.Spec.IssuerRef.Name != issuer.Metadata.Name || cert.Spec.IssuerRef.Kind != "Issuer" {
		t.Errorf("the Certificate's issuerRef %+v is not the chart's Issuer %s", cert.Spec.IssuerRef, issuer.Metadata.Name)
	}
	wh := r.webhook()
	w := wh.Webhooks[0]
	if len(w.ClientConfig.CABundle) != 0 {
		t.Error("inline caBundle with certManager.enabled")
	}
	if got, want := wh.Annotations[injectCAFrom], namespace+"/"+cert.Metadata.Name; got != want {
		t.Errorf("inject-ca-from = %q, want %q", got, want)
	}
	svc := checkWebhookWiring(t, r, w.ClientConfig)
	if !slices.Equal(cert.Spec.DNSNames, serviceDNSNames(svc)) {
		t.Errorf("Certificate dnsNames = %v, want %v", cert.Spec.DNSNames, serviceDNSNames(svc))
	}
	if secret := mountedCertSecret(t, r); secret != cert.Spec.SecretName {
		t.Errorf("the manager mounts Secret %q, the Certificate writes %q", secret, cert.Spec.SecretName)
	}
	for _, s := range r.all("Secret") {
		t.Errorf("Secret %s rendered with certManager.enabled", s.Metadata.Name)
	}

	// An existing issuer instead of the self-signed one.
	r = render(t, "--set", "certManager.enabled=true", "--set", "certManager.issuerRef.name=corp-ca",
		"--set", "certManager.issuerRef.kind=ClusterIssuer")
	if n := len(r.all("Issuer")); n != 0 {
		t.Errorf("%d Issuers with certManager.issuerRef set", n)
	}
	r.one("Certificate", &cert)
	if cert.Spec.IssuerRef.Name != "corp-ca" || cert.Spec.IssuerRef.Kind != "ClusterIssuer" || cert.Spec.IssuerRef.Group != "cert-manager.io" {
		t.Errorf("issuerRef = %+v", cert.Spec.IssuerRef)
	}
}

// ciValues returns the arguments that render with a values file of
// charts/llmroute/ci.
func ciValues(t *testing.T, file string) []string {
	t.Helper()
	return []string{"-f", filepath.Join(chartDir(t), "ci", file)}
}

// generatedRouteWebhook is the LLMRoute webhook in
// config/webhook/manifests.yaml, which 'make manifests' generates from the
// +kubebuilder:webhook marker next to the handler: its path is the one the
// manager serves, its match conditions the ones the handler was written for.
func generatedRouteWebhook(t *testing.T) admissionv1.ValidatingWebhook {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "config", "webhook", "manifests.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := parseManifests(string(b))
	if err != nil {
		t.Fatalf("config/webhook/manifests.yaml: %v", err)
	}
	for _, o := range objs {
		if o.Kind != "ValidatingWebhookConfiguration" {
			continue
		}
		var c admissionv1.ValidatingWebhookConfiguration
		if err := json.Unmarshal(o.raw, &c); err != nil {
			t.Fatalf("config/webhook/manifests.yaml: %v", err)
		}
		if len(c.Webhooks) != 1 || c.Webhooks[0].ClientConfig.Service == nil || c.Webhooks[0].ClientConfig.Service.Path == nil {
			t.Fatalf("config/webhook/manifests.yaml: want one validating webhook with a service path, got %+v", c.Webhooks)
		}
		return c.Webhooks[0]
	}
	t.Fatal("config/webhook/manifests.yaml holds no ValidatingWebhookConfiguration")
	return admissionv1.ValidatingWebhook{}
}

// TestRouteWebhook checks the LLMRoute ValidatingWebhookConfiguration in each
// install mode. It is what stops a route from pointing a Secret its author
// may not read at its author's host: a route the webhook does not see, or
// whose call may fail open, gets through unchecked.
func TestRouteWebhook(t *testing.T) {
	generated := generatedRouteWebhook(t)
	if len(generated.MatchConditions) != 1 || generated.MatchConditions[0].Name != "create-or-spec-change" {
		t.Fatalf("config/webhook/manifests.yaml: match conditions %+v, want only create-or-spec-change", generated.MatchConditions)
	}
	tests := []struct {
		name        string
		args        []string
		certManager bool
		timeout     int32
		watched     []string // the namespaces whose routes are checked; none: all
	}{
		{name: "defaults", timeout: 10},
		// The pod webhook fails open here; the route webhook must not follow.
		{name: "full values", args: ciValues(t, "full-values.yaml"), timeout: 5},
		{name: "cert-manager", args: ciValues(t, "certmanager-values.yaml"), certManager: true, timeout: 10},
		{name: "namespaced", args: ciValues(t, "namespaced-values.yaml"), timeout: 10, watched: []string{"team-a", "team-b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := render(t, tc.args...)
			cfg := r.routeWebhook()
			w := cfg.Webhooks[0]
			if w.Name != generated.Name {
				t.Errorf("webhook name = %q, want %q", w.Name, generated.Name)
			}
			if w.FailurePolicy == nil || *w.FailurePolicy != admissionv1.Fail {
				t.Errorf("failurePolicy = %s, want Fail whatever webhook.failurePolicy says", deref(w.FailurePolicy))
			}
			if w.SideEffects == nil || *w.SideEffects != admissionv1.SideEffectClassNone {
				t.Errorf("sideEffects = %s, want None", deref(w.SideEffects))
			}
			if !slices.Equal(w.AdmissionReviewVersions, []string{"v1"}) {
				t.Errorf("admissionReviewVersions = %v, want [v1]", w.AdmissionReviewVersions)
			}
			if w.TimeoutSeconds == nil || *w.TimeoutSeconds != tc.timeout {
				t.Errorf("timeoutSeconds = %s, want %d", deref(w.TimeoutSeconds), tc.timeout)
			}
			// Equivalent: a route written through another version of the API
			// is checked too.
			if w.MatchPolicy == nil || *w.MatchPolicy != admissionv1.Equivalent {
				t.Errorf("matchPolicy = %s, want Equivalent", deref(w.MatchPolicy))
			}
			if len(w.Rules) != 1 {
				t.Fatalf("rules = %+v, want one", w.Rules)
			}
			rule := w.Rules[0]
			if !slices.Equal(rule.APIGroups, []string{"llm.osmen.ai"}) || !slices.Equal(rule.APIVersions, []string{"v1alpha1"}) ||
				!slices.Equal(rule.Resources, []string{"llmroutes"}) ||
				!slices.Equal(rule.Operations, []admissionv1.OperationType{admissionv1.Create, admissionv1.Update}) {
				t.Errorf("rule = %v %v %v/%v, want [CREATE UPDATE] [llmroutes] [llm.osmen.ai]/[v1alpha1]",
					rule.Operations, rule.Resources, rule.APIGroups, rule.APIVersions)
			}
			// Only creates and spec changes: a status update or a label never
			// waits for the operator.
			if !slices.Equal(w.MatchConditions, generated.MatchConditions) {
				t.Errorf("matchConditions = %+v, want %+v", w.MatchConditions, generated.MatchConditions)
			}
			// A label on the route must not take it out of the check.
			if s := w.ObjectSelector; s != nil && (len(s.MatchLabels) != 0 || len(s.MatchExpressions) != 0) {
				t.Errorf("objectSelector = %+v, want none", s)
			}
			// Every namespace whose routes the operator reconciles, and no
			// exception: not even the release namespace or kube-system.
			checkNamespaceSelector(t, "route webhook", w.NamespaceSelector, tc.watched, nil)

			// Served next to the pod webhook, by the same Service and the
			// same certificate.
			pod := r.webhook()
			pw := pod.Webhooks[0]
			ref, podRef := w.ClientConfig.Service, pw.ClientConfig.Service
			if ref == nil || podRef == nil || ref.Name != podRef.Name || ref.Namespace != podRef.Namespace ||
				!reflect.DeepEqual(ref.Port, podRef.Port) {
				t.Errorf("clientConfig.service = %+v, the pod webhook's = %+v; want the same Service", ref, podRef)
			}
			if want := *generated.ClientConfig.Service.Path; ref != nil && deref(ref.Path) != want {
				t.Errorf("clientConfig.service.path = %s, want %s (config/webhook/manifests.yaml)", deref(ref.Path), want)
			}
			checkWebhookWiring(t, r, w.ClientConfig)
			if !bytes.Equal(w.ClientConfig.CABundle, pw.ClientConfig.CABundle) {
				t.Error("the route webhook's caBundle differs from the pod webhook's")
			}
			if got, podGot := cfg.Annotations[injectCAFrom], pod.Annotations[injectCAFrom]; got != podGot {
				t.Errorf("%s = %q, the pod webhook's = %q", injectCAFrom, got, podGot)
			}
			if tc.certManager {
				var cert object
				r.one("Certificate", &cert)
				if got, want := cfg.Annotations[injectCAFrom], namespace+"/"+cert.Metadata.Name; got != want {
					t.Errorf("%s = %q, want %q", injectCAFrom, got, want)
				}
				if len(w.ClientConfig.CABundle) != 0 {
					t.Error("inline caBundle with certManager.enabled")
				}
			} else {
				if v, ok := cfg.Annotations[injectCAFrom]; ok {
					t.Errorf("%s = %q without certManager.enabled", injectCAFrom, v)
				}
				checkGeneratedTLS(t, r, w.ClientConfig)
			}

			// In namespaced mode it sees the namespaces the pod webhook
			// sees: routes and pods of other namespaces belong to another
			// installation. (A watched release namespace is the exception,
			// see TestNamespacedInstall.)
			if tc.watched != nil {
				for _, ns := range []string{"team-a", "team-b", "default", namespace, "kube-system"} {
					if got, pods := selects(t, w.NamespaceSelector, ns), selects(t, pw.NamespaceSelector, ns); got != pods {
						t.Errorf("namespace %s: the route webhook sees it: %t, the pod webhook: %t", ns, got, pods)
					}
				}
			}
		})
	}
}

// TestSchemaRejectsTypos checks that values.schema.json refuses what the
// chart would otherwise silently ignore or pass on to a failing manager.
func TestSchemaRejectsTypos(t *testing.T) {
	for _, tc := range []struct{ set, mention string }{
		{"sidecar.imagee=x", "imagee"},
		{"sidecarr.logFormat=json", "sidecarr"},
		{"sidecar.resources.request.cpu=10m", "request"},
		{"metrics.serviceMonitor.enable=true", "enable"},
		{"webhook.failurePolicy=Maybe", "failurePolicy"},
		{"sidecar.logFormat=xml", "logFormat"},
		{"sidecar.logLevel=warn", "logLevel"},
		{"image.pullPolicy=Sometimes", "pullPolicy"},
		{"sidecar.image.pullPolicy=Sometimes", "pullPolicy"},
		{"sidecar.resources.requests.cpu=lots", "cpu"},
		{"webhook.timeoutSeconds=31", "timeoutSeconds"},
		{"metrics.port=9443", "port"},
		{"tolerations[0].efect=NoSchedule", "efect"},
		{"affinity.podAntiAfinity.x=y", "podAntiAfinity"},
		// A namespace named twice would render its Role twice.
		{"watchNamespaces={a,a}", "watchNamespaces"},
		{"watchNamespaces={Team_A}", "watchNamespaces"},
	} {
		t.Run(tc.set, func(t *testing.T) {
			_, err := runHelm(t, "template", release, chartDir(t), "--namespace", namespace, "--set", tc.set)
			if err == nil {
				t.Fatalf("--set %s rendered; want the schema to refuse it", tc.set)
			}
			if !strings.Contains(err.Error(), "schema") || !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("--set %s: the error does not name %q:\n%v", tc.set, tc.mention, err)
			}
		})
	}
}

// TestKubeVersion checks the chart's floor: native sidecars need 1.29.
func TestKubeVersion(t *testing.T) {
	if _, err := runHelm(t, "template", release, chartDir(t), "--kube-version", "1.28.9"); err == nil {
		t.Error("rendered for Kubernetes 1.28, which has no native sidecars")
	}
	if _, err := runHelm(t, "template", release, chartDir(t), "--kube-version", "1.29.0"); err != nil {
		t.Error(err)
	}
	// With no --kube-version helm uses the version it was built for; a helm
	// built without the Makefile's ldflags says 1.20 and fails here.
	if _, err := runHelm(t, "template", release, chartDir(t)); err != nil {
		t.Errorf("%v\n(was helm built with 'make helm'?)", err)
	}
}

// TestManagerDrainsBeforeStopping checks that a manager replica keeps
// serving the webhook for a moment once it is being stopped, while its
// endpoint is withdrawn: without it, helm upgrade and operator pod deletions
// refused users' labelled pods on a real cluster. Kubernetes 1.29 has no
// sleep action, so there the chart renders none.
func TestManagerDrainsBeforeStopping(t *testing.T) {
	r := render(t, "--kube-version", "1.30.0")
	c := r.managerContainer()
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Sleep.Seconds < 5 {
		t.Fatalf("manager lifecycle = %+v, want a preStop sleep of at least 5 s", c.Lifecycle)
	}
	d := r.deployment()
	if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g < c.Lifecycle.PreStop.Sleep.Seconds+5 {
		t.Errorf("terminationGracePeriodSeconds = %v: the preStop sleep must leave time to stop", g)
	}
	if c := render(t, "--kube-version", "1.29.0").managerContainer(); c.Lifecycle != nil {
		t.Errorf("on 1.29 the manager has lifecycle %+v, which that API server would refuse", c.Lifecycle)
	}
}

// TestCRDInSync checks that the chart ships the CRD 'make manifests' generates.
func TestCRDInSync(t *testing.T) {
	generated, err := os.ReadFile(filepath.Join(repoRoot(t), "config", "crd", "bases", crdFile))
	if err != nil {
		t.Fatal(err)
	}
	inChart, err := os.ReadFile(filepath.Join(chartDir(t), "crds", crdFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(generated, inChart) {
		t.Fatalf("charts/llmroute/crds/%s differs from config/crd/bases/%s: run 'make chart-crd'", crdFile, crdFile)
	}
	entries, err := os.ReadDir(filepath.Join(chartDir(t), "crds"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(repoRoot(t), "config", "crd", "bases", e.Name())); err != nil {
			t.Errorf("charts/llmroute/crds/%s has no counterpart in config/crd/bases", e.Name())
		}
	}
}

// grant is one verb on one resource, possibly restricted to one name.
type grant struct{ group, resource, name, verb string }

func grants(rules []rbacv1.PolicyRule) map[grant]bool {
	g := map[grant]bool{}
	for _, r := range rules {
		names := r.ResourceNames
		if len(names) == 0 {
			names = []string{""}
		}
		for _, gr := range r.APIGroups {
			for _, res := range r.Resources {
				for _, n := range names {
					for _, v := range r.Verbs {
						g[grant{gr, res, n, v}] = true
					}
				}
			}
		}
	}
	return g
}

// generatedGrants is what config/rbac/role.yaml, generated from the
// +kubebuilder:rbac markers, grants.
func generatedGrants(t *testing.T) map[grant]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "config", "rbac", "role.yaml"))
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("config/rbac/role.yaml does not exist yet: run 'make manifests'")
	}
	if err != nil {
		t.Fatal(err)
	}
	want := map[grant]bool{}
	for _, doc := range splitDocuments(string(b)) {
		var role rbacv1.ClusterRole
		if err := yaml.Unmarshal([]byte(doc), &role); err != nil {
			t.Fatalf("config/rbac/role.yaml: %v", err)
		}
		if role.Kind == "ClusterRole" {
			for g := range grants(role.Rules) {
				want[g] = true
			}
		}
	}
	if len(want) == 0 {
		t.Fatal("config/rbac/role.yaml holds no ClusterRole rules")
	}
	return want
}

// checkGrants checks that what grants exactly what config/rbac/role.yaml
// does (want): nothing missing, nothing more.
func checkGrants(t *testing.T, what string, got, want map[grant]bool) {
	t.Helper()
	for g := range want {
		if !got[g] {
			t.Errorf("the chart's %s lacks %q on %s/%s (config/rbac/role.yaml grants it)", what, g.verb, g.group, g.resource)
		}
	}
	for g := range got {
		if !want[g] {
			t.Errorf("the chart's %s grants %q on %s/%s, which config/rbac/role.yaml does not", what, g.verb, g.group, g.resource)
		}
	}
}

// TestClusterRoleMatchesGenerated checks that the chart's ClusterRole grants
// exactly what config/rbac/role.yaml (generated from the +kubebuilder:rbac
// markers) does: nothing missing, nothing more.
func TestClusterRoleMatchesGenerated(t *testing.T) {
	want := generatedGrants(t)
	r := render(t)
	var role rbacv1.ClusterRole
	r.one("ClusterRole", &role)
	checkGrants(t, "ClusterRole", grants(role.Rules), want)

	var binding rbacv1.ClusterRoleBinding
	r.one("ClusterRoleBinding", &binding)
	if binding.RoleRef.Name != role.Name || len(binding.Subjects) != 1 ||
		binding.Subjects[0].Namespace != namespace || binding.Subjects[0].Name != r.deployment().Spec.Template.Spec.ServiceAccountName {
		t.Errorf("ClusterRoleBinding %+v does not bind %s to the manager's ServiceAccount", binding, role.Name)
	}
}

// TestNamespacedInstall checks the install with watchNamespaces: the
// manager's rights are a Role in each watched namespace holding the rules the
// cluster-wide install's ClusterRole holds, nothing cluster-wide, and the
// manager and both webhooks keep to those namespaces.
func TestNamespacedInstall(t *testing.T) {
	want := generatedGrants(t)
	tests := []struct {
		name    string
		args    []string
		watched []string
		// injected are the namespaces whose labelled pods reach the pod webhook.
		injected []string
	}{
		{
			name:     "ci values",
			args:     ciValues(t, "namespaced-values.yaml"),
			watched:  []string{"team-a", "team-b"},
			injected: []string{"team-a", "team-b"},
		},
		// Routes in the release namespace are reconciled and checked, but its
		// pods still never reach the pod webhook: the manager's own pods
		// would wait for themselves.
		{
			name:     "release namespace watched",
			args:     []string{"--set", "watchNamespaces={apps," + namespace + "}"},
			watched:  []string{"apps", namespace},
			injected: []string{"apps"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := render(t, tc.args...)
			wantFlags(t, flags(t, r.managerContainer()), map[string]string{
				"watch-namespaces": strings.Join(tc.watched, ","),
			})

			// No cluster-scoped right remains, and none is needed: the
			// manager caches and reconciles in the watched namespaces only;
			// the route webhook asks with LocalSubjectAccessReviews, which a
			// Role grants, rather than cluster-scoped SubjectAccessReviews;
			// metrics are plain HTTP, so no TokenReviews; events go to the
			// route's namespace; the leader-election Lease is in the release
			// namespace. The chart's cluster-scoped objects (the CRD, both
			// webhook configurations) are Helm's to write, never the
			// manager's. A ClusterRoleBinding to an existing ClusterRole
			// would grant as much as a rendered ClusterRole: neither may be.
			for _, kind := range []string{"ClusterRole", "ClusterRoleBinding"} {
				for _, o := range r.all(kind) {
					t.Errorf("%s %s rendered with watchNamespaces", kind, o.Metadata.Name)
				}
			}

			for _, ns := range tc.watched {
				var role rbacv1.Role
				r.namedIn("Role", ns, managerRole, &role)
				checkGrants(t, "Role "+ns+"/"+role.Name, grants(role.Rules), want)
				var b rbacv1.RoleBinding
				r.namedIn("RoleBinding", ns, managerRole, &b)
				if b.RoleRef.Kind != "Role" || b.RoleRef.Name != role.Name {
					t.Errorf("RoleBinding %s/%s refers to %s %s, want Role %s", ns, b.Name, b.RoleRef.Kind, b.RoleRef.Name, role.Name)
				}
			}
			// Nowhere else: besides them only leader election's Role and
			// RoleBinding, in the release namespace.
			for _, kind := range []string{"Role", "RoleBinding"} {
				for _, o := range r.all(kind) {
					ns := o.namespace()
					watchedRole := slices.Contains(tc.watched, ns) && o.Metadata.Name == managerRole
					leaderRole := ns == namespace && o.Metadata.Name == leaderElectionRole
					if !watchedRole && !leaderRole {
						t.Errorf("%s %s/%s rendered; want one only in each watched namespace", kind, ns, o.Metadata.Name)
					}
				}
			}
			checkRoleBindings(t, r)
			checkLeaderElectionRole(t, r, true)

			pw := r.webhook().Webhooks[0]
			rw := r.routeWebhook().Webhooks[0]
			checkNamespaceSelector(t, "pod webhook", pw.NamespaceSelector, tc.watched, []string{namespace, "kube-system"})
			checkNamespaceSelector(t, "route webhook", rw.NamespaceSelector, tc.watched, nil)
			for _, ns := range append([]string{"default", "kube-system", namespace}, tc.watched...) {
				if got, want := selects(t, pw.NamespaceSelector, ns), slices.Contains(tc.injected, ns); got != want {
					t.Errorf("the pod webhook sees namespace %s: %t, want %t", ns, got, want)
				}
				if got, want := selects(t, rw.NamespaceSelector, ns), slices.Contains(tc.watched, ns); got != want {
					t.Errorf("the route webhook sees namespace %s: %t, want %t", ns, got, want)
				}
			}
		})
	}
}

// TestLeaderElectionLease checks the Lease the chart creates before each
// install, so that after a reinstall the first replica leads at once instead
// of waiting out a Lease the previous installation could not release: it
// must be the Lease the manager takes, where it looks for it.
func TestLeaderElectionLease(t *testing.T) {
	id := leaderElectionID(t)
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	// Without LeaderElectionNamespace the manager takes the Lease in its own
	// namespace, the release namespace, where the chart creates it.
	if bytes.Contains(src, []byte("LeaderElectionNamespace:")) {
		t.Fatal("main.go sets LeaderElectionNamespace: the chart creates the Lease in the manager's own namespace")
	}
	tests := []struct {
		name string
		args []string
		want bool
	}{
		{name: "defaults", want: true},
		{name: "two replicas force it on", args: []string{"--set", "leaderElection.enabled=false"}, want: true},
		{name: "one replica", args: []string{"--set", "replicaCount=1"}, want: true},
		{name: "one replica without leader election", args: ciValues(t, "full-values.yaml"), want: false},
		{name: "namespaced", args: ciValues(t, "namespaced-values.yaml"), want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := render(t, tc.args...)
			if _, elect := flags(t, r.managerContainer())["leader-elect"]; elect != tc.want {
				t.Fatalf("--leader-elect given: %t, want %t", elect, tc.want)
			}
			checkLeaderElectionRole(t, r, tc.want)
			if !tc.want {
				for _, o := range r.all("Lease") {
					t.Errorf("Lease %s/%s rendered without leader election", o.namespace(), o.Metadata.Name)
				}
				return
			}
			var lease coordinationv1.Lease
			r.one("Lease", &lease)
			if d := r.deployment(); lease.Namespace != d.Namespace || lease.Name != id {
				t.Errorf("the chart creates Lease %s/%s; the manager takes %s/%s (main.go's LeaderElectionID, its own namespace)",
					lease.Namespace, lease.Name, d.Namespace, id)
			}
			// Before install only: on upgrade the running leader keeps its
			// Lease, and hands it over when it stops.
			if got := hookList(lease.Annotations["helm.sh/hook"]); !slices.Equal(got, []string{"pre-install"}) {
				t.Errorf("helm.sh/hook = %v, want only pre-install", got)
			}
			// The previous installation's Lease is deleted before the new one
			// is created, and the new one stays. Helm applies
			// before-hook-creation when no policy is set.
			policy := hookList(lease.Annotations["helm.sh/hook-delete-policy"])
			if len(policy) == 0 {
				policy = []string{"before-hook-creation"}
			}
			if !slices.Equal(policy, []string{"before-hook-creation"}) {
				t.Errorf("helm.sh/hook-delete-policy = %v, want only before-hook-creation", policy)
			}
			// Held by no one, so that the first replica takes it at once.
			if !reflect.DeepEqual(lease.Spec, coordinationv1.LeaseSpec{}) {
				spec, _ := json.Marshal(lease.Spec)
				t.Errorf("Lease spec = %s, want empty", spec)
			}
		})
	}
}

// hookList splits a comma-separated Helm hook annotation, sorted.
func hookList(v string) []string {
	var l []string
	for h := range strings.SplitSeq(v, ",") {
		if h = strings.TrimSpace(h); h != "" {
			l = append(l, h)
		}
	}
	slices.Sort(l)
	return l
}

// TestManagerFlagsExist checks that every flag the chart passes is one that
// main.go defines, so that renaming a flag cannot break the chart unnoticed.
func TestManagerFlagsExist(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	for name := range flags(t, render(t).managerContainer()) {
		if !bytes.Contains(src, []byte(`"`+name+`"`)) {
			t.Errorf("the chart passes --%s, which main.go does not define", name)
		}
	}
}

func checkProbes(t *testing.T, c corev1.Container) {
	t.Helper()
	probePort := int32(0)
	for _, p := range c.Ports {
		if p.Name == "probes" {
			probePort = p.ContainerPort
		}
	}
	if probePort != 8081 {
		t.Errorf("probes port = %d, want 8081", probePort)
	}
	for name, p := range map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != name || p.HTTPGet.Port.StrVal != "probes" {
			t.Errorf("probe %s = %+v, want GET %s on port probes", name, p, name)
		}
	}
	// Ready within two seconds of the webhooks serving: 'helm install
	// --wait', every rollout and the first labelled pods wait for it, so an
	// initial delay or a longer period would hold each of them up.
	if p := c.ReadinessProbe; p != nil &&
		(p.InitialDelaySeconds != 0 || p.PeriodSeconds != 2 || p.SuccessThreshold > 1) {
		t.Errorf("readiness probe: initialDelaySeconds %d, periodSeconds %d, successThreshold %d; want no delay, 2 s, one success",
			p.InitialDelaySeconds, p.PeriodSeconds, p.SuccessThreshold)
	}
}

// checkSecurity checks the manager pod's hardening. It runs as non-root
// without a fixed uid: the image's user applies, or the one the platform
// assigns, and platforms that assign one per namespace (OpenShift's
// restricted-v2) refuse a pod that asks for another.
func checkSecurity(t *testing.T, d appsv1.Deployment) {
	t.Helper()
	spec := d.Spec.Template.Spec
	ps := spec.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.SeccompProfile == nil ||
		ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext = %+v", ps)
	}
	if ps != nil && ps.RunAsUser != nil {
		t.Errorf("pod securityContext.runAsUser = %d, want none", *ps.RunAsUser)
	}
	for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		s := c.SecurityContext
		if s == nil || s.ReadOnlyRootFilesystem == nil || !*s.ReadOnlyRootFilesystem ||
			s.AllowPrivilegeEscalation == nil || *s.AllowPrivilegeEscalation ||
			s.Capabilities == nil || !slices.Equal(s.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("container %s securityContext = %+v", c.Name, s)
		}
		if s != nil && s.RunAsUser != nil {
			t.Errorf("container %s securityContext.runAsUser = %d, want none", c.Name, *s.RunAsUser)
		}
		// The container's own runAsNonRoot, or else the pod's.
		nonRoot := ps != nil && ps.RunAsNonRoot != nil && *ps.RunAsNonRoot
		if s != nil && s.RunAsNonRoot != nil {
			nonRoot = *s.RunAsNonRoot
		}
		if !nonRoot {
			t.Errorf("container %s may run as root: runAsNonRoot is not true", c.Name)
		}
	}
}

func checkRules(t *testing.T, w admissionv1.MutatingWebhook) {
	t.Helper()
	if len(w.Rules) != 1 {
		t.Fatalf("webhook rules = %+v", w.Rules)
	}
	r := w.Rules[0]
	if !slices.Equal(r.APIGroups, []string{""}) || !slices.Equal(r.APIVersions, []string{"v1"}) ||
		!slices.Equal(r.Resources, []string{"pods"}) ||
		!slices.Equal(r.Operations, []admissionv1.OperationType{admissionv1.Create}) {
		t.Errorf("webhook rule = %+v, want CREATE v1 pods", r)
	}
}

func checkObjectSelector(t *testing.T, w admissionv1.MutatingWebhook) {
	t.Helper()
	s := w.ObjectSelector
	if s == nil || len(s.MatchLabels) != 0 || len(s.MatchExpressions) != 1 ||
		s.MatchExpressions[0].Key != routeLabel || s.MatchExpressions[0].Operator != metav1.LabelSelectorOpExists {
		t.Errorf("objectSelector = %+v, want only %s Exists", s, routeLabel)
	}
}

// checkNamespaceSelector checks that a webhook's namespaceSelector is exactly
// "kubernetes.io/metadata.name In only" (when only is not empty) and
// "kubernetes.io/metadata.name NotIn excluded" (when excluded is not empty).
// Nothing else may decide: that label is set by the API server and cannot be
// changed, while any other namespace label could be set by whoever edits the
// namespace, to take it out of the webhook's reach.
func checkNamespaceSelector(t *testing.T, what string, s *metav1.LabelSelector, only, excluded []string) {
	t.Helper()
	want := map[metav1.LabelSelectorOperator][]string{}
	if len(only) > 0 {
		want[metav1.LabelSelectorOpIn] = slices.Sorted(slices.Values(only))
	}
	if len(excluded) > 0 {
		want[metav1.LabelSelectorOpNotIn] = slices.Sorted(slices.Values(excluded))
	}
	got := map[metav1.LabelSelectorOperator][]string{}
	if s != nil {
		if len(s.MatchLabels) != 0 {
			t.Errorf("%s namespaceSelector.matchLabels = %v, want none", what, s.MatchLabels)
		}
		for _, e := range s.MatchExpressions {
			if e.Key != namespaceNameLabel {
				t.Errorf("%s namespaceSelector selects on %s; only %s may decide", what, e.Key, namespaceNameLabel)
				continue
			}
			if _, dup := got[e.Operator]; dup {
				t.Errorf("%s namespaceSelector has two %s expressions", what, e.Operator)
			}
			got[e.Operator] = slices.Sorted(slices.Values(e.Values))
		}
	}
	if !maps.EqualFunc(got, want, slices.Equal[[]string]) {
		t.Errorf("%s namespaceSelector on %s = %v, want %v", what, namespaceNameLabel, got, want)
	}
}

// selects reports whether a webhook's namespaceSelector sends requests from
// namespace ns to the webhook.
func selects(t *testing.T, s *metav1.LabelSelector, ns string) bool {
	t.Helper()
	if s == nil {
		return true // a webhook without a namespaceSelector sees every namespace
	}
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		t.Fatalf("namespaceSelector %+v: %v", s, err)
	}
	return sel.Matches(labels.Set{namespaceNameLabel: ns})
}

// checkWebhookWiring checks that a webhook's Service exists and reaches the
// manager's webhook port, and returns it.
func checkWebhookWiring(t *testing.T, r *rendered, cc admissionv1.WebhookClientConfig) corev1.Service {
	t.Helper()
	ref := cc.Service
	if ref == nil || ref.Namespace != namespace || (ref.Port != nil && *ref.Port != 443) {
		t.Fatalf("webhook clientConfig.service = %+v", ref)
	}
	var svc corev1.Service
	r.named("Service", ref.Name, &svc)
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 443 {
		t.Fatalf("webhook Service ports = %+v, want 443", svc.Spec.Ports)
	}
	d := r.deployment()
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("the webhook Service selects %s=%s, which the manager's pods do not carry", k, v)
		}
	}
	target := svc.Spec.Ports[0].TargetPort
	port := int32(0)
	for _, p := range r.managerContainer().Ports {
		if p.Name == target.StrVal || (target.StrVal == "" && p.ContainerPort == target.IntVal) {
			port = p.ContainerPort
		}
	}
	if port != 9443 {
		t.Errorf("the webhook Service's target %s is container port %d, want 9443", target.String(), port)
	}
	return svc
}

// deref formats what a pointer field holds, or "unset".
func deref[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

func serviceDNSNames(svc corev1.Service) []string {
	base := svc.Name + "." + namespace + ".svc"
	return []string{base, base + ".cluster.local"}
}

// mountedCertSecret returns the Secret mounted where --webhook-cert-path
// points.
func mountedCertSecret(t *testing.T, r *rendered) string {
	t.Helper()
	c := r.managerContainer()
	dir := flags(t, c)[strings.TrimPrefix(certDirFlag, "--")]
	if dir == "" {
		t.Fatalf("the manager has no %s", certDirFlag)
	}
	volume := ""
	for _, m := range c.VolumeMounts {
		if filepath.Clean(m.MountPath) == filepath.Clean(dir) {
			volume = m.Name
		}
	}
	for _, v := range r.deployment().Spec.Template.Spec.Volumes {
		if v.Name == volume && v.Secret != nil {
			return v.Secret.SecretName
		}
	}
	t.Fatalf("no Secret volume mounted at %s=%s", certDirFlag, dir)
	return ""
}

// checkGeneratedTLS checks the certificate the chart generates: a webhook's
// caBundle is the CA in the Secret, which signed the serving certificate for
// the webhook Service's DNS names, whose key is in the Secret too, which the
// manager mounts where --webhook-cert-path points.
func checkGeneratedTLS(t *testing.T, r *rendered, cc admissionv1.WebhookClientConfig) {
	t.Helper()
	name := mountedCertSecret(t, r)
	var secret corev1.Secret
	r.named("Secret", name, &secret)
	if secret.Type != corev1.SecretTypeTLS {
		t.Errorf("Secret %s type = %q, want %q", name, secret.Type, corev1.SecretTypeTLS)
	}
	if len(cc.CABundle) == 0 {
		t.Fatal("the webhook has no caBundle")
	}
	if !bytes.Equal(cc.CABundle, secret.Data["ca.crt"]) {
		t.Error("the webhook's caBundle is not the Secret's ca.crt")
	}

	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(cc.CABundle) {
		t.Fatalf("caBundle holds no PEM certificate:\n%s", cc.CABundle)
	}
	ca := parseCert(t, "caBundle", cc.CABundle)
	if !ca.IsCA {
		t.Error("the caBundle certificate is not a CA")
	}
	leaf := parseCert(t, "tls.crt", secret.Data["tls.crt"])
	if leaf.IsCA {
		t.Error("the serving certificate is a CA")
	}
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		t.Errorf("the serving certificate is not signed by the caBundle CA: %v", err)
	}
	svc := checkWebhookWiring(t, r, cc)
	want := serviceDNSNames(svc)
	for _, dns := range want {
		if _, err := leaf.Verify(x509.VerifyOptions{
			DNSName:   dns,
			Roots:     roots,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}); err != nil {
			t.Errorf("the serving certificate does not verify for %s: %v", dns, err)
		}
	}
	for _, dns := range want {
		if !slices.Contains(leaf.DNSNames, dns) {
			t.Errorf("serving certificate SANs %v lack %s", leaf.DNSNames, dns)
		}
	}
	if _, err := tls.X509KeyPair(secret.Data["tls.crt"], secret.Data["tls.key"]); err != nil {
		t.Errorf("tls.key does not match tls.crt: %v", err)
	}
}

func parseCert(t *testing.T, what string, b []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s is not a PEM certificate", what)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return c
}

// checkLeaderElectionRole checks the Role that lets the manager take the
// Lease main.go names, in the release namespace, when want.
func checkLeaderElectionRole(t *testing.T, r *rendered, want bool) {
	t.Helper()
	if !want {
		for _, o := range r.all("Role") {
			var role rbacv1.Role
			r.decode(o, &role)
			for g := range grants(role.Rules) {
				if g.group == "coordination.k8s.io" {
					t.Errorf("Role %s/%s grants %s on leases without leader election", role.Namespace, role.Name, g.verb)
				}
			}
		}
		return
	}
	var role rbacv1.Role
	r.namedIn("Role", namespace, leaderElectionRole, &role)
	id := leaderElectionID(t)
	g := grants(role.Rules)
	for _, v := range []string{"get", "update"} {
		if !g[grant{"coordination.k8s.io", "leases", id, v}] {
			t.Errorf("the leader-election Role lacks %s on lease %s", v, id)
		}
	}
	if !g[grant{"coordination.k8s.io", "leases", "", "create"}] {
		t.Error("the leader-election Role cannot create the lease")
	}
	var binding rbacv1.RoleBinding
	r.namedIn("RoleBinding", namespace, leaderElectionRole, &binding)
	if binding.RoleRef.Kind != "Role" || binding.RoleRef.Name != role.Name {
		t.Errorf("RoleBinding roleRef = %+v", binding.RoleRef)
	}
}

// leaderElectionID is the name of the Lease the manager takes: the
// LeaderElectionID main.go sets (no flag changes it).
func leaderElectionID(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`LeaderElectionID:\s*"([^"]+)"`).FindSubmatch(src)
	if m == nil {
		t.Fatal("main.go sets no LeaderElectionID")
	}
	return string(m[1])
}

// checkRoleBindings checks that every RoleBinding binds a Role rendered in its
// own namespace, and only to the manager's ServiceAccount: a binding left
// behind by a removed Role, or one to a ClusterRole, would grant what no
// other check sees.
func checkRoleBindings(t *testing.T, r *rendered) {
	t.Helper()
	sa := r.deployment().Spec.Template.Spec.ServiceAccountName
	for _, o := range r.all("RoleBinding") {
		var b rbacv1.RoleBinding
		r.decode(o, &b)
		ns := o.namespace()
		if b.RoleRef.Kind != "Role" || b.RoleRef.APIGroup != rbacv1.GroupName {
			t.Errorf("RoleBinding %s/%s refers to a %s, want a Role", ns, b.Name, b.RoleRef.Kind)
		} else if !r.has("Role", ns, b.RoleRef.Name) {
			t.Errorf("RoleBinding %s/%s refers to Role %s, which the chart does not render there", ns, b.Name, b.RoleRef.Name)
		}
		if len(b.Subjects) != 1 || b.Subjects[0].Kind != rbacv1.ServiceAccountKind ||
			b.Subjects[0].Name != sa || b.Subjects[0].Namespace != namespace {
			t.Errorf("RoleBinding %s/%s binds %+v, want only ServiceAccount %s/%s", ns, b.Name, b.Subjects, namespace, sa)
		}
	}
}

func checkServiceAccount(t *testing.T, r *rendered, d appsv1.Deployment) {
	t.Helper()
	var sa corev1.ServiceAccount
	r.one("ServiceAccount", &sa)
	if sa.Name != d.Spec.Template.Spec.ServiceAccountName {
		t.Errorf("ServiceAccount %q, but the manager runs as %q", sa.Name, d.Spec.Template.Spec.ServiceAccountName)
	}
}

// The sidecars' metrics reach Prometheus and Grafana only when asked: a
// PodMonitor on the admin port the webhook declares, over the pods it
// injects, and the dashboard in a ConfigMap Grafana's sidecar picks up.
func TestSidecarMonitoring(t *testing.T) {
	if r := render(t); len(r.all("PodMonitor"))+len(r.all("ConfigMap")) != 0 {
		t.Error("a PodMonitor or dashboard ConfigMap rendered by default")
	}

	type podMonitor struct {
		Spec struct {
			PodMetricsEndpoints []struct {
				Port, Path, Interval string
			} `json:"podMetricsEndpoints"`
			NamespaceSelector struct {
				Any        bool     `json:"any"`
				MatchNames []string `json:"matchNames"`
			} `json:"namespaceSelector"`
			Selector metav1.LabelSelector `json:"selector"`
		} `json:"spec"`
	}
	r := render(t, "--set", "sidecarMetrics.podMonitor.enabled=true", "--set", "sidecarMetrics.podMonitor.interval=15s",
		"--set", "sidecarMetrics.podMonitor.labels.release=prom",
		"--set", "sidecarMetrics.grafanaDashboard.enabled=true", "--set", "sidecarMetrics.grafanaDashboard.namespace=monitoring")
	var pm podMonitor
	r.one("PodMonitor", &pm)
	if eps := pm.Spec.PodMetricsEndpoints; len(eps) != 1 || eps[0].Port != controllers.AdminPortName || eps[0].Path != "/metrics" || eps[0].Interval != "15s" {
		t.Errorf("podMetricsEndpoints = %+v, want port %s, /metrics every 15s", eps, controllers.AdminPortName)
	}
	if !pm.Spec.NamespaceSelector.Any {
		t.Errorf("namespaceSelector = %+v, want any: every namespace can have labelled pods", pm.Spec.NamespaceSelector)
	}
	sel, err := metav1.LabelSelectorAsSelector(&pm.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	for pod, want := range map[string]bool{"labelled": true, "unlabelled": false} {
		l := labels.Set{"app": "x"}
		if want {
			l[controllers.RouteLabel] = "my-route"
		}
		if sel.Matches(l) != want {
			t.Errorf("selector %s matches a %s pod: %v, want %v", sel, pod, !want, want)
		}
	}
	if o := r.all("PodMonitor")[0]; o.Metadata.Labels["release"] != "prom" {
		t.Errorf("PodMonitor labels = %v, want the extra label release=prom", o.Metadata.Labels)
	}

	var cm corev1.ConfigMap
	r.namedIn("ConfigMap", "monitoring", release+"-dashboard", &cm) // fullname is the release name when it holds the chart name
	if cm.Labels["grafana_dashboard"] != "1" {
		t.Errorf("dashboard labels = %v, want grafana_dashboard: \"1\"", cm.Labels)
	}
	want, err := os.ReadFile(filepath.Join(chartDir(t), "dashboards", "llmroute.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cm.Data["llmroute.json"]; strings.TrimSpace(got) != strings.TrimSpace(string(want)) {
		t.Errorf("dashboard ConfigMap holds %d bytes, want dashboards/llmroute.json (%d bytes) as it is", len(got), len(want))
	}

	// With watchNamespaces only those are scraped, as only those are injected.
	r = render(t, "--set", "sidecarMetrics.podMonitor.enabled=true", "--set", "watchNamespaces={team-a,team-b}")
	pm = podMonitor{}
	r.one("PodMonitor", &pm)
	if ns := pm.Spec.NamespaceSelector; ns.Any || !slices.Equal(ns.MatchNames, []string{"team-a", "team-b"}) {
		t.Errorf("namespaceSelector = %+v, want matchNames [team-a team-b]", ns)
	}
}
