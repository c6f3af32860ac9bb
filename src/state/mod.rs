//! The stack's state: what it last applied. Versioned JSON with lineage and serial, written
//! after every operation to a [`Store`]: a local file written atomically ([`local::LocalStore`])
//! or an S3 object written with conditional requests ([`s3::S3Store`]), guarded by a lock
//! ([`lock`], or a lease on S3).
//!
//! The state never holds credentials: only resource names, properties and outputs.

pub mod local;
pub mod lock;
pub mod s3;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

// The types the state stores are the planner's: what was applied, and what was started.
pub use crate::plan::record::{PendingOperation, RecordedResource};

/// The state format this build writes; it refuses to read newer ones.
pub const STATE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub version: u32,
    /// Identifies this stack's history: set once, kept across every write.
    pub lineage: String,
    /// Incremented by every write.
    pub serial: u64,
    pub stack: String,
    pub region: String,
    pub resources: BTreeMap<String, RecordedResource>,
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
    /// The journal: operations started and not yet recorded as done. A run killed mid-way
    /// leaves them here, and the next run knows what it may have half-made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<PendingOperation>,
}

/// A lock this run holds, on either store. Release it with [`Lock::release`]; a local lock is
/// also released when dropped, an S3 lock's lease runs out.
#[derive(Debug)]
pub enum Lock {
    Local(lock::LockGuard),
    S3(s3::S3Lock),
}

impl Lock {
    /// The holder of a stale lock this one replaced.
    pub fn took_over(&self) -> Option<&lock::Holder> {
        match self {
            Lock::Local(g) => g.took_over.as_ref(),
            Lock::S3(l) => l.took_over.as_ref(),
        }
    }

    /// Releases the lock (on S3: only if it is still ours).
    pub async fn release(self) {
        match self {
            Lock::Local(g) => drop(g),
            Lock::S3(l) => l.release().await,
        }
    }
}

impl State {
    pub fn new(stack: &str, region: &str) -> State {
        State {
            version: STATE_VERSION,
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            stack: stack.to_string(),
            region: region.to_string(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
            pending: Vec::new(),
        }
    }
}

/// Why the state could not be read or written. Every variant says where the state is.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot {action} the state {location}: {detail}\n  hint: {hint}")]
    Io {
        action: &'static str,
        location: String,
        detail: String,
        hint: String,
    },
    #[error("the state {location} is not valid state: {detail}\n  hint: it was left as it is; {recovery}")]
    Corrupt {
        location: String,
        detail: String,
        recovery: String,
    },
    #[error("the state {location} has format version {found}, newer than this presign-stack understands ({STATE_VERSION})\n  hint: upgrade presign-stack; the state was left untouched")]
    TooNew { location: String, found: u32 },
    #[error("the state {location} belongs to stack {found:?}, not {expected:?}\n  hint: use another --state-dir or state.key, or the stack name the state was made for")]
    OtherStack {
        location: String,
        found: String,
        expected: String,
    },
    #[error("the state {location} was changed by another run since this run read it (the condition on its ETag failed), so this run stopped without overwriting it\n  hint: another run took over this stack's lock (was this run paused longer than the lock's lease?); what this run applied before stopping is not recorded: run `presign-stack diff` to see it, then deploy again")]
    Conflict { location: String },
    #[error("this run lost its lock {lock} (another run replaced it), so it stopped before writing the state {location}\n  hint: what this run applied before stopping is not recorded: run `presign-stack diff` to see it once the other run is done, then deploy again")]
    LockLost { location: String, lock: String },
    #[error("the state {location} moved to {to} on {at}\n  hint: {hint}")]
    Moved {
        location: String,
        to: String,
        at: String,
        hint: String,
    },
}

/// What a state location holds: a state, or a note that the state moved elsewhere.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    State(Box<State>),
    Moved(Moved),
}

/// Left where a state was by `state migrate`, so a run still pointed there stops instead of
/// starting a second history from nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Moved {
    pub version: u32,
    pub stack: String,
    pub lineage: String,
    pub serial: u64,
    pub moved_to: String,
    pub moved_at: String,
}

impl Stored {
    /// The state; a moved note is an error naming `location` and where the state went.
    pub fn into_state(self, location: &str) -> Result<State, StateError> {
        match self {
            Stored::State(s) => Ok(*s),
            Stored::Moved(m) => Err(StateError::Moved {
                location: location.to_string(),
                hint: "set state.backend in stack.yaml to where it is now (`presign-stack state migrate` moves it back)".into(),
                to: m.moved_to,
                at: m.moved_at,
            }),
        }
    }

    pub fn lineage(&self) -> &str {
        match self {
            Stored::State(s) => &s.lineage,
            Stored::Moved(m) => &m.lineage,
        }
    }
}

/// The bytes a state is stored as: pretty JSON with a final newline (stable: maps are sorted).
pub fn to_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    let mut text = serde_json::to_vec_pretty(value).unwrap_or_default();
    text.push(b'\n');
    text
}

/// Parses stored bytes from `location`, refusing a newer format or another stack's state.
pub fn parse(
    bytes: &[u8],
    location: &str,
    recovery: &str,
    stack: &str,
) -> Result<Stored, StateError> {
    let corrupt = |detail: String| StateError::Corrupt {
        location: location.to_string(),
        detail,
        recovery: recovery.to_string(),
    };
    // Look at the version before the shape, so a newer format is named as such.
    let value =
        serde_json::from_slice::<serde_json::Value>(bytes).map_err(|e| corrupt(e.to_string()))?;
    match value.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v > u64::from(STATE_VERSION) => {
            return Err(StateError::TooNew {
                location: location.to_string(),
                found: u32::try_from(v).unwrap_or(u32::MAX),
            })
        }
        Some(_) => {}
        None => return Err(corrupt("no \"version\" field".into())),
    }
    let stored = if value.get("moved_to").is_some() {
        let moved: Moved = serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))?;
        Stored::Moved(moved)
    } else {
        let state: State = serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))?;
        Stored::State(Box::new(state))
    };
    let found = match &stored {
        Stored::State(s) => &s.stack,
        Stored::Moved(m) => &m.stack,
    };
    if found != stack {
        return Err(StateError::OtherStack {
            location: location.to_string(),
            found: found.clone(),
            expected: stack.to_string(),
        });
    }
    Ok(stored)
}

/// Where a stack's state is kept.
#[derive(Debug)]
pub enum Store {
    Local(local::LocalStore),
    S3(s3::S3Store),
}

impl Store {
    /// A path, or `s3://bucket/key`.
    pub fn location(&self) -> String {
        match self {
            Store::Local(l) => l.location(),
            Store::S3(s) => s.location(),
        }
    }

    /// What the location holds (a state, a moved note, or nothing).
    pub async fn load_stored(&self, stack: &str) -> Result<Option<Stored>, StateError> {
        match self {
            Store::Local(l) => {
                let (l, stack) = (l.clone(), stack.to_string());
                off_runtime(&l.location(), move || l.load_stored(&stack)).await
            }
            Store::S3(s) => s.load_stored(stack).await,
        }
    }

    /// Reads the state; `Ok(None)` when the stack has never been deployed. A location whose
    /// state moved elsewhere is an error naming where.
    pub async fn load(&self, stack: &str) -> Result<Option<State>, StateError> {
        match self.load_stored(stack).await? {
            None => Ok(None),
            Some(stored) => stored.into_state(&self.location()).map(Some),
        }
    }

    /// Writes the state. On S3 the write is conditional on the object being the one this run
    /// last read or wrote: a newer state is never overwritten ([`StateError::Conflict`]).
    pub async fn save(&self, state: &State) -> Result<(), StateError> {
        self.write_bytes(&to_bytes(state)).await
    }

    /// Writes raw state bytes (as [`Store::save`]); `state migrate` moves bytes unchanged.
    pub async fn write_bytes(&self, bytes: &[u8]) -> Result<(), StateError> {
        match self {
            Store::Local(l) => {
                let (l, bytes) = (l.clone(), bytes.to_vec());
                off_runtime(&l.location(), move || l.write_bytes(&bytes)).await
            }
            Store::S3(s) => s.write_bytes(bytes).await,
        }
    }

    /// The stored bytes, as they are (for `state migrate`).
    pub async fn read_bytes(&self) -> Result<Option<Vec<u8>>, StateError> {
        match self {
            Store::Local(l) => l.read_bytes(),
            Store::S3(s) => s.read_bytes().await,
        }
    }

    /// Takes the stack's lock, waiting up to `wait` for another run to release it. A stale
    /// lock (a local one whose process is gone, an S3 one whose lease ran out) is taken over.
    pub async fn lock(
        &self,
        stack: &str,
        command: &str,
        wait: std::time::Duration,
        notify: std::sync::Arc<dyn Fn(&str) + Send + Sync>,
    ) -> Result<Lock, lock::LockError> {
        match self {
            Store::Local(l) => {
                let dir = l.dir().to_path_buf();
                let (stack, command) = (stack.to_string(), command.to_string());
                tokio::task::spawn_blocking(move || {
                    lock::LockGuard::acquire_waiting(&dir, &stack, &command, wait)
                })
                .await
                .map_err(|e| lock::LockError::Io {
                    location: l.dir().display().to_string(),
                    detail: e.to_string(),
                })?
                .map(Lock::Local)
            }
            Store::S3(s) => s.lock(stack, command, wait, notify).await.map(Lock::S3),
        }
    }
}

/// Runs a local file operation (read, or write with fsync and rename) on the blocking pool, so
/// the runtime's threads keep serving AWS calls meanwhile.
async fn off_runtime<T: Send + 'static>(
    location: &str,
    work: impl FnOnce() -> Result<T, StateError> + Send + 'static,
) -> Result<T, StateError> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        Err(StateError::Io {
            action: "access",
            location: location.to_string(),
            detail: format!("the file task failed: {e}"),
            hint: "this is a bug in presign-stack; please report it".into(),
        })
    })
}
