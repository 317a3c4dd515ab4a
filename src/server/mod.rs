//! The HTTP server: `/metrics`, the status page, health, readiness and reload.

mod debug_page;
pub mod listen;
mod state;
mod status_page;
#[cfg(test)]
mod testing;
pub mod tls;
pub mod web_config;

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::time::Instant;
use tower_http::compression::CompressionLayer;

use crate::encode;
use crate::scrape::{merge_families, scrape_deadline, self_metrics};

pub use state::{AppState, ReloadRecord};

/// The router, without a socket, so that tests can send requests to it directly.
pub fn app(state: Arc<AppState>) -> Router {
    let metrics_path = state.telemetry_path.clone();
    let mut router = Router::new()
        .route(
            &metrics_path,
            get(metrics).layer(CompressionLayer::new().gzip(true)),
        )
        .route("/-/healthy", get(healthy))
        .route("/-/ready", get(ready))
        .route("/-/reload", post(reload).put(reload))
        .route("/debug/collectors/{name}", get(debug_page::collector));
    if metrics_path != "/" {
        router = router.route("/", get(status));
    }
    router.with_state(state)
}

async fn healthy() -> &'static str {
    "Healthy\n"
}

async fn ready(State(state): State<Arc<AppState>>) -> Response {
    if state.engine().is_some() {
        (StatusCode::OK, "Ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "Not ready: no valid configuration loaded yet\n",
        )
            .into_response()
    }
}

async fn reload(State(state): State<Arc<AppState>>) -> Response {
    let result = tokio::task::spawn_blocking(move || state.reload()).await;
    match result {
        Ok(Ok(count)) => (
            StatusCode::OK,
            format!("configuration reloaded: {count} collectors\n"),
        )
            .into_response(),
        Ok(Err(error)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("configuration refused, the previous one keeps running: {error}\n"),
        )
            .into_response(),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reload failed: {error}\n"),
        )
            .into_response(),
    }
}

async fn status(State(state): State<Arc<AppState>>, RawQuery(query): RawQuery) -> Html<String> {
    let refresh = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(key, _)| key == "refresh")
        .and_then(|(_, value)| value.parse::<u32>().ok())
        .filter(|seconds| *seconds > 0);
    Html(status_page::render(&state, refresh))
}

/// The metric families a `name[]=` query asks for (none given: all).
pub fn requested_names(query: Option<&str>) -> Option<HashSet<String>> {
    let names: HashSet<String> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(key, _)| key == "name[]")
        .map(|(_, value)| value.into_owned())
        .collect();
    (!names.is_empty()).then_some(names)
}

async fn metrics(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(engine) = state.engine() else {
        state.counters.count_scrape(503);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "no valid configuration loaded yet\n",
        )
            .into_response();
    };
    let header_timeout = headers
        .get("x-prometheus-scrape-timeout-seconds")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok());
    let deadline = scrape_deadline(Instant::now(), header_timeout, engine.scrape_timeout);
    // Concurrent scrapes share one collection per collector, so only merging and encoding,
    // which each scrape does for itself, wait for a turn (--web.max-requests), until the
    // deadline.
    let outcomes = engine.collect(deadline).await;
    let Ok(Ok(_turn)) = tokio::time::timeout_at(deadline, state.scrape_permits.acquire()).await
    else {
        state.counters.count_scrape(503);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many scrapes at once (--web.max-requests); try again\n",
        )
            .into_response();
    };

    state.counters.count_scrape(200);
    // The exporter's own families go first, so that an app passing through its own
    // `process_*` metrics (a `prometheus` collector) cannot make them appear twice: the app's
    // colliding series are the ones dropped and counted (collisions of this scrape show in the
    // error counters from the next scrape on).
    let mut own = self_metrics::families(&outcomes, &state.counters, state.reload_state());
    if let Some(by_preset) = state.discovered_by_preset() {
        own.push(self_metrics::discovered(&by_preset));
    }
    let (mut families, collisions) = merge_families(
        std::iter::once(own.as_slice()).chain(
            outcomes
                .iter()
                .map(|(_, outcome)| outcome.families.as_slice()),
        ),
    );
    for (index, problem) in &collisions {
        let Some((entry, _)) = index.checked_sub(1).and_then(|i| outcomes.get(i)) else {
            continue;
        };
        state
            .counters
            .count_error(&entry.name, entry.kind, problem.reason);
    }
    if let Some(names) = requested_names(query.as_deref()) {
        families.retain(|family| names.contains(&family.name));
    }

    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = encode::negotiate(accept);
    let mut body = Vec::with_capacity(64 * 1024);
    encode::encode(&families, format, &mut body);
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    response
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use super::testing::{oneshot, request};
    use super::*;

    const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

    /// A config with one `file` collector reading `{"requests": 42}` from `dir`.
    fn config_reading(dir: &Path) -> String {
        let stats = dir.join("stats.json");
        std::fs::write(&stats, r#"{"requests": 42}"#).unwrap();
        format!(
            "global:\n  labels: {{site: test}}\ncollectors:\n  - name: stats\n    kind: file\n    \
             path: '{}'\n    format: json\n    metrics:\n      - name: app_requests_total\n        \
             help: Requests served.\n        path: '{{ .requests }}'\n        valuetype: counter\n",
            stats.display()
        )
    }

    /// A state whose config file is `config.yaml` in a new folder, holding `config` (not
    /// loaded yet).
    fn state_with(config: &str) -> (tempfile::TempDir, PathBuf, Arc<AppState>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, config).unwrap();
        let state = Arc::new(AppState::new(Some(path.clone()), "/metrics".into()));
        (dir, path, state)
    }

    /// A running state with the one-collector config.
    fn ready_state() -> (tempfile::TempDir, PathBuf, Arc<AppState>) {
        let (dir, path, state) = state_with("");
        std::fs::write(&path, config_reading(dir.path())).unwrap();
        state.reload().unwrap();
        (dir, path, state)
    }

    fn content_type(response: &Response<()>) -> &str {
        response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn the_format_follows_accept_and_its_q_values() {
        let (_dir, _path, state) = ready_state();
        for (accept, expected) in [
            (None, TEXT),
            (Some("application/openmetrics-text;version=1.0.0"), OPENMETRICS),
            (
                Some("application/openmetrics-text;version=1.0.0;q=0.9,text/plain;version=0.0.4;q=0.5"),
                OPENMETRICS,
            ),
            // The higher q wins, whatever the order in the header.
            (
                Some("application/openmetrics-text;version=1.0.0;q=0.4,text/plain;version=0.0.4;q=0.8"),
                TEXT,
            ),
            (
                Some("text/plain;version=0.0.4;q=0.2,application/openmetrics-text;version=0.0.1;q=0.3"),
                OPENMETRICS,
            ),
            // q=0 means "not acceptable".
            (Some("application/openmetrics-text;q=0,*/*;q=0.1"), TEXT),
            // A version this exporter does not write is skipped.
            (
                Some("application/openmetrics-text;version=2.0.0,text/plain;q=0.5"),
                TEXT,
            ),
        ] {
            let headers: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
            let (response, body) =
                oneshot(app(state.clone()), request("GET", "/metrics", &headers)).await;
            assert_eq!(response.status(), StatusCode::OK, "{accept:?}");
            assert_eq!(content_type(&response), expected, "{accept:?}");
            if expected == OPENMETRICS {
                assert!(body.ends_with("# EOF\n"), "{accept:?}: {body}");
                // OpenMetrics names a counter family without its `_total`.
                assert!(
                    body.contains("# TYPE app_requests counter\n"),
                    "{accept:?}: {body}"
                );
            } else {
                assert!(!body.contains("# EOF"), "{accept:?}: {body}");
                assert!(
                    body.contains("# TYPE app_requests_total counter\n"),
                    "{accept:?}: {body}"
                );
            }
            assert!(
                body.contains("app_requests_total{site=\"test\"} 42\n"),
                "{accept:?}: {body}"
            );
        }
    }

    #[tokio::test]
    async fn name_filter_keeps_only_the_named_families() {
        let (_dir, _path, state) = ready_state();
        let scrape = |uri: &'static str| {
            let state = state.clone();
            async move {
                let (response, body) = oneshot(app(state), request("GET", uri, &[])).await;
                assert_eq!(response.status(), StatusCode::OK, "{uri}");
                body
            }
        };
        let types = |body: &str| -> Vec<String> {
            let mut types: Vec<String> = body
                .lines()
                .filter_map(|line| line.strip_prefix("# TYPE "))
                .filter_map(|rest| rest.split(' ').next())
                .map(str::to_string)
                .collect();
            types.sort();
            types
        };

        let all = scrape("/metrics").await;
        assert!(types(&all).len() > 2, "{all}");
        assert!(types(&all).contains(&"sidecar_exporter_collector_up".to_string()));

        let one = scrape("/metrics?name[]=app_requests_total").await;
        assert_eq!(types(&one), ["app_requests_total"], "{one}");
        assert!(
            one.contains("app_requests_total{site=\"test\"} 42\n"),
            "{one}"
        );

        let two = scrape(
            "/metrics?name%5B%5D=sidecar_exporter_collector_up&other=x&name[]=app_requests_total",
        )
        .await;
        assert_eq!(
            types(&two),
            ["app_requests_total", "sidecar_exporter_collector_up"],
            "{two}"
        );

        let none = scrape("/metrics?name[]=no_such_family").await;
        assert_eq!(none, "");
    }

    #[tokio::test]
    async fn ready_answers_503_until_a_config_is_loaded() {
        let (dir, path, state) = state_with("collectors: [\n");
        let (response, body) = oneshot(app(state.clone()), request("GET", "/-/ready", &[])).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body, "Not ready: no valid configuration loaded yet\n");
        let (response, _) = oneshot(app(state.clone()), request("GET", "/metrics", &[])).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        // Still alive meanwhile.
        let (response, _) = oneshot(app(state.clone()), request("GET", "/-/healthy", &[])).await;
        assert_eq!(response.status(), StatusCode::OK);

        // A failed load leaves it not ready.
        assert!(state.reload().is_err());
        let (response, _) = oneshot(app(state.clone()), request("GET", "/-/ready", &[])).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);

        std::fs::write(&path, config_reading(dir.path())).unwrap();
        state.reload().unwrap();
        let (response, body) = oneshot(app(state.clone()), request("GET", "/-/ready", &[])).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(body, "Ready\n");
    }

    #[tokio::test]
    async fn reload_answers_200_or_500_with_the_reason() {
        let (_dir, path, state) = ready_state();
        let (response, body) = oneshot(app(state.clone()), request("POST", "/-/reload", &[])).await;
        assert_eq!(response.status(), StatusCode::OK, "{body}");
        assert_eq!(body, "configuration reloaded: 1 collectors\n");
        let (response, _) = oneshot(app(state.clone()), request("PUT", "/-/reload", &[])).await;
        assert_eq!(response.status(), StatusCode::OK);
        // Reloading changes state, so a GET (a link followed, a prefetch) must not do it.
        let (response, _) = oneshot(app(state.clone()), request("GET", "/-/reload", &[])).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);

        std::fs::write(
            &path,
            "collectors:\n  - name: x\n    kind: file\n    pathh: y\n",
        )
        .unwrap();
        let (response, body) = oneshot(app(state.clone()), request("POST", "/-/reload", &[])).await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            body.starts_with("configuration refused, the previous one keeps running: "),
            "{body}"
        );
        assert!(
            body.contains("config.yaml:4:5: collectors[0] (file): unknown key `pathh`"),
            "{body}"
        );
        assert_eq!(
            state.last_reload_error().as_deref(),
            body.strip_prefix("configuration refused, the previous one keeps running: ")
                .and_then(|reason| reason.strip_suffix('\n'))
        );

        // The previous config keeps serving.
        let (response, _) = oneshot(app(state.clone()), request("GET", "/-/ready", &[])).await;
        assert_eq!(response.status(), StatusCode::OK);
        let (_, metrics) = oneshot(app(state.clone()), request("GET", "/metrics", &[])).await;
        assert!(
            metrics.contains("app_requests_total{site=\"test\"} 42\n"),
            "{metrics}"
        );
        assert!(
            metrics.contains("sidecar_exporter_config_last_reload_successful 0\n"),
            "{metrics}"
        );
    }

    #[tokio::test]
    async fn scrapes_past_max_requests_wait_for_a_turn_until_their_deadline() {
        let (_dir, _path, state) = ready_state();
        let all_turns = state.scrape_permits.acquire_many(40).await.unwrap();
        let scrape = || {
            let headers = [("x-prometheus-scrape-timeout-seconds", "0.3")];
            oneshot(app(state.clone()), request("GET", "/metrics", &headers))
        };
        let (response, body) = scrape().await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("--web.max-requests"), "{body}");
        // A turn freed before the deadline is taken.
        let waiting = tokio::spawn(scrape());
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(all_turns);
        let (response, _) = waiting.await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[test]
    fn name_filter_parses_repeated_and_encoded_parameters() {
        let names = requested_names(Some("name%5B%5D=a_total&name[]=b&other=c")).unwrap();
        assert_eq!(names.len(), 2);
        assert!(names.contains("a_total") && names.contains("b"));
        assert!(requested_names(Some("x=1")).is_none());
        assert!(requested_names(None).is_none());
    }
}
