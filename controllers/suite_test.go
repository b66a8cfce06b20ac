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
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/yaml"
)

// k8sClient talks to the suite's API server directly (no cache), as an
// administrator; nil when the envtest tests skip. restConfig is its config.
var (
	k8sClient  client.Client
	restConfig *rest.Config
)

// suiteManager is the manager the suite runs the operator in.
var suiteManager ctrl.Manager

// envSidecar is what the suite's webhook injects.
var envSidecar = SidecarSettings{
	Image:           "ghcr.io/osmen-ai/llmroute:envtest",
	ImagePullPolicy: corev1.PullIfNotPresent,
	Resources: corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m")},
	},
	LogFormat: "json",
	LogLevel:  "info",
}

// envSidecars answers the suite manager's credential checks for the pods
// the tests mark as running (envtest has no kubelet), by pod IP.
var envSidecars = &fakeSidecars{metrics: map[string]string{}, asked: map[string]int{}}

// envCredentialsCheckInterval is short so that a test sees a change within
// moments.
const envCredentialsCheckInterval = 300 * time.Millisecond

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runSuite(m))
}

// managerUser is who the suite's manager runs as: a user with exactly the
// rights config/rbac/role.yaml grants, so that a right the operator needs
// and its RBAC markers lack fails the tests instead of a deployment.
const managerUser = "llmroute-manager"

// runSuite starts one API server for the package, with the CRD, the webhook
// configurations of config/webhook, and a manager running the operator as
// main.go wires it (ManagerOptions, Setup). Without the envtest binaries the
// envtest tests skip, except in CI, where a silently skipped suite would hide
// every regression it guards against.
func runSuite(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is unset in CI: run 'make envtest' and point it at bin/k8s")
			return 1
		}
		return m.Run()
	}

	if testing.Verbose() {
		logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true)))
	} else {
		logf.SetLogger(logr.Discard())
	}

	env := newEnvironment()
	env.WebhookInstallOptions = envtest.WebhookInstallOptions{
		Paths: []string{filepath.Join("..", "config", "webhook")},
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

	restConfig = cfg
	scheme, err := buildScheme()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build scheme: %v\n", err)
		return 1
	}
	if k8sClient, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintf(os.Stderr, "create client: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := grantGeneratedRole(ctx, k8sClient, managerUser, ""); err != nil {
		fmt.Fprintf(os.Stderr, "grant the manager its role: %v\n", err)
		return 1
	}

	wh := env.WebhookInstallOptions
	var done <-chan error
	suiteManager, done, err = startManager(ctx, impersonate(cfg, managerUser), scheme, ctrl.Options{
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: wh.LocalServingHost, Port: wh.LocalServingPort, CertDir: wh.LocalServingCertDir,
		}),
	}, Options{Sidecar: envSidecar, CredentialsCheckInterval: envCredentialsCheckInterval, ProbeTransport: envSidecars})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintf(os.Stderr, "manager: %v\n", err)
		}
	}()
	return m.Run()
}

// newEnvironment is an API server with the CRD installed that enforces, as
// production clusters do, that only who may set finalizers on an owner may
// set blockOwnerDeletion on a reference to it.
func newEnvironment() *envtest.Environment {
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	env.ControlPlane.GetAPIServer().Configure().Append("enable-admission-plugins", "OwnerReferencesPermissionEnforcement")
	return env
}

// startManager runs the operator with Setup on a manager built from base
// and ManagerOptions, and waits until its webhook server serves and its
// caches are synced. The returned channel yields the manager's error once
// ctx is cancelled.
func startManager(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme, base ctrl.Options, o Options) (ctrl.Manager, <-chan error, error) {
	base.Scheme = scheme
	base.Metrics = metricsserver.Options{BindAddress: "0"}
	base.HealthProbeBindAddress = "0"
	mgr, err := ctrl.NewManager(cfg, o.ManagerOptions(base))
	if err != nil {
		return nil, nil, fmt.Errorf("create manager: %w", err)
	}
	if err := Setup(ctx, mgr, o); err != nil {
		return nil, nil, fmt.Errorf("set up the operator: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()

	synced, cancelWait := context.WithTimeout(ctx, 30*time.Second)
	defer cancelWait()
	if !mgr.GetCache().WaitForCacheSync(synced) {
		return nil, nil, errors.New("the manager's caches did not sync")
	}
	started := mgr.GetWebhookServer().StartedChecker()
	for started(nil) != nil {
		if synced.Err() != nil {
			return nil, nil, errors.New("the webhook server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return mgr, done, nil
}

// impersonate is cfg acting as user, who is then subject to RBAC.
func impersonate(cfg *rest.Config, user string) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: user}
	return c
}

// grantGeneratedRole gives user the rules of config/rbac/role.yaml: as a
// ClusterRole bound cluster-wide when namespace is empty, as a Role and
// RoleBinding in namespace otherwise (what the chart's watchNamespaces does).
func grantGeneratedRole(ctx context.Context, c client.Client, user, namespace string) error {
	data, err := os.ReadFile(filepath.Join("..", "config", "rbac", "role.yaml"))
	if err != nil {
		return err
	}
	var generated rbacv1.ClusterRole
	if err := yaml.Unmarshal(data, &generated); err != nil {
		return fmt.Errorf("config/rbac/role.yaml: %w", err)
	}
	subjects := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
	name := user + "-generated"
	var objs []client.Object
	if namespace == "" {
		objs = []client.Object{
			&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: generated.Rules},
			&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, Subjects: subjects,
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}},
		}
	} else {
		objs = []client.Object{
			&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}, Rules: generated.Rules},
			&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}, Subjects: subjects,
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}},
		}
	}
	for _, obj := range objs {
		if err := c.Create(ctx, obj); err != nil {
			return fmt.Errorf("create %T %s: %w", obj, obj.GetName(), err)
		}
	}
	return nil
}

func requireEnv(t *testing.T) {
	t.Helper()
	if k8sClient == nil {
		t.Skip("KUBEBUILDER_ASSETS is unset: run 'make envtest' to build kube-apiserver and etcd into bin/k8s")
	}
}

var namespaceSeq atomic.Int32

// newNamespace creates a namespace of the test's own, so tests share no objects.
func newNamespace(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("t%d-%s", namespaceSeq.Add(1), strings.ToLower(strings.TrimPrefix(t.Name(), "TestEnv")))
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, name)
	name = strings.TrimRight(name[:min(len(name), 50)], "-")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := k8sClient.Create(testContext(t), ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	return name
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls check until it returns nil, and fails the test with its
// last error after timeout.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	const timeout, interval = 30 * time.Second, 100 * time.Millisecond
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s: %v", what, timeout, err)
		}
		time.Sleep(interval)
	}
}
