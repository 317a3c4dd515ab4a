{{/*
The pieces placed inside the including chart's pod template and Service. Each takes
(dict "context" $ "indent" N ["withKey" true]) and renders nothing when the sidecar is off.
*/}}

{{/*
The sidecar as a native sidecar, as a list item for "initContainers:" (an init container with
restartPolicy: Always); renders nothing unless metricsSidecar.nativeSidecar picks that form.
Place it before "containers:", where the pod spec has (or, with "withKey", would have) its
init containers:
  initContainers:
    - name: migrate
      ...
    {{- include "sidecar-exporter.initContainer" (dict "context" $ "indent" 6) }}
  containers:
*/}}
{{- define "sidecar-exporter.initContainer" -}}
{{- $ctx := .context -}}
{{- if and (include "sidecar-exporter.enabled" $ctx) (include "sidecar-exporter.native" $ctx) -}}
{{- include "sidecar-exporter.placements" $ctx -}}
{{- $placed := get $ctx "sidecarExporterPlacements" -}}
{{- $_ := set $placed "initContainer" (add1 $placed.initContainer) -}}
{{- include "sidecar-exporter.place" (dict "body" (include "sidecar-exporter.containerBody" $ctx) "indent" .indent "withKey" .withKey "key" "initContainers") -}}
{{- end -}}
{{- end -}}

{{/*
The sidecar as a regular container, as a list item for "containers:"; renders nothing when it
is a native sidecar (then sidecar-exporter.initContainer renders it).
  containers:
    - name: app
      ...
    {{- include "sidecar-exporter.container" (dict "context" $ "indent" 8) }}
*/}}
{{- define "sidecar-exporter.container" -}}
{{- $ctx := .context -}}
{{- if include "sidecar-exporter.enabled" $ctx -}}
{{- if include "sidecar-exporter.native" $ctx -}}
{{- /* A chart that predates the native form has no initContainer call: without this check
its pods would silently lose the sidecar on Kubernetes 1.29+. Each pod template counts its
call to sidecar-exporter.initContainer, which must come first. */ -}}
{{- include "sidecar-exporter.placements" $ctx -}}
{{- $placed := get $ctx "sidecarExporterPlacements" -}}
{{- $_ := set $placed "container" (add1 $placed.container) -}}
{{- if gt (int $placed.container) (int $placed.initContainer) -}}
{{- $v := include "sidecar-exporter.values" $ctx | fromYaml -}}
{{- fail (printf "metricsSidecar.nativeSidecar is %s (Kubernetes %s), so the sidecar is a native sidecar, an init container, but %s does not include \"sidecar-exporter.initContainer\" before \"sidecar-exporter.container\": add {{- include \"sidecar-exporter.initContainer\" (dict \"context\" $ \"indent\" N) }} under initContainers: (see the sidecar-exporter chart's README), or set metricsSidecar.nativeSidecar: false" (toString $v.nativeSidecar) $ctx.Capabilities.KubeVersion.Version $ctx.Template.Name) -}}
{{- end -}}
{{- else -}}
{{- include "sidecar-exporter.place" (dict "body" (include "sidecar-exporter.containerBody" $ctx) "indent" .indent "withKey" .withKey "key" "containers") -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Makes sure the root context holds sidecarExporterPlacements: how many times this chart's
templates placed the sidecar in initContainers and asked for it in containers (the root context
is shared by all template files of a chart). Renders nothing.
*/}}
{{- define "sidecar-exporter.placements" -}}
{{- if not (hasKey . "sidecarExporterPlacements") -}}
{{- $_ := set . "sidecarExporterPlacements" (dict "initContainer" 0 "container" 0) -}}
{{- end -}}
{{- end -}}

{{- define "sidecar-exporter.containerBody" -}}
{{- $v := include "sidecar-exporter.values" . | fromYaml -}}
{{- $discover := include "sidecar-exporter.discover" . -}}
{{- $mountConfig := include "sidecar-exporter.mountConfig" . -}}
{{- $image := printf "%s:%s" $v.image.repository (toString $v.image.tag) -}}
{{- if $v.image.digest -}}
{{- $image = printf "%s@%s" $v.image.repository $v.image.digest -}}
{{- end -}}
- name: {{ $v.containerName }}
  image: {{ $image | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  {{- if include "sidecar-exporter.native" . }}
  restartPolicy: Always
  {{- end }}
  args:
    {{- if $mountConfig }}
    - --config.file=/etc/sidecar-exporter/config.yaml
    {{- end }}
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
    {{- /* Always said, true or false: the variable, unlike --discover, can say off, which
    keeps a configured sidecar from discovering whatever the image's default is. */}}
    - name: SIDECAR_EXPORTER_DISCOVER
      value: {{ ternary "true" "false" (eq $discover "true") | quote }}
    {{- if and $discover $v.discoverInterval }}
    - name: SIDECAR_EXPORTER_DISCOVER_INTERVAL
      value: {{ $v.discoverInterval | quote }}
    {{- end }}
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
  {{- if $v.startupProbe.enabled }}
  startupProbe:
    httpGet:
      path: /-/healthy
      port: {{ $v.portName }}
    periodSeconds: {{ int $v.startupProbe.periodSeconds }}
    timeoutSeconds: {{ int $v.startupProbe.timeoutSeconds }}
    failureThreshold: {{ int $v.startupProbe.failureThreshold }}
  {{- end }}
  {{- with $v.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if or $mountConfig $v.extraVolumeMounts }}
  volumeMounts:
    {{- if $mountConfig }}
    - name: {{ $v.containerName }}-config
      mountPath: /etc/sidecar-exporter
      readOnly: true
    {{- end }}
    {{- with $v.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
{{- end -}}

{{/*
The config volume, as a list item for "volumes:". The ConfigMap is mounted as a folder (not with
subPath) so that an edited ConfigMap reaches the running sidecar, which reloads on change.
*/}}
{{- define "sidecar-exporter.volumes" -}}
{{- $ctx := .context -}}
{{- if and (include "sidecar-exporter.enabled" $ctx) (include "sidecar-exporter.mountConfig" $ctx) -}}
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
{{- $lines := list -}}
{{- if include "sidecar-exporter.mountConfig" $ctx -}}
{{- $lines = append $lines (printf "checksum/sidecar-exporter-config: %s" (include "sidecar-exporter.configChecksum" $ctx)) -}}
{{- end -}}
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

{{/*
The Service port, as a list item for the Service's "ports:". It targets the container port by
name, except for a native sidecar: Services resolve the named ports of init containers only
since Kubernetes 1.32 (kubernetes/kubernetes#127958), so there it targets the number.
*/}}
{{- define "sidecar-exporter.servicePort" -}}
{{- $ctx := .context -}}
{{- if include "sidecar-exporter.enabled" $ctx -}}
{{- $v := include "sidecar-exporter.values" $ctx | fromYaml -}}
{{- $target := $v.portName -}}
{{- if include "sidecar-exporter.native" $ctx -}}
{{- $target = int $v.port | toString -}}
{{- end -}}
{{- $body := printf "- name: %s\n  port: %d\n  targetPort: %s\n  protocol: TCP" $v.portName (int $v.port) $target -}}
{{- include "sidecar-exporter.place" (dict "body" $body "indent" .indent "withKey" .withKey "key" "ports") -}}
{{- end -}}
{{- end -}}
