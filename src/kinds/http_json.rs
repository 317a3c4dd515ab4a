//! The `http_json` kind: fetch JSON over HTTP and map it with json_exporter's metric schema.
//!
//! `json_exporter_module: FILE#MODULE` reads a json_exporter config file and
//! takes one module's `metrics`, `headers`, `valid_status_codes` and `http_client_config` (basic
//! auth, bearer token, TLS, redirects), so that a json_exporter setup moves over unchanged.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::pipeline::MappedConfig;
use super::requests::HttpRequests;
use super::Builder;
use crate::client::auth::BasicAuth;
use crate::client::http::HttpRequestConfig;
use crate::client::tls::TlsConfig;
use crate::config::{ConfigError, KeyError, KindKeys};
use crate::formats::FormatConfig;
use crate::mapping::MetricRule;

/// The `http_json` kind's own key, besides the HTTP request keys and `format`/`metrics`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpJsonConfig {
    /// Take `metrics`, `headers`, `valid_status_codes` and `http_client_config.basic_auth` /
    /// `bearer_token` / `bearer_token_file` from a json_exporter config file, written
    /// `FILE#MODULE` (e.g. `/etc/json_exporter/config.yml#default`), so that a json_exporter
    /// setup moves over without copying. A relative FILE is relative to the working directory.
    /// Keys set on the collector win over the module's; `metrics` cannot be given in both places.
    pub json_exporter_module: Option<String>,
}

/// A json_exporter config file (`modules:` at the top, json_exporter ≥ 0.5).
#[derive(Debug, Deserialize)]
struct ExporterFile {
    modules: BTreeMap<String, Module>,
}

/// One json_exporter module: what the sidecar understands of it. Anything else is refused
/// rather than ignored, so that nothing changes silently in the move.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Module {
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    metrics: Vec<MetricRule>,
    http_client_config: Option<HttpClientConfig>,
    valid_status_codes: Option<Vec<u16>>,
}

/// The part of Prometheus' `http_client_config` the http source supports.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpClientConfig {
    basic_auth: Option<BasicAuth>,
    bearer_token: Option<String>,
    bearer_token_file: Option<String>,
    tls_config: Option<TlsConfig>,
    follow_redirects: Option<bool>,
}

/// Returns `config` with the module named by `reference` (`FILE#MODULE`) filled in: keys the
/// collector sets itself win; `metrics` in both places is an error. Errors name the file (with
/// line and column for YAML errors) and the module.
pub fn apply_module(
    request: &mut HttpRequestConfig,
    mapped: &mut MappedConfig,
    reference: &str,
) -> Result<(), String> {
    let (file, name) = reference.rsplit_once('#').ok_or_else(|| {
        format!("json_exporter_module {reference:?} must be FILE#MODULE, e.g. config.yml#default")
    })?;
    if file.is_empty() || name.is_empty() {
        return Err(format!(
            "json_exporter_module {reference:?} must be FILE#MODULE, e.g. config.yml#default"
        ));
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("json_exporter_module: cannot read {file}: {e}"))?;
    let module = module_from_text(&text, name).map_err(|e| format!("{file}: {e}"))?;
    merge(request, mapped, module, file, name)
}

fn module_from_text(text: &str, name: &str) -> Result<Module, String> {
    let parsed: ExporterFile = serde_yaml::from_str(text).map_err(|e| match e.location() {
        Some(at) => format!("{}:{}: {e}", at.line(), at.column()),
        None => e.to_string(),
    })?;
    let mut modules = parsed.modules;
    let names: Vec<String> = modules.keys().cloned().collect();
    modules.remove(name).ok_or_else(|| {
        format!(
            "no module `{name}` in `modules:` (modules: {})",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        )
    })
}

fn merge(
    config: &mut HttpRequestConfig,
    mapped: &mut MappedConfig,
    module: Module,
    file: &str,
    name: &str,
) -> Result<(), String> {
    if mapped.metrics.is_some() {
        return Err(format!(
            "`metrics` and json_exporter_module {file}#{name} both give the metrics; keep one"
        ));
    }
    if module.metrics.is_empty() {
        return Err(format!("{file}: module `{name}` has no `metrics`"));
    }
    mapped.metrics = Some(module.metrics);
    if !module.headers.is_empty() {
        let headers = config.headers.get_or_insert_with(BTreeMap::new);
        for (key, value) in module.headers {
            if !headers.keys().any(|k| k.eq_ignore_ascii_case(&key)) {
                headers.insert(key, value);
            }
        }
    }
    if config.valid_status_codes.is_none() {
        config.valid_status_codes = module.valid_status_codes;
    }
    if let Some(client) = module.http_client_config {
        let has_auth = config.basic_auth.is_some()
            || config.bearer_token.is_some()
            || config.bearer_token_file.is_some();
        if !has_auth {
            config.basic_auth = client.basic_auth;
            config.bearer_token = client.bearer_token;
            config.bearer_token_file = client.bearer_token_file;
        }
        if config.tls_config.is_none() {
            config.tls_config = client.tls_config;
        }
        if config.follow_redirects.is_none() {
            config.follow_redirects = client.follow_redirects;
        }
    }
    Ok(())
}

/// Builds an `http_json` collector: `json` format unless `format:` says otherwise, and the
/// `metrics:` of a json_exporter module when `json_exporter_module` names one.
pub fn read(keys: &mut KindKeys<'_>) -> Result<Builder, ConfigError> {
    let mut request = keys.take::<HttpRequestConfig>()?;
    let listed = keys.take::<HttpRequests>()?;
    let mut mapped = keys.take::<MappedConfig>()?;
    let own = keys.take::<HttpJsonConfig>()?;
    keys.finish()?;
    Ok(Box::new(move || {
        if let Some(reference) = &own.json_exporter_module {
            apply_module(&mut request, &mut mapped, reference)
                .map_err(|e| KeyError::at("json_exporter_module", e))?;
        }
        let requests = super::requests::http(&request, &listed)?;
        super::pipeline::build(requests, Some(FormatConfig::Json), &mapped)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "
modules:
  default:
    headers:
      X-Dummy: my-test-header
    http_client_config:
      basic_auth:
        username: monitor
        password: secret
    valid_status_codes: [200, 203]
    metrics:
    - name: example_global_value
      path: '{ .counter }'
  other:
    metrics:
    - name: x
      path: '{ .x }'
";

    fn apply(
        mut request: HttpRequestConfig,
        mut mapped: MappedConfig,
        name: &str,
    ) -> Result<(HttpRequestConfig, MappedConfig), String> {
        let module = module_from_text(FILE, name)?;
        merge(&mut request, &mut mapped, module, "config.yml", name)?;
        Ok((request, mapped))
    }

    #[test]
    fn takes_metrics_headers_auth_and_status_codes() {
        let (config, mapped) = apply(Default::default(), Default::default(), "default").unwrap();
        assert_eq!(mapped.metrics.unwrap()[0].name, "example_global_value");
        assert_eq!(config.headers.unwrap()["X-Dummy"], "my-test-header");
        assert_eq!(config.basic_auth.unwrap().username, "monitor");
        assert_eq!(config.valid_status_codes, Some(vec![200, 203]));
    }

    #[test]
    fn collector_keys_win() {
        let mut own = HttpRequestConfig {
            bearer_token: Some("t".into()),
            ..Default::default()
        };
        own.headers = Some(BTreeMap::from([("x-dummy".into(), "mine".into())]));
        let (config, _) = apply(own, Default::default(), "default").unwrap();
        assert!(config.basic_auth.is_none());
        let headers = config.headers.unwrap();
        assert_eq!(headers.len(), 1);
        assert_eq!(headers["x-dummy"], "mine");
    }

    #[test]
    fn errors_name_the_file_and_module() {
        let e = apply(Default::default(), Default::default(), "nope")
            .err()
            .unwrap();
        assert_eq!(
            e,
            "no module `nope` in `modules:` (modules: default, other)"
        );
        let own = MappedConfig {
            metrics: Some(Vec::new()),
            ..Default::default()
        };
        let e = apply(Default::default(), own, "other").err().unwrap();
        assert!(e.contains("config.yml#other both give the metrics"), "{e}");
        let e = module_from_text("modules:\n  a:\n    body: {content: x}\n", "a")
            .err()
            .unwrap();
        assert!(e.starts_with("3:"), "{e}");
        assert!(e.contains("unknown field `body`"), "{e}");
        let (mut request, mut mapped) = Default::default();
        let e = apply_module(&mut request, &mut mapped, "/nonexistent/c.yml#a")
            .err()
            .unwrap();
        assert!(e.contains("cannot read /nonexistent/c.yml"), "{e}");
        let e = apply_module(&mut request, &mut mapped, "c.yml")
            .err()
            .unwrap();
        assert!(e.contains("must be FILE#MODULE"), "{e}");
    }
}
