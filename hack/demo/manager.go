package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/osmen-ai/llmroute/hack/process"
)

// startManager runs the manager until it is ready. Its health probe binds
// port 0, and the manager's log says which port it got. Its webhook port
// cannot be chosen so: the webhook configurations in the API server name it
// before the manager starts (envtest picked it by listening and closing).
// When another process took that port in between, the webhooks are pointed
// at a fresh one and the manager is started again.
func (d *demo) startManager(ctx context.Context, kubeconfig string) (*process.Process, error) {
	for try := 1; ; try++ {
		mgr, err := d.startManagerOnce(ctx, kubeconfig)
		if err == nil || !process.AddrInUse(err) || try == 3 {
			return mgr, err
		}
		addr, err := process.FreeAddr()
		if err != nil {
			return nil, err
		}
		_, port, _ := net.SplitHostPort(addr)
		if err := d.moveWebhooks(ctx, port); err != nil {
			return nil, err
		}
	}
}

// healthProbeServing is the manager's (controller-runtime's) log line for
// its health probe server, which names the address it bound.
var healthProbeServing = process.Announcement{
	What: `the manager's "starting server" log line of its health probe`,
	Parse: func(line string) ([]string, bool) {
		f, ok := process.LogFields(line)
		if !ok || f["msg"] != "starting server" || f["name"] != "health probe" || f["addr"] == "" {
			return nil, false
		}
		return []string{f["addr"]}, true
	},
}

func (d *demo) startManagerOnce(ctx context.Context, kubeconfig string) (*process.Process, error) {
	wh := d.env.WebhookInstallOptions
	mgr, err := process.Start(ctx, process.Options{
		Name: "manager",
		Args: []string{d.o.manager,
			"--kubeconfig", kubeconfig,
			"--webhook-cert-path", wh.LocalServingCertDir,
			"--webhook-port", strconv.Itoa(wh.LocalServingPort),
			"--health-probe-bind-address", "127.0.0.1:0",
			"--metrics-bind-address", "0",
			"--sidecar-image", "ghcr.io/osmen-ai/llmroute:demo"},
		Echo:         d.echo(),
		EchoPrefix:   "      [manager] ",
		Ready:        healthProbeServing,
		ReadyTimeout: 30 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	if err := mgr.WaitHTTP(ctx, "http://"+mgr.Addrs[0]+"/readyz", 30*time.Second); err != nil {
		mgr.Stop()
		return nil, err
	}
	return mgr, nil
}

// moveWebhooks points the webhook configurations envtest installed at
// another local port.
func (d *demo) moveWebhooks(ctx context.Context, port string) error {
	wh := &d.env.WebhookInstallOptions
	type config struct{ kind, name string }
	var configs []config
	for _, w := range wh.MutatingWebhooks {
		configs = append(configs, config{"MutatingWebhookConfiguration", w.Name})
	}
	for _, w := range wh.ValidatingWebhooks {
		configs = append(configs, config{"ValidatingWebhookConfiguration", w.Name})
	}
	for _, c := range configs {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(admissionv1.SchemeGroupVersion.WithKind(c.kind))
		if err := d.k8s.Get(ctx, client.ObjectKey{Name: c.name}, u); err != nil {
			return fmt.Errorf("read %s %s: %w", c.kind, c.name, err)
		}
		hooks, _, _ := unstructured.NestedSlice(u.Object, "webhooks")
		for _, h := range hooks {
			raw, ok, _ := unstructured.NestedString(h.(map[string]any), "clientConfig", "url")
			if !ok {
				continue
			}
			to, err := url.Parse(raw)
			if err != nil {
				return err
			}
			to.Host = net.JoinHostPort(to.Hostname(), port)
			if err := unstructured.SetNestedField(h.(map[string]any), to.String(), "clientConfig", "url"); err != nil {
				return err
			}
		}
		if err := unstructured.SetNestedSlice(u.Object, hooks, "webhooks"); err != nil {
			return err
		}
		if err := d.k8s.Update(ctx, u); err != nil {
			return fmt.Errorf("move %s %s to port %s: %w", c.kind, c.name, port, err)
		}
	}
	var err error
	wh.LocalServingPort, err = strconv.Atoi(port)
	return err
}
