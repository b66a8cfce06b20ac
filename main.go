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

// Command manager is the llmroute operator: it renders LLMRoutes into the
// llmroute-sidecar's configuration and injects the sidecar into the pods that
// ask for it with the llm.osmen.ai/route label.
package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	llmv1alpha1 "github.com/osmen-ai/llmroute/api/v1alpha1"
	"github.com/osmen-ai/llmroute/controllers"
)

// version is set at build time (-ldflags "-X main.version=..."); it is also
// the tag of the default sidecar image, so operator and sidecar match.
var version = "dev"

var (
	scheme   = runtime.NewScheme()
	setupLog = ctrl.Log.WithName("setup")
)

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(llmv1alpha1.AddToScheme(scheme))
}

// options are the manager's command-line flags.
type options struct {
	metricsAddr          string
	probeAddr            string
	enableLeaderElection bool
	webhookCertPath      string
	webhookCertName      string
	webhookCertKey       string
	webhookPort          int
	enableHTTP2          bool
	watchNamespaces      string
	credentialsInterval  time.Duration

	sidecarImage         string
	sidecarPullPolicy    string
	sidecarCPURequest    string
	sidecarMemoryRequest string
	sidecarCPULimit      string
	sidecarMemoryLimit   string
	sidecarLogFormat     string
	sidecarLogLevel      string
}

func (o *options) bind(fs *flag.FlagSet) {
	// Metrics are plain HTTP: authenticating scrapers through the API server
	// would need cluster-wide rights to create TokenReviews and
	// SubjectAccessReviews, which the operator otherwise does without.
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", "0",
		"The address the Prometheus metrics endpoint binds to, e.g. :8080. 0 disables it.")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "The address the probe endpoint binds to.")
	fs.BoolVar(&o.enableLeaderElection, "leader-elect", false,
		"Enable leader election, so that only one of several replicas reconciles. Every replica serves the webhook.")
	fs.StringVar(&o.webhookCertPath, "webhook-cert-path", "",
		"The directory that contains the webhook certificate; empty means <temp dir>/k8s-webhook-server/serving-certs.")
	fs.StringVar(&o.webhookCertName, "webhook-cert-name", "tls.crt", "The name of the webhook certificate file.")
	fs.StringVar(&o.webhookCertKey, "webhook-cert-key", "tls.key", "The name of the webhook key file.")
	fs.IntVar(&o.webhookPort, "webhook-port", webhook.DefaultPort, "The port the webhook server listens on.")
	fs.BoolVar(&o.enableHTTP2, "enable-http2", false,
		"Serve the webhook over HTTP/2 too. Off by default: HTTP/2 Stream Cancellation and Rapid Reset CVEs.")
	fs.StringVar(&o.watchNamespaces, "watch-namespaces", "",
		"Comma-separated namespaces the operator caches, reconciles, injects and validates in; it then needs rights "+
			"only there (a Role per namespace). Empty means every namespace (cluster-wide rights).")

	fs.DurationVar(&o.credentialsInterval, "credentials-check-interval", controllers.DefaultCredentialsCheckInterval,
		"How often the operator asks the sidecars of a route's running pods (up to 10, on their admin port) which "+
			"credentials they can use, for the route's CredentialsHealthy condition. 0 turns the checks off: "+
			"the operator then neither caches pods nor connects to them.")

	fs.StringVar(&o.sidecarImage, "sidecar-image", "ghcr.io/osmen-ai/llmroute:"+version,
		"The image of the injected sidecar: this operator's image, which also holds "+controllers.SidecarCommand+".")
	fs.StringVar(&o.sidecarPullPolicy, "sidecar-image-pull-policy", string(corev1.PullIfNotPresent),
		"The sidecar's image pull policy: Always, IfNotPresent or Never.")
	fs.StringVar(&o.sidecarCPURequest, "sidecar-cpu-request", "50m", "The sidecar's CPU request; empty sets none.")
	fs.StringVar(&o.sidecarMemoryRequest, "sidecar-memory-request", "32Mi", "The sidecar's memory request; empty sets none.")
	fs.StringVar(&o.sidecarCPULimit, "sidecar-cpu-limit", "",
		"The sidecar's CPU limit; empty (the default) sets none, so that throttling never adds latency to LLM calls.")
	fs.StringVar(&o.sidecarMemoryLimit, "sidecar-memory-limit", "128Mi", "The sidecar's memory limit; empty sets none.")
	fs.StringVar(&o.sidecarLogFormat, "sidecar-log-format", "json", "The sidecar's log format: json or text.")
	fs.StringVar(&o.sidecarLogLevel, "sidecar-log-level", "info", "The sidecar's log level: debug, info or error.")
}

// operatorOptions checks the flags that shape the operator and turns them
// into its options; every problem is reported at once.
func (o *options) operatorOptions() (controllers.Options, error) {
	sidecar, err := o.sidecarSettings()
	opts := controllers.Options{
		Sidecar:                  sidecar,
		CredentialsCheckInterval: o.credentialsInterval,
		DisableCredentialsCheck:  o.credentialsInterval == 0,
	}
	for ns := range strings.SplitSeq(o.watchNamespaces, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			opts.WatchNamespaces = append(opts.WatchNamespaces, ns)
		}
	}
	return opts, errors.Join(err, opts.Validate())
}

// sidecarSettings reads the sidecar flags into the injector's settings; a
// flag that is not a quantity is reported naming the flag. Options.Validate
// checks the rest.
func (o *options) sidecarSettings() (controllers.SidecarSettings, error) {
	s := controllers.SidecarSettings{
		Image:           o.sidecarImage,
		ImagePullPolicy: corev1.PullPolicy(o.sidecarPullPolicy),
		LogFormat:       o.sidecarLogFormat,
		LogLevel:        o.sidecarLogLevel,
	}
	var errs []error
	for _, q := range []struct {
		flag  string
		value string
		list  *corev1.ResourceList
		name  corev1.ResourceName
	}{
		{"--sidecar-cpu-request", o.sidecarCPURequest, &s.Resources.Requests, corev1.ResourceCPU},
		{"--sidecar-memory-request", o.sidecarMemoryRequest, &s.Resources.Requests, corev1.ResourceMemory},
		{"--sidecar-cpu-limit", o.sidecarCPULimit, &s.Resources.Limits, corev1.ResourceCPU},
		{"--sidecar-memory-limit", o.sidecarMemoryLimit, &s.Resources.Limits, corev1.ResourceMemory},
	} {
		if q.value == "" {
			continue
		}
		v, err := resource.ParseQuantity(q.value)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q is not a Kubernetes quantity (such as 100m, 0.5, 64Mi): %w", q.flag, q.value, err))
			continue
		}
		if v.Sign() <= 0 {
			errs = append(errs, fmt.Errorf("%s %q must be positive, or empty for none", q.flag, q.value))
			continue
		}
		if *q.list == nil {
			*q.list = corev1.ResourceList{}
		}
		(*q.list)[q.name] = v
	}
	return s, errors.Join(errs...)
}

func main() {
	var o options
	o.bind(flag.CommandLine)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))

	opts, err := o.operatorOptions()
	if err != nil {
		fmt.Fprintf(os.Stderr, "invalid flags:\n%v\n", err)
		os.Exit(2)
	}

	var tlsOpts []func(*tls.Config)
	if !o.enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}

	webhookOpts := webhook.Options{TLSOpts: tlsOpts, Port: o.webhookPort}
	if o.webhookCertPath != "" {
		// The webhook server watches these files: a renewed certificate is
		// served without a restart.
		webhookOpts.CertDir = o.webhookCertPath
		webhookOpts.CertName = o.webhookCertName
		webhookOpts.KeyName = o.webhookCertKey
	}

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), opts.ManagerOptions(ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: o.metricsAddr},
		WebhookServer:                 webhook.NewServer(webhookOpts),
		HealthProbeBindAddress:        o.probeAddr,
		LeaderElection:                o.enableLeaderElection,
		LeaderElectionID:              "llmroute.llm.osmen.ai",
		LeaderElectionReleaseOnCancel: true, // main exits as soon as the manager stops
	}))
	if err != nil {
		setupLog.Error(err, "Unable to create manager")
		os.Exit(1)
	}

	ctx := ctrl.SetupSignalHandler()
	if err := controllers.Setup(ctx, mgr, opts); err != nil {
		setupLog.Error(err, "Unable to set up the operator")
		os.Exit(1)
	}

	setupLog.Info("Starting manager", "version", version, "sidecarImage", opts.Sidecar.Image,
		"watchNamespaces", opts.WatchNamespaces)
	if err := mgr.Start(ctx); err != nil {
		setupLog.Error(err, "Problem running manager")
		os.Exit(1)
	}
}
