//go:build e2e

package e2e

import (
	"fmt"
	"strings"
)

// Namespaces of the suite.
const (
	releaseNS = "llmroute-system" // the Helm release
	mocksNS   = "llm-mocks"       // the fake providers
	appNS     = "agents"          // the app, with the restricted Pod Security level
	release   = "llmroute"
	route     = "chat" // config/samples' LLMRoute
	appPod    = "agent"
)

// The sample Secrets' keys (config/samples/secrets.yaml), which the mocks
// require, and the key the rotation step moves OpenAI to.
const (
	openAIKey        = "sk-demo-openai"
	anthropicKey     = "sk-demo-anthropic"
	openAIRotatedKey = "sk-rotated-openai"
)

// mockPort is where every mock provider listens in its pod.
const mockPort = 8080

// mocksManifest runs hack/mockllm as three providers, each a Deployment and a
// Service in mocksNS, addressed by the route as <name>.llm-mocks.svc: OpenAI
// and Anthropic wanting the sample Secrets' keys, and an Ollama without one.
func mocksManifest(image string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n", mocksNS)
	for _, m := range []struct{ name, key string }{
		{"openai", openAIKey}, {"claude", anthropicKey}, {"ollama", ""},
	} {
		args := fmt.Sprintf(`["--listen", ":%d", "--name", %q, "--quiet"`, mockPort, m.name)
		if m.key != "" {
			args += fmt.Sprintf(`, "--api-key", %q`, m.key)
		}
		args += "]"
		fmt.Fprintf(&b, `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s, namespace: %[2]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers:
      - name: mockllm
        image: %[3]s
        imagePullPolicy: Never
        args: %[4]s
        ports: [{containerPort: %[5]d}]
        readinessProbe:
          httpGet: {path: /mock/stats, port: %[5]d}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: %[1]s, namespace: %[2]s}
spec:
  selector: {app: %[1]s}
  ports: [{port: %[5]d, targetPort: %[5]d}]
`, m.name, mocksNS, image, args, mockPort)
	}
	return b.String()
}

// appNamespaceManifest is the app's namespace, with the restricted Pod
// Security level enforced: the injected sidecar must pass it.
const appNamespaceManifest = `apiVersion: v1
kind: Namespace
metadata:
  name: ` + appNS + `
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
`

// podManifest is a pod of the app as a user writes it for the restricted
// level: labelled with routeName, with the extra annotations and env given.
func podManifest(name, image, routeName string, annotations map[string]string, env map[string]string) string {
	var ann, envs strings.Builder
	for k, v := range annotations {
		fmt.Fprintf(&ann, "    %s: %q\n", k, v)
	}
	for k, v := range env {
		fmt.Fprintf(&envs, "    - {name: %s, value: %q}\n", k, v)
	}
	annBlock := ""
	if ann.Len() > 0 {
		annBlock = "  annotations:\n" + ann.String()
	}
	envBlock := ""
	if envs.Len() > 0 {
		envBlock = "    env:\n" + envs.String()
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: %s
  labels:
    llm.osmen.ai/route: %s
%sspec:
  securityContext:
    runAsNonRoot: true
    seccompProfile: {type: RuntimeDefault}
  terminationGracePeriodSeconds: 5
  containers:
  - name: app
    image: %s
    imagePullPolicy: Never
%s    ports: [{containerPort: 8080}]
    readinessProbe:
      httpGet: {path: /healthz, port: 8080}
      periodSeconds: 1
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities: {drop: [ALL]}
`, name, appNS, routeName, annBlock, image, envBlock)
}
