{{/*
The pieces placed inside the including chart's pod template and Service. Each takes
(dict "context" $ "indent" N ["withKey" true]) and renders nothing when the sidecar is off.
*/}}

{{/*
The sidecar container, as a list item for "containers:".
  containers:
    - name: app
      ...
    {{- include "sidecar-exporter.container" (dict "context" $ "indent" 8) }}
*/}}
{{- define "sidecar-exporter.container" -}}
{{- $ctx := .context -}}
{{- if include "sidecar-exporter.enabled" $ctx -}}
{{- include "sidecar-exporter.place" (dict "body" (include "sidecar-exporter.containerBody" $ctx) "indent" .indent "withKey" .withKey "key" "containers") -}}
{{- end -}}
{{- end -}}

{{- define "sidecar-exporter.containerBody" -}}
{{- $v := include "sidecar-exporter.values" . | fromYaml -}}
{{- $image := printf "%s:%s" $v.image.repository (toString $v.image.tag) -}}
{{- if $v.image.digest -}}
{{- $image = printf "%s@%s" $v.image.repository $v.image.digest -}}
{{- end -}}
- name: {{ $v.containerName }}
  image: {{ $image | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  args:
    - --config.file=/etc/sidecar-exporter/config.yaml
    - --web.listen-address=0.0.0.0:{{ int $v.port }}
    - --web.telemetry-path={{ $v.telemetryPath }}
    - --log.level={{ $v.logLevel }}
    - --log.format={{ $v.logFormat }}
    {{- range $v.extraArgs }}
    - {{ . | quote }}
    {{- end }}
  env:
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    - name: POD_NAMESPACE
      valueFrom:
        fieldRef:
          fieldPath: metadata.namespace
    - name: NODE_NAME
      valueFrom:
        fieldRef:
          fieldPath: spec.nodeName
    {{- with $v.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  ports:
    - name: {{ $v.portName }}
      containerPort: {{ int $v.port }}
      protocol: TCP
  livenessProbe:
    httpGet:
      path: /-/healthy
      port: {{ $v.portName }}
    periodSeconds: {{ int $v.livenessProbe.periodSeconds }}
    timeoutSeconds: {{ int $v.livenessProbe.timeoutSeconds }}
    failureThreshold: {{ int $v.livenessProbe.failureThreshold }}
  readinessProbe:
    httpGet:
      path: /-/ready
      port: {{ $v.portName }}
    periodSeconds: {{ int $v.readinessProbe.periodSeconds }}
    timeoutSeconds: {{ int $v.readinessProbe.timeoutSeconds }}
    failureThreshold: {{ int $v.readinessProbe.failureThreshold }}
  {{- with $v.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    - name: {{ $v.containerName }}-config
      mountPath: /etc/sidecar-exporter
      readOnly: true
    {{- with $v.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}

{{/*
The config volume, as a list item for "volumes:". The ConfigMap is mounted as a folder (not with
subPath) so that an edited ConfigMap reaches the running sidecar, which reloads on change.
*/}}
{{- define "sidecar-exporter.volumes" -}}
{{- $ctx := .context -}}
{{- if include "sidecar-exporter.enabled" $ctx -}}
{{- $v := include "sidecar-exporter.values" $ctx | fromYaml -}}
{{- $body := printf "- name: %s-config\n  configMap:\n    name: %s" $v.containerName (include "sidecar-exporter.configMapName" $ctx) -}}
{{- include "sidecar-exporter.place" (dict "body" $body "indent" .indent "withKey" .withKey "key" "volumes") -}}
{{- end -}}
{{- end -}}

{{/*
Pod annotations: prometheus.io/scrape|port|path (unless prometheusAnnotations is false) and
checksum/sidecar-exporter-config, which changes with the config and so rolls the pods.
*/}}
{{- define "sidecar-exporter.podAnnotations" -}}
{{- $ctx := .context -}}
{{- if include "sidecar-exporter.enabled" $ctx -}}
{{- $v := include "sidecar-exporter.values" $ctx | fromYaml -}}
{{- $lines := list (printf "checksum/sidecar-exporter-config: %s" (include "sidecar-exporter.configChecksum" $ctx)) -}}
{{- if $v.prometheusAnnotations -}}
{{- $lines = concat (list
      (printf "prometheus.io/scrape: %s" ("true" | quote))
      (printf "prometheus.io/port: %s" (int $v.port | toString | quote))
      (printf "prometheus.io/path: %s" ($v.telemetryPath | quote))) $lines -}}
{{- end -}}
{{- include "sidecar-exporter.place" (dict "body" (join "\n" $lines) "indent" .indent "withKey" .withKey "key" "annotations") -}}
{{- end -}}
{{- end -}}

{{/*
Pod spec fields: shareProcessNamespace: true when a process collector needs to see the app's
processes. Place it among the pod spec's fields (indent of "containers:").
*/}}
{{- define "sidecar-exporter.podSpec" -}}
{{- $ctx := .context -}}
{{- if and (include "sidecar-exporter.enabled" $ctx) (include "sidecar-exporter.shareProcessNamespace" $ctx) -}}
{{- include "sidecar-exporter.place" (dict "body" "shareProcessNamespace: true" "indent" .indent) -}}
{{- end -}}
{{- end -}}

{{/* The Service port, as a list item for the Service's "ports:". */}}
{{- define "sidecar-exporter.servicePort" -}}
{{- $ctx := .context -}}
{{- if include "sidecar-exporter.enabled" $ctx -}}
{{- $v := include "sidecar-exporter.values" $ctx | fromYaml -}}
{{- $body := printf "- name: %s\n  port: %d\n  targetPort: %s\n  protocol: TCP" $v.portName (int $v.port) $v.portName -}}
{{- include "sidecar-exporter.place" (dict "body" $body "indent" .indent "withKey" .withKey "key" "ports") -}}
{{- end -}}
{{- end -}}
