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

// The names below are the contract between the operator, the pods it injects
// and their users: users write the label and the annotation, the sidecar is
// started with the paths and ports, and the rendered objects carry the names.
const (
	// RouteLabel opts a pod in: its value names the LLMRoute, in the pod's
	// namespace, whose sidecar configuration the pod gets.
	RouteLabel = "llm.osmen.ai/route"

	// InjectEnvAnnotation set to "false" on a pod keeps the injector from
	// setting OPENAI_BASE_URL and ANTHROPIC_BASE_URL on its containers.
	InjectEnvAnnotation = "llm.osmen.ai/inject-env"

	// SidecarContainerName is the name of the injected native sidecar; a pod
	// that already has a container with this name is left alone.
	SidecarContainerName = "llmroute-sidecar"

	// SidecarCommand is the sidecar binary in the operator's image.
	SidecarCommand = "/llmroute-sidecar"

	// ConfigDir is where the rendered ConfigMap is mounted in the sidecar.
	ConfigDir = "/etc/llmroute/config"
	// ConfigKey is the ConfigMap key, and so the file name, of the sidecar configuration.
	ConfigKey = "config.json"
	// ConfigFile is the path the sidecar reads its configuration from.
	ConfigFile = ConfigDir + "/" + ConfigKey
	// KeysDir is where the rendered keys Secret is mounted in the sidecar: one
	// file per provider name.
	KeysDir = "/etc/llmroute/keys"

	// ConfigVolumeName and KeysVolumeName name the pod volumes of the two
	// mounts; when a pod already uses a name for something else, a suffix is added.
	ConfigVolumeName = "llmroute-config"
	KeysVolumeName   = "llmroute-keys"

	// AdminPort serves /healthz, /readyz and /metrics, never proxying.
	AdminPort = 9089
	// AdminPortName names the admin port in the sidecar's container spec; the
	// probes refer to it by this name.
	AdminPortName = "llmroute-admin"

	// OpenAIBaseURLEnv and AnthropicBaseURLEnv are the variables the OpenAI
	// and Anthropic SDKs read their base URL from.
	OpenAIBaseURLEnv    = "OPENAI_BASE_URL"
	AnthropicBaseURLEnv = "ANTHROPIC_BASE_URL"

	// SidecarUser is the uid the image runs as (distroless "nonroot"); the
	// injector names it only for a pod that asks for root (see
	// sidecarSecurityContext).
	SidecarUser = 65532

	// KeyFileMode is the mode of the key files in the sidecar: readable by
	// their owner (root) and group (the pod's fsGroup, or root), no one else.
	KeyFileMode = 0o440

	// ManagedByLabel marks the objects the operator renders.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of ManagedByLabel on rendered objects.
	ManagedByValue = "llmroute"
)

// ProxyListen is the sidecar's --listen address: loopback only, so that no
// other pod can spend this pod's credentials. The base URLs point the SDKs at
// it; the OpenAI SDKs want the /v1 prefix in theirs, the Anthropic SDKs add it
// themselves.
const (
	ProxyListen      = "127.0.0.1:8089"
	OpenAIBaseURL    = "http://" + ProxyListen + "/v1"
	AnthropicBaseURL = "http://" + ProxyListen
)

// ConfigMapName is the name of the ConfigMap rendered for an LLMRoute.
func ConfigMapName(route string) string { return "llmroute-" + route }

// KeysSecretName is the name of the keys Secret rendered for an LLMRoute.
func KeysSecretName(route string) string { return "llmroute-" + route + "-keys" }

// KeyFile is the path of a provider's API key file inside the sidecar.
func KeyFile(provider string) string { return KeysDir + "/" + provider }
