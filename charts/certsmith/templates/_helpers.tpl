{{/* Names: the release name when it contains the chart name, else <release>-<chart>. */}}
{{- define "certsmith.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "certsmith.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Where the chart's namespaced objects go. */}}
{{- define "certsmith.namespace" -}}
{{- default .Release.Namespace .Values.namespace -}}
{{- end -}}

{{- define "certsmith.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "certsmith.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "certsmith.selectorLabels" -}}
app.kubernetes.io/name: {{ include "certsmith.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{- define "certsmith.labels" -}}
{{ include "certsmith.selectorLabels" . }}
app.kubernetes.io/part-of: certsmith
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.global.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* An image reference from {registry, repository, tag, digest}; the second argument fills the gaps. */}}
{{- define "certsmith.imageRef" -}}
{{- $img := index . 0 -}}
{{- $fallback := index . 1 -}}
{{- $registry := default $fallback.registry $img.registry -}}
{{- $repository := default $fallback.repository $img.repository -}}
{{- $digest := default $fallback.digest $img.digest -}}
{{- $tag := default $fallback.tag $img.tag -}}
{{- if $registry }}{{ $registry }}/{{ end }}{{ $repository }}
{{- if $digest }}@{{ $digest }}{{ else }}:{{ $tag }}{{ end -}}
{{- end -}}

{{/* The controller's image fields with the default tag filled in. */}}
{{- define "certsmith.controllerImage" -}}
{{- $tag := default (printf "v%s" .Chart.AppVersion) .Values.image.tag -}}
{{- $base := dict "registry" (default "" .Values.image.registry) "repository" .Values.image.repository "tag" $tag "digest" (default "" .Values.image.digest) -}}
{{- include "certsmith.imageRef" (list $base $base) -}}
{{- end -}}

{{- define "certsmith.solverImage" -}}
{{- $tag := default (printf "v%s" .Chart.AppVersion) .Values.image.tag -}}
{{- $base := dict "registry" (default "" .Values.image.registry) "repository" .Values.image.repository "tag" $tag "digest" (default "" .Values.image.digest) -}}
{{- $solver := default dict .Values.acmesolver.image -}}
{{- /* A solver tag of its own drops the controller's digest; a solver digest wins over any tag. */ -}}
{{- if $solver.tag }}{{ $_ := set $base "digest" "" }}{{ end -}}
{{- include "certsmith.imageRef" (list $solver $base) -}}
{{- end -}}

{{/* global.logLevel as the controller's --log-level filter: cert-manager's verbosity numbers
     are mapped (0-2 info, 3-4 debug, 5+ trace); strings are passed as they are. */}}
{{- define "certsmith.logLevel" -}}
{{- $level := .Values.global.logLevel -}}
{{- if kindIs "string" $level -}}
{{- $level -}}
{{- else if le (int $level) 2 -}}
info
{{- else if le (int $level) 4 -}}
debug
{{- else -}}
trace
{{- end -}}
{{- end -}}

{{/* Where the controller acts: its own namespace only, or the whole cluster. */}}
{{- define "certsmith.clusterScoped" -}}
{{- if not .Values.watchNamespace }}true{{ end -}}
{{- end -}}
