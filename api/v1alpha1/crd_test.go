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

package v1alpha1_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
	"github.com/osmen-ai/llmroute/sidecar/config"
)

// k8sClient talks to the suite's API server; nil when the suite skips.
var k8sClient client.Client

const testNamespace = "crd-test"

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

// runSuite starts one API server for the package. Without the envtest binaries
// the envtest tests skip, except in CI, where a silently skipped CRD suite would
// hide every validation regression.
func runSuite(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is unset in CI: run 'make envtest' and point it at bin/k8s")
			return 1
		}
		return m.Run()
	}

	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "start envtest: %v\n", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop envtest: %v\n", err)
		}
	}()

	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, llmv1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			fmt.Fprintf(os.Stderr, "build scheme: %v\n", err)
			return 1
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintf(os.Stderr, "create client: %v\n", err)
		return 1
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNamespace}}
	if err := c.Create(context.Background(), ns); err != nil {
		fmt.Fprintf(os.Stderr, "create namespace: %v\n", err)
		return 1
	}
	k8sClient = c
	return m.Run()
}

func requireAPIServer(t *testing.T) {
	t.Helper()
	if k8sClient == nil {
		t.Skip("KUBEBUILDER_ASSETS is unset: run 'make envtest' to build kube-apiserver and etcd into bin/k8s")
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testCase is one YAML file of testdata/valid or testdata/invalid. Comment
// lines at its top carry the expectations:
//
//	# want: spec.retry.attempts          (invalid: the error must contain this)
//	# expect: spec.retry.attempts = 3    (valid: the stored object has this value)
type testCase struct {
	file    string
	obj     *unstructured.Unstructured
	wants   []string
	expects map[string]string
}

var nameLength = regexp.MustCompile(`(?m)^# name-length: (\d+)$`)

var expectLine = regexp.MustCompile(`^#\s*expect:\s*(\S+)\s*=\s*(.*?)\s*$`)

func loadCases(t *testing.T, dir string) []testCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no cases in testdata/%s", dir)
	}
	var cases []testCase
	for i, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		tc := testCase{file: filepath.Base(file), obj: &unstructured.Unstructured{}, expects: map[string]string{}}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "#") {
				break
			}
			if want, ok := strings.CutPrefix(line, "# want:"); ok {
				tc.wants = append(tc.wants, strings.TrimSpace(want))
			}
			if m := expectLine.FindStringSubmatch(line); m != nil {
				tc.expects[m[1]] = m[2]
			}
		}
		if err := yaml.Unmarshal(data, &tc.obj.Object); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		// The API server quotes the object's name in its errors; a neutral name
		// keeps a "want" from matching the name instead of the field.
		tc.obj.SetName(fmt.Sprintf("%s-%02d", dir, i))
		if n := nameLength.FindStringSubmatch(string(data)); n != nil {
			// "# name-length: N" tests limits on the name itself.
			length, _ := strconv.Atoi(n[1])
			tc.obj.SetName(strings.Repeat("n", length))
		}
		tc.obj.SetNamespace(testNamespace)
		cases = append(cases, tc)
	}
	return cases
}

// create sends the object as written, not through the Go type: omitempty would
// drop invalid zero values (attempts: 0) and let the server default them.
// Strict field validation refuses unknown fields instead of pruning them, so a
// typo in a case cannot pass for a valid field.
func create(ctx context.Context, obj client.Object) error {
	return k8sClient.Create(ctx, obj, client.FieldValidation(metav1.FieldValidationStrict))
}

func TestValidRoutesAreAcceptedAndDefaulted(t *testing.T) {
	requireAPIServer(t)
	for _, tc := range loadCases(t, "valid") {
		t.Run(tc.file, func(t *testing.T) {
			ctx := testContext(t)
			if err := create(ctx, tc.obj); err != nil {
				t.Fatalf("create: %v", err)
			}
			t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), tc.obj) })

			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(llmv1alpha1.GroupVersion.WithKind("LLMRoute"))
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(tc.obj), got); err != nil {
				t.Fatalf("get: %v", err)
			}
			for path, want := range tc.expects {
				v, err := lookup(got.Object, path)
				if err != nil {
					t.Errorf("%s: %v", path, err)
					continue
				}
				if g := fmt.Sprint(v); g != want {
					t.Errorf("%s = %s, want %s", path, g, want)
				}
			}

			// What the server stored must decode into the Go type the
			// operator reads, durations included.
			var route llmv1alpha1.LLMRoute
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(tc.obj), &route); err != nil {
				t.Fatalf("get typed: %v", err)
			}
			assertDefaulted(t, &route)
		})
	}
}

// assertDefaulted checks that every field with a schema default is set, which
// fails when a nested object lacks its own default ({}): its fields' defaults
// then never apply when the user omits it.
func assertDefaulted(t *testing.T, r *llmv1alpha1.LLMRoute) {
	t.Helper()
	s := r.Spec
	if s.Retry == nil || s.CircuitBreaker == nil || s.Timeouts == nil || s.RateLimit == nil {
		t.Fatalf("nested objects not defaulted: retry=%v circuitBreaker=%v timeouts=%v rateLimit=%v",
			s.Retry, s.CircuitBreaker, s.Timeouts, s.RateLimit)
	}
	for i, p := range s.Providers {
		if p.Timeout == nil {
			t.Errorf("providers[%d].timeout not defaulted", i)
		}
	}
	rt, cb, to := s.Retry, s.CircuitBreaker, s.Timeouts
	for name, unset := range map[string]bool{
		"retry.attempts":                     rt.Attempts == 0,
		"retry.initialBackoff":               rt.InitialBackoff == nil,
		"retry.maxBackoff":                   rt.MaxBackoff == nil,
		"retry.multiplier":                   rt.Multiplier == 0,
		"retry.jitter":                       rt.Jitter == nil,
		"retry.retryOn":                      len(rt.RetryOn) == 0,
		"retry.maxRetryAfter":                rt.MaxRetryAfter == nil,
		"retry.budgetPercent":                rt.BudgetPercent == nil,
		"retry.minRetriesPerSecond":          rt.MinRetriesPerSecond == nil,
		"circuitBreaker.consecutiveFailures": cb.ConsecutiveFailures == 0,
		"circuitBreaker.failureRatio":        cb.FailureRatio == 0,
		"circuitBreaker.minRequests":         cb.MinRequests == 0,
		"circuitBreaker.interval":            cb.Interval == nil,
		"circuitBreaker.openTimeout":         cb.OpenTimeout == nil,
		"circuitBreaker.halfOpenRequests":    cb.HalfOpenRequests == 0,
		"timeouts.request":                   to.Request == nil,
		"timeouts.streamIdle":                to.StreamIdle == nil,
	} {
		if unset {
			t.Errorf("%s not defaulted", name)
		}
	}
}

// The CRD's defaults must be the sidecar's: the operator renders what the
// server stored, so a drift would silently change behaviour between a route
// and the same file run by hand.
func TestDefaultsMatchSidecarConfig(t *testing.T) {
	requireAPIServer(t)
	ctx := testContext(t)
	route := &llmv1alpha1.LLMRoute{
		ObjectMeta: metav1.ObjectMeta{Name: "defaults", Namespace: testNamespace},
		Spec: llmv1alpha1.LLMRouteSpec{
			Providers: []llmv1alpha1.Provider{{Name: "local", Type: llmv1alpha1.ProviderOllama}},
			Rules:     []llmv1alpha1.Rule{{Backends: []string{"local"}}},
		},
	}
	if err := create(ctx, route); err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), route) })
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(route), route); err != nil {
		t.Fatalf("get: %v", err)
	}
	assertDefaulted(t, route)
	if t.Failed() {
		return
	}

	s := route.Spec
	rt, cb, to := s.Retry, s.CircuitBreaker, s.Timeouts
	durations := []struct {
		name string
		got  *metav1.Duration
		want time.Duration
	}{
		{"providers[0].timeout", s.Providers[0].Timeout, config.DefaultProviderTimeout},
		{"retry.initialBackoff", rt.InitialBackoff, config.DefaultInitialBackoff},
		{"retry.maxBackoff", rt.MaxBackoff, config.DefaultMaxBackoff},
		{"retry.maxRetryAfter", rt.MaxRetryAfter, config.DefaultMaxRetryAfter},
		{"circuitBreaker.interval", cb.Interval, config.DefaultInterval},
		{"circuitBreaker.openTimeout", cb.OpenTimeout, config.DefaultOpenTimeout},
		{"timeouts.request", to.Request, config.DefaultRequestTimeout},
		{"timeouts.streamIdle", to.StreamIdle, config.DefaultStreamIdleTimeout},
	}
	for _, d := range durations {
		if d.got.Duration != d.want {
			t.Errorf("%s = %v, want %v", d.name, d.got.Duration, d.want)
		}
	}
	numbers := []struct {
		name      string
		got, want float64
	}{
		{"retry.attempts", float64(rt.Attempts), config.DefaultAttempts},
		{"retry.multiplier", rt.Multiplier, config.DefaultMultiplier},
		{"retry.budgetPercent", float64(*rt.BudgetPercent), config.DefaultBudgetPercent},
		{"retry.minRetriesPerSecond", float64(*rt.MinRetriesPerSecond), config.DefaultMinRetriesPerSecond},
		{"circuitBreaker.consecutiveFailures", float64(cb.ConsecutiveFailures), config.DefaultConsecutiveFailures},
		{"circuitBreaker.failureRatio", cb.FailureRatio, config.DefaultFailureRatio},
		{"circuitBreaker.minRequests", float64(cb.MinRequests), config.DefaultMinRequests},
		{"circuitBreaker.halfOpenRequests", float64(cb.HalfOpenRequests), config.DefaultHalfOpenRequests},
		{"rateLimit.requestsPerSecond", s.RateLimit.RequestsPerSecond, 0},
		{"rateLimit.burst", float64(s.RateLimit.Burst), 0},
	}
	for _, n := range numbers {
		if n.got != n.want {
			t.Errorf("%s = %v, want %v", n.name, n.got, n.want)
		}
	}
	if !*rt.Jitter {
		t.Error("retry.jitter = false, want true")
	}
	if got, want := strings.Join(rt.RetryOn, ","), strings.Join(config.DefaultRetryOn, ","); got != want {
		t.Errorf("retry.retryOn = %s, want %s", got, want)
	}
}

// The weight the API server gives a key of apiKeys must be the sidecar's
// default, for the same reason.
func TestAPIKeyWeightDefaultMatchesSidecarConfig(t *testing.T) {
	requireAPIServer(t)
	ctx := testContext(t)
	route := &llmv1alpha1.LLMRoute{
		ObjectMeta: metav1.ObjectMeta{Name: "weight-default", Namespace: testNamespace},
		Spec: llmv1alpha1.LLMRouteSpec{
			Providers: []llmv1alpha1.Provider{{Name: "gpt", Type: llmv1alpha1.ProviderOpenAI,
				APIKeys: []llmv1alpha1.APIKey{{SecretRef: llmv1alpha1.SecretKeyRef{Name: "keys", Key: "a"}}}}},
			Rules: []llmv1alpha1.Rule{{Backends: []string{"gpt"}}},
		},
	}
	if err := create(ctx, route); err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), route) })
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(route), route); err != nil {
		t.Fatalf("get: %v", err)
	}
	if got := route.Spec.Providers[0].APIKeys[0].Weight; got != config.DefaultAPIKeyWeight {
		t.Errorf("apiKeys[0].weight = %d, want the sidecar's default %d", got, config.DefaultAPIKeyWeight)
	}
}

func TestInvalidRoutesAreRefused(t *testing.T) {
	requireAPIServer(t)
	cases := loadCases(t, "invalid")
	if len(cases) < 15 {
		t.Fatalf("only %d invalid cases, want at least 15", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			if len(tc.wants) == 0 {
				t.Fatal("the case has no '# want:' line naming the field the error must name")
			}
			err := create(testContext(t), tc.obj)
			if err == nil {
				_ = k8sClient.Delete(context.Background(), tc.obj)
				t.Fatal("the API server accepted the route")
			}
			var status apierrors.APIStatus
			if !errors.As(err, &status) {
				t.Fatalf("not an API status error: %v", err)
			}
			if code := status.Status().Code; code != http.StatusUnprocessableEntity && code != http.StatusBadRequest {
				t.Fatalf("status %d, want 422 or 400: %v", code, err)
			}
			t.Logf("refused: %v", err)
			for _, want := range tc.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
		})
	}
}

// The operator reports through the status subresource: conditions keyed by
// type, each with its observedGeneration, and the provider count that
// kubectl get prints.
func TestStatusSubresource(t *testing.T) {
	requireAPIServer(t)
	ctx := testContext(t)
	route := &llmv1alpha1.LLMRoute{
		ObjectMeta: metav1.ObjectMeta{Name: "status", Namespace: testNamespace},
		Spec: llmv1alpha1.LLMRouteSpec{
			Providers: []llmv1alpha1.Provider{{Name: "local", Type: llmv1alpha1.ProviderOllama}},
			Rules:     []llmv1alpha1.Rule{{Backends: []string{"local"}}},
		},
	}
	if err := create(ctx, route); err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), route) })

	route.Status.ObservedGeneration = route.Generation
	route.Status.Providers = 1
	route.Status.ConfigHash = "sha256:0123"
	for _, c := range []metav1.Condition{
		{Type: llmv1alpha1.ConditionAccepted, Status: metav1.ConditionTrue, Reason: llmv1alpha1.ReasonRendered},
		{Type: llmv1alpha1.ConditionResolvedRefs, Status: metav1.ConditionTrue, Reason: llmv1alpha1.ReasonSecretsResolved},
		{Type: llmv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: llmv1alpha1.ReasonConfigWritten},
	} {
		c.ObservedGeneration = route.Generation
		meta.SetStatusCondition(&route.Status.Conditions, c)
	}
	if err := k8sClient.Status().Update(ctx, route); err != nil {
		t.Fatalf("update status: %v", err)
	}

	var got llmv1alpha1.LLMRoute
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(route), &got); err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.Status.Providers != 1 || got.Status.ConfigHash != "sha256:0123" || got.Status.ObservedGeneration != route.Generation {
		t.Errorf("status = %+v", got.Status)
	}
	if !meta.IsStatusConditionTrue(got.Status.Conditions, llmv1alpha1.ConditionReady) {
		t.Errorf("Ready condition not stored: %+v", got.Status.Conditions)
	}
	if got.Generation != route.Generation {
		t.Errorf("a status update bumped the generation: %d -> %d", route.Generation, got.Generation)
	}
}

// The sample is what users apply first; it must stay valid as the schema moves.
func TestSamplesAreAccepted(t *testing.T) {
	requireAPIServer(t)
	ctx := testContext(t)
	for _, file := range []string{"secrets.yaml", "llm_v1alpha1_llmroute.yaml"} {
		for _, obj := range readObjects(t, filepath.Join("..", "..", "config", "samples", file)) {
			obj.SetNamespace(testNamespace)
			if err := create(ctx, obj); err != nil {
				t.Fatalf("%s: create %s %s: %v", file, obj.GetKind(), obj.GetName(), err)
			}
			t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), obj) })
		}
	}
	var route llmv1alpha1.LLMRoute
	if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: testNamespace, Name: "chat"}, &route); err != nil {
		t.Fatalf("get sample route: %v", err)
	}
	assertDefaulted(t, &route)
}

func readObjects(t *testing.T, file string) []*unstructured.Unstructured {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	var objs []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
			return objs
		} else if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
}

// lookup follows a path such as spec.providers[0].timeout through a decoded object.
func lookup(obj map[string]any, path string) (any, error) {
	var cur any = obj
	for part := range strings.SplitSeq(path, ".") {
		key, index, indexed := strings.Cut(strings.TrimSuffix(part, "]"), "[")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s is not an object", key)
		}
		if cur, ok = m[key]; !ok {
			return nil, fmt.Errorf("no field %s", key)
		}
		if indexed {
			i, err := strconv.Atoi(index)
			list, ok := cur.([]any)
			if err != nil || !ok || i < 0 || i >= len(list) {
				return nil, fmt.Errorf("no item %s[%s]", key, index)
			}
			cur = list[i]
		}
	}
	return cur, nil
}

// parityProvider is one provider of an OpenAI-compatible route, as the
// parity tests vary it.
type parityProvider struct {
	baseURL  string
	keyed    bool
	insecure bool
	headers  map[string]string
	// token makes the credential a projected ServiceAccount token instead
	// of a key: every credential source counts, not only keys.
	token bool
	// oauth2TokenURL, googleTokenURL and googleImpersonationURL, when set,
	// make the credential an OAuth2 client or a Google external account
	// with that endpoint.
	oauth2TokenURL, googleTokenURL, googleImpersonationURL string
}

const parityGoogleAudience = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q"

// sidecarVerdict is what the sidecar's own validation says of the provider
// the operator would render.
func (p parityProvider) sidecarVerdict() error {
	cp := config.Provider{Name: "p", Type: config.OpenAICompatible, BaseURL: p.baseURL, Insecure: p.insecure, Headers: p.headers}
	switch {
	case p.keyed:
		cp.APIKeyFile = "/etc/llmroute/keys/p"
	case p.token:
		cp.TokenFile = "/etc/llmroute/tokens/p"
	case p.oauth2TokenURL != "":
		cp.OAuth2ClientCredentials = &config.OAuth2ClientCredentials{
			TokenURL: p.oauth2TokenURL, ClientID: "c", ClientSecretFile: "/etc/llmroute/keys/p",
		}
	case p.googleTokenURL != "" || p.googleImpersonationURL != "":
		cp.GoogleExternalAccount = &config.GoogleExternalAccount{
			Audience: parityGoogleAudience, SubjectTokenFile: "/etc/llmroute/tokens/p",
			TokenURL: p.googleTokenURL, ServiceAccountImpersonationURL: p.googleImpersonationURL,
		}
	}
	cfg := config.Config{Providers: []config.Provider{cp}, Rules: []config.Rule{{Backends: []string{"p"}}}}
	cfg.Default()
	return cfg.Validate()
}

// apiServerVerdict is what the API server says of the same provider in an
// LLMRoute.
func (p parityProvider) apiServerVerdict(t *testing.T, name string) error {
	provider := map[string]any{"name": "p", "type": "OpenAICompatible", "baseURL": p.baseURL}
	switch {
	case p.keyed:
		provider["apiKeySecretRef"] = map[string]any{"name": "creds", "key": "token"}
	case p.token:
		provider["serviceAccountToken"] = map[string]any{"audience": "gateway"}
	case p.oauth2TokenURL != "":
		provider["oauth2ClientCredentials"] = map[string]any{
			"tokenURL": p.oauth2TokenURL, "clientID": "c",
			"clientSecretRef": map[string]any{"name": "creds", "key": "secret"},
		}
	case p.googleTokenURL != "" || p.googleImpersonationURL != "":
		g := map[string]any{"audience": parityGoogleAudience, "serviceAccountToken": map[string]any{"audience": "sts"}}
		if p.googleTokenURL != "" {
			g["tokenURL"] = p.googleTokenURL
		}
		if p.googleImpersonationURL != "" {
			g["serviceAccountImpersonationURL"] = p.googleImpersonationURL
		}
		provider["googleExternalAccount"] = g
	}
	if p.insecure {
		provider["insecure"] = true
	}
	if p.headers != nil {
		h := map[string]any{}
		for k, v := range p.headers {
			h[k] = v
		}
		provider["headers"] = h
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": llmv1alpha1.GroupVersion.String(),
		"kind":       "LLMRoute",
		"metadata":   map[string]any{"name": name, "namespace": testNamespace},
		"spec": map[string]any{
			"providers": []any{provider},
			"rules":     []any{map[string]any{"backends": []any{"p"}}},
		},
	}}
	err := create(testContext(t), obj)
	if err == nil {
		_ = k8sClient.Delete(context.Background(), obj)
	}
	return err
}

// TestCRDAgreesWithSidecarOnBaseURLs guards against a route the API server
// accepts but the operator cannot render (Accepted=False long after the
// apply), and the reverse: the CRD's CEL rules on baseURL must give the
// sidecar's verdict.
func TestCRDAgreesWithSidecarOnBaseURLs(t *testing.T) {
	requireAPIServer(t)
	tests := []parityProvider{
		{baseURL: "https://llm.example.com/v1", keyed: true},
		{baseURL: "http://llm.example.com/v1", keyed: true},
		{baseURL: "http://llm.example.com/v1", keyed: true, insecure: true},
		{baseURL: "http://llm.example.com/v1"},
		{baseURL: "http://127.0.0.1:8000/v1", keyed: true},
		{baseURL: "http://127.9.8.7/v1", keyed: true},
		{baseURL: "http://127.0.0.1.nip.io/v1", keyed: true},
		{baseURL: "http://10.0.0.7:8000/v1", keyed: true},
		{baseURL: "http://[::1]:8000/v1", keyed: true},
		{baseURL: "http://localhost:8000/v1", keyed: true},
		{baseURL: "http://LocalHost./v1", keyed: true},
		{baseURL: "http://gpu.localhost/v1", keyed: true},
		{baseURL: "http://vllm.models.svc/v1", keyed: true},
		{baseURL: "http://vllm.models.svc.cluster.local:8000/v1", keyed: true},
		{baseURL: "http://vllm.models.svc.cluster.local.evil.example/v1", keyed: true},
		{baseURL: "http://svc/v1", keyed: true},
		{baseURL: "https://user:pass@llm.example.com/v1", keyed: true},
		{baseURL: "https://user@llm.example.com/v1"},
		{baseURL: "https://llm.example.com/v1/@scope"},
		{baseURL: "https://llm.example.com/v1#frag"},
		{baseURL: "https://llm.example.com/v1#"},
		{baseURL: "https://llm.example.com/v1?api-version=2024-10-21"},
		{baseURL: "http://llm.example.com/v1", token: true},
		{baseURL: "http://llm.example.com/v1", token: true, insecure: true},
		{baseURL: "http://gateway.platform.svc/v1", token: true},
		{baseURL: "http://llm.example.com/v1", oauth2TokenURL: "https://sso.example.com/token"},
		{baseURL: "http://llm.example.com/v1", googleTokenURL: "https://sts.googleapis.com/v1/token"},
	}
	for i, tc := range tests {
		t.Run(tc.baseURL, func(t *testing.T) {
			sidecar := tc.sidecarVerdict()
			server := tc.apiServerVerdict(t, fmt.Sprintf("baseurl-%02d", i))
			if (sidecar == nil) != (server == nil) {
				t.Errorf("keyed=%v insecure=%v: the sidecar says %v, the API server says %v", tc.keyed, tc.insecure, sidecar, server)
			}
		})
	}
}

// TestCRDAgreesWithSidecarOnHeaders checks header names and values the same
// way: every name the sidecar reserves for itself is refused by the API
// server, and nothing else is.
func TestCRDAgreesWithSidecarOnHeaders(t *testing.T) {
	requireAPIServer(t)
	names := []string{
		"Authorization", "authorization", "X-Api-Key", "api-key", "Proxy-Authorization", "Host",
		"Content-Length", "Content-Type", "Transfer-Encoding", "Connection", "Keep-Alive", "TE",
		"Trailer", "Upgrade", "X-Request-Id", "Proxy-Connection", "Cookie", "User-Agent", "Accept",
		"Accept-Encoding", "Anthropic-Version", "anthropic-beta", "OpenAI-Organization", "OpenAI-Project",
		"X-Llmroute-Provider", "X-Should-Retry", "Forwarded", "X-Forwarded-For", "x!#$%&'*+-.^_`|~",
		"X Space", "X:Colon", "X(Paren)", "Ünicode",
	}
	i := 0
	for _, name := range names {
		t.Run("name "+name, func(t *testing.T) {
			i++
			tc := parityProvider{baseURL: "https://llm.example.com/v1", headers: map[string]string{name: "v"}}
			sidecar := tc.sidecarVerdict()
			server := tc.apiServerVerdict(t, fmt.Sprintf("header-%02d", i))
			if (sidecar == nil) != (server == nil) {
				t.Errorf("the sidecar says %v, the API server says %v", sidecar, server)
			}
		})
	}
	for _, value := range []string{"plain", "tab\tinside", "ünïcode", "line\nbreak", "cr\rhere", "nul\x00here"} {
		t.Run("value "+strconv.Quote(value), func(t *testing.T) {
			i++
			tc := parityProvider{baseURL: "https://llm.example.com/v1", headers: map[string]string{"X-Team": value}}
			sidecar := tc.sidecarVerdict()
			server := tc.apiServerVerdict(t, fmt.Sprintf("header-%02d", i))
			if (sidecar == nil) != (server == nil) {
				t.Errorf("the sidecar says %v, the API server says %v", sidecar, server)
			}
		})
	}
}

// TestCRDAgreesWithSidecarOnTokenURLs does the same for the endpoints the
// sidecar sends client secrets and subject tokens to: the OAuth2 token URL,
// Google's STS URL and its impersonation URL.
func TestCRDAgreesWithSidecarOnTokenURLs(t *testing.T) {
	requireAPIServer(t)
	urls := []string{
		"https://sso.example.com/token",
		"http://sso.example.com/token",
		"http://127.0.0.1:8080/token",
		"http://localhost/token",
		"http://[::1]:8080/token",
		"http://idp.auth.svc/token",
		"http://idp.auth.svc.cluster.local:8080/token",
		"http://idp.auth.svc.cluster.local.evil.example/token",
		"http://10.0.0.7/token",
		"https://client:secret@sso.example.com/token",
		"https://user@sso.example.com/token",
		"https://sso.example.com/realms/a@b/token",
		"https://sso.example.com/token?tenant=x",
		"https://sso.example.com/token#frag",
		"ftp://sso.example.com/token",
		"https:///token",
	}
	i := 0
	for _, u := range urls {
		for _, insecure := range []bool{false, true} {
			for _, tc := range []struct {
				field string
				p     parityProvider
			}{
				{"oauth2ClientCredentials.tokenURL", parityProvider{oauth2TokenURL: u}},
				{"googleExternalAccount.tokenURL", parityProvider{googleTokenURL: u}},
				{"googleExternalAccount.serviceAccountImpersonationURL", parityProvider{googleImpersonationURL: u}},
			} {
				t.Run(fmt.Sprintf("%s %s insecure=%v", tc.field, u, insecure), func(t *testing.T) {
					i++
					tc.p.baseURL = "https://llm.example.com/v1"
					tc.p.insecure = insecure
					sidecar := tc.p.sidecarVerdict()
					server := tc.p.apiServerVerdict(t, fmt.Sprintf("tokenurl-%03d", i))
					if (sidecar == nil) != (server == nil) {
						t.Errorf("the sidecar says %v, the API server says %v", sidecar, server)
					}
				})
			}
		}
	}
}
