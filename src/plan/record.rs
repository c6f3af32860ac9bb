//! What the state stores of the planner's work: the record of an applied resource, and the
//! journal entry of an operation started and not yet recorded as done.

use serde::{Deserialize, Serialize};

use super::{Action, Kind, Props};

/// An operation the executor started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingOperation {
    pub id: String,
    pub kind: Kind,
    pub action: Action,
    /// What it creates (or, for a delete, removes).
    pub physical_id: String,
    pub since: String,
}

/// Whether an interrupted run (its journal: `pending`) was creating `id` as `physical_id`: then a
/// resource found there without the ownership tag is the stack's own half-made one.
pub fn was_creating(pending: &[PendingOperation], id: &str, physical_id: &str) -> bool {
    pending.iter().any(|p| {
        p.id == id
            && p.physical_id == physical_id
            && matches!(p.action, Action::Create | Action::Replace)
    })
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

/// The account a state's resources were made in, from the recorded function's role ARN
/// (`arn:aws:iam::<account>:role/...`): a hint that lets a read needing an ARN start beside the
/// read that would name it. `None` when nothing recorded says.
pub fn recorded_account(
    resources: &std::collections::BTreeMap<String, RecordedResource>,
) -> Option<String> {
    resources.values().find_map(|r| match &r.props {
        Props::LambdaFunction(f) => {
            let account = f.role_arn.split(':').nth(4)?;
            (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
                .then(|| account.to_string())
        }
        _ => None,
    })
}
