//! The local state file: `<dir>/<stack>.json`, with the previous version kept as
//! `<stack>.json.backup`.
//!
//! Writes are atomic: the new state goes to a temporary file in the same folder, is flushed to
//! disk, then renamed over the old one, and the folder is synced. A process killed at any point
//! leaves either the previous or the new version, never a truncated file.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

pub use super::StateError;
use super::{parse, State, Stored};

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

    pub fn location(&self) -> String {
        self.path.display().to_string()
    }

    /// How errors name it: "file <path>" ("the state file ... is not valid state").
    fn described(&self) -> String {
        format!("file {}", self.path.display())
    }

    fn io(&self, action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StateError {
        let location = format!("file {}", path.display());
        move |source| StateError::Io {
            action,
            location,
            detail: source.to_string(),
            hint: "check the folder's permissions and free space; the state was left as it was"
                .into(),
        }
    }

    /// The state file's bytes; `Ok(None)` when there is none.
    pub fn read_bytes(&self) -> Result<Option<Vec<u8>>, StateError> {
        match fs::read(&self.path) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io("read", &self.path)(e)),
        }
    }

    /// What the file holds: a state, a note that it moved, or nothing.
    pub fn load_stored(&self, stack: &str) -> Result<Option<Stored>, StateError> {
        match self.read_bytes()? {
            None => Ok(None),
            Some(bytes) => parse(&bytes, &self.described(), &self.recovery(), stack).map(Some),
        }
    }

    /// Reads the state; `Ok(None)` when the stack has never been deployed.
    pub fn load(&self, stack: &str) -> Result<Option<State>, StateError> {
        self.load_stored(stack)?
            .map(|s| s.into_state(&self.location()))
            .transpose()
    }

    fn recovery(&self) -> String {
        format!(
            "the previous version is in {}.backup: restore it, or move the file away if the stack no longer exists",
            self.path.display()
        )
    }

    /// Writes `state` atomically, keeping the current file as the backup.
    pub fn save(&self, state: &State) -> Result<(), StateError> {
        self.write_bytes(&super::to_bytes(state))
    }

    /// Writes `bytes` as the state file atomically, keeping the current file as the backup.
    pub fn write_bytes(&self, text: &[u8]) -> Result<(), StateError> {
        let dir = self.dir();
        fs::create_dir_all(dir).map_err(self.io("create the folder of", &self.path))?;
        let tmp = self
            .path
            .with_extension(format!("json.tmp.{}", std::process::id()));
        {
            let mut f = File::create(&tmp).map_err(self.io("create", &tmp))?;
            f.write_all(text).map_err(self.io("write", &tmp))?;
            f.sync_all().map_err(self.io("flush", &tmp))?;
        }
        if self.path.exists() {
            // Hard-link-free backup: copy, then sync, so the backup is complete before the swap.
            let backup = self.backup_path();
            let backup_tmp = backup.with_extension(format!("backup.tmp.{}", std::process::id()));
            fs::copy(&self.path, &backup_tmp).map_err(self.io("back up", &self.path))?;
            File::open(&backup_tmp)
                .and_then(|f| f.sync_all())
                .map_err(self.io("flush", &backup_tmp))?;
            fs::rename(&backup_tmp, &backup).map_err(self.io("back up", &backup))?;
        }
        fs::rename(&tmp, &self.path).map_err(self.io("replace", &self.path))?;
        sync_dir(dir).map_err(self.io("sync the folder of", &self.path))?;
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

    #[test]
    fn a_moved_note_is_read_as_such_and_stops_a_load() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path(), "demo");
        let note = super::super::Moved {
            version: 1,
            stack: "demo".into(),
            lineage: "l-1".into(),
            serial: 7,
            moved_to: "s3://b/k".into(),
            moved_at: "2026-01-01T00:00:00Z".into(),
        };
        store.write_bytes(&super::super::to_bytes(&note)).unwrap();
        match store.load_stored("demo").unwrap() {
            Some(Stored::Moved(m)) => assert_eq!(m, note),
            other => panic!("expected the note, got {other:?}"),
        }
        let err = store.load("demo").unwrap_err();
        assert!(err.to_string().contains("moved to s3://b/k"), "{err}");
    }
}
