//! Noticing that the web config or a file it names changed, and swapping in the new settings.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, SystemTime};

use super::users::{unknown_user_hash, VerifiedPasswords};
use super::{load, WebSettings};
use crate::config::ConfigError;

/// How often [`spawn_file_checks`] looks at the files: a rotated certificate or changed users
/// apply within this long, and it costs a few `stat` calls a second.
pub const FILE_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// A file's modification time and size, to notice when it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FileStamp {
    path: PathBuf,
    modified: Option<SystemTime>,
    len: Option<u64>,
}

impl FileStamp {
    pub(super) fn of(path: &Path) -> FileStamp {
        // `metadata` follows symlinks, so a Kubernetes secret's symlink swap counts as a change.
        let metadata = std::fs::metadata(path).ok();
        FileStamp {
            path: path.to_path_buf(),
            modified: metadata.as_ref().and_then(|m| m.modified().ok()),
            len: metadata.as_ref().map(|m| m.len()),
        }
    }

    fn changed(&self) -> bool {
        FileStamp::of(&self.path) != *self
    }
}

/// Holds the current web settings and re-reads them when one of their files changed.
pub struct WebConfigHandle {
    path: PathBuf,
    current: RwLock<Arc<WebSettings>>,
    /// Held while re-reading, so that concurrent connections don't all re-read at once.
    reloading: Mutex<()>,
    pub(super) auth: VerifiedPasswords,
}

impl fmt::Debug for WebConfigHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebConfigHandle")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl WebConfigHandle {
    /// Loads the web config file at `path` (logging the keys it ignores).
    pub fn load(path: &Path) -> Result<WebConfigHandle, ConfigError> {
        let settings = load(path)?;
        for warning in &settings.warnings {
            tracing::warn!(file = %path.display(), "{warning}");
        }
        if !settings.users.is_empty() {
            // Made now, so that the first unknown user's answer is not slower than a known
            // user's (which would tell that the name does not exist).
            std::thread::spawn(unknown_user_hash);
        }
        Ok(WebConfigHandle {
            path: path.to_path_buf(),
            current: RwLock::new(Arc::new(settings)),
            reloading: Mutex::new(()),
            auth: VerifiedPasswords::new(),
        })
    }

    /// Whether the listeners serve TLS (fixed for the life of the process).
    pub fn tls_enabled(&self) -> bool {
        self.snapshot().tls.is_some()
    }

    fn snapshot(&self) -> Arc<WebSettings> {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn store(&self, settings: WebSettings) -> Arc<WebSettings> {
        let settings = Arc::new(settings);
        match self.current.write() {
            Ok(mut current) => *current = settings.clone(),
            Err(poisoned) => *poisoned.into_inner() = settings.clone(),
        }
        settings
    }

    /// The settings as last loaded. No file is looked at: this is what every request uses, and
    /// [`reload_if_changed`](Self::reload_if_changed) is what keeps it up to date.
    pub fn current(&self) -> Arc<WebSettings> {
        self.snapshot()
    }

    /// The current settings, re-read first when the web config file or a file it names
    /// changed (one `stat` each). A file that fails to load is logged and the previous
    /// settings stay. Blocks on the file system: call it off the request path, or where a TLS
    /// handshake costs far more anyway.
    pub fn reload_if_changed(&self) -> Arc<WebSettings> {
        let settings = self.snapshot();
        if !settings.stamps.iter().any(FileStamp::changed) {
            return settings;
        }
        // Another task is re-reading: use the settings it is replacing for this once.
        let Ok(_reloading) = self.reloading.try_lock() else {
            return settings;
        };
        let settings = self.snapshot();
        if !settings.stamps.iter().any(FileStamp::changed) {
            return settings;
        }
        let refused = |message: String| {
            tracing::error!(
                file = %self.path.display(),
                "web config not reloaded, the previous one stays: {message}"
            );
            // Remember the new stamps so that the same broken files are not re-read on every
            // check; the next change is tried again.
            let mut kept = (*settings).clone();
            kept.stamps = settings
                .stamps
                .iter()
                .map(|stamp| FileStamp::of(&stamp.path))
                .collect();
            self.store(kept)
        };
        match load(&self.path) {
            Ok(new) if new.tls.is_some() != settings.tls.is_some() => {
                refused("turning TLS on or off needs a restart".into())
            }
            Ok(new) => {
                tracing::info!(file = %self.path.display(), "web config reloaded");
                for warning in &new.warnings {
                    tracing::warn!(file = %self.path.display(), "{warning}");
                }
                self.store(new)
            }
            Err(error) => refused(error.to_string()),
        }
    }
}

/// Checks the files every `interval` on a blocking thread, so that a request never waits on
/// the file system, until `handle` is dropped.
pub fn spawn_file_checks(
    handle: &Arc<WebConfigHandle>,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    // Weak, so that the task does not keep a handle alive that nothing else uses.
    let handle: Weak<WebConfigHandle> = Arc::downgrade(handle);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        // A slow check (a file system that hangs) must not be followed by a burst of catch-up
        // checks.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate, and the files were just read.
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let Some(handle) = handle.upgrade() else {
                return;
            };
            let _ = tokio::task::spawn_blocking(move || {
                handle.reload_if_changed();
            })
            .await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bcrypt hash; its password does not matter here, only that there is a user.
    const HASH: &str = "$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG";

    fn handle_with_a_user() -> (tempfile::TempDir, Arc<WebConfigHandle>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, format!("basic_auth_users:\n  alice: {HASH}\n")).unwrap();
        let handle = WebConfigHandle::load(&path).unwrap();
        (dir, Arc::new(handle))
    }

    const NO_USERS_ONE_HEADER: &str =
        "basic_auth_users: {}\nhttp_server_config: {headers: {X-Frame-Options: deny}}\n";

    #[test]
    fn changed_files_are_reloaded_and_broken_ones_refused() {
        let (_dir, handle) = handle_with_a_user();
        let first = handle.current();
        std::fs::write(&handle.path, NO_USERS_ONE_HEADER).unwrap();
        let second = handle.reload_if_changed();
        assert!(second.users.is_empty(), "{second:?}");
        assert_eq!(second.headers.len(), 1);
        assert!(!first.users.is_empty());
        std::fs::write(&handle.path, "bogus: 1\n").unwrap();
        let third = handle.reload_if_changed();
        assert_eq!(third.headers.len(), 1, "the previous settings stay");
        // Not re-read again until the next change.
        assert!(!third.stamps.iter().any(FileStamp::changed));
    }

    #[test]
    fn requests_do_not_look_at_the_files() {
        let (_dir, handle) = handle_with_a_user();
        std::fs::write(&handle.path, NO_USERS_ONE_HEADER).unwrap();
        // What the middleware calls: the settings as loaded, however the file changed.
        assert_eq!(handle.current().users.len(), 1);
        assert_eq!(handle.reload_if_changed().users.len(), 0);
        assert_eq!(handle.current().users.len(), 0);
        assert_eq!(handle.current().headers.len(), 1);
    }

    #[tokio::test]
    async fn the_background_check_applies_changes_and_ends_with_the_handle() {
        let (_dir, handle) = handle_with_a_user();
        let task = spawn_file_checks(&handle, Duration::from_millis(10));
        std::fs::write(&handle.path, NO_USERS_ONE_HEADER).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !handle.current().users.is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the change was not picked up"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(handle.current().headers.len(), 1);
        drop(handle);
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the task outlived its handle")
            .unwrap();
    }
}
