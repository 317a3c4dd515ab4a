{{/* Generated from values.yaml by scripts/sync-chart.py: do not edit. */}}
{{- define "sidecar-exporter.defaults" -}}
{{ `# Default values of the sidecar-exporter library chart.
#
# A library chart renders nothing by itself and its values.yaml is not where the including chart
# reads from: the templates read .Values.metricsSidecar of the application chart and fill every
# key missing there from these defaults (embedded in templates/_defaults.tpl, kept equal to this
# file by scripts/sync-chart.py). Copy the keys you want to change into your chart's values.yaml.

# The metrics sidecar. Comments starting with "--" document a value (with everything below it).
metricsSidecar:
  # -- Add the sidecar to the pod. When false, the library's templates render nothing at all.
  enabled: false
  # -- Discover the app beside the sidecar (SIDECAR_EXPORTER_DISCOVER): the exporter finds the
  # pod's listening ports, recognises the app with the presets' detect rules, and adds (and
  # retires) its collectors by itself. "auto" turns it on when no collector is configured (no
  # collectors in config or rawConfig, no existingConfigMap), so that "enabled: true" alone is
  # enough; true adds discovery to a config's collectors; false never discovers.
  discover: auto
  # -- How often discovery looks again when the pod's listening sockets change
  # (SIDECAR_EXPORTER_DISCOVER_INTERVAL, e.g. 1m). Empty: the exporter's default, 30s.
  discoverInterval: ""
  # -- Run the sidecar as a Kubernetes native sidecar: an init container with restartPolicy:
  # Always (Kubernetes >= 1.29), which starts before the app's containers, stops after them, and
  # does not keep a Job from completing. The chart must then also include
  # "sidecar-exporter.initContainer" (see the README). "auto": native when the cluster (helm's
  # .Capabilities.KubeVersion, --kube-version for helm template) is 1.29 or newer; false: a
  # regular container beside the app's.
  nativeSidecar: auto
  # -- Name of the container (and of the volume holding its config, with "-config").
  containerName: sidecar-exporter
  # -- Overrides the base name of the objects the library creates (default: "<release>-<chart>").
  fullnameOverride: ""
  # Image of the sidecar.
  image:
    # -- Image repository.
    repository: sidecar-exporter
    # -- Image tag.
    tag: "0.1.0"
    # -- Image digest (sha256:...); when set, the image is pulled by digest.
    digest: ""
    # -- Kubernetes imagePullPolicy.
    pullPolicy: IfNotPresent
  # -- Port the exporter listens on (all interfaces of the pod).
  port: 9820
  # -- Name of the container port and of the Service port (at most 15 characters).
  portName: sidecar-metrics
  # -- Path of the metrics endpoint (--web.telemetry-path).
  telemetryPath: /metrics
  # -- Log level: debug, info, warn or error.
  logLevel: info
  # -- Log format: logfmt or json.
  logFormat: logfmt
  # -- More command-line arguments, e.g. ["--web.config.file=/etc/web/web.yml"].
  extraArgs: []
  # -- More environment variables (list of EnvVar). POD_NAME, POD_NAMESPACE and NODE_NAME are
  # always set, so the config can say ${POD_NAME}.
  extraEnv: []
  # -- More volume mounts for the container (list of VolumeMount).
  extraVolumeMounts: []
  # -- Resources of the container. The exporter needs little; raise the memory limit for
  # large http_json documents or many process groups.
  resources:
    requests:
      cpu: 10m
      memory: 16Mi
    limits:
      memory: 64Mi
  # -- securityContext of the container: non-root numeric UID, read-only root filesystem,
  # no privilege escalation, no capabilities, RuntimeDefault seccomp. Reading the open file
  # descriptors and IO counters of the app's processes needs the app's UID (set runAsUser to it)
  # or CAP_SYS_PTRACE; without either, those process metrics are missing, the rest work.
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    readOnlyRootFilesystem: true
    allowPrivilegeEscalation: false
    capabilities:
      drop: [ALL]
    seccompProfile:
      type: RuntimeDefault
  # Liveness probe of the container (GET /-/healthy).
  livenessProbe:
    # -- Seconds between liveness checks of /-/healthy.
    periodSeconds: 10
    # -- Seconds a liveness check may take.
    timeoutSeconds: 2
    # -- Failed checks before the container is restarted.
    failureThreshold: 3
  # Readiness probe of the container (GET /-/ready: 503 until a valid config is loaded).
  readinessProbe:
    # -- Seconds between readiness checks of /-/ready.
    periodSeconds: 5
    # -- Seconds a readiness check may take.
    timeoutSeconds: 2
    # -- Failed checks before the pod leaves the Service's endpoints.
    failureThreshold: 3
  # Startup probe of the container (GET /-/healthy), off by default: on a native sidecar the
  # kubelet starts the app's containers only once it passes, so an exporter that cannot start
  # would hold the app back; turn it on when the app's first seconds must be observed.
  startupProbe:
    # -- Add a startupProbe (liveness and readiness checks wait until it passes).
    enabled: false
    # -- Seconds between startup checks of /-/healthy.
    periodSeconds: 1
    # -- Seconds a startup check may take.
    timeoutSeconds: 2
    # -- Failed checks before the container is restarted.
    failureThreshold: 30
  # -- The exporter's configuration (global, include, collectors), written as YAML; it becomes
  # config.yaml in a ConfigMap. See the project README for every key.
  # Example: collectors: [{name: web, preset: nginx, url: "http://127.0.0.1:8080/stub_status"}]
  config:
    global: {}
    collectors: []
  # -- The configuration as text instead of "config" (keeps comments and ordering). Wins over
  # "config" when not empty.
  rawConfig: ""
  # -- Name of an existing ConfigMap with a config.yaml key to use instead of creating one.
  existingConfigMap: ""
  # -- Add prometheus.io/scrape, prometheus.io/port and prometheus.io/path pod annotations.
  prometheusAnnotations: true
  # -- shareProcessNamespace for the pod: "auto" turns it on when a collector has kind process
  # (or preset process), so that the sidecar sees the app's processes; true or false force it.
  shareProcessNamespace: auto
  # -- Selector of the ServiceMonitor / PodMonitor; default: the app.kubernetes.io/name and
  # app.kubernetes.io/instance labels of the including chart (as "helm create" sets them).
  selectorLabels: {}
  # prometheus-operator ServiceMonitor for the sidecar's Service port.
  serviceMonitor:
    # -- Create a prometheus-operator ServiceMonitor (needs the Service port; see README).
    enabled: false
    # -- Extra labels, e.g. the release label your Prometheus selects on.
    labels: {}
    # -- Scrape interval (empty: Prometheus' default).
    interval: 30s
    # -- Scrape timeout; keep it above the config's global.scrape_timeout.
    scrapeTimeout: 10s
    # -- Keep the labels the exporter sets when they clash with target labels.
    honorLabels: false
    # -- relabelings of the endpoint.
    relabelings: []
    # -- metricRelabelings of the endpoint.
    metricRelabelings: []
  # prometheus-operator PodMonitor for the sidecar's container port.
  podMonitor:
    # -- Create a prometheus-operator PodMonitor (scrapes the pod port directly, no Service needed).
    enabled: false
    # -- Extra labels, e.g. the release label your Prometheus selects on.
    labels: {}
    # -- Scrape interval (empty: Prometheus' default).
    interval: 30s
    # -- Scrape timeout; keep it above the config's global.scrape_timeout.
    scrapeTimeout: 10s
    # -- Keep the labels the exporter sets when they clash with target labels.
    honorLabels: false
    # -- relabelings of the endpoint.
    relabelings: []
    # -- metricRelabelings of the endpoint.
    metricRelabelings: []
  # Grafana dashboards as ConfigMaps for Grafana's dashboard sidecar.
  dashboards:
    # -- Create one ConfigMap per Grafana dashboard, for Grafana's dashboard sidecar.
    enabled: false
    # -- Dashboards to ship: sidecar-exporter, process, nginx, apache, redis, haproxy, php-fpm,
    # http-probe, generic-json, lighttpd, beanstalkd, uwsgi, nats, bind, squid, postgres,
    # mysql. Empty: sidecar-exporter plus those of the configured collectors.
    names: []
    # -- Labels of the ConfigMaps; Grafana's sidecar looks for grafana_dashboard: "1" by default.
    labels:
      grafana_dashboard: "1"
    # -- Annotations of the ConfigMaps (e.g. grafana_folder).
    annotations: {}
    # -- Namespace of the ConfigMaps (empty: the release's).
    namespace: ""
` }}
{{- end -}}
