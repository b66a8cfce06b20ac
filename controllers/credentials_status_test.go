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

package controllers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
	"github.com/osmen-ai/llmroute/sidecar/config"
)

// sidecarMetrics is a sidecar's /metrics: the credential gauge among others.
func sidecarMetrics(series ...string) string {
	var b strings.Builder
	b.WriteString("# HELP llmroute_in_flight_requests Requests being served.\n# TYPE llmroute_in_flight_requests gauge\nllmroute_in_flight_requests 0\n")
	b.WriteString("# HELP " + config.CredentialStateMetric + " 0 usable, 1 cooling down, 2 refused, 3 unavailable.\n")
	b.WriteString("# TYPE " + config.CredentialStateMetric + " gauge\n")
	for _, s := range series {
		b.WriteString(config.CredentialStateMetric + s + "\n")
	}
	b.WriteString("# HELP go_goroutines Goroutines.\n# TYPE go_goroutines gauge\ngo_goroutines 12\n")
	return b.String()
}

func series(provider, key string, state int) string {
	return fmt.Sprintf(`{key=%q,provider=%q} %d`, key, provider, state)
}

func TestScrapeCredentialStates(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    credentialStates
		wantErr string
	}{
		{
			name: "the gauge among other families",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasPrefix(r.Header.Get("Accept"), "text/plain") {
					t.Errorf("Accept = %q, want the text format", r.Header.Get("Accept"))
				}
				fmt.Fprint(w, sidecarMetrics(series("openai", "team-keys/a", 0), series("openai", "team-keys/b", 2),
					series("azure", "oauth2", 3), `{key="x \"quoted\"",provider="p"} 1`))
			},
			want: credentialStates{
				"openai": {"team-keys/a": 0, "team-keys/b": 2},
				"azure":  {"oauth2": 3},
				"p":      {`x "quoted"`: 1},
			},
		},
		{
			name:    "no gauge: an older sidecar",
			handler: func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, sidecarMetrics()) },
			want:    credentialStates{},
		},
		{
			name: "series without a provider or key, or not a state, are dropped",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				fmt.Fprint(w, sidecarMetrics(`{key="k"} 2`, `{provider="p"} 2`, `{key="k",provider="p"} 1.5`))
			},
			want: credentialStates{},
		},
		{
			name:    "an error status",
			handler: func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", http.StatusForbidden) },
			wantErr: "answered 403",
		},
		{
			name:    "not the exposition format",
			handler: func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "<html>hello</html>\n") },
			wantErr: "parse",
		},
		{
			name: "too large",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				line := strings.Repeat("x", 1023) + "\n"
				for range maxMetricsBytes/len(line) + 2 {
					fmt.Fprint(w, "# "+line)
				}
			},
			wantErr: "more than",
		},
		{
			// Whatever answers on a pod's port is not trusted to send the
			// operator elsewhere.
			name: "a redirect",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://169.254.169.254/", http.StatusFound)
			},
			wantErr: "redirects are not followed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			got, err := scrapeCredentialStates(context.Background(), probeClient(NewProbeTransport()), srv.URL+"/metrics")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("states = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMetricsURL(t *testing.T) {
	for ip, want := range map[string]string{
		"10.0.0.7":    "http://10.0.0.7:9089/metrics",
		"fd00::7":     "http://[fd00::7]:9089/metrics",
		"192.168.1.1": fmt.Sprintf("http://192.168.1.1:%d/metrics", config.DefaultAdminPort),
	} {
		if got := metricsURL(ip); got != want {
			t.Errorf("metricsURL(%s) = %s, want %s", ip, got, want)
		}
	}
}

// credentialsRoute has a credential of every kind.
func credentialsRoute() *llmv1alpha1.LLMRoute {
	sso := clientSecret("sso", "sso-client", "secret")
	return newRoute("chat", keyed("static", "creds"), pooled("openai", "team-keys", "a", "b"), tokened("gateway"),
		assertion(), google(), tokenFiled("vault"), sso,
		llmv1alpha1.Provider{Name: "local", Type: llmv1alpha1.ProviderOllama})
}

func TestRouteCredentials(t *testing.T) {
	var got []string
	for _, c := range routeCredentials(credentialsRoute()) {
		got = append(got, c.provider+" "+c.key+": "+c.describe)
	}
	want := []string{
		`static apiKey: the key in Secret "creds" key "api-key"`,
		`openai team-keys/a: the key in Secret "team-keys" key "a"`,
		`openai team-keys/b: the key in Secret "team-keys" key "b"`,
		`gateway token: the ServiceAccount token for audience "gateway"`,
		`azure oauth2: the OAuth2 token of client "client", asserted with the ServiceAccount token for audience "api://AzureADTokenExchange"`,
		`vertex google: the Google token for "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/k8s/providers/c"`,
		`vault token: the token file "token" of volume "llm-token"`,
		`sso oauth2: the OAuth2 token of client "llm-router", client secret in Secret "sso-client" key "secret"`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("credentials =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSummarizeCredentials(t *testing.T) {
	creds := routeCredentials(credentialsRoute())
	usable := credentialStates{"openai": {"team-keys/a": 0, "team-keys/b": 0}, "static": {"apiKey": 0}}
	with := func(provider, key string, state config.CredentialState) credentialStates {
		s := credentialStates{}
		for p, keys := range usable {
			s[p] = map[string]config.CredentialState{}
			for k, v := range keys {
				s[p][k] = v
			}
		}
		if s[provider] == nil {
			s[provider] = map[string]config.CredentialState{}
		}
		s[provider][key] = state
		return s
	}
	ok := func(pod string, s credentialStates) podReport { return podReport{pod: pod, states: s} }
	failed := func(pod string) podReport {
		return podReport{pod: pod, err: errors.New("dial tcp 10.0.0.9:9089: i/o timeout")}
	}

	tests := []struct {
		name       string
		reports    []podReport
		running    int
		wantStatus metav1.ConditionStatus
		wantReason string
		wantMsg    []string
		notInMsg   []string
	}{
		{
			name:       "every credential usable",
			reports:    []podReport{ok("a", usable), ok("b", usable)},
			running:    2,
			wantStatus: metav1.ConditionTrue, wantReason: llmv1alpha1.ReasonCredentialsUsable,
			wantMsg: []string{"The sidecars of 2 of the 2 sampled pods can use every credential"},
		},
		{
			// A key cooling down after a 429 is the pool at work, not a
			// problem to report: the other keys serve meanwhile.
			name:       "a key cooling down is usable",
			reports:    []podReport{ok("a", with("openai", "team-keys/b", config.CredentialCoolingDown))},
			running:    25,
			wantStatus: metav1.ConditionTrue, wantReason: llmv1alpha1.ReasonCredentialsUsable,
			wantMsg: []string{"1 of the 1 sampled pods (of 25 running)"},
		},
		{
			name:       "a refused key, named by Secret and key, with how many pods report it",
			reports:    []podReport{ok("a", with("openai", "team-keys/b", config.CredentialRefused)), ok("b", usable), ok("c", with("openai", "team-keys/b", config.CredentialRefused))},
			running:    3,
			wantStatus: metav1.ConditionFalse, wantReason: llmv1alpha1.ReasonKeyRefused,
			wantMsg: []string{`provider "openai": the key in Secret "team-keys" key "b" was refused (401/403) and is set aside until its Secret changes in 2 of 3 pods`},
		},
		{
			name:       "a token that cannot be obtained",
			reports:    []podReport{ok("a", with("azure", "oauth2", config.CredentialUnavailable))},
			running:    1,
			wantStatus: metav1.ConditionFalse, wantReason: llmv1alpha1.ReasonTokenUnavailable,
			wantMsg: []string{`provider "azure": the OAuth2 token of client "client", asserted with the ServiceAccount token for audience "api://AzureADTokenExchange" could not be obtained in 1 of 1 pods`},
		},
		{
			name:       "a refused token: no Secret to change",
			reports:    []podReport{ok("a", with("gateway", "token", config.CredentialRefused))},
			running:    1,
			wantStatus: metav1.ConditionFalse, wantReason: llmv1alpha1.ReasonKeyRefused,
			wantMsg:  []string{`provider "gateway": the ServiceAccount token for audience "gateway" was refused (401/403) in 1 of 1 pods`},
			notInMsg: []string{"set aside"},
		},
		{
			name: "refused and unavailable: refused first, both named",
			reports: []podReport{ok("a", with("vertex", "google", config.CredentialUnavailable)),
				ok("b", with("static", "apiKey", config.CredentialRefused))},
			running:    2,
			wantStatus: metav1.ConditionFalse, wantReason: llmv1alpha1.ReasonKeyRefused,
			wantMsg: []string{`provider "static": the key in Secret "creds" key "api-key" was refused`,
				`; provider "vertex": the Google token for`},
		},
		{
			// A pod's endpoint is not trusted: only the route's own
			// credentials are reported, whatever label values it sends.
			name: "labels the route does not name are ignored",
			reports: []podReport{ok("a", with("openai", "sk-live-SECRETVALUE", config.CredentialRefused)),
				ok("b", with("evil", "team-keys/a", config.CredentialRefused))},
			running:    2,
			wantStatus: metav1.ConditionTrue, wantReason: llmv1alpha1.ReasonCredentialsUsable,
			notInMsg: []string{"SECRETVALUE", "evil"},
		},
		{
			name:       "some pods do not answer",
			reports:    []podReport{ok("a", with("openai", "team-keys/a", config.CredentialRefused)), failed("b")},
			running:    2,
			wantStatus: metav1.ConditionFalse, wantReason: llmv1alpha1.ReasonKeyRefused,
			wantMsg: []string{"in 1 of 1 pods; 1 of the 2 sampled pods did not answer"},
		},
		{
			name:       "no pod answers: a NetworkPolicy, say",
			reports:    []podReport{failed("a"), failed("b")},
			running:    2,
			wantStatus: metav1.ConditionUnknown, wantReason: llmv1alpha1.ReasonMetricsUnreachable,
			wantMsg: []string{"None of the 2 sampled pods answered on the sidecar's metrics port 9089", "NetworkPolicy", "pod a: dial tcp"},
		},
		{
			name:       "the sidecars report nothing: older than the operator",
			reports:    []podReport{ok("a", credentialStates{}), ok("b", credentialStates{"other": {"apiKey": 2}})},
			running:    2,
			wantStatus: metav1.ConditionUnknown, wantReason: llmv1alpha1.ReasonNotReported,
			wantMsg: []string{"The sidecars of 2 of the 2 sampled pods report no state", config.CredentialStateMetric},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := summarizeCredentials(creds, tt.reports, tt.running)
			if c.status != tt.wantStatus || c.reason != tt.wantReason {
				t.Errorf("condition = %s/%s (%s), want %s/%s", c.status, c.reason, c.message, tt.wantStatus, tt.wantReason)
			}
			for _, w := range tt.wantMsg {
				if !strings.Contains(c.message, w) {
					t.Errorf("message %q does not contain %q", c.message, w)
				}
			}
			for _, w := range tt.notInMsg {
				if strings.Contains(c.message, w) {
					t.Errorf("message %q contains %q", c.message, w)
				}
			}
		})
	}
}

// TestSummarizeCredentialsBoundsTheMessage: a route with many failing keys
// still gets a condition message of bounded size.
func TestSummarizeCredentialsBoundsTheMessage(t *testing.T) {
	var keys []string
	for i := range 16 {
		keys = append(keys, fmt.Sprintf("k%02d", i))
	}
	creds := routeCredentials(newRoute("chat", pooled("openai", "team-keys", keys...)))
	states := credentialStates{"openai": {}}
	for _, k := range keys {
		states["openai"]["team-keys/"+k] = config.CredentialRefused
	}
	c := summarizeCredentials(creds, []podReport{{pod: "a", states: states}}, 1)
	if got := strings.Count(c.message, "provider \"openai\""); got != maxFindings {
		t.Errorf("%d findings in the message, want %d", got, maxFindings)
	}
	if !strings.Contains(c.message, fmt.Sprintf("and %d more", len(keys)-maxFindings)) {
		t.Errorf("message %q does not say how many more", c.message)
	}
	if strings.Count(c.findings, ",")+1 != len(keys) {
		t.Errorf("findings %q do not hold every failing key", c.findings)
	}
}

// fakeSidecars answers scrapes by pod IP, as the pods' sidecars would, and
// counts them.
type fakeSidecars struct {
	mu      sync.Mutex
	metrics map[string]string // pod IP → /metrics body; missing: unreachable
	asked   map[string]int
}

func (f *fakeSidecars) set(ip, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.metrics[ip] = body
}

func (f *fakeSidecars) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	host, port, _ := net.SplitHostPort(req.URL.Host)
	f.asked[host]++
	body, ok := f.metrics[host]
	if !ok || port != "9089" || req.URL.Path != "/metrics" {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("i/o timeout")}
	}
	rec := httptest.NewRecorder()
	fmt.Fprint(rec, body)
	return rec.Result(), nil
}

func runningPod(name, route, ip string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS, Labels: map[string]string{RouteLabel: route}},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: ip,
			InitContainerStatuses: []corev1.ContainerStatus{{
				Name: SidecarContainerName, Started: new(true),
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
			}},
		},
	}
}

type credentialsFixture struct {
	*fixture
	sidecars *fakeSidecars
	r        *CredentialsReconciler
}

func newCredentialsFixture(t *testing.T, objs ...client.Object) *credentialsFixture {
	f := newFixture(t, nil, objs...)
	sidecars := &fakeSidecars{metrics: map[string]string{}, asked: map[string]int{}}
	return &credentialsFixture{fixture: f, sidecars: sidecars,
		r: &CredentialsReconciler{Client: f.client, Recorder: f.recorder, Transport: sidecars}}
}

func (f *credentialsFixture) reconcile(t *testing.T) (*llmv1alpha1.LLMRoute, ctrl.Result) {
	t.Helper()
	res, err := f.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: testNS, Name: "chat"}})
	if err != nil {
		t.Fatal(err)
	}
	route := &llmv1alpha1.LLMRoute{}
	f.get(t, route, "chat")
	return route, res
}

func TestCredentialsReconcile(t *testing.T) {
	route := newRoute("chat", pooled("openai", "team-keys", "a", "b"))
	route.Generation = 2
	f := newCredentialsFixture(t, route,
		runningPod("app-1", "chat", "10.0.0.1"), runningPod("app-2", "chat", "10.0.0.2"),
		runningPod("other-route", "other", "10.0.0.3"))
	healthy := sidecarMetrics(series("openai", "team-keys/a", 0), series("openai", "team-keys/b", 0))
	refused := sidecarMetrics(series("openai", "team-keys/a", 0), series("openai", "team-keys/b", 2))
	f.sidecars.set("10.0.0.1", healthy)
	f.sidecars.set("10.0.0.2", healthy)

	// Healthy: True, checked again about a minute later, no event.
	got, res := f.reconcile(t)
	assertCondition(t, got, llmv1alpha1.ConditionCredentialsHealthy, metav1.ConditionTrue, llmv1alpha1.ReasonCredentialsUsable, "2 of the 2 sampled pods")
	if res.RequeueAfter < 54*time.Second || res.RequeueAfter > 66*time.Second {
		t.Errorf("requeue after %s, want about a minute", res.RequeueAfter)
	}
	if f.sidecars.asked["10.0.0.3"] != 0 {
		t.Error("a pod of another route was asked")
	}
	wantEvents(t, f.fixture)

	// Steady: no status write.
	rv := got.ResourceVersion
	if got, _ = f.reconcile(t); got.ResourceVersion != rv {
		t.Error("a steady state wrote the status")
	}

	// A key refused in one pod: False, one warning naming the Secret key.
	f.sidecars.set("10.0.0.2", refused)
	got, _ = f.reconcile(t)
	assertCondition(t, got, llmv1alpha1.ConditionCredentialsHealthy, metav1.ConditionFalse, llmv1alpha1.ReasonKeyRefused,
		`provider "openai": the key in Secret "team-keys" key "b" was refused (401/403)`, "in 1 of 2 pods")
	wantEvents(t, f.fixture, `Warning KeyRefused provider "openai": the key in Secret "team-keys" key "b"`)

	// In both pods now: the count changes, not the finding: no new event.
	f.sidecars.set("10.0.0.1", refused)
	got, _ = f.reconcile(t)
	assertCondition(t, got, llmv1alpha1.ConditionCredentialsHealthy, metav1.ConditionFalse, llmv1alpha1.ReasonKeyRefused, "in 2 of 2 pods")
	wantEvents(t, f.fixture)

	// The Secret was rotated and the sidecars use the key again: recovered.
	f.sidecars.set("10.0.0.1", healthy)
	f.sidecars.set("10.0.0.2", healthy)
	got, _ = f.reconcile(t)
	assertCondition(t, got, llmv1alpha1.ConditionCredentialsHealthy, metav1.ConditionTrue, llmv1alpha1.ReasonCredentialsUsable)
	wantEvents(t, f.fixture, "Normal CredentialsRecovered")

	// A NetworkPolicy closes the admin port: Unknown, one warning.
	f.sidecars.set("10.0.0.1", "")
	delete(f.sidecars.metrics, "10.0.0.1")
	delete(f.sidecars.metrics, "10.0.0.2")
	got, res = f.reconcile(t)
	assertCondition(t, got, llmv1alpha1.ConditionCredentialsHealthy, metav1.ConditionUnknown, llmv1alpha1.ReasonMetricsUnreachable)
	if res.RequeueAfter == 0 {
		t.Error("unreachable pods are not checked again")
	}
	wantEvents(t, f.fixture, "Warning MetricsUnreachable")
	f.reconcile(t)
	wantEvents(t, f.fixture)
}

// TestCredentialsRestartRepeatsNoEvent: a new leader, or a restarted
// manager, announced nothing yet; a route whose status already says the key
// is refused must not get the warning again.
func TestCredentialsRestartRepeatsNoEvent(t *testing.T) {
	route := newRoute("chat", pooled("openai", "team-keys", "a", "b"))
	f := newCredentialsFixture(t, route, runningPod("app-1", "chat", "10.0.0.1"))
	f.sidecars.set("10.0.0.1", sidecarMetrics(series("openai", "team-keys/a", 0), series("openai", "team-keys/b", 2)))
	f.reconcile(t)
	wantEvents(t, f.fixture, "Warning KeyRefused")

	restarted := &CredentialsReconciler{Client: f.client, Recorder: f.recorder, Transport: f.sidecars}
	if _, err := restarted.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: testNS, Name: "chat"}}); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, f.fixture)
}

func TestCredentialsReconcileWhichPods(t *testing.T) {
	notStarted := runningPod("not-started", "chat", "10.0.1.2")
	notStarted.Status.InitContainerStatuses[0].Started = new(false)
	pending := runningPod("pending", "chat", "10.0.1.3")
	pending.Status.Phase = corev1.PodPending
	noIP := runningPod("no-ip", "chat", "")
	noSidecar := runningPod("no-sidecar", "chat", "10.0.1.4")
	noSidecar.Status.InitContainerStatuses = nil
	elsewhere := runningPod("elsewhere", "chat", "10.0.1.5")
	elsewhere.Namespace = "elsewhere"
	objs := []client.Object{newRoute("chat", keyed("openai", "creds")), notStarted, pending, noIP, noSidecar, elsewhere}
	for i := range 12 {
		objs = append(objs, runningPod(fmt.Sprintf("app-%02d", i), "chat", fmt.Sprintf("10.0.0.%d", i)))
	}
	f := newCredentialsFixture(t, objs...)
	for i := range 12 {
		f.sidecars.set(fmt.Sprintf("10.0.0.%d", i), sidecarMetrics(series("openai", "apiKey", 0)))
	}

	got, _ := f.reconcile(t)
	assertCondition(t, got, llmv1alpha1.ConditionCredentialsHealthy, metav1.ConditionTrue, llmv1alpha1.ReasonCredentialsUsable,
		"10 of the 10 sampled pods (of 12 running)")
	var asked []string
	for ip := range f.sidecars.asked {
		asked = append(asked, ip)
	}
	if len(asked) != DefaultCredentialsSampleSize {
		t.Errorf("asked %d pods (%v), want %d", len(asked), asked, DefaultCredentialsSampleSize)
	}
	for _, ip := range []string{"10.0.1.2", "10.0.1.3", "10.0.1.4", "10.0.1.5", "10.0.0.10", "10.0.0.11"} {
		if f.sidecars.asked[ip] > 0 {
			t.Errorf("pod %s was asked", ip)
		}
	}
}

func TestCredentialsReconcileNothingToAsk(t *testing.T) {
	t.Run("no running pod", func(t *testing.T) {
		pending := runningPod("app", "chat", "10.0.0.1")
		pending.Status.Phase = corev1.PodPending
		f := newCredentialsFixture(t, newRoute("chat", keyed("openai", "creds")), pending)
		got, res := f.reconcile(t)
		assertCondition(t, got, llmv1alpha1.ConditionCredentialsHealthy, metav1.ConditionUnknown, llmv1alpha1.ReasonNoPods,
			"llm.osmen.ai/route=chat")
		if res.RequeueAfter != 0 {
			t.Errorf("requeue after %s: a pod's start brings the route back", res.RequeueAfter)
		}
		wantEvents(t, f.fixture)
	})
	t.Run("no credential", func(t *testing.T) {
		f := newCredentialsFixture(t, newRoute("chat", llmv1alpha1.Provider{Name: "local", Type: llmv1alpha1.ProviderOllama}),
			runningPod("app", "chat", "10.0.0.1"))
		got, res := f.reconcile(t)
		assertCondition(t, got, llmv1alpha1.ConditionCredentialsHealthy, metav1.ConditionTrue, llmv1alpha1.ReasonNoCredentials)
		if len(f.sidecars.asked) > 0 || res.RequeueAfter != 0 {
			t.Errorf("a route without credentials was checked: asked %v, requeue %s", f.sidecars.asked, res.RequeueAfter)
		}
	})
	t.Run("route gone", func(t *testing.T) {
		f := newCredentialsFixture(t)
		res, err := f.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: testNS, Name: "chat"}})
		if err != nil || !res.IsZero() {
			t.Errorf("Reconcile of a deleted route = %v, %v", res, err)
		}
	})
}

func TestPodProbeChanged(t *testing.T) {
	pod := runningPod("app", "chat", "10.0.0.1")
	moved := pod.DeepCopy()
	moved.Status.PodIP = "10.0.0.2"
	stopped := pod.DeepCopy()
	stopped.Status.InitContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}
	relabelled := pod.DeepCopy()
	relabelled.Labels[RouteLabel] = "other"
	touched := pod.DeepCopy()
	touched.ResourceVersion = "99"
	for name, tc := range map[string]struct {
		now  *corev1.Pod
		want bool
	}{
		"moved": {moved, true}, "sidecar stopped": {stopped, true}, "relabelled": {relabelled, true}, "nothing that matters": {touched, false},
	} {
		if got := podProbeChanged.Update(updateEvent(pod, tc.now)); got != tc.want {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
}

func TestPodSummary(t *testing.T) {
	pod := runningPod("app", "chat", "10.0.0.1")
	pod.UID, pod.ResourceVersion = "u1", "7"
	pod.Labels["team"] = "a"
	pod.Annotations = map[string]string{"note": "x"}
	pod.Spec.Containers = []corev1.Container{{Name: "app", Env: []corev1.EnvVar{{Name: "DB_PASSWORD", Value: "hunter2"}}}}
	pod.Status.InitContainerStatuses = append(pod.Status.InitContainerStatuses, corev1.ContainerStatus{Name: "migrate"})
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Image: "app:1"}}
	out, err := podSummary(pod)
	if err != nil {
		t.Fatal(err)
	}
	want := runningPod("app", "chat", "10.0.0.1")
	want.UID, want.ResourceVersion = "u1", "7"
	if !reflect.DeepEqual(out, want) {
		t.Errorf("summary = %+v\nwant %+v", out, want)
	}
}

// TestManagerOptionsPods: pods are cached only when the credential checks
// run, only those that use a route, and summarized.
func TestManagerOptionsPods(t *testing.T) {
	pods := func(o Options) (cacheByObject, bool) {
		for obj, by := range o.ManagerOptions(ctrl.Options{}).Cache.ByObject {
			if _, ok := obj.(*corev1.Pod); ok {
				return cacheByObject{selector: by.Label.String(), transformed: by.Transform != nil}, true
			}
		}
		return cacheByObject{}, false
	}
	got, ok := pods(Options{})
	if !ok || got.selector != RouteLabel || !got.transformed {
		t.Errorf("pods cached as %+v (%v), want those with %s, summarized", got, ok, RouteLabel)
	}
	if _, ok := pods(Options{DisableCredentialsCheck: true}); ok {
		t.Error("pods cached with the credential checks off")
	}
}

type cacheByObject struct {
	selector    string
	transformed bool
}

func updateEvent(old, cur client.Object) event.UpdateEvent {
	return event.UpdateEvent{ObjectOld: old, ObjectNew: cur}
}

// TestEnvCredentialsHealthy runs the check in the suite's manager, with the
// generated RBAC: the route's pods are found through the pod cache, their
// sidecars asked (envSidecars stands in for them), and a refused key named in
// the route's status, then its recovery.
func TestEnvCredentialsHealthy(t *testing.T) {
	requireEnv(t)
	ns := newNamespace(t)
	ctx := testContext(t)
	keys := newSecret("team-keys", map[string]string{"a": "sk-a", "b": "sk-b"})
	keys.Namespace = ns
	if err := k8sClient.Create(ctx, keys); err != nil {
		t.Fatal(err)
	}
	route := newRoute("pool", pooled("openai", "team-keys", "a", "b"))
	route.ObjectMeta = metav1.ObjectMeta{Name: "pool", Namespace: ns}
	if err := k8sClient.Create(ctx, route); err != nil {
		t.Fatal(err)
	}
	waitReady(t, ns, "pool")
	credentials := func(status metav1.ConditionStatus, reason string, msg ...string) func() error {
		return func() error {
			r, err := getRoute(t, ns, "pool")
			if err != nil {
				return err
			}
			c := meta.FindStatusCondition(r.Status.Conditions, llmv1alpha1.ConditionCredentialsHealthy)
			if c == nil || c.Status != status || c.Reason != reason {
				return fmt.Errorf("CredentialsHealthy is %+v", c)
			}
			for _, m := range msg {
				if !strings.Contains(c.Message, m) {
					return fmt.Errorf("message %q lacks %q", c.Message, m)
				}
			}
			return nil
		}
	}
	eventually(t, "CredentialsHealthy=Unknown without pods", credentials(metav1.ConditionUnknown, llmv1alpha1.ReasonNoPods))

	// A pod the webhook injects, which the kubelet would then start.
	ip := fmt.Sprintf("10.%d.0.1", namespaceSeq.Load()%250)
	envSidecars.set(ip, sidecarMetrics(series("openai", "team-keys/a", 0), series("openai", "team-keys/b", 2)))
	pod := testPod(ns, "pool")
	if err := k8sClient.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	pod.Status = runningPod(pod.Name, "pool", ip).Status
	if err := k8sClient.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	eventually(t, "CredentialsHealthy=False naming the refused key",
		credentials(metav1.ConditionFalse, llmv1alpha1.ReasonKeyRefused, `the key in Secret "team-keys" key "b" was refused`, "in 1 of 1 pods"))
	eventually(t, "a KeyRefused event on the route", func() error {
		var list eventsv1.EventList
		if err := k8sClient.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Reason == llmv1alpha1.ReasonKeyRefused && e.Regarding.Name == "pool" && e.Type == corev1.EventTypeWarning {
				return nil
			}
		}
		return fmt.Errorf("%d events, none KeyRefused", len(list.Items))
	})

	// The key is rotated; the sidecar uses it again.
	envSidecars.set(ip, sidecarMetrics(series("openai", "team-keys/a", 0), series("openai", "team-keys/b", 0)))
	eventually(t, "CredentialsHealthy=True again", credentials(metav1.ConditionTrue, llmv1alpha1.ReasonCredentialsUsable))
}
