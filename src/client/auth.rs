//! Credentials towards the app: `basic_auth`, `bearer_token` and `bearer_token_file`, with
//! secrets kept in files re-read when they change (a rotated Kubernetes token).

use std::sync::Mutex;
use std::time::SystemTime;

use http::header::HeaderValue;
use serde::Deserialize;

use super::http::HttpRequestConfig;
use crate::collector::{CollectError, Reason};
use crate::config::KeyError;

/// HTTP basic authentication.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// The user name.
    pub username: String,
    /// The password (prefer `password_file`).
    pub password: Option<String>,
    /// A file holding the password.
    pub password_file: Option<String>,
}

/// Credentials sent in the `Authorization` header.
pub(crate) enum Auth {
    Basic { username: String, password: Secret },
    Bearer(Secret),
}

impl Auth {
    /// The header value, reading a password or token file when it changed.
    pub(crate) fn header_value(&self) -> Result<HeaderValue, CollectError> {
        use base64::Engine as _;
        let text = match self {
            Auth::Basic { username, password } => {
                let credentials = format!("{username}:{}", password.get()?);
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(credentials)
                )
            }
            Auth::Bearer(token) => format!("Bearer {}", token.get()?),
        };
        let mut value = HeaderValue::from_str(&text).map_err(|_| {
            CollectError::new(
                Reason::Connect,
                "the credentials contain characters not allowed in an HTTP header",
            )
        })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

/// `basic_auth`, `bearer_token` or `bearer_token_file`, checked.
pub(crate) fn auth_from_config(cfg: &HttpRequestConfig) -> Result<Option<Auth>, KeyError> {
    let bearer = match (&cfg.bearer_token, &cfg.bearer_token_file) {
        (Some(_), Some(_)) => {
            return Err(KeyError::at(
                "bearer_token_file",
                "bearer_token and bearer_token_file exclude each other",
            ))
        }
        (Some(token), None) => Some(Secret::Inline(token.clone())),
        (None, Some(file)) => Some(Secret::File(
            FileSecret::new(file, "bearer_token_file")
                .map_err(|e| KeyError::at("bearer_token_file", e))?,
        )),
        (None, None) => None,
    };
    let basic = match &cfg.basic_auth {
        None => None,
        Some(basic) => {
            let password = match (&basic.password, &basic.password_file) {
                (Some(_), Some(_)) => {
                    return Err(KeyError::at(
                        "password_file",
                        "basic_auth: password and password_file exclude each other",
                    )
                    .below("basic_auth"))
                }
                (Some(p), None) => Secret::Inline(p.clone()),
                (None, Some(file)) => Secret::File(
                    FileSecret::new(file, "basic_auth.password_file")
                        .map_err(|e| KeyError::at("password_file", e).below("basic_auth"))?,
                ),
                (None, None) => Secret::Inline(String::new()),
            };
            Some(Auth::Basic {
                username: basic.username.clone(),
                password,
            })
        }
    };
    match (basic, bearer) {
        (Some(_), Some(_)) => Err(KeyError::at(
            "basic_auth",
            "basic_auth and bearer_token(_file) exclude each other",
        )),
        (Some(b), None) => Ok(Some(b)),
        (None, Some(token)) => Ok(Some(Auth::Bearer(token))),
        (None, None) => Ok(None),
    }
}

pub(crate) enum Secret {
    Inline(String),
    File(FileSecret),
}

impl Secret {
    fn get(&self) -> Result<String, CollectError> {
        match self {
            Secret::Inline(s) => Ok(s.clone()),
            Secret::File(f) => f.get(),
        }
    }
}

/// A secret kept in a file (a Kubernetes service-account token, a mounted password). The file is
/// stat'ed on every request and read again only when its modification time or size changed.
pub(crate) struct FileSecret {
    path: String,
    key: &'static str,
    cached: Mutex<Option<(SystemTime, u64, String)>>,
}

impl FileSecret {
    /// Reads the file once, so that a missing file is a config error.
    pub(crate) fn new(path: &str, key: &'static str) -> Result<Self, String> {
        let secret = FileSecret {
            path: path.to_string(),
            key,
            cached: Mutex::new(None),
        };
        secret.get().map_err(|e| e.message)?;
        Ok(secret)
    }

    /// The content, read again when the file's modification time or size changed.
    pub(crate) fn get(&self) -> Result<String, CollectError> {
        let unreadable = |e: std::io::Error| {
            let reason = if e.kind() == std::io::ErrorKind::PermissionDenied {
                Reason::Permission
            } else {
                Reason::Connect
            };
            CollectError::new(
                reason,
                format!("cannot read {} {}: {e}", self.key, self.path),
            )
        };
        let metadata = std::fs::metadata(&self.path).map_err(unreadable)?;
        let modified = metadata.modified().map_err(unreadable)?;
        let mut cached = crate::scrape::lock(&self.cached);
        if let Some((mtime, len, value)) = cached.as_ref() {
            if *mtime == modified && *len == metadata.len() {
                return Ok(value.clone());
            }
        }
        let content = std::fs::read_to_string(&self.path).map_err(unreadable)?;
        let value = content.trim_end_matches(['\r', '\n']).to_string();
        *cached = Some((modified, metadata.len(), value.clone()));
        Ok(value)
    }
}

// --- unix sockets ---

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_is_reread_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "first\n").unwrap();
        let secret = FileSecret::new(path.to_str().unwrap(), "bearer_token_file").unwrap();
        assert_eq!(secret.get().unwrap(), "first");
        std::fs::write(&path, "second-token\n").unwrap();
        assert_eq!(secret.get().unwrap(), "second-token");
    }
}
