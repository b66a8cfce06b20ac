{{/* The chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "llmroute.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every resource name: the release name, followed by the chart
name unless the release name already contains it. Truncated so that the
longest suffix added to it ("-leader-election") still fits in 63 characters.
*/}}
{{- define "llmroute.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 47 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 47 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 47 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The chart label: name and version. */}}
{{- define "llmroute.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels every resource carries. */}}
{{- define "llmroute.labels" -}}
helm.sh/chart: {{ include "llmroute.chart" . }}
app.kubernetes.io/name: {{ include "llmroute.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ include "llmroute.tag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: llmroute
{{- end }}

{{/* Labels that select the manager's pods. */}}
{{- define "llmroute.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llmroute.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller-manager
{{- end }}

{{/* The manager's ServiceAccount. */}}
{{- define "llmroute.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "llmroute.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The manager image's tag: image.tag, or the chart's appVersion. */}}
{{- define "llmroute.tag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* The manager image. */}}
{{- define "llmroute.image" -}}
{{- printf "%s:%s" .Values.image.repository (include "llmroute.tag" .) }}
{{- end }}

{{/* The injected sidecar's image: the manager's image unless overridden. */}}
{{- define "llmroute.sidecarImage" -}}
{{- $repo := .Values.sidecar.image.repository | default .Values.image.repository }}
{{- $tag := .Values.sidecar.image.tag | default (include "llmroute.tag" .) }}
{{- printf "%s:%s" $repo $tag }}
{{- end }}

{{/* The leader-election Lease: the manager's LeaderElectionID (main.go). */}}
{{- define "llmroute.leaseName" -}}
llmroute.llm.osmen.ai
{{- end }}

{{/* Whether the manager runs with --leader-elect. */}}
{{- define "llmroute.leaderElect" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicaCount) 1) }}true{{ end }}
{{- end }}

{{/* The webhook's Service, whose DNS names the serving certificate holds. */}}
{{- define "llmroute.webhookServiceName" -}}
{{- printf "%s-webhook" (include "llmroute.fullname" .) }}
{{- end }}

{{/*
The Secret holding the webhook's serving certificate. The name differs with
cert-manager, so that switching between the two never makes Helm adopt a
Secret cert-manager wrote, or the other way round.
*/}}
{{- define "llmroute.webhookSecretName" -}}
{{- if .Values.certManager.enabled }}
{{- printf "%s-webhook-cert" (include "llmroute.fullname" .) }}
{{- else }}
{{- printf "%s-webhook-tls" (include "llmroute.fullname" .) }}
{{- end }}
{{- end }}

{{/* The cert-manager Certificate for the webhook. */}}
{{- define "llmroute.certificateName" -}}
{{- printf "%s-webhook" (include "llmroute.fullname" .) }}
{{- end }}

{{/* The webhook Service's DNS names, as a list. */}}
{{- define "llmroute.webhookDNSNames" -}}
{{- $svc := include "llmroute.webhookServiceName" . }}
{{- list (printf "%s.%s.svc" $svc .Release.Namespace) (printf "%s.%s.svc.cluster.local" $svc .Release.Namespace) | toJson }}
{{- end }}

{{/* A resource quantity value as a string; empty stays empty. */}}
{{- define "llmroute.quantity" -}}
{{- if kindIs "invalid" . }}{{ else }}{{ toString . }}{{ end }}
{{- end }}

{{/*
The operator's rules, the same as config/rbac/role.yaml's (generated from the
+kubebuilder:rbac markers; hack/charttest checks that they match).
*/}}
{{- define "llmroute.managerRules" }}
- apiGroups:
  - ""
  resources:
  - configmaps
  - secrets
  verbs:
  - create
  - get
  - list
  - patch
  - update
  - watch
# The pods that carry llm.osmen.ai/route, to ask their sidecars which
# credentials they can use (the route's CredentialsHealthy condition). The
# cache keeps their name, phase, IP and the sidecar's state only.
- apiGroups:
  - ""
  resources:
  - pods
  verbs:
  - list
  - watch
# The LLMRoute webhook asks whether a route's author may read the Secrets
# it references, create ServiceAccount tokens, or exec into pods.
- apiGroups:
  - authorization.k8s.io
  resources:
  - localsubjectaccessreviews
  verbs:
  - create
- apiGroups:
  - events.k8s.io
  resources:
  - events
  verbs:
  - create
  - patch
- apiGroups:
  - llm.osmen.ai
  resources:
  - llmroutes
  verbs:
  - get
  - list
  - watch
- apiGroups:
  - llm.osmen.ai
  resources:
  - llmroutes/finalizers
  verbs:
  - update
- apiGroups:
  - llm.osmen.ai
  resources:
  - llmroutes/status
  verbs:
  - get
  - patch
  - update
{{- end }}
