#!/usr/bin/env python3
"""Generates the Grafana dashboards in this folder and their copy inside the Helm library chart.

    python3 dashboards/generate.py          # rewrite dashboards/*.json and the chart template
    python3 dashboards/generate.py --check  # exit 1 when a committed file differs

Each dashboard has a `datasource` variable (type prometheus) and `job` / `instance` variables;
every query filters on `job=~"$job", instance=~"$instance"`. No datasource UID is written down:
panels point at `${datasource}`.

The metric names are those of the exporters the sidecar replaces (nginx-prometheus-exporter,
apache_exporter, process-exporter, redis_exporter, haproxy_exporter, hipages/php-fpm_exporter,
blackbox_exporter, messagebird/beanstalkd_exporter, timonwong/uwsgi_exporter,
prometheus-nats-exporter, bind_exporter, squid-exporter, postgres_exporter,
mysqld_exporter), so these dashboards also work with those exporters.

The Helm library chart cannot read its own files from the including chart (`.Files` is the
including chart's), so the dashboards are embedded in it as named templates, written here to
charts/sidecar-exporter/templates/_dashboards.tpl.
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHART_TEMPLATE = HERE.parent / "charts" / "sidecar-exporter" / "templates" / "_dashboards.tpl"

SEL = 'job=~"$job", instance=~"$instance"'
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def target(expr, legend, ref="A"):
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": ref}


def panel(title, unit, *targets, kind="timeseries", width=12, height=8, description=""):
    """A panel; `targets` are (expr, legend) pairs."""
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}}
        if kind == "timeseries"
        else {"reduceOptions": {"calcs": ["lastNotNull"]}},
        "targets": [target(e, l, chr(ord("A") + i)) for i, (e, l) in enumerate(targets)],
        "_size": (width, height),
    }


def stat(title, unit, expr, legend="{{instance}}", description=""):
    return panel(title, unit, (expr, legend), kind="stat", width=6, height=4, description=description)


def layout(panels):
    """Places panels left to right, wrapping at Grafana's 24 columns."""
    x = y = row_height = 0
    for pid, p in enumerate(panels, start=1):
        width, height = p.pop("_size")
        if x + width > 24:
            x, y, row_height = 0, y + row_height, 0
        p["id"] = pid
        p["gridPos"] = {"x": x, "y": y, "w": width, "h": height}
        x += width
        row_height = max(row_height, height)
    return panels


def dashboard(uid, title, description, anchor_metric, panels, tags=()):
    """`anchor_metric` is a metric every target of this family has: it feeds the variables."""
    variables = [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
        },
        {
            "name": "job",
            "label": "Job",
            "type": "query",
            "datasource": DATASOURCE,
            "query": {"query": f"label_values({anchor_metric}, job)", "refId": "job"},
            "definition": f"label_values({anchor_metric}, job)",
            "includeAll": True,
            "multi": True,
            "allValue": ".+",
            "refresh": 2,
            "sort": 1,
            "current": {},
            "hide": 0,
        },
        {
            "name": "instance",
            "label": "Instance",
            "type": "query",
            "datasource": DATASOURCE,
            "query": {
                "query": f'label_values({anchor_metric}{{job=~"$job"}}, instance)',
                "refId": "instance",
            },
            "definition": f'label_values({anchor_metric}{{job=~"$job"}}, instance)',
            "includeAll": True,
            "multi": True,
            "allValue": ".+",
            "refresh": 2,
            "sort": 1,
            "current": {},
            "hide": 0,
        },
    ]
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["sidecar-exporter", *tags],
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "version": 1,
        "annotations": {"list": []},
        "links": [],
        "templating": {"list": variables},
        "panels": layout(panels),
    }


def sidecar_exporter():
    s = SEL
    return dashboard(
        "sidecar-exporter",
        "sidecar-exporter",
        "The exporter itself: collectors, their durations and errors, requests sent to the apps, scrapes, memory.",
        "sidecar_exporter_build_info",
        [
            stat("Collectors up", "short", f"sum(sidecar_exporter_collector_up{{{s}}})", "up"),
            stat("Collectors down", "short", f"count(sidecar_exporter_collector_up{{{s}}} == 0) or vector(0)", "down"),
            stat("Config reload OK", "bool", f"min(sidecar_exporter_config_last_reload_successful{{{s}}})", "ok"),
            stat("Resident memory", "bytes", f"max(process_resident_memory_bytes{{{s}}})", "max"),
            panel("Collector up", "short", (f"sidecar_exporter_collector_up{{{s}}}", "{{instance}} {{collector}} ({{kind}})")),
            panel("Collection duration", "s", (f"sidecar_exporter_collector_duration_seconds{{{s}}}", "{{instance}} {{collector}}")),
            panel(
                "Collector errors by reason",
                "ops",
                (f"sum by (collector, reason) (rate(sidecar_exporter_collector_errors_total{{{s}}}[$__rate_interval]))", "{{collector}} {{reason}}"),
            ),
            panel(
                "Requests sent to the apps",
                "reqps",
                (f"sum by (collector, kind) (rate(sidecar_exporter_target_requests_total{{{s}}}[$__rate_interval]))", "{{collector}} ({{kind}})"),
            ),
            panel(
                "Scrapes by status code",
                "reqps",
                (f"sum by (instance, code) (rate(sidecar_exporter_scrapes_total{{{s}}}[$__rate_interval]))", "{{instance}} {{code}}"),
            ),
            panel(
                "Resident memory",
                "bytes",
                (f"process_resident_memory_bytes{{{s}}}", "{{instance}}"),
            ),
            panel("CPU", "percentunit", (f"rate(process_cpu_seconds_total{{{s}}}[$__rate_interval])", "{{instance}}")),
            panel(
                "Open file descriptors",
                "short",
                (f"process_open_fds{{{s}}}", "{{instance}} open"),
                (f"process_max_fds{{{s}}}", "{{instance}} max"),
            ),
            panel(
                "Build",
                "short",
                (f"sidecar_exporter_build_info{{{s}}}", "{{instance}} {{version}} {{revision}}"),
                kind="table",
                width=24,
                height=6,
            ),
        ],
    )


def process():
    s = SEL
    return dashboard(
        "sidecar-exporter-process",
        "Processes (process-exporter compatible)",
        "namedprocess_namegroup_* series of the process kind, as process-exporter names them.",
        "namedprocess_namegroup_num_procs",
        [
            panel("Processes", "short", (f"namedprocess_namegroup_num_procs{{{s}}}", "{{instance}} {{groupname}}")),
            panel(
                "CPU",
                "percentunit",
                (f"sum by (instance, groupname) (rate(namedprocess_namegroup_cpu_seconds_total{{{s}}}[$__rate_interval]))", "{{instance}} {{groupname}}"),
            ),
            panel(
                "Resident memory",
                "bytes",
                (f'namedprocess_namegroup_memory_bytes{{{s}, memtype="resident"}}', "{{instance}} {{groupname}}"),
            ),
            panel(
                "Virtual memory",
                "bytes",
                (f'namedprocess_namegroup_memory_bytes{{{s}, memtype="virtual"}}', "{{instance}} {{groupname}}"),
            ),
            panel("Open file descriptors", "short", (f"namedprocess_namegroup_open_filedesc{{{s}}}", "{{instance}} {{groupname}}")),
            panel("Worst fd ratio", "percentunit", (f"namedprocess_namegroup_worst_fd_ratio{{{s}}}", "{{instance}} {{groupname}}")),
            panel("Threads", "short", (f"namedprocess_namegroup_num_threads{{{s}}}", "{{instance}} {{groupname}}")),
            panel(
                "States",
                "short",
                (f"sum by (state) (namedprocess_namegroup_states{{{s}}})", "{{state}}"),
            ),
            panel(
                "Disk IO",
                "Bps",
                (f"sum by (instance, groupname) (rate(namedprocess_namegroup_read_bytes_total{{{s}}}[$__rate_interval]))", "{{instance}} {{groupname}} read"),
                (f"sum by (instance, groupname) (rate(namedprocess_namegroup_write_bytes_total{{{s}}}[$__rate_interval]))", "{{instance}} {{groupname}} write"),
            ),
            panel(
                "Context switches",
                "ops",
                (f"sum by (instance, groupname, ctxswitchtype) (rate(namedprocess_namegroup_context_switches_total{{{s}}}[$__rate_interval]))", "{{groupname}} {{ctxswitchtype}}"),
            ),
            panel(
                "Page faults",
                "ops",
                (f"sum by (instance, groupname) (rate(namedprocess_namegroup_major_page_faults_total{{{s}}}[$__rate_interval]))", "{{groupname}} major"),
                (f"sum by (instance, groupname) (rate(namedprocess_namegroup_minor_page_faults_total{{{s}}}[$__rate_interval]))", "{{groupname}} minor"),
            ),
            panel(
                "Uptime of the oldest process",
                "s",
                (f"time() - namedprocess_namegroup_oldest_start_time_seconds{{{s}}}", "{{instance}} {{groupname}}"),
            ),
        ],
        tags=["process"],
    )


def nginx():
    s = SEL
    return dashboard(
        "sidecar-exporter-nginx",
        "nginx (nginx-prometheus-exporter compatible)",
        "stub_status through the nginx preset; the names are nginx-prometheus-exporter's.",
        "nginx_up",
        [
            stat("nginx up", "bool", f"min(nginx_up{{{s}}})", "up"),
            stat("Active connections", "short", f"sum(nginx_connections_active{{{s}}})", "active"),
            stat("Requests/s", "reqps", f"sum(rate(nginx_http_requests_total{{{s}}}[$__rate_interval]))", "req/s"),
            stat("Dropped connections/s", "ops", f"sum(rate(nginx_connections_accepted{{{s}}}[$__rate_interval]) - rate(nginx_connections_handled{{{s}}}[$__rate_interval]))", "dropped"),
            panel("Requests", "reqps", (f"rate(nginx_http_requests_total{{{s}}}[$__rate_interval])", "{{instance}}")),
            panel(
                "Connections accepted / handled",
                "ops",
                (f"rate(nginx_connections_accepted{{{s}}}[$__rate_interval])", "{{instance}} accepted"),
                (f"rate(nginx_connections_handled{{{s}}}[$__rate_interval])", "{{instance}} handled"),
            ),
            panel(
                "Connection states",
                "short",
                (f"nginx_connections_active{{{s}}}", "{{instance}} active"),
                (f"nginx_connections_reading{{{s}}}", "{{instance}} reading"),
                (f"nginx_connections_writing{{{s}}}", "{{instance}} writing"),
                (f"nginx_connections_waiting{{{s}}}", "{{instance}} waiting"),
                width=24,
            ),
        ],
        tags=["nginx"],
    )


def apache():
    s = SEL
    return dashboard(
        "sidecar-exporter-apache",
        "Apache (apache_exporter compatible)",
        "mod_status ?auto through the apache preset; the names are apache_exporter's.",
        "apache_up",
        [
            stat("Apache up", "bool", f"min(apache_up{{{s}}})", "up"),
            stat("Requests/s", "reqps", f"sum(rate(apache_accesses_total{{{s}}}[$__rate_interval]))", "req/s"),
            stat("Busy workers", "short", f'sum(apache_workers{{{s}, state="busy"}})', "busy"),
            stat("Uptime", "s", f"min(apache_uptime_seconds_total{{{s}}})", "uptime"),
            panel("Requests", "reqps", (f"rate(apache_accesses_total{{{s}}}[$__rate_interval])", "{{instance}}")),
            panel("Traffic", "KBs", (f"rate(apache_sent_kilobytes_total{{{s}}}[$__rate_interval])", "{{instance}}")),
            panel("Workers", "short", (f"apache_workers{{{s}}}", "{{instance}} {{state}}")),
            panel("Scoreboard", "short", (f"sum by (state) (apache_scoreboard{{{s}}})", "{{state}}")),
            panel("CPU load", "short", (f"apache_cpuload{{{s}}}", "{{instance}}")),
            panel(
                "Mean request duration",
                "ms",
                (f"rate(apache_duration_ms_total{{{s}}}[$__rate_interval]) / rate(apache_accesses_total{{{s}}}[$__rate_interval])", "{{instance}}"),
            ),
        ],
        tags=["apache"],
    )


def redis():
    s = SEL
    return dashboard(
        "sidecar-exporter-redis",
        "Redis (redis_exporter compatible)",
        "Redis INFO through the redis preset; the names are redis_exporter's.",
        "redis_up",
        [
            stat("Redis up", "bool", f"min(redis_up{{{s}}})", "up"),
            stat("Clients", "short", f"sum(redis_connected_clients{{{s}}})", "clients"),
            stat("Memory used", "bytes", f"sum(redis_memory_used_bytes{{{s}}})", "used"),
            stat("Commands/s", "ops", f"sum(rate(redis_commands_processed_total{{{s}}}[$__rate_interval]))", "cmd/s"),
            panel("Commands", "ops", (f"rate(redis_commands_processed_total{{{s}}}[$__rate_interval])", "{{instance}}")),
            panel(
                "Busiest commands",
                "ops",
                (f"topk(8, sum by (cmd) (rate(redis_commands_total{{{s}}}[$__rate_interval])))", "{{cmd}}"),
                description="From INFO commandstats: calls per second of the eight busiest commands.",
            ),
            panel(
                "Slowlog and errors",
                "short",
                (f"redis_slowlog_length{{{s}}}", "{{instance}} slowlog entries"),
                (f"rate(redis_total_error_replies{{{s}}}[$__rate_interval])", "{{instance}} error replies/s"),
            ),
            panel(
                "Keyspace hit ratio",
                "percentunit",
                (
                    f"rate(redis_keyspace_hits_total{{{s}}}[$__rate_interval]) / "
                    f"clamp_min(rate(redis_keyspace_hits_total{{{s}}}[$__rate_interval]) + rate(redis_keyspace_misses_total{{{s}}}[$__rate_interval]), 1e-9)",
                    "{{instance}}",
                ),
            ),
            panel(
                "Clients",
                "short",
                (f"redis_connected_clients{{{s}}}", "{{instance}} connected"),
                (f"redis_blocked_clients{{{s}}}", "{{instance}} blocked"),
            ),
            panel("Memory used", "bytes", (f"redis_memory_used_bytes{{{s}}}", "{{instance}}")),
            panel(
                "Network",
                "Bps",
                (f"rate(redis_net_input_bytes_total{{{s}}}[$__rate_interval])", "{{instance}} in"),
                (f"rate(redis_net_output_bytes_total{{{s}}}[$__rate_interval])", "{{instance}} out"),
            ),
            panel(
                "Expired / evicted keys",
                "ops",
                (f"rate(redis_expired_keys_total{{{s}}}[$__rate_interval])", "{{instance}} expired"),
                (f"rate(redis_evicted_keys_total{{{s}}}[$__rate_interval])", "{{instance}} evicted"),
            ),
        ],
        tags=["redis"],
    )


def postgres():
    s = SEL
    rate = "[$__rate_interval]"
    return dashboard(
        "sidecar-exporter-postgres",
        "PostgreSQL (postgres_exporter compatible)",
        "PostgreSQL statistics views through the postgres preset (kind sql); the names are postgres_exporter's.",
        "pg_up",
        [
            stat("PostgreSQL up", "bool", f"min(pg_up{{{s}}})", "up"),
            stat("Connections", "short", f"sum(pg_stat_activity_count{{{s}}})", "connections"),
            stat("Max connections", "short", f"max(pg_settings_max_connections{{{s}}})", "max"),
            stat("Database size", "bytes", f"sum(pg_database_size_bytes{{{s}}})", "size"),
            panel(
                "Transactions",
                "ops",
                (f"sum by (instance) (rate(pg_stat_database_xact_commit{{{s}}}{rate}))", "{{instance}} commit"),
                (f"sum by (instance) (rate(pg_stat_database_xact_rollback{{{s}}}{rate}))", "{{instance}} rollback"),
            ),
            panel(
                "Connections by state",
                "short",
                (f"sum by (instance, state) (pg_stat_activity_count{{{s}}})", "{{instance}} {{state}}"),
            ),
            panel(
                "Buffer cache hit ratio",
                "percentunit",
                (
                    f"sum by (instance) (rate(pg_stat_database_blks_hit{{{s}}}{rate})) / "
                    f"clamp_min(sum by (instance) (rate(pg_stat_database_blks_hit{{{s}}}{rate})) + "
                    f"sum by (instance) (rate(pg_stat_database_blks_read{{{s}}}{rate})), 1e-9)",
                    "{{instance}}",
                ),
            ),
            panel(
                "Rows",
                "ops",
                (f"sum by (instance) (rate(pg_stat_database_tup_fetched{{{s}}}{rate}))", "{{instance}} fetched"),
                (f"sum by (instance) (rate(pg_stat_database_tup_inserted{{{s}}}{rate}))", "{{instance}} inserted"),
                (f"sum by (instance) (rate(pg_stat_database_tup_updated{{{s}}}{rate}))", "{{instance}} updated"),
                (f"sum by (instance) (rate(pg_stat_database_tup_deleted{{{s}}}{rate}))", "{{instance}} deleted"),
            ),
            panel("Locks by mode", "short", (f"sum by (instance, mode) (pg_locks_count{{{s}}})", "{{instance}} {{mode}}")),
            panel("Database size", "bytes", (f"pg_database_size_bytes{{{s}}}", "{{instance}} {{datname}}")),
            panel(
                "Deadlocks and recovery conflicts",
                "ops",
                (f"sum by (instance) (rate(pg_stat_database_deadlocks{{{s}}}{rate}))", "{{instance}} deadlocks"),
                (f"sum by (instance) (rate(pg_stat_database_conflicts{{{s}}}{rate}))", "{{instance}} conflicts"),
            ),
            panel(
                "Checkpoints",
                "ops",
                (f"rate(pg_stat_bgwriter_checkpoints_timed_total{{{s}}}{rate})", "{{instance}} timed"),
                (f"rate(pg_stat_bgwriter_checkpoints_req_total{{{s}}}{rate})", "{{instance}} requested"),
            ),
        ],
        tags=["postgres", "database"],
    )


def mysql():
    s = SEL
    rate = "[$__rate_interval]"
    return dashboard(
        "sidecar-exporter-mysql",
        "MySQL / MariaDB (mysqld_exporter compatible)",
        "MySQL and MariaDB server status through the mysql preset (kind sql); the names are mysqld_exporter's.",
        "mysql_up",
        [
            stat("MySQL up", "bool", f"min(mysql_up{{{s}}})", "up"),
            stat("Connections", "short", f"sum(mysql_global_status_threads_connected{{{s}}})", "connections"),
            stat("Max connections", "short", f"max(mysql_global_variables_max_connections{{{s}}})", "max"),
            stat("Queries/s", "ops", f"sum(rate(mysql_global_status_queries{{{s}}}{rate}))", "queries/s"),
            panel("Queries", "ops", (f"rate(mysql_global_status_queries{{{s}}}{rate})", "{{instance}}")),
            panel(
                "Top commands",
                "ops",
                (f"topk(10, rate(mysql_global_status_commands_total{{{s}}}{rate}))", "{{instance}} {{command}}"),
            ),
            panel(
                "Threads",
                "short",
                (f"mysql_global_status_threads_connected{{{s}}}", "{{instance}} connected"),
                (f"mysql_global_status_threads_running{{{s}}}", "{{instance}} running"),
            ),
            panel(
                "InnoDB buffer pool pages",
                "short",
                (f"mysql_global_status_buffer_pool_pages{{{s}}}", "{{instance}} {{state}}"),
                (f"mysql_global_status_buffer_pool_dirty_pages{{{s}}}", "{{instance}} dirty"),
            ),
            panel(
                "Handler operations",
                "ops",
                (f"topk(10, rate(mysql_global_status_handlers_total{{{s}}}{rate}))", "{{instance}} {{handler}}"),
                description="Storage engine row operations (MariaDB 10.11 no longer counts Innodb_rows_*).",
            ),
            panel(
                "Network",
                "Bps",
                (f"rate(mysql_global_status_bytes_received{{{s}}}{rate})", "{{instance}} in"),
                (f"rate(mysql_global_status_bytes_sent{{{s}}}{rate})", "{{instance}} out"),
            ),
            panel(
                "Slow queries and aborted connections",
                "ops",
                (f"rate(mysql_global_status_slow_queries{{{s}}}{rate})", "{{instance}} slow queries"),
                (f"rate(mysql_global_status_aborted_connects{{{s}}}{rate})", "{{instance}} aborted connects"),
            ),
        ],
        tags=["mysql", "database"],
    )


def haproxy():
    s = SEL
    return dashboard(
        "sidecar-exporter-haproxy",
        "HAProxy (haproxy_exporter compatible)",
        "HAProxy CSV stats through the haproxy preset; the names are haproxy_exporter's.",
        "haproxy_up",
        [
            stat("HAProxy up", "bool", f"min(haproxy_up{{{s}}})", "up"),
            stat("Frontend sessions", "short", f"sum(haproxy_frontend_current_sessions{{{s}}})", "sessions"),
            stat("Servers up", "short", f"sum(haproxy_server_up{{{s}}})", "up"),
            stat("Backends up", "short", f"sum(haproxy_backend_up{{{s}}})", "up"),
            panel("Frontend sessions", "short", (f"haproxy_frontend_current_sessions{{{s}}}", "{{instance}} {{frontend}}")),
            panel(
                "Frontend traffic",
                "Bps",
                (f"rate(haproxy_frontend_bytes_in_total{{{s}}}[$__rate_interval])", "{{frontend}} in"),
                (f"rate(haproxy_frontend_bytes_out_total{{{s}}}[$__rate_interval])", "{{frontend}} out"),
            ),
            panel(
                "Backend sessions",
                "ops",
                (f"rate(haproxy_backend_sessions_total{{{s}}}[$__rate_interval])", "{{instance}} {{backend}}"),
            ),
            panel("Server up", "short", (f"haproxy_server_up{{{s}}}", "{{backend}}/{{server}}")),
        ],
        tags=["haproxy"],
    )


def php_fpm():
    s = SEL
    return dashboard(
        "sidecar-exporter-php-fpm",
        "PHP-FPM (php-fpm_exporter compatible)",
        "php-fpm /status?json through the php_fpm preset; the names are hipages/php-fpm_exporter's.",
        "phpfpm_up",
        [
            stat("PHP-FPM up", "bool", f"min(phpfpm_up{{{s}}})", "up"),
            stat("Active processes", "short", f"sum(phpfpm_active_processes{{{s}}})", "active"),
            stat("Listen queue", "short", f"sum(phpfpm_listen_queue{{{s}}})", "queue"),
            stat("Max children reached", "short", f"sum(phpfpm_max_children_reached{{{s}}})", "reached"),
            panel("Accepted connections", "ops", (f"rate(phpfpm_accepted_connections{{{s}}}[$__rate_interval])", "{{instance}} {{pool}}")),
            panel(
                "Processes",
                "short",
                (f"phpfpm_active_processes{{{s}}}", "{{pool}} active"),
                (f"phpfpm_idle_processes{{{s}}}", "{{pool}} idle"),
                (f"phpfpm_total_processes{{{s}}}", "{{pool}} total"),
            ),
            panel("Listen queue", "short", (f"phpfpm_listen_queue{{{s}}}", "{{instance}} {{pool}}")),
            panel("Slow requests", "ops", (f"rate(phpfpm_slow_requests{{{s}}}[$__rate_interval])", "{{instance}} {{pool}}")),
        ],
        tags=["php-fpm"],
    )


def http_probe():
    s = SEL
    return dashboard(
        "sidecar-exporter-http-probe",
        "HTTP probe (blackbox_exporter compatible)",
        "The http_probe kind; the names are blackbox_exporter's http prober's.",
        "probe_success",
        [
            stat("Probes succeeding", "short", f"sum(probe_success{{{s}}})", "ok"),
            stat("Probes failing", "short", f"count(probe_success{{{s}}} == 0) or vector(0)", "failing"),
            stat("Slowest probe", "s", f"max(probe_duration_seconds{{{s}}})", "max"),
            stat(
                "Earliest cert expiry",
                "s",
                f"min(probe_ssl_earliest_cert_expiry{{{s}}} - time())",
                "expires in",
                description="Only https probes report a certificate.",
            ),
            panel("Success", "bool", (f"probe_success{{{s}}}", "{{instance}}")),
            panel("Duration", "s", (f"probe_duration_seconds{{{s}}}", "{{instance}}")),
            panel("HTTP status code", "short", (f"probe_http_status_code{{{s}}}", "{{instance}}")),
            panel("Content length", "bytes", (f"probe_http_content_length{{{s}}}", "{{instance}}")),
        ],
        tags=["probe"],
    )


def generic_json():
    s = SEL
    kinds = 'kind=~"http_json|http_text|tcp_text|prometheus|file"'
    return dashboard(
        "sidecar-exporter-generic",
        "Generic collectors (http_json, http_text, tcp_text, prometheus)",
        "Collectors whose metric names the user chooses: their health, cost and series count.",
        "sidecar_exporter_build_info",
        [
            panel("Collector up", "short", (f"sidecar_exporter_collector_up{{{s}, {kinds}}}", "{{instance}} {{collector}} ({{kind}})")),
            panel("Collection duration", "s", (f"sidecar_exporter_collector_duration_seconds{{{s}, {kinds}}}", "{{instance}} {{collector}}")),
            panel(
                "Errors by reason",
                "ops",
                (f"sum by (collector, reason) (rate(sidecar_exporter_collector_errors_total{{{s}, {kinds}}}[$__rate_interval]))", "{{collector}} {{reason}}"),
            ),
            panel(
                "Requests sent to the app",
                "reqps",
                (f"sum by (collector) (rate(sidecar_exporter_target_requests_total{{{s}, {kinds}}}[$__rate_interval]))", "{{collector}}"),
            ),
            panel(
                "Series per job",
                "short",
                (f"scrape_samples_scraped{{{s}}}", "{{instance}}"),
                width=24,
                description="Samples in the last scrape of the whole sidecar, as Prometheus counted them.",
            ),
        ],
        tags=["generic"],
    )


def lighttpd():
    s = SEL
    return dashboard(
        "sidecar-exporter-lighttpd",
        "lighttpd (mod_status)",
        "mod_status ?auto through the lighttpd preset; lighttpd_* names modelled on apache_exporter's.",
        "lighttpd_up",
        [
            stat("lighttpd up", "bool", f"min(lighttpd_up{{{s}}})", "up"),
            stat("Requests/s", "reqps", f"sum(rate(lighttpd_accesses_total{{{s}}}[$__rate_interval]))", "req/s"),
            stat("Busy connection slots", "short", f'sum(lighttpd_workers{{{s}, state="busy"}})', "busy"),
            stat("Uptime", "s", f"min(lighttpd_uptime_seconds_total{{{s}}})", "uptime"),
            panel("Requests", "reqps", (f"rate(lighttpd_accesses_total{{{s}}}[$__rate_interval])", "{{instance}}")),
            panel("Traffic", "KBs", (f"rate(lighttpd_sent_kilobytes_total{{{s}}}[$__rate_interval])", "{{instance}}")),
            panel("Connection slots", "short", (f"lighttpd_workers{{{s}}}", "{{instance}} {{state}}")),
            panel("Connections by state", "short", (f'sum by (state) (lighttpd_scoreboard{{{s}, state!="idle"}})', "{{state}}")),
        ],
        tags=["lighttpd"],
    )


def beanstalkd():
    s = SEL
    # messagebird/beanstalkd_exporter's names carry no prefix; `beanstalkd_up` scopes them.
    b = f"and on (job, instance) beanstalkd_up{{{s}}}"
    return dashboard(
        "sidecar-exporter-beanstalkd",
        "beanstalkd (beanstalkd_exporter compatible)",
        "beanstalkd stats through the beanstalkd preset; the names are messagebird/beanstalkd_exporter's.",
        "beanstalkd_up",
        [
            stat("beanstalkd up", "bool", f"min(beanstalkd_up{{{s}}})", "up"),
            stat("Ready jobs", "short", f"sum(current_jobs_ready{{{s}}} {b})", "ready"),
            stat("Buried jobs", "short", f"sum(current_jobs_buried{{{s}}} {b})", "buried"),
            stat("Connections", "short", f"sum(current_connections{{{s}}} {b})", "connections"),
            panel(
                "Jobs by state",
                "short",
                (f"current_jobs_ready{{{s}}} {b}", "{{instance}} ready"),
                (f"current_jobs_reserved{{{s}}} {b}", "{{instance}} reserved"),
                (f"current_jobs_delayed{{{s}}} {b}", "{{instance}} delayed"),
                (f"current_jobs_buried{{{s}}} {b}", "{{instance}} buried"),
                (f"current_jobs_urgent{{{s}}} {b}", "{{instance}} urgent"),
            ),
            panel(
                "Commands",
                "ops",
                (f"rate(cmd_put{{{s}}}[$__rate_interval]) {b}", "{{instance}} put"),
                (f"rate(cmd_reserve{{{s}}}[$__rate_interval]) {b}", "{{instance}} reserve"),
                (f"rate(cmd_reserve_with_timeout{{{s}}}[$__rate_interval]) {b}", "{{instance}} reserve-with-timeout"),
                (f"rate(cmd_delete{{{s}}}[$__rate_interval]) {b}", "{{instance}} delete"),
            ),
            panel(
                "Clients",
                "short",
                (f"current_producers{{{s}}} {b}", "{{instance}} producers"),
                (f"current_workers{{{s}}} {b}", "{{instance}} workers"),
                (f"current_waiting{{{s}}} {b}", "{{instance}} waiting"),
            ),
            panel("Job timeouts", "ops", (f"rate(job_timeouts{{{s}}}[$__rate_interval]) {b}", "{{instance}}")),
        ],
        tags=["beanstalkd"],
    )


def uwsgi():
    s = SEL
    return dashboard(
        "sidecar-exporter-uwsgi",
        "uWSGI (uwsgi_exporter compatible)",
        "The uWSGI stats server through the uwsgi preset; the names are timonwong/uwsgi_exporter's.",
        "uwsgi_up",
        [
            stat("uWSGI up", "bool", f"min(uwsgi_up{{{s}}})", "up"),
            stat("Workers", "short", f"sum(uwsgi_workers{{{s}}})", "workers"),
            stat("Busy workers", "short", f"sum(uwsgi_worker_busy{{{s}}})", "busy"),
            stat("Listen queue", "short", f"sum(uwsgi_listen_queue_length{{{s}}})", "queue"),
            panel("Requests", "reqps", (f"sum by (instance) (rate(uwsgi_worker_requests_total{{{s}}}[$__rate_interval]))", "{{instance}}")),
            panel("Exceptions", "ops", (f"sum by (instance) (rate(uwsgi_worker_exceptions_total{{{s}}}[$__rate_interval]))", "{{instance}}")),
            panel("Average response time", "s", (f"uwsgi_worker_average_response_time_seconds{{{s}}}", "{{instance}} worker {{worker_id}}")),
            panel("Worker memory (RSS)", "bytes", (f"uwsgi_worker_rss_bytes{{{s}}}", "{{instance}} worker {{worker_id}}")),
            panel(
                "Queues",
                "short",
                (f"uwsgi_listen_queue_length{{{s}}}", "{{instance}} listen"),
                (f"uwsgi_socket_queue_length{{{s}}}", "{{instance}} {{name}}"),
            ),
            panel("Respawns", "ops", (f"sum by (instance) (rate(uwsgi_worker_respawn_count_total{{{s}}}[$__rate_interval]))", "{{instance}}")),
        ],
        tags=["uwsgi"],
    )


def nats():
    s = SEL
    return dashboard(
        "sidecar-exporter-nats",
        "NATS (prometheus-nats-exporter compatible)",
        "NATS /varz through the nats preset; the names are prometheus-nats-exporter's gnatsd_varz_*.",
        "gnatsd_up",
        [
            stat("NATS up", "bool", f"min(gnatsd_up{{{s}}})", "up"),
            stat("Connections", "short", f"sum(gnatsd_varz_connections{{{s}}})", "connections"),
            stat("Subscriptions", "short", f"sum(gnatsd_varz_subscriptions{{{s}}})", "subscriptions"),
            stat("Slow consumers", "short", f"sum(gnatsd_varz_slow_consumers{{{s}}})", "slow"),
            panel(
                "Messages",
                "ops",
                (f"rate(gnatsd_varz_in_msgs{{{s}}}[$__rate_interval])", "{{instance}} in"),
                (f"rate(gnatsd_varz_out_msgs{{{s}}}[$__rate_interval])", "{{instance}} out"),
            ),
            panel(
                "Traffic",
                "Bps",
                (f"rate(gnatsd_varz_in_bytes{{{s}}}[$__rate_interval])", "{{instance}} in"),
                (f"rate(gnatsd_varz_out_bytes{{{s}}}[$__rate_interval])", "{{instance}} out"),
            ),
            panel("Connections", "short", (f"gnatsd_varz_connections{{{s}}}", "{{instance}}")),
            panel("CPU", "percent", (f"gnatsd_varz_cpu{{{s}}}", "{{instance}}")),
            panel("Memory", "bytes", (f"gnatsd_varz_mem{{{s}}}", "{{instance}}")),
            panel("Uptime", "s", (f"time() - gnatsd_varz_start{{{s}}} / 1000", "{{instance}}")),
        ],
        tags=["nats"],
    )


def bind():
    s = SEL
    return dashboard(
        "sidecar-exporter-bind",
        "BIND (bind_exporter compatible)",
        "BIND 9's statistics channel through the bind preset; the names are bind_exporter's.",
        "bind_up",
        [
            stat("BIND up", "bool", f"min(bind_up{{{s}}})", "up"),
            stat("Queries/s", "reqps", f"sum(rate(bind_incoming_queries_total{{{s}}}[$__rate_interval]))", "queries/s"),
            stat(
                "SERVFAIL share",
                "percentunit",
                f'sum(rate(bind_response_rcodes_total{{{s}, rcode="SERVFAIL"}}[$__rate_interval])) / '
                f"clamp_min(sum(rate(bind_response_rcodes_total{{{s}}}[$__rate_interval])), 1e-9)",
                "SERVFAIL",
            ),
            stat("Uptime", "s", f"min(time() - bind_boot_time_seconds{{{s}}})", "uptime"),
            panel("Queries by type", "reqps", (f"sum by (type) (rate(bind_incoming_queries_total{{{s}}}[$__rate_interval]))", "{{type}}")),
            panel(
                "Responses by RCODE",
                "reqps",
                (f"sum by (rcode) (rate(bind_response_rcodes_total{{{s}}}[$__rate_interval]))", "{{rcode}}"),
            ),
            panel("Responses by result", "reqps", (f"sum by (result) (rate(bind_responses_total{{{s}}}[$__rate_interval]))", "{{result}}")),
            panel(
                "Resolver errors",
                "ops",
                (f"sum by (view, error) (rate(bind_resolver_response_errors_total{{{s}}}[$__rate_interval]))", "{{view}} {{error}}"),
                (f"sum by (view, error) (rate(bind_resolver_query_errors_total{{{s}}}[$__rate_interval]))", "{{view}} {{error}}"),
            ),
            panel(
                "Zone transfers",
                "ops",
                (f"rate(bind_zone_transfer_success_total{{{s}}}[$__rate_interval])", "{{instance}} success"),
                (f"rate(bind_zone_transfer_failure_total{{{s}}}[$__rate_interval])", "{{instance}} failure"),
                (f"rate(bind_zone_transfer_rejected_total{{{s}}}[$__rate_interval])", "{{instance}} rejected"),
            ),
            panel("Zone serials", "none", (f"bind_zone_serial{{{s}, zone_name!~\".*ARPA\"}}", "{{view}} {{zone_name}}"), kind="stat", width=12, height=8),
        ],
        tags=["bind", "dns"],
    )


def squid():
    s = SEL
    return dashboard(
        "sidecar-exporter-squid",
        "Squid (squid-exporter compatible)",
        "Squid's cache manager through the squid preset; the names are boynux/squid-exporter's.",
        "squid_up",
        [
            stat("Squid up", "bool", f"min(squid_up{{{s}}})", "up"),
            stat("Client requests/s", "reqps", f"sum(rate(squid_client_http_requests_total{{{s}}}[$__rate_interval]))", "req/s"),
            stat(
                "Hit ratio",
                "percentunit",
                f"sum(rate(squid_client_http_hits_total{{{s}}}[$__rate_interval])) / "
                f"clamp_min(sum(rate(squid_client_http_requests_total{{{s}}}[$__rate_interval])), 1e-9)",
                "hits",
            ),
            stat("Median service time", "s", f"max(squid_HTTP_Requests_All_50{{{s}}})", "p50"),
            panel(
                "Client requests",
                "reqps",
                (f"rate(squid_client_http_requests_total{{{s}}}[$__rate_interval])", "{{instance}} requests"),
                (f"rate(squid_client_http_hits_total{{{s}}}[$__rate_interval])", "{{instance}} hits"),
                (f"rate(squid_client_http_errors_total{{{s}}}[$__rate_interval])", "{{instance}} errors"),
            ),
            panel(
                "Server requests",
                "reqps",
                (f"rate(squid_server_all_requests_total{{{s}}}[$__rate_interval])", "{{instance}} requests"),
                (f"rate(squid_server_all_errors_total{{{s}}}[$__rate_interval])", "{{instance}} errors"),
            ),
            panel(
                "Client traffic",
                "KBs",
                (f"rate(squid_client_http_kbytes_in_kbytes_total{{{s}}}[$__rate_interval])", "{{instance}} in"),
                (f"rate(squid_client_http_kbytes_out_kbytes_total{{{s}}}[$__rate_interval])", "{{instance}} out"),
            ),
            panel(
                "Service time percentiles (5 min)",
                "s",
                (f"squid_HTTP_Requests_All_50{{{s}}}", "{{instance}} all p50"),
                (f"squid_HTTP_Requests_All_95{{{s}}}", "{{instance}} all p95"),
                (f"squid_Cache_Misses_95{{{s}}}", "{{instance}} misses p95"),
                (f"squid_Cache_Hits_95{{{s}}}", "{{instance}} hits p95"),
            ),
        ],
        tags=["squid", "proxy"],
    )


DASHBOARDS = {
    "sidecar-exporter": sidecar_exporter,
    "process": process,
    "nginx": nginx,
    "apache": apache,
    "redis": redis,
    "haproxy": haproxy,
    "php-fpm": php_fpm,
    "postgres": postgres,
    "mysql": mysql,
    "http-probe": http_probe,
    "generic-json": generic_json,
    "lighttpd": lighttpd,
    "beanstalkd": beanstalkd,
    "uwsgi": uwsgi,
    "nats": nats,
    "bind": bind,
    "squid": squid,
}


def render_json(board):
    return json.dumps(board, indent=2, sort_keys=False) + "\n"


def render_chart_template(rendered):
    """Named templates `sidecar-exporter.dashboard.<name>` holding each dashboard's JSON.

    The JSON goes in a Go raw string literal so that Grafana's `{{instance}}` legends are not
    read as template actions; a raw string cannot hold a backtick, hence the check.
    """
    out = [
        "{{/*\nGenerated by dashboards/generate.py from the same source as dashboards/*.json: do not edit.\n"
        "A library chart's files are not readable by the chart that includes it (.Files is the\n"
        "including chart's), so the dashboards travel as named templates.\n*/}}\n"
    ]
    out.append('{{- define "sidecar-exporter.dashboardNames" -}}\n')
    out.append(" ".join(rendered) + "\n")
    out.append("{{- end }}\n")
    for name, text in rendered.items():
        if "`" in text:
            raise SystemExit(f"dashboard {name} contains a backtick, which the chart template cannot embed")
        out.append(f'\n{{{{- define "sidecar-exporter.dashboard.{name}" -}}}}\n')
        out.append("{{ `" + text.rstrip("\n") + "` }}\n")
        out.append("{{- end }}\n")
    return "".join(out)


def main():
    check = "--check" in sys.argv[1:]
    rendered = {name: render_json(build()) for name, build in DASHBOARDS.items()}
    files = {HERE / f"{name}.json": text for name, text in rendered.items()}
    files[CHART_TEMPLATE] = render_chart_template(rendered)
    stale = []
    for path, text in files.items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        if check:
            stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        print("out of date (run python3 dashboards/generate.py):\n  " + "\n  ".join(stale), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
