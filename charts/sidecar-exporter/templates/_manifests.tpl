{{/*
The objects the sidecar needs beside the pod: its ConfigMap, the optional ServiceMonitor and
PodMonitor, the optional Grafana dashboard ConfigMaps. Put one line in a template file of the
including chart (e.g. templates/metrics-sidecar.yaml):
  {{ include "sidecar-exporter.manifests" . }}
Renders nothing when the sidecar is off (helm then emits no document for that file).
*/}}
{{- define "sidecar-exporter.manifests" -}}
{{- if include "sidecar-exporter.enabled" . -}}
{{- $v := include "sidecar-exporter.values" . | fromYaml -}}
{{- if and (not $v.existingConfigMap) (include "sidecar-exporter.mountConfig" .) }}
{{ include "sidecar-exporter.configMap" . }}
{{- end }}
{{- if $v.serviceMonitor.enabled }}
{{ include "sidecar-exporter.serviceMonitor" . }}
{{- end }}
{{- if $v.podMonitor.enabled }}
{{ include "sidecar-exporter.podMonitor" . }}
{{- end }}
{{- if $v.dashboards.enabled }}
{{ include "sidecar-exporter.dashboards" . }}
{{- end }}
{{- end -}}
{{- end -}}

{{/* The ConfigMap holding config.yaml. */}}
{{- define "sidecar-exporter.configMap" -}}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "sidecar-exporter.configMapName" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "sidecar-exporter.labels" . | nindent 4 }}
data:
  config.yaml: |
    {{- include "sidecar-exporter.configText" . | nindent 4 }}
{{- end -}}

{{/* The endpoint of a ServiceMonitor / PodMonitor; .monitor is its settings. */}}
{{- define "sidecar-exporter.monitorEndpoint" -}}
- port: {{ .values.portName }}
  path: {{ .values.telemetryPath }}
  {{- with .monitor.interval }}
  interval: {{ . }}
  {{- end }}
  {{- with .monitor.scrapeTimeout }}
  scrapeTimeout: {{ . }}
  {{- end }}
  {{- if .monitor.honorLabels }}
  honorLabels: true
  {{- end }}
  {{- with .monitor.relabelings }}
  relabelings:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .monitor.metricRelabelings }}
  metricRelabelings:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* prometheus-operator ServiceMonitor selecting the including chart's Service. */}}
{{- define "sidecar-exporter.serviceMonitor" -}}
{{- $v := include "sidecar-exporter.values" . | fromYaml -}}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "sidecar-exporter.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "sidecar-exporter.labels" . | nindent 4 }}
    {{- with $v.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "sidecar-exporter.selectorLabels" . | nindent 6 }}
  namespaceSelector:
    matchNames:
      - {{ .Release.Namespace }}
  endpoints:
    {{- include "sidecar-exporter.monitorEndpoint" (dict "values" $v "monitor" $v.serviceMonitor) | nindent 4 }}
{{- end -}}

{{/* prometheus-operator PodMonitor selecting the including chart's pods. */}}
{{- define "sidecar-exporter.podMonitor" -}}
{{- $v := include "sidecar-exporter.values" . | fromYaml -}}
---
apiVersion: monitoring.coreos.com/v1
kind: PodMonitor
metadata:
  name: {{ include "sidecar-exporter.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "sidecar-exporter.labels" . | nindent 4 }}
    {{- with $v.podMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "sidecar-exporter.selectorLabels" . | nindent 6 }}
  namespaceSelector:
    matchNames:
      - {{ .Release.Namespace }}
  podMetricsEndpoints:
    {{- include "sidecar-exporter.monitorEndpoint" (dict "values" $v "monitor" $v.podMonitor) | nindent 4 }}
{{- end -}}

{{/*
Which dashboards to ship: dashboards.names, or sidecar-exporter plus the family of each
configured collector.
*/}}
{{- define "sidecar-exporter.dashboardSelection" -}}
{{- $v := include "sidecar-exporter.values" . | fromYaml -}}
{{- $names := $v.dashboards.names | default list -}}
{{- if not $names -}}
{{- $families := dict "process" "process" "nginx" "nginx" "apache" "apache" "redis" "redis" "haproxy" "haproxy" "php_fpm" "php-fpm" "http_probe" "http-probe" "lighttpd" "lighttpd" "beanstalkd" "beanstalkd" "uwsgi" "uwsgi" "nats" "nats" "bind" "bind" "squid" "squid" "postgres" "postgres" "mysql" "mysql" -}}
{{- $names = list "sidecar-exporter" -}}
{{- range (include "sidecar-exporter.collectors" . | fromYaml).collectors -}}
{{- $family := get $families (toString (.preset | default .kind)) | default "generic-json" -}}
{{- $names = append $names $family -}}
{{- end -}}
{{- end -}}
{{- toYaml (dict "names" ($names | uniq)) -}}
{{- end -}}

{{/* One ConfigMap per dashboard, labelled for Grafana's dashboard sidecar. */}}
{{- define "sidecar-exporter.dashboards" -}}
{{- $v := include "sidecar-exporter.values" . | fromYaml -}}
{{- $known := splitList " " (include "sidecar-exporter.dashboardNames" .) -}}
{{- $root := . -}}
{{- range $index, $name := (include "sidecar-exporter.dashboardSelection" . | fromYaml).names -}}
{{- if not (has $name $known) -}}
{{- fail (printf "metricsSidecar.dashboards.names: unknown dashboard %q (known: %s)" $name (join ", " $known)) -}}
{{- end -}}
{{- if $index }}
{{ end -}}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ printf "%s-dashboard-%s" (include "sidecar-exporter.fullname" $root) $name | trunc 63 | trimSuffix "-" }}
  namespace: {{ $v.dashboards.namespace | default $root.Release.Namespace }}
  labels:
    {{- include "sidecar-exporter.labels" $root | nindent 4 }}
    {{- with $v.dashboards.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $v.dashboards.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
data:
  {{ $name }}.json: |
    {{- include (printf "sidecar-exporter.dashboard.%s" $name) $root | nindent 4 }}
{{- end -}}
{{- end -}}
