//! `basic_auth_users`: bcrypt hashes, the cache of verified passwords, the `Authorization`
//! header, and the middleware that asks for them and adds the configured headers.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine as _;
use serde::{Deserialize, Deserializer};

use super::{checked_str, WebConfigHandle, WebSettings};

/// A bcrypt password hash (`$2a$`, `$2b$`, `$2x$` or `$2y$`), checked when the file is read.
#[derive(Clone, PartialEq, Eq)]
pub struct BcryptHash(String);

impl BcryptHash {
    /// The hash as written in the file.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BcryptHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<bcrypt hash>")
    }
}

impl<'de> Deserialize<'de> for BcryptHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        checked_str(deserializer, "a bcrypt hash", |text| {
            text.parse::<bcrypt::HashParts>()
                .map(|_| BcryptHash(text.to_string()))
                .map_err(|_| {
                    "not a bcrypt hash (expected `$2y$10$` followed by 53 characters; \
                     make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)"
                        .to_string()
                })
        })
    }
}

impl WebConfigHandle {
    /// Whether an `Authorization` header names one of `settings.users` with their password.
    pub async fn authorized(
        &self,
        settings: &WebSettings,
        authorization: Option<&HeaderValue>,
    ) -> bool {
        let Some((user, password)) = authorization.and_then(parse_basic_auth) else {
            return false;
        };
        let Some(stored) = settings.users.get(&user) else {
            // An unknown user is checked against a hash anyway, so that the answer takes as
            // long as for a known one and does not tell which user names exist.
            self.auth.verify(password, None).await;
            return false;
        };
        let tag = self.auth.tag(&user, stored.as_str(), &password);
        if self.auth.contains(&tag) {
            return true;
        }
        let ok = self
            .auth
            .verify(password, Some(stored.as_str().to_string()))
            .await;
        if ok {
            self.auth.insert(tag);
        }
        ok
    }
}

/// A bcrypt hash (cost 10, like the usual `htpasswd -B`) of a random password, made once when
/// first needed, to check unknown user names against.
pub(super) fn unknown_user_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let rng = ring::rand::SystemRandom::new();
        let mut random = [0u8; 32];
        if ring::rand::SecureRandom::fill(&rng, &mut random).is_err() {
            random = [0x5a; 32];
        }
        let (salt, password) = random.split_at(16);
        let salt: [u8; 16] = salt.try_into().unwrap_or([0x5a; 16]);
        bcrypt::hash_with_salt(password, 10, salt)
            .map(|parts| parts.to_string())
            .unwrap_or_default()
    })
}

/// Successful password checks, remembered because bcrypt is slow on purpose (tens of
/// milliseconds a check, every scrape). Entries are HMAC-SHA256 tags of user, stored hash and
/// password under a key made at start and never written anywhere: the plain password is never
/// kept, and a tag is useless without the key. A changed hash changes the tag, so a password
/// change takes effect at once.
pub(super) struct VerifiedPasswords {
    key: ring::hmac::Key,
    verified: Mutex<HashSet<[u8; 32]>>,
    /// One bcrypt check at a time: a flood of wrong passwords costs one core, not all.
    bcrypt_turn: tokio::sync::Mutex<()>,
}

/// Upper bound of remembered checks; the set is emptied when it is reached.
const MAX_VERIFIED: usize = 1024;

impl VerifiedPasswords {
    pub(super) fn new() -> VerifiedPasswords {
        let rng = ring::rand::SystemRandom::new();
        let key = match ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &rng) {
            Ok(key) => key,
            // Without randomness from the OS no key can be made; use the process address
            // layout and time instead of failing, which only matters for the cache.
            Err(_) => {
                let fallback = format!("{:?}{:p}", SystemTime::now(), &rng);
                ring::hmac::Key::new(ring::hmac::HMAC_SHA256, fallback.as_bytes())
            }
        };
        VerifiedPasswords {
            key,
            verified: Mutex::new(HashSet::new()),
            bcrypt_turn: tokio::sync::Mutex::new(()),
        }
    }

    fn tag(&self, user: &str, hash: &str, password: &str) -> [u8; 32] {
        let mut context = ring::hmac::Context::with_key(&self.key);
        // Length prefixes keep ("ab", "c") and ("a", "bc") apart.
        for part in [user, hash] {
            context.update(&(part.len() as u64).to_le_bytes());
            context.update(part.as_bytes());
        }
        context.update(password.as_bytes());
        let mut tag = [0u8; 32];
        tag.copy_from_slice(context.sign().as_ref());
        tag
    }

    fn contains(&self, tag: &[u8; 32]) -> bool {
        match self.verified.lock() {
            Ok(verified) => verified.contains(tag),
            Err(_) => false,
        }
    }

    fn insert(&self, tag: [u8; 32]) {
        if let Ok(mut verified) = self.verified.lock() {
            if verified.len() >= MAX_VERIFIED {
                verified.clear();
            }
            verified.insert(tag);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.verified.lock().map_or(0, |v| v.len())
    }

    /// Checks `password` against `hash` (`None`: against a hash for unknown users).
    async fn verify(&self, password: String, hash: Option<String>) -> bool {
        let _turn = self.bcrypt_turn.lock().await;
        tokio::task::spawn_blocking(move || {
            let hash = hash.as_deref().unwrap_or_else(|| unknown_user_hash());
            bcrypt::verify(password, hash).unwrap_or(false)
        })
        .await
        .unwrap_or(false)
    }
}

/// The user and password of a `Basic` `Authorization` header.
fn parse_basic_auth(value: &HeaderValue) -> Option<(String, String)> {
    let text = value.to_str().ok()?;
    let (scheme, credentials) = text.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// The axum middleware: basic auth (when users are configured) and the extra headers.
pub async fn middleware(
    State(handle): State<Arc<WebConfigHandle>>,
    request: Request,
    next: Next,
) -> Response {
    let settings = handle.current();
    let allowed = settings.users.is_empty()
        || handle
            .authorized(&settings, request.headers().get(header::AUTHORIZATION))
            .await;
    let mut response = if allowed {
        next.run(request).await
    } else {
        let mut response = (StatusCode::UNAUTHORIZED, "Unauthorized\n").into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
        response
    };
    for (name, value) in &settings.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// Wraps every route of `router` (the fallback included) in [`middleware`].
pub fn protect(router: Router, handle: Arc<WebConfigHandle>) -> Router {
    router.layer(axum::middleware::from_fn_with_state(handle, middleware))
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;
    use crate::config::ConfigError;

    fn parse_err(text: &str) -> ConfigError {
        parse("web.yml", text).unwrap_err()
    }

    #[test]
    fn passwords_must_be_bcrypt_hashes() {
        let error = parse_err("basic_auth_users:\n  bob: $2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG\n  alice: secret\n");
        assert_eq!((error.line, error.column), (3, 10), "{error}");
        assert!(error.message.contains("not a bcrypt hash"), "{error}");
        assert!(!error.to_string().contains("secret"), "{error}");
    }

    #[test]
    fn basic_auth_header_parsing() {
        let value = HeaderValue::from_static("Basic YWxpY2U6cDpzcw==");
        assert_eq!(
            parse_basic_auth(&value),
            Some(("alice".into(), "p:ss".into()))
        );
        assert_eq!(
            parse_basic_auth(&HeaderValue::from_static("Bearer abc")),
            None
        );
        assert_eq!(
            parse_basic_auth(&HeaderValue::from_static("Basic !!!")),
            None
        );
    }

    fn handle_with_user(
        user: &str,
        password: &str,
    ) -> (tempfile::TempDir, WebConfigHandle, Arc<WebSettings>) {
        let hash = bcrypt::hash_with_salt(password, 4, [7u8; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoY);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, format!("basic_auth_users:\n  {user}: {hash}\n")).unwrap();
        let handle = WebConfigHandle::load(&path).unwrap();
        let settings = handle.current();
        (dir, handle, settings)
    }

    fn basic(user: &str, password: &str) -> HeaderValue {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        HeaderValue::from_str(&format!("Basic {encoded}")).unwrap()
    }

    #[tokio::test]
    async fn bcrypt_check_and_cache() {
        let (_dir, handle, settings) = handle_with_user("alice", "right");
        assert!(!handle.authorized(&settings, None).await);
        assert!(
            !handle
                .authorized(&settings, Some(&basic("alice", "wrong")))
                .await
        );
        assert!(
            !handle
                .authorized(&settings, Some(&basic("bob", "right")))
                .await
        );
        // Failures are not remembered.
        assert_eq!(handle.auth.len(), 0);
        assert!(
            handle
                .authorized(&settings, Some(&basic("alice", "right")))
                .await
        );
        assert_eq!(handle.auth.len(), 1);
        let tag = handle
            .auth
            .tag("alice", settings.users["alice"].as_str(), "right");
        assert!(handle.auth.contains(&tag));
        assert!(
            handle
                .authorized(&settings, Some(&basic("alice", "right")))
                .await
        );
        assert_eq!(handle.auth.len(), 1);
        // The cache is keyed on the stored hash too: another hash is a cache miss.
        assert_ne!(handle.auth.tag("alice", "other", "right"), tag);
        // A cached password for one user does not open another user.
        assert_ne!(
            handle
                .auth
                .tag("bob", settings.users["alice"].as_str(), "right"),
            tag
        );
    }

    #[test]
    fn unknown_user_hash_is_a_valid_bcrypt_hash() {
        let parts = unknown_user_hash().parse::<bcrypt::HashParts>().unwrap();
        assert_eq!(parts.get_cost(), 10);
        assert!(!bcrypt::verify("", unknown_user_hash()).unwrap());
    }

    #[tokio::test]
    async fn the_middleware_asks_every_path_for_a_password_and_adds_the_headers() {
        use crate::server::testing::{oneshot, request};

        let hash = bcrypt::hash_with_salt("right", 4, [7u8; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoY);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(
            &path,
            format!(
                "basic_auth_users:\n  alice: {hash}\n\
                 http_server_config:\n  headers:\n    X-Frame-Options: deny\n"
            ),
        )
        .unwrap();
        let handle = Arc::new(WebConfigHandle::load(&path).unwrap());
        let router = protect(
            Router::new().route("/x", axum::routing::get(|| async { "inside\n" })),
            handle,
        );
        let right = basic("alice", "right");
        let right = right.to_str().unwrap();
        let wrong = basic("alice", "wrong");
        let wrong = wrong.to_str().unwrap();

        for (uri, authorization, status, body) in [
            ("/x", None, 401, "Unauthorized\n"),
            ("/x", Some(wrong), 401, "Unauthorized\n"),
            // The fallback is protected too: no answer tells which paths exist.
            ("/elsewhere", None, 401, "Unauthorized\n"),
            ("/x", Some(right), 200, "inside\n"),
            ("/elsewhere", Some(right), 404, ""),
        ] {
            let headers: Vec<(&str, &str)> = authorization
                .map(|a| ("authorization", a))
                .into_iter()
                .collect();
            let (response, text) = oneshot(router.clone(), request("GET", uri, &headers)).await;
            assert_eq!(response.status(), status, "{uri} {authorization:?}");
            assert_eq!(text, body, "{uri} {authorization:?}");
            let www_authenticate = response.headers().get(header::WWW_AUTHENTICATE);
            assert_eq!(
                www_authenticate.is_some(),
                status == 401,
                "{uri} {authorization:?}"
            );
            assert_eq!(
                response.headers().get("x-frame-options").unwrap(),
                "deny",
                "{uri} {authorization:?}"
            );
        }
    }
}
