//! A lock per stack, so two runs cannot interleave their changes. Locally: `<dir>/<stack>.lock`,
//! created exclusively, holding who took it, released when the guard drops (also on error
//! paths). On S3: see [`super::s3`] (a lease the holder renews).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub user: String,
    pub host: String,
    pub pid: u32,
    pub since: String,
    pub command: String,
    /// S3 locks: how long the lock stays valid unless renewed, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_seconds: Option<u64>,
    /// S3 locks: when the holder last renewed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewed: Option<String>,
}

impl Holder {
    pub fn current(command: &str) -> Holder {
        Holder {
            user: std::env::var("USER")
                .or_else(|_| std::env::var("USERNAME"))
                .unwrap_or_else(|_| "unknown".into()),
            host: hostname(),
            pid: std::process::id(),
            since: crate::clock::now_rfc3339(),
            command: command.to_string(),
            lease_seconds: None,
            renewed: None,
        }
    }

    /// A holder whose lock could not be read.
    pub fn unknown() -> Holder {
        Holder {
            user: "unknown".into(),
            host: "unknown".into(),
            pid: 0,
            since: "unknown".into(),
            command: "unknown".into(),
            lease_seconds: None,
            renewed: None,
        }
    }

    /// "alice on ci-7 (pid 42, running `deploy` since ...)".
    pub fn describe(&self) -> String {
        format!(
            "{} on {} (pid {}, running `{}` since {})",
            self.user, self.host, self.pid, self.command, self.since
        )
    }

    /// Whether the holder was on this host and its process is gone.
    pub fn is_stale(&self) -> bool {
        self.host == hostname() && !process_alive(self.pid)
    }
}

/// Whether a process with this id exists on this host: `kill(pid, 0)` succeeds, or fails with
/// EPERM (it exists, under another user). Unlike looking in `/proc`, this works on macOS too,
/// where `/proc` does not exist and every lock would look stale.
#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Elsewhere a lock's process cannot be checked: never call it stale.
#[cfg(not(unix))]
fn process_alive(_pid: u32) -> bool {
    true
}

fn hostname() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; the name is NUL-terminated on success
        // (truncated names may not be, hence the search bounded by the buffer).
        if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0 {
            let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
            if let Ok(name) = std::str::from_utf8(&buf[..end]) {
                if !name.is_empty() {
                    return name.to_string();
                }
            }
        }
    }
    std::env::var("HOSTNAME").unwrap_or_else(|_| "unknown".into())
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("stack {stack:?} is locked by {}{}\n  hint: {}",
        holder.describe(),
        match (stale, expires) {
            (true, Some(at)) => format!(" — its lease expired at {at}, so the lock is stale"),
            (true, None) => " — that process is gone, so the lock is stale".to_string(),
            (false, Some(at)) => format!("; its lease runs until {at} unless that run renews it"),
            (false, None) => String::new(),
        },
        if *stale { format!("run `presign-stack state unlock` (or deploy again: a stale lock is taken over), or delete {location}") } else { "wait for that run to finish (or pass --lock-timeout SECONDS to wait); if it is gone, `presign-stack state unlock --force`".to_string() })]
    Held {
        stack: String,
        holder: Box<Holder>,
        stale: bool,
        /// The lock file's path, or `s3://bucket/key.lock`.
        location: String,
        /// S3 locks: when the lease ends unless renewed.
        expires: Option<String>,
    },
    #[error("cannot take the lock {location}: {detail}")]
    Io { location: String, detail: String },
}

/// A held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct LockGuard {
    path: PathBuf,
    /// The holder of a stale lock this guard replaced (its process was gone on this host).
    pub took_over: Option<Holder>,
}

impl LockGuard {
    /// Takes the lock, waiting up to `wait` for another run to release it. A lock left by a
    /// process that is gone on this host is stale: it is taken over (see `took_over`).
    pub fn acquire_waiting(
        dir: &Path,
        stack: &str,
        command: &str,
        wait: std::time::Duration,
    ) -> Result<LockGuard, LockError> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            match Self::acquire(dir, stack, command) {
                Err(LockError::Held {
                    stale: true,
                    holder,
                    ..
                }) => {
                    let path = dir.join(format!("{stack}.lock"));
                    // Only one of several racing takers may remove it: rename is atomic.
                    let claimed = path.with_extension(format!("lock.stale.{}", std::process::id()));
                    if fs::rename(&path, &claimed).is_ok() {
                        let _ = fs::remove_file(&claimed);
                        let mut guard = Self::acquire(dir, stack, command)?;
                        guard.took_over = Some(*holder);
                        return Ok(guard);
                    }
                }
                Err(e @ LockError::Held { .. }) if std::time::Instant::now() >= deadline => {
                    return Err(e)
                }
                Err(LockError::Held { .. }) => {
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
                other => return other,
            }
        }
    }

    /// Takes the lock of `stack` in `dir`, or says who holds it.
    pub fn acquire(dir: &Path, stack: &str, command: &str) -> Result<LockGuard, LockError> {
        let path = dir.join(format!("{stack}.lock"));
        let io = |source: std::io::Error| LockError::Io {
            location: path.display().to_string(),
            detail: source.to_string(),
        };
        fs::create_dir_all(dir).map_err(io)?;
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                let holder = Holder::current(command);
                let text = serde_json::to_vec_pretty(&holder).unwrap_or_default();
                f.write_all(&text).and_then(|_| f.sync_all()).map_err(io)?;
                Ok(LockGuard {
                    path,
                    took_over: None,
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = fs::read_to_string(&path)
                    .ok()
                    .and_then(|t| serde_json::from_str::<Holder>(&t).ok())
                    .unwrap_or_else(Holder::unknown);
                let stale = holder.is_stale();
                Err(LockError::Held {
                    stack: stack.to_string(),
                    holder: Box::new(holder),
                    stale,
                    location: path.display().to_string(),
                    expires: None,
                })
            }
            Err(e) => Err(io(e)),
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_is_alive_until_it_exits_without_looking_in_proc() {
        assert!(process_alive(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!process_alive(pid), "an exited (and reaped) child is gone");
        assert!(!process_alive(0) && !process_alive(u32::MAX));
        assert!(!hostname().is_empty() && hostname() != "unknown");
    }

    #[test]
    fn second_taker_is_refused_with_the_holder_until_release() {
        let dir = tempfile::tempdir().unwrap();
        let guard = LockGuard::acquire(dir.path(), "demo", "deploy").unwrap();
        match LockGuard::acquire(dir.path(), "demo", "destroy") {
            Err(LockError::Held { holder, stale, .. }) => {
                assert_eq!(holder.pid, std::process::id());
                assert_eq!(holder.command, "deploy");
                assert!(!stale, "our own process is alive");
            }
            other => panic!("expected Held, got {other:?}"),
        }
        drop(guard);
        LockGuard::acquire(dir.path(), "demo", "destroy").unwrap();
    }

    #[test]
    fn a_stale_lock_is_taken_over_and_a_live_one_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let mut dead = Holder::current("deploy");
        dead.pid = u32::MAX - 1;
        fs::write(
            dir.path().join("demo.lock"),
            serde_json::to_string(&dead).unwrap(),
        )
        .unwrap();
        let guard =
            LockGuard::acquire_waiting(dir.path(), "demo", "deploy", std::time::Duration::ZERO)
                .unwrap();
        assert_eq!(guard.took_over.as_ref().map(|h| h.pid), Some(u32::MAX - 1));
        let err = LockGuard::acquire_waiting(
            dir.path(),
            "demo",
            "deploy",
            std::time::Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(matches!(err, LockError::Held { stale: false, .. }), "{err}");
    }

    #[test]
    fn a_lock_of_a_dead_process_is_reported_stale() {
        let dir = tempfile::tempdir().unwrap();
        let mut holder = Holder::current("deploy");
        holder.pid = u32::MAX - 1;
        fs::write(
            dir.path().join("demo.lock"),
            serde_json::to_string(&holder).unwrap(),
        )
        .unwrap();
        let err = LockGuard::acquire(dir.path(), "demo", "deploy").unwrap_err();
        assert!(matches!(err, LockError::Held { stale: true, .. }), "{err}");
        assert!(err.to_string().contains("stale"));
    }
}
