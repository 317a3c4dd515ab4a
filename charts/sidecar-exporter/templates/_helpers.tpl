{{/*
Helpers of the sidecar-exporter library chart. Every template takes either the root context of
the including chart, or (for the ones placed inside a pod or Service spec) a dict:
  (dict "context" $ "indent" 8)                  the lines, indented by 8, after a newline
  (dict "context" $ "indent" 6 "withKey" true)   the same under their key ("volumes:", ...)
They render nothing at all, not even a newline, when metricsSidecar.enabled is false: write them
as {{- include ... }} so that the chart renders byte-identical to the chart without them.
*/}}

{{/* "true" when the sidecar is enabled, "" otherwise. */}}
{{- define "sidecar-exporter.enabled" -}}
{{- if (.Values.metricsSidecar).enabled -}}true{{- end -}}
{{- end -}}

{{/*
The effective settings as YAML: .Values.metricsSidecar over the library defaults, key by key.
Unlike sprig's merge, an explicit false, 0 or "" in the values wins over the default.
*/}}
{{- define "sidecar-exporter.values" -}}
{{- $defaults := (include "sidecar-exporter.defaults" . | fromYaml).metricsSidecar -}}
{{- $user := .Values.metricsSidecar | default dict -}}
{{- include "sidecar-exporter.deepMerge" (dict "defaults" $defaults "user" $user) -}}
{{- end -}}

{{/* Recursive merge of .user over .defaults (maps merge, everything else is replaced). */}}
{{- define "sidecar-exporter.deepMerge" -}}
{{- $out := dict -}}
{{- range $key, $default := .defaults -}}
{{- if hasKey $.user $key -}}
{{- $value := index $.user $key -}}
{{- if and (kindIs "map" $default) (kindIs "map" $value) -}}
{{- $_ := set $out $key (include "sidecar-exporter.deepMerge" (dict "defaults" $default "user" $value) | fromYaml) -}}
{{- else -}}
{{- $_ := set $out $key $value -}}
{{- end -}}
{{- else -}}
{{- $_ := set $out $key $default -}}
{{- end -}}
{{- end -}}
{{- range $key, $value := .user -}}
{{- if not (hasKey $out $key) -}}
{{- $_ := set $out $key $value -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* Base name of the objects: "<release>-<chart>" as helm create does it, plus "-sidecar-exporter". */}}
{{- define "sidecar-exporter.fullname" -}}
{{- $v := include "sidecar-exporter.values" . | fromYaml -}}
{{- $base := "" -}}
{{- if $v.fullnameOverride -}}
{{- $base = $v.fullnameOverride -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- $base = .Release.Name -}}
{{- else -}}
{{- $base = printf "%s-%s" .Release.Name .Chart.Name -}}
{{- end -}}
{{- printf "%s-sidecar-exporter" ($base | trunc 45 | trimSuffix "-") -}}
{{- end -}}

{{/* Labels of the objects the library creates. */}}
{{- define "sidecar-exporter.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ .Chart.Name | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: metrics-sidecar
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector of the ServiceMonitor / PodMonitor: the including chart's standard labels. */}}
{{- define "sidecar-exporter.selectorLabels" -}}
{{- $v := include "sidecar-exporter.values" . | fromYaml -}}
{{- if $v.selectorLabels -}}
{{- toYaml $v.selectorLabels -}}
{{- else -}}
app.kubernetes.io/name: {{ .Chart.Name | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- end -}}

{{/* Name of the ConfigMap holding config.yaml. */}}
{{- define "sidecar-exporter.configMapName" -}}
{{- $v := include "sidecar-exporter.values" . | fromYaml -}}
{{- $v.existingConfigMap | default (printf "%s-config" (include "sidecar-exporter.fullname" .)) -}}
{{- end -}}

{{/* The config.yaml text. */}}
{{- define "sidecar-exporter.configText" -}}
{{- $v := include "sidecar-exporter.values" . | fromYaml -}}
{{- if $v.rawConfig -}}
{{- $v.rawConfig -}}
{{- else -}}
{{- $config := dict "collectors" (($v.config).collectors | default list) -}}
{{- range $key, $value := ($v.config | default dict) -}}
{{- if and $value (ne $key "collectors") -}}
{{- $_ := set $config $key $value -}}
{{- end -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}
{{- end -}}

{{/* sha256 of what the sidecar runs with, for the checksum annotation that rolls the pod. */}}
{{- define "sidecar-exporter.configChecksum" -}}
{{- $v := include "sidecar-exporter.values" . | fromYaml -}}
{{- if $v.existingConfigMap -}}
{{- printf "existing:%s" $v.existingConfigMap | sha256sum -}}
{{- else -}}
{{- include "sidecar-exporter.configText" . | sha256sum -}}
{{- end -}}
{{- end -}}

{{/* The collectors of config (or rawConfig) as a list, for the decisions below. */}}
{{- define "sidecar-exporter.collectors" -}}
{{- $v := include "sidecar-exporter.values" . | fromYaml -}}
{{- $config := $v.config | default dict -}}
{{- if $v.rawConfig -}}
{{- $config = $v.rawConfig | fromYaml -}}
{{- end -}}
{{- toYaml (dict "collectors" ($config.collectors | default list)) -}}
{{- end -}}

{{/* "true" when shareProcessNamespace is wanted (auto: a collector has kind or preset process). */}}
{{- define "sidecar-exporter.shareProcessNamespace" -}}
{{- $v := include "sidecar-exporter.values" . | fromYaml -}}
{{- $mode := toString $v.shareProcessNamespace -}}
{{- if eq $mode "true" -}}
true
{{- else if eq $mode "auto" -}}
{{- range (include "sidecar-exporter.collectors" . | fromYaml).collectors -}}
{{- if and (or (eq (toString .kind) "process") (eq (toString .preset) "process")) (ne (toString .enabled) "false") -}}
true
{{- break -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
"true" when a collector is configured: collectors (or include) in config or rawConfig, or an
existing ConfigMap (whose content the chart cannot see, so it counts as configured).
*/}}
{{- define "sidecar-exporter.hasCollectors" -}}
{{- $v := include "sidecar-exporter.values" . | fromYaml -}}
{{- $config := $v.config | default dict -}}
{{- if $v.rawConfig -}}
{{- $config = $v.rawConfig | fromYaml -}}
{{- end -}}
{{- if or $v.existingConfigMap $config.collectors $config.include -}}
true
{{- end -}}
{{- end -}}

{{/*
"true" when the sidecar runs with discovery (SIDECAR_EXPORTER_DISCOVER=true): discover true, or
auto and no collector configured; that is the one-line form, metricsSidecar.enabled alone.
A config with only global: (discover.exclude_ports, scrape_timeout) keeps auto on.
*/}}
{{- define "sidecar-exporter.discover" -}}
{{- $v := include "sidecar-exporter.values" . | fromYaml -}}
{{- $mode := toString $v.discover -}}
{{- if eq $mode "true" -}}
true
{{- else if and (eq $mode "auto") (not (include "sidecar-exporter.hasCollectors" .)) -}}
true
{{- end -}}
{{- end -}}

{{/*
"true" when the sidecar gets a config file (ConfigMap, volume, --config.file). Only a
discovering sidecar with nothing to configure goes without: without discovery an empty config
is still mounted, as the exporter's embedded default would otherwise watch every process.
*/}}
{{- define "sidecar-exporter.mountConfig" -}}
{{- $v := include "sidecar-exporter.values" . | fromYaml -}}
{{- $config := $v.config | default dict -}}
{{- if $v.rawConfig -}}
{{- $config = $v.rawConfig | fromYaml -}}
{{- end -}}
{{- $given := false -}}
{{- range $key, $value := $config -}}
{{- if $value -}}
{{- $given = true -}}
{{- end -}}
{{- end -}}
{{- if or $v.existingConfigMap $given (not (include "sidecar-exporter.discover" .)) -}}
true
{{- end -}}
{{- end -}}

{{/*
"true" when the sidecar is a native sidecar: an init container with restartPolicy: Always, which
starts before the app's containers, stops after them and does not keep a Job from completing.
auto: when the cluster is Kubernetes 1.29 or newer (SidecarContainers on by default). The "-0"
lets pre-release and vendor versions (v1.29.0-eks-…, v1.30.1-gke.1) count as their release.
*/}}
{{- define "sidecar-exporter.native" -}}
{{- $v := include "sidecar-exporter.values" . | fromYaml -}}
{{- $mode := toString $v.nativeSidecar -}}
{{- if eq $mode "true" -}}
true
{{- else if and (eq $mode "auto") (semverCompare ">=1.29.0-0" .Capabilities.KubeVersion.Version) -}}
true
{{- end -}}
{{- end -}}

{{/*
Places a block: .body (unindented lines) after a newline, indented by .indent, under .key when
.withKey is true. Renders nothing when .body is empty.
*/}}
{{- define "sidecar-exporter.place" -}}
{{- if .body -}}
{{- if .withKey }}
{{ printf "%s:" .key | indent (int .indent) }}
{{- .body | nindent (add (int .indent) 2 | int) }}
{{- else }}
{{- .body | nindent (int .indent) }}
{{- end -}}
{{- end -}}
{{- end -}}
