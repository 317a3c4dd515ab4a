//! The HTTP server: `/metrics`, the status page, health, readiness and reload.

mod state;
mod status_page;
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

pub use state::AppState;

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
        .route("/-/reload", post(reload).put(reload));
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

async fn status(State(state): State<Arc<AppState>>) -> Html<String> {
    Html(status_page::render(&state))
}

/// The metric families a `name[]=` query asks for (none given: all).
fn requested_names(query: Option<&str>) -> Option<HashSet<String>> {
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
    let outcomes = engine.collect(deadline).await;

    state.counters.count_scrape(200);
    // The exporter's own families go first, so that an app passing through its own
    // `process_*` metrics (a `prometheus` collector) cannot make them appear twice: the app's
    // colliding series are the ones dropped and counted (collisions of this scrape show in the
    // error counters from the next scrape on).
    let own = self_metrics::families(&outcomes, &state.counters, state.reload_state());
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
    use super::*;

    #[test]
    fn name_filter_parses_repeated_and_encoded_parameters() {
        let names = requested_names(Some("name%5B%5D=a_total&name[]=b&other=c")).unwrap();
        assert_eq!(names.len(), 2);
        assert!(names.contains("a_total") && names.contains("b"));
        assert!(requested_names(Some("x=1")).is_none());
        assert!(requested_names(None).is_none());
    }
}
