//! The stack's state: what it last applied. Versioned JSON with lineage and serial, written
//! atomically after every operation ([`local::LocalStore`]), guarded by a lock ([`lock`]).
//!
//! The state never holds credentials: only resource names, properties and outputs.

pub mod local;
pub mod lock;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::plan::{Kind, Props};

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

/// An operation the executor started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingOperation {
    pub id: String,
    pub kind: Kind,
    pub action: crate::plan::Action,
    /// What it creates (or, for a delete, removes).
    pub physical_id: String,
    pub since: String,
}

impl State {
    /// Whether an interrupted run was creating `id` as `physical_id`: then a resource found there
    /// without the ownership tag is the stack's own half-made one.
    pub fn was_creating(&self, id: &str, physical_id: &str) -> bool {
        self.pending.iter().any(|p| {
            p.id == id
                && p.physical_id == physical_id
                && matches!(
                    p.action,
                    crate::plan::Action::Create | crate::plan::Action::Replace
                )
        })
    }
}

/// What the stack applied to one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedResource {
    pub kind: Kind,
    pub physical_id: String,
    #[serde(default)]
    pub depends_on: Vec<String>,
    pub props: Props,
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
