//! The local state file: `<dir>/<stack>.json`, with the previous version kept as
//! `<stack>.json.backup`.
//!
//! Writes are atomic: the new state goes to a temporary file in the same folder, is flushed to
//! disk, then renamed over the old one, and the folder is synced. A process killed at any point
//! leaves either the previous or the new version, never a truncated file.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{State, STATE_VERSION};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot {action} the state file {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the state file {} is not valid state: {detail}\n  hint: the file was left as it is; the previous version is in {}.backup. Restore it, or move the file away if the stack no longer exists", path.display(), path.display())]
    Corrupt { path: PathBuf, detail: String },
    #[error("the state file {} has format version {found}, newer than this presign-stack understands ({STATE_VERSION})\n  hint: upgrade presign-stack; the file was left untouched", path.display())]
    TooNew { path: PathBuf, found: u32 },
    #[error("the state file {} belongs to stack {found:?}, not {expected:?}\n  hint: use another --state-dir, or the stack name the state was made for", path.display())]
    OtherStack {
        path: PathBuf,
        found: String,
        expected: String,
    },
}

/// A state file on the local disk.
#[derive(Debug, Clone)]
pub struct LocalStore {
    path: PathBuf,
}

impl LocalStore {
    /// The store of stack `stack` in folder `dir`.
    pub fn new(dir: &Path, stack: &str) -> LocalStore {
        LocalStore {
            path: dir.join(format!("{stack}.json")),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Reads the state; `Ok(None)` when the stack has never been deployed.
    pub fn load(&self, stack: &str) -> Result<Option<State>, StateError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError::Io {
                    action: "read",
                    path: self.path.clone(),
                    source,
                })
            }
        };
        // Look at the version before the shape, so a newer format is named as such.
        let version = serde_json::from_str::<serde_json::Value>(&text)
            .map_err(|e| StateError::Corrupt {
                path: self.path.clone(),
                detail: e.to_string(),
            })?
            .get("version")
            .and_then(|v| v.as_u64());
        match version {
            Some(v) if v > u64::from(STATE_VERSION) => {
                return Err(StateError::TooNew {
                    path: self.path.clone(),
                    found: u32::try_from(v).unwrap_or(u32::MAX),
                })
            }
            Some(_) => {}
            None => {
                return Err(StateError::Corrupt {
                    path: self.path.clone(),
                    detail: "no \"version\" field".into(),
                })
            }
        }
        let state: State = serde_json::from_str(&text).map_err(|e| StateError::Corrupt {
            path: self.path.clone(),
            detail: e.to_string(),
        })?;
        if state.stack != stack {
            return Err(StateError::OtherStack {
                path: self.path.clone(),
                found: state.stack,
                expected: stack.to_string(),
            });
        }
        Ok(Some(state))
    }

    /// Writes `state` atomically, keeping the current file as the backup.
    pub fn save(&self, state: &State) -> Result<(), StateError> {
        let io = |action: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| StateError::Io {
                action,
                path,
                source,
            }
        };
        let dir = self.dir();
        fs::create_dir_all(dir).map_err(io("create the folder of", &self.path))?;
        let mut text = serde_json::to_vec_pretty(state).map_err(|e| StateError::Corrupt {
            path: self.path.clone(),
            detail: e.to_string(),
        })?;
        text.push(b'\n');
        let tmp = self
            .path
            .with_extension(format!("json.tmp.{}", std::process::id()));
        {
            let mut f = File::create(&tmp).map_err(io("create", &tmp))?;
            f.write_all(&text).map_err(io("write", &tmp))?;
            f.sync_all().map_err(io("flush", &tmp))?;
        }
        if self.path.exists() {
            // Hard-link-free backup: copy, then sync, so the backup is complete before the swap.
            let backup = self.backup_path();
            let backup_tmp = backup.with_extension(format!("backup.tmp.{}", std::process::id()));
            fs::copy(&self.path, &backup_tmp).map_err(io("back up", &self.path))?;
            File::open(&backup_tmp)
                .and_then(|f| f.sync_all())
                .map_err(io("flush", &backup_tmp))?;
            fs::rename(&backup_tmp, &backup).map_err(io("back up", &backup))?;
        }
        fs::rename(&tmp, &self.path).map_err(io("replace", &self.path))?;
        sync_dir(dir).map_err(io("sync the folder of", &self.path))?;
        Ok(())
    }

    pub fn backup_path(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".backup");
        PathBuf::from(p)
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    OpenOptions::new().read(true).open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_state_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path(), "demo");
        assert_eq!(store.load("demo").unwrap(), None);
    }

    #[test]
    fn save_then_load_round_trips_and_keeps_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path(), "demo");
        let mut state = State::new("demo", "us-east-1");
        store.save(&state).unwrap();
        assert!(!store.backup_path().exists(), "no backup of nothing");
        state.serial = 1;
        store.save(&state).unwrap();
        assert_eq!(store.load("demo").unwrap(), Some(state.clone()));
        let backup: State =
            serde_json::from_str(&fs::read_to_string(store.backup_path()).unwrap()).unwrap();
        assert_eq!(backup.serial, 0);
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }

    #[test]
    fn corrupt_truncated_and_newer_state_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path(), "demo");
        let good = serde_json::to_string(&State::new("demo", "us-east-1")).unwrap();
        for (text, newer) in [
            (&good[..good.len() / 2], false),
            ("not json", false),
            ("{\"version\": 1}", false),
            ("{\"version\": 99, \"anything\": true}", true),
        ] {
            fs::write(store.path(), text).unwrap();
            let err = store.load("demo").unwrap_err();
            assert_eq!(
                matches!(err, StateError::TooNew { .. }),
                newer,
                "{text}: {err}"
            );
            assert_eq!(fs::read_to_string(store.path()).unwrap(), text);
        }
    }

    #[test]
    fn state_of_another_stack_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path(), "demo");
        let mut other = State::new("other", "us-east-1");
        other.serial = 3;
        store.save(&other).unwrap();
        assert!(matches!(
            store.load("demo"),
            Err(StateError::OtherStack { .. })
        ));
    }
}
