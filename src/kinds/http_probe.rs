//! The `http_probe` kind: blackbox_exporter's HTTP prober, with its metric names.
//!
//! Each collection makes a fresh connection (as blackbox does), so connect and TLS times are
//! measured every time. A failed probe is `probe_success 0`, not a collector error: the collector
//! stays up and the reason is logged and shown in [`Collector::notes`].
//!
//! `probe_http_duration_seconds{phase}` — how each phase is measured:
//! - `resolve`: the address lookup, timed here (0 for an IP address), as blackbox.
//! - `connect`: plain HTTP: the TCP connect, exact. HTTPS: the TCP connect *and* the TLS handshake
//!   (the HTTP client opens both in one step), so it is larger than blackbox's TCP-only value.
//! - `tls`: HTTPS only: TCP connect plus handshake, which is what blackbox reports too.
//! - `processing`: from sending the request to the response headers, excluding connect time.
//! - `transfer`: from the response headers to the end of the body, exact.
//!
//! Summed over redirects, like blackbox. `probe_ssl_earliest_cert_expiry` is the `notAfter` of the
//! server's leaf certificate (the client exposes only that one; blackbox takes the earliest of the
//! whole chain, which differs only when an intermediate expires before the leaf).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderMap, CONTENT_LENGTH};
use tokio::time::Instant;

use super::Builder;
use crate::client::auth::{auth_from_config, Auth};
use crate::client::body::{LimitedBody, DEFAULT_MAX_RESPONSE_BYTES};
use crate::client::http::{
    classify_reqwest, error_chain, headers_from_config, redact_url, status_is_valid,
    HttpRequestConfig,
};
use crate::client::tls::{apply_tls, load_tls, use_server_name, TlsMaterial};
use crate::collector::{CollectError, Collection, Collector, Context};
use crate::config::{ConfigError, KeyError, KindKeys};
use crate::explain::{Phase, Recorder, RequestTrace};
use crate::model::{labels, MetricFamily, MetricType};
use crate::scrape::lock;

/// Probes one URL per collection.
pub struct HttpProbeCollector {
    url: reqwest::Url,
    display: String,
    method: http::Method,
    headers: HeaderMap,
    body: Option<Bytes>,
    auth: Option<Auth>,
    tls: Option<TlsMaterial>,
    follow_redirects: bool,
    valid_status_codes: Option<Vec<u16>>,
    max_bytes: u64,
    fail_if_matches: Vec<regex::bytes::Regex>,
    fail_if_not_matches: Vec<regex::bytes::Regex>,
    last_failure: Mutex<Option<String>>,
}

/// What one probe found; every field becomes a family.
#[derive(Debug, Default, Clone, PartialEq)]
struct ProbeOutcome {
    success: bool,
    failure: Option<String>,
    resolve: f64,
    connect: f64,
    tls: f64,
    processing: f64,
    transfer: f64,
    ip: Option<IpAddr>,
    status_code: u16,
    content_length: i64,
    body_length: u64,
    redirects: usize,
    ssl: bool,
    http_version: f64,
    failed_due_to_regex: bool,
    cert_expiry: Option<i64>,
    last_modified: Option<i64>,
}

/// The `http_probe` kind's own keys, besides the HTTP request keys.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    /// The probe fails (`probe_success 0`, `probe_failed_due_to_regex 1`) when the body matches
    /// any of these regular expressions.
    pub fail_if_body_matches_regexp: Option<Vec<String>>,
    /// The probe fails (`probe_success 0`, `probe_failed_due_to_regex 1`) unless the body
    /// matches every one of these regular expressions.
    pub fail_if_body_not_matches_regexp: Option<Vec<String>>,
}

impl HttpProbeCollector {
    /// Builds the probe from a collector's `url`, `method`, `headers`, `body`, `basic_auth`,
    /// `bearer_token(_file)`, `tls_config`, `follow_redirects` (default `true`),
    /// `valid_status_codes`, `max_response_bytes`, `fail_if_body_matches_regexp` and
    /// `fail_if_body_not_matches_regexp`.
    pub fn from_config(cfg: &HttpRequestConfig, checks: &ProbeConfig) -> Result<Self, KeyError> {
        let raw = cfg
            .url
            .as_deref()
            .ok_or("the `url` key is missing (http_probe)")?;
        if raw.starts_with("unix:") {
            return Err(KeyError::at(
                "url",
                "http_probe cannot probe a unix-socket url; use an http(s):// url",
            ));
        }
        // blackbox accepts a bare host:port target and probes it over http.
        let full = if raw.starts_with("http://") || raw.starts_with("https://") {
            raw.to_string()
        } else {
            format!("http://{raw}")
        };
        let url = reqwest::Url::parse(&full)
            .map_err(|e| KeyError::at("url", format!("url {raw:?} is not valid: {e}")))?;
        if url.host_str().is_none() {
            return Err(KeyError::at("url", format!("url {raw:?} names no host")));
        }
        let method = cfg.method()?;
        let compile =
            |key: &str, list: &Option<Vec<String>>| -> Result<Vec<regex::bytes::Regex>, KeyError> {
                list.iter()
                    .flatten()
                    .enumerate()
                    .map(|(index, r)| {
                        regex::bytes::Regex::new(r).map_err(|e| {
                            KeyError::from(format!(
                                "{key}: {r:?} is not a valid regular expression: {e}"
                            ))
                            .in_item(index)
                            .below(key)
                        })
                    })
                    .collect()
            };
        let probe = HttpProbeCollector {
            display: redact_url(&url),
            url,
            method,
            headers: headers_from_config(cfg)?,
            body: cfg.body.clone().map(Bytes::from),
            auth: auth_from_config(cfg)?,
            tls: cfg.tls_config.as_ref().map(load_tls).transpose()?,
            follow_redirects: cfg.follow_redirects.unwrap_or(true),
            valid_status_codes: cfg.valid_status_codes.clone(),
            max_bytes: cfg.max_response_bytes.unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
            fail_if_matches: compile(
                "fail_if_body_matches_regexp",
                &checks.fail_if_body_matches_regexp,
            )?,
            fail_if_not_matches: compile(
                "fail_if_body_not_matches_regexp",
                &checks.fail_if_body_not_matches_regexp,
            )?,
            last_failure: Mutex::new(None),
        };
        Ok(probe)
    }

    fn client_builder(
        &self,
        pinned: Option<(&str, SocketAddr)>,
        connects: Arc<Mutex<Vec<Duration>>>,
        redirects: Arc<AtomicUsize>,
    ) -> Result<reqwest::ClientBuilder, String> {
        let follow = self.follow_redirects;
        let mut builder = reqwest::Client::builder()
            .no_gzip()
            .tls_info(true)
            .pool_max_idle_per_host(0)
            .user_agent(concat!("sidecar-exporter/", env!("CARGO_PKG_VERSION")))
            .connector_layer(TimedConnectLayer { connects })
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                let so_far = attempt.previous().len();
                redirects.store(so_far, Ordering::Relaxed);
                if follow && so_far <= 10 {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }));
        if let Some(tls) = &self.tls {
            builder = apply_tls(builder, tls);
        }
        if let Some((host, addr)) = pinned {
            builder = builder.resolve(host, addr);
        }
        Ok(builder)
    }

    async fn probe(&self, ctx: &Context, deadline: Instant, outcome: &mut ProbeOutcome) {
        outcome.failure = self.probe_steps(ctx, deadline, outcome).await.err();
        outcome.success = outcome.failure.is_none();
    }

    async fn probe_steps(
        &self,
        ctx: &Context,
        deadline: Instant,
        out: &mut ProbeOutcome,
    ) -> Result<(), String> {
        let mut url = self.url.clone();
        let host = url.host_str().unwrap_or_default().to_string();
        let port = url.port_or_known_default().unwrap_or(80);
        let bare_host = host.trim_start_matches('[').trim_end_matches(']');

        let resolve_start = Instant::now();
        let addr = match bare_host.parse::<IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, port),
            Err(_) => tokio::net::lookup_host((bare_host, port))
                .await
                .map_err(|e| format!("cannot resolve {host}: {e}"))?
                .next()
                .ok_or_else(|| format!("{host} resolves to no address"))?,
        };
        out.resolve = resolve_start.elapsed().as_secs_f64();
        out.ip = Some(addr.ip());

        let mut headers = self.headers.clone();
        if let Some(auth) = &self.auth {
            headers.insert(
                http::header::AUTHORIZATION,
                auth.header_value().map_err(|e| e.message)?,
            );
        }
        let connects = Arc::new(Mutex::new(Vec::new()));
        let redirects = Arc::new(AtomicUsize::new(0));
        let server_name = self.tls.as_ref().and_then(|t| t.server_name.clone());
        // The client is always pinned to the address resolved above, so that the phases can be
        // timed; with server_name, that name is the one pinned and verified.
        let pinned_name = match &server_name {
            Some(name) => {
                use_server_name(&mut url, name, &mut headers)?;
                name.clone()
            }
            None => bare_host.to_string(),
        };
        let client = self
            .client_builder(
                Some((&pinned_name, addr)),
                connects.clone(),
                redirects.clone(),
            )?
            .timeout(deadline.saturating_duration_since(Instant::now()))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {}", error_chain(&e)))?;

        let mut request = client.request(self.method.clone(), url).headers(headers);
        if let Some(body) = &self.body {
            request = request.body(body.clone());
        }
        ctx.count_request();
        let send_start = Instant::now();
        let sent = request.send().await;
        let headers_at = Instant::now();
        let connect_total: Duration = lock(&connects).iter().sum();
        out.redirects = redirects.load(Ordering::Relaxed);
        let mut response = sent.map_err(|e| classify_reqwest(e).message)?;

        out.ssl = response.url().scheme() == "https";
        if out.ssl {
            out.tls = connect_total.as_secs_f64();
        }
        out.connect = connect_total.as_secs_f64();
        out.processing = (headers_at - send_start)
            .saturating_sub(connect_total)
            .as_secs_f64();
        out.status_code = response.status().as_u16();
        out.content_length = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
            .unwrap_or(-1);
        out.http_version = match response.version() {
            http::Version::HTTP_09 => 0.9,
            http::Version::HTTP_10 => 1.0,
            http::Version::HTTP_11 => 1.1,
            http::Version::HTTP_2 => 2.0,
            http::Version::HTTP_3 => 3.0,
            _ => 0.0,
        };
        out.last_modified = response
            .headers()
            .get(http::header::LAST_MODIFIED)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64);
        if let Some(info) = response.extensions().get::<reqwest::tls::TlsInfo>() {
            if let Some(der) = info.peer_certificate() {
                out.cert_expiry = Some(cert_not_after(der)?);
            }
        }

        let mut body = LimitedBody::new(self.max_bytes, None).map_err(|e| e.message)?;
        let mut body_error = None;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    out.body_length += chunk.len() as u64;
                    if let Err(e) = body.push(&chunk) {
                        body_error = Some(e.message);
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    body_error = Some(classify_reqwest(e).message);
                    break;
                }
            }
        }
        out.transfer = headers_at.elapsed().as_secs_f64();

        if !status_is_valid(out.status_code, &self.valid_status_codes) {
            return Err(format!(
                "status code {} is not valid (valid_status_codes)",
                out.status_code
            ));
        }
        if let Some(e) = body_error {
            return Err(format!("reading the body failed: {e}"));
        }
        let body = body.finish();
        if let Some(r) = self.fail_if_matches.iter().find(|r| r.is_match(&body)) {
            out.failed_due_to_regex = true;
            return Err(format!(
                "the body matches {:?} (fail_if_body_matches_regexp)",
                r.as_str()
            ));
        }
        if let Some(r) = self.fail_if_not_matches.iter().find(|r| !r.is_match(&body)) {
            out.failed_due_to_regex = true;
            return Err(format!(
                "the body does not match {:?} (fail_if_body_not_matches_regexp)",
                r.as_str()
            ));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Collector for HttpProbeCollector {
    async fn collect(&self, ctx: &Context) -> Result<Collection, CollectError> {
        let start = Instant::now();
        // Finish a little before the engine's deadline so that a hanging target still gives
        // `probe_success 0` rather than a collector timeout.
        let margin = (ctx.remaining() / 10).min(Duration::from_millis(250));
        let deadline = ctx.deadline.checked_sub(margin).unwrap_or(ctx.deadline);
        let mut outcome = ProbeOutcome::default();
        let finished =
            tokio::time::timeout_at(deadline, self.probe(ctx, deadline, &mut outcome)).await;
        if finished.is_err() {
            outcome.success = false;
            // Worded like the HTTP client's own timeout (which may fire first at the same
            // instant), so that the status page says the same thing whichever timer wins.
            outcome.failure = Some("no complete answer in time: the deadline passed".to_string());
        }
        let duration = start.elapsed().as_secs_f64();
        match &outcome.failure {
            Some(reason) => tracing::debug!(target = %self.display, %reason, "probe failed"),
            None => tracing::trace!(target = %self.display, "probe succeeded"),
        }
        *lock(&self.last_failure) = outcome.failure.clone();
        if let Some(recorder) = ctx.explain() {
            self.explain(recorder, &outcome, duration);
        }
        Ok(Collection::from(families(&outcome, duration)))
    }

    fn target(&self) -> String {
        self.display.clone()
    }

    fn notes(&self) -> Vec<String> {
        lock(&self.last_failure)
            .as_ref()
            .map(|f| vec![format!("last probe failed: {f}")])
            .unwrap_or_default()
    }
}

impl HttpProbeCollector {
    /// The probe's request with blackbox's phases, and its verdict.
    fn explain(&self, recorder: &Recorder, outcome: &ProbeOutcome, duration: f64) {
        let phases = [
            ("resolve", outcome.resolve),
            ("connect", outcome.connect),
            ("tls", outcome.tls),
            ("processing", outcome.processing),
            ("transfer", outcome.transfer),
        ];
        recorder.request(RequestTrace {
            method: self.method.to_string(),
            target: self.display.clone(),
            status: (outcome.status_code != 0).then_some(outcome.status_code),
            bytes: (outcome.status_code != 0).then_some(outcome.body_length),
            phases: phases
                .iter()
                .filter(|(name, seconds)| *seconds > 0.0 || *name != "tls")
                .map(|(name, seconds)| Phase {
                    name: name.to_string(),
                    seconds: *seconds,
                })
                .collect(),
        });
        let mut lines = vec![format!(
            "probe_success {} after {duration:.3}s, {} redirects",
            u8::from(outcome.success),
            outcome.redirects
        )];
        if let Some(failure) = &outcome.failure {
            lines.push(format!("failed: {failure}"));
        }
        if outcome.failed_due_to_regex {
            lines.push("the body failed a fail_if_body_… check".to_string());
        }
        recorder.section("probe", lines);
    }
}

/// The families blackbox_exporter's http prober writes, with its help texts.
fn families(o: &ProbeOutcome, duration: f64) -> Vec<MetricFamily> {
    let gauge = |name: &str, help: &str, value: f64| {
        MetricFamily::new(name, help, MetricType::Gauge).with_sample(Vec::new(), value)
    };
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let mut phases = MetricFamily::new(
        "probe_http_duration_seconds",
        "Duration of http request by phase, summed over all redirects",
        MetricType::Gauge,
    );
    for (phase, value) in [
        ("connect", o.connect),
        ("processing", o.processing),
        ("resolve", o.resolve),
        ("tls", o.tls),
        ("transfer", o.transfer),
    ] {
        phases.push(labels([("phase", phase)]), value);
    }
    let mut out = vec![
        gauge(
            "probe_dns_lookup_time_seconds",
            "Returns the time taken for probe dns lookup in seconds",
            o.resolve,
        ),
        gauge(
            "probe_duration_seconds",
            "Returns how long the probe took to complete in seconds",
            duration,
        ),
        gauge(
            "probe_failed_due_to_regex",
            "Indicates if probe failed due to regex",
            flag(o.failed_due_to_regex),
        ),
        gauge(
            "probe_http_content_length",
            "Length of http content response",
            o.content_length as f64,
        ),
        phases,
    ];
    if let Some(modified) = o.last_modified {
        out.push(gauge(
            "probe_http_last_modified_timestamp_seconds",
            "Returns the Last-Modified HTTP response header in unixtime",
            modified as f64,
        ));
    }
    out.extend([
        gauge(
            "probe_http_redirects",
            "The number of redirects",
            o.redirects as f64,
        ),
        gauge(
            "probe_http_ssl",
            "Indicates if SSL was used for the final redirect",
            flag(o.ssl),
        ),
        gauge(
            "probe_http_status_code",
            "Response HTTP status code",
            f64::from(o.status_code),
        ),
        gauge(
            "probe_http_uncompressed_body_length",
            "Length of uncompressed response body",
            o.body_length as f64,
        ),
        gauge(
            "probe_http_version",
            "Returns the version of HTTP of the probe response",
            o.http_version,
        ),
    ]);
    if let Some(ip) = o.ip {
        out.push(gauge(
            "probe_ip_addr_hash",
            "Specifies the hash of IP address. It's useful to detect if the IP address changes.",
            f64::from(fnv1a32(&match ip {
                IpAddr::V4(v4) => v4.octets().to_vec(),
                IpAddr::V6(v6) => v6.octets().to_vec(),
            })),
        ));
        out.push(gauge(
            "probe_ip_protocol",
            "Specifies whether probe ip protocol is IP4 or IP6",
            if ip.is_ipv4() { 4.0 } else { 6.0 },
        ));
    }
    if let Some(expiry) = o.cert_expiry {
        out.push(gauge(
            "probe_ssl_earliest_cert_expiry",
            "Returns earliest SSL cert expiry in unixtime",
            expiry as f64,
        ));
    }
    out.push(gauge(
        "probe_success",
        "Displays whether or not the probe was a success",
        flag(o.success),
    ));
    out
}

/// The 32-bit FNV-1a hash blackbox uses for `probe_ip_addr_hash` (over the address bytes).
fn fnv1a32(data: &[u8]) -> u32 {
    data.iter().fold(0x811c_9dc5u32, |hash, b| {
        (hash ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// The `notAfter` of a DER certificate, in seconds since the epoch.
pub fn cert_not_after(der: &[u8]) -> Result<i64, String> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| format!("the server's certificate cannot be parsed: {e}"))?;
    Ok(certificate.validity().not_after.timestamp())
}

/// A connector layer that records how long each new connection took to open (TCP connect, plus
/// the TLS handshake for https).
#[derive(Clone)]
struct TimedConnectLayer {
    connects: Arc<Mutex<Vec<Duration>>>,
}

impl<S> tower_layer::Layer<S> for TimedConnectLayer {
    type Service = TimedConnect<S>;
    fn layer(&self, inner: S) -> Self::Service {
        TimedConnect {
            inner,
            connects: self.connects.clone(),
        }
    }
}

#[derive(Clone)]
struct TimedConnect<S> {
    inner: S,
    connects: Arc<Mutex<Vec<Duration>>>,
}

impl<S, R> tower_service::Service<R> for TimedConnect<S>
where
    S: tower_service::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let start = Instant::now();
        let connects = self.connects.clone();
        let future = self.inner.call(request);
        Box::pin(async move {
            let result = future.await;
            lock(&connects).push(start.elapsed());
            result
        })
    }
}

/// Reads an `http_probe` collector's keys: the HTTP request keys and the body checks.
pub fn read(keys: &mut KindKeys<'_>) -> Result<Builder, ConfigError> {
    let request = keys.take::<HttpRequestConfig>()?;
    let checks = keys.take::<ProbeConfig>()?;
    keys.finish()?;
    Ok(Box::new(move || {
        Ok(Arc::new(HttpProbeCollector::from_config(
            &request, &checks,
        )?))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::locate::Step;

    #[test]
    fn fnv_matches_go_hash_fnv_new32a() {
        // Reference values of Go's fnv.New32a.
        assert_eq!(fnv1a32(b""), 0x811c9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c292c);
        // blackbox_exporter's probe_ip_addr_hash for 127.0.0.1 (hash of the 4 address bytes).
        assert_eq!(fnv1a32(&[127, 0, 0, 1]), 3668918509);
    }

    #[test]
    fn failed_probe_families_are_complete_and_zero() {
        let families = families(&ProbeOutcome::default(), 0.5);
        let names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
        assert!(names.contains(&"probe_success"));
        assert!(names.contains(&"probe_http_status_code"));
        assert!(!names.contains(&"probe_ssl_earliest_cert_expiry"));
        let success = families.iter().find(|f| f.name == "probe_success").unwrap();
        assert_eq!(success.samples[0].value, 0.0);
        let phases = families
            .iter()
            .find(|f| f.name == "probe_http_duration_seconds")
            .unwrap();
        assert_eq!(phases.samples.len(), 5);
    }

    #[test]
    fn config_checks() {
        let cfg = HttpRequestConfig {
            url: Some("127.0.0.1:8080".into()),
            ..Default::default()
        };
        let checks = ProbeConfig {
            fail_if_body_matches_regexp: Some(vec!["(".into()]),
            ..Default::default()
        };
        let err = HttpProbeCollector::from_config(&cfg, &checks)
            .err()
            .unwrap();
        assert!(err.message.contains("fail_if_body_matches_regexp"), "{err}");
        let path = [
            Step::Key("fail_if_body_matches_regexp".into()),
            Step::Index(0),
        ];
        assert_eq!(err.path, path, "{err}");
        let cfg = HttpRequestConfig {
            url: Some("127.0.0.1:8080/health".into()),
            ..Default::default()
        };
        let probe = HttpProbeCollector::from_config(&cfg, &ProbeConfig::default()).unwrap();
        assert_eq!(probe.target(), "http://127.0.0.1:8080/health");
    }

    #[test]
    fn garbage_certificate_is_an_error() {
        assert!(cert_not_after(b"not a certificate").is_err());
    }
}
