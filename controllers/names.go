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

import "github.com/osmen-ai/llmroute/sidecar/config"

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

	// ConfigKey is the ConfigMap key, and so the file name, of the sidecar
	// configuration, mounted at config.ConfigDir; the keys Secret is mounted
	// at config.KeysDir. The sidecar's side of the contract is sidecar/config.
	ConfigKey = config.ConfigKey

	// ConfigVolumeName and KeysVolumeName name the pod volumes of the two
	// mounts; when a pod already uses a name for something else, a suffix is added.
	ConfigVolumeName = "llmroute-config"
	KeysVolumeName   = "llmroute-keys"
	// TokensVolumeName names the projected volume of ServiceAccount tokens,
	// mounted at config.TokensDir, in pods whose route asks for any.
	TokensVolumeName = "llmroute-tokens"

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

	// KeyFileMode is the mode of the key and token files in the sidecar:
	// readable by their owner (root) and group (the pod's fsGroup, or root),
	// no one else.
	KeyFileMode = 0o440

	// ManagedByLabel marks the objects the operator renders.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of ManagedByLabel on rendered objects.
	ManagedByValue = "llmroute"
)

// The base URLs point the SDKs at the sidecar's proxy; the OpenAI SDKs want
// the /v1 prefix in theirs, the Anthropic SDKs add it themselves.
const (
	OpenAIBaseURL    = "http://" + config.DefaultListen + "/v1"
	AnthropicBaseURL = "http://" + config.DefaultListen
)

// ConfigMapName is the name of the ConfigMap rendered for an LLMRoute.
func ConfigMapName(route string) string { return "llmroute-" + route }

// KeysSecretName is the name of the keys Secret rendered for an LLMRoute.
func KeysSecretName(route string) string { return "llmroute-" + route + "-keys" }
