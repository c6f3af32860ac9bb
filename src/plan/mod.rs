//! PURE: desired resources, normalisation, diffing and planning. No AWS, no tokio: the caller
//! reads AWS and passes what it saw in.
//!
//! Three views of each resource: *desired* (from the spec), *recorded* (what we last applied,
//! in state) and *live* (read from AWS now). Live ≠ recorded is drift; desired ≠ recorded is a
//! pending change; desired ≠ live is what `deploy` changes.

pub mod adopt;
pub mod desired;
pub mod normalize;
pub mod reconcile;
pub mod record;
pub mod resources;

use std::collections::BTreeMap;

use serde::Serialize;

pub use resources::{attr_changes, AttrChange, Kind, Props, Resource};

pub use record::{PendingOperation, RecordedResource};

/// What a step does to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    /// Delete the old resource, then create the new one.
    Replace,
    Delete,
    /// Take an existing resource into the stack (`import`): tag it and record it, nothing else.
    Adopt,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::Adopt => "<=",
        }
    }
}

/// One change the executor makes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub id: String,
    pub kind: Kind,
    pub action: Action,
    /// What is there now (live for deploy; recorded when the resource is only being deleted).
    pub before: Option<Props>,
    /// What there should be afterwards; `None` for a delete.
    pub after: Option<Props>,
    pub changes: Vec<AttrChange>,
    /// The physical id a delete (or the delete half of a replace) removes.
    pub delete_physical_id: Option<String>,
    /// Ids of the steps in the same plan that must finish first.
    pub after_steps: Vec<String>,
    /// Ids of steps in the same plan that this one waits for part of the way in, not before it
    /// starts ([`late_dependency`]): the AWS layer waits for them where it needs them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub late_steps: Vec<String>,
    /// What the state records for the resource once the step is done (`None`: remove it).
    #[serde(skip)]
    pub record: Option<RecordedResource>,
}

impl Step {
    /// The resource's name in AWS: the one it will have, or the one a delete removes.
    pub fn physical_id(&self) -> Option<&str> {
        self.after
            .as_ref()
            .map(|p| p.physical_id())
            .or(self.delete_physical_id.as_deref())
    }
}

/// The ordered steps of a deploy or destroy.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    pub steps: Vec<Step>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn count(&self, action: Action) -> usize {
        self.steps.iter().filter(|s| s.action == action).count()
    }
}

/// A resource whose live form no longer matches what was applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    pub id: String,
    pub kind: Kind,
    pub physical_id: String,
    /// `true` when the resource is gone.
    pub deleted: bool,
    pub changes: Vec<AttrChange>,
}

/// `diff`'s answer: drift and pending changes, reported apart.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DiffReport {
    pub drift: Vec<Drift>,
    pub pending: Vec<Step>,
}

impl DiffReport {
    pub fn in_sync(&self) -> bool {
        self.drift.is_empty() && self.pending.is_empty()
    }
}

/// The record the state keeps of a desired resource once it is applied.
pub fn record_of(r: &Resource) -> RecordedResource {
    RecordedResource {
        kind: r.props.kind(),
        physical_id: r.props.physical_id().to_string(),
        depends_on: r.depends_on.clone(),
        props: r.props.clone(),
    }
}

/// Plans a deploy: the steps that make `live` match `desired`, plus deletes of what the state
/// records but the spec no longer wants.
///
/// `live` maps a resource id to what AWS holds at the *desired* physical id (`None`: absent);
/// a desired resource missing from `live` is treated as absent.
pub fn plan_deploy(
    desired: &[Resource],
    recorded: &BTreeMap<String, RecordedResource>,
    live: &BTreeMap<String, Option<Props>>,
) -> Plan {
    let mut steps = Vec::new();
    for r in desired {
        let live_now = live.get(&r.id).cloned().flatten();
        let rec = recorded.get(&r.id);
        let moved = rec.filter(|rec| rec.physical_id != r.props.physical_id());
        let (action, changes) = match (&live_now, moved) {
            (_, Some(rec)) => {
                let changes = attr_changes(&rec.props, &r.props);
                (Action::Replace, changes)
            }
            (None, None) => (Action::Create, Vec::new()),
            (Some(l), None) => {
                let changes = attr_changes(l, &r.props);
                if changes.is_empty() {
                    continue;
                }
                let kind = r.props.kind();
                if changes
                    .iter()
                    .any(|c| kind.forces_replacement(&c.attribute))
                {
                    (Action::Replace, changes)
                } else {
                    (Action::Update, changes)
                }
            }
        };
        steps.push(Step {
            id: r.id.clone(),
            kind: r.props.kind(),
            action,
            before: match moved {
                Some(rec) => Some(rec.props.clone()),
                None => live_now.clone(),
            },
            after: Some(r.props.clone()),
            changes,
            delete_physical_id: match action {
                Action::Replace => Some(
                    moved
                        .map(|rec| rec.physical_id.clone())
                        .unwrap_or_else(|| r.props.physical_id().to_string()),
                ),
                _ => None,
            },
            after_steps: Vec::new(),
            late_steps: Vec::new(),
            record: Some(record_of(r)),
        });
    }
    let wanted: Vec<&str> = desired.iter().map(|r| r.id.as_str()).collect();
    let gone: BTreeMap<String, RecordedResource> = recorded
        .iter()
        .filter(|(id, _)| !wanted.contains(&id.as_str()))
        .map(|(id, r)| (id.clone(), r.clone()))
        .collect();
    steps.extend(delete_steps(&gone));
    order(&mut steps, desired, recorded);
    Plan { steps }
}

/// Plans a destroy of every resource in `existing` (recorded resources still present in AWS).
pub fn plan_destroy(existing: &BTreeMap<String, RecordedResource>) -> Plan {
    let mut steps = delete_steps(existing);
    order(&mut steps, &[], existing);
    Plan { steps }
}

fn delete_steps(recorded: &BTreeMap<String, RecordedResource>) -> Vec<Step> {
    recorded
        .iter()
        .map(|(id, rec)| Step {
            id: id.clone(),
            kind: rec.kind,
            action: Action::Delete,
            before: Some(rec.props.clone()),
            after: None,
            changes: Vec::new(),
            delete_physical_id: Some(rec.physical_id.clone()),
            after_steps: Vec::new(),
            late_steps: Vec::new(),
            record: None,
        })
        .collect()
}

/// What a create or update of `kind` need not wait for before it starts: nothing waits for what
/// it does not need (the chain of calls of a cold deploy is then the dependency graph's own).
/// - A function can be created before its role's policy and its log group are in place: it
///   cannot be invoked before its API's invoke permission exists, and that waits for both (nor
///   could Lambda make the group itself meanwhile: the role may not create log groups).
/// - An API, its integration (the function's ARN is known before the function exists), route
///   and stage need neither the function nor the policy; only its invoke permission does, and
///   `aws::http_api` waits for those steps ([`Step::late_steps`]) before adding it, so the
///   function is never invocable without its grants or its log group.
pub fn late_dependency(kind: Kind, dependency: &str) -> bool {
    use desired::ids::{FUNCTION, LOG_GROUP, ROLE_POLICY};
    matches!(
        (kind, dependency),
        (Kind::LambdaFunction, ROLE_POLICY | LOG_GROUP)
            | (Kind::HttpApi, FUNCTION | ROLE_POLICY | LOG_GROUP)
    )
}

/// What an API's invoke permission waits for, inside its step ([`late_dependency`]).
const INVOKE_WAITS_FOR: [&str; 3] = [
    desired::ids::FUNCTION,
    desired::ids::ROLE_POLICY,
    desired::ids::LOG_GROUP,
];

/// Fills in `after_steps` (and `late_steps`) and sorts the steps so that each comes after those
/// it waits for: creates and updates wait for the resources they depend on, except for late
/// dependencies ([`late_dependency`]); deletes wait for the deletes of the resources that
/// depend on them (reverse order).
fn order(steps: &mut [Step], desired: &[Resource], recorded: &BTreeMap<String, RecordedResource>) {
    let planned: BTreeMap<String, Action> =
        steps.iter().map(|s| (s.id.clone(), s.action)).collect();
    let in_plan = |dep: &String| planned.get(dep).is_some_and(|a| *a != Action::Delete);
    for step in steps.iter_mut() {
        // Only an API waits part of the way in (its invoke permission); a function needs
        // nothing it does not start after.
        if step.action != Action::Delete && step.kind == Kind::HttpApi {
            let mut late: Vec<String> = INVOKE_WAITS_FOR
                .iter()
                .map(|d| d.to_string())
                .filter(|d| late_dependency(step.kind, d) && in_plan(d))
                .collect();
            late.retain(|d| d != &step.id);
            step.late_steps = late;
        }
        let waits: Vec<String> = if step.action == Action::Delete {
            recorded
                .iter()
                .filter(|(id, rec)| {
                    rec.depends_on.contains(&step.id) && planned.get(*id) == Some(&Action::Delete)
                })
                .map(|(id, _)| id.clone())
                .collect()
        } else {
            desired
                .iter()
                .find(|r| r.id == step.id)
                .map(|r| r.depends_on.clone())
                .unwrap_or_default()
                .into_iter()
                .filter(|dep| in_plan(dep) && !late_dependency(step.kind, dep))
                .collect()
        };
        step.after_steps = waits;
    }
    // A stable topological sort: the executor does not need it, but people read plans top down.
    let mut sorted: Vec<Step> = Vec::with_capacity(steps.len());
    let mut remaining: Vec<Step> = steps.to_vec();
    while !remaining.is_empty() {
        let pos = remaining
            .iter()
            .position(|s| {
                // Late dependencies count here: a step comes after what it waits for inside, so
                // the executor, which starts ready steps in this order, never leaves a waiting
                // step holding the only slot.
                s.after_steps
                    .iter()
                    .chain(&s.late_steps)
                    .all(|d| sorted.iter().any(|done| &done.id == d))
            })
            // A cycle cannot come from our own expansion; keep the rest as it is.
            .unwrap_or(0);
        sorted.push(remaining.remove(pos));
    }
    steps.clone_from_slice(&sorted);
}

/// What a state written by an older version could not record, taken from what AWS holds, so
/// that an upgrade shows no false drift: a log group's tags (read since ownership of log groups
/// is proven by them).
fn fill_unrecorded(recorded: &Props, live: &Props) -> Props {
    match (recorded, live) {
        (Props::LogGroup(r), Props::LogGroup(l)) if r.tags.is_empty() => {
            Props::LogGroup(resources::LogGroupProps {
                tags: l.tags.clone(),
                ..r.clone()
            })
        }
        _ => recorded.clone(),
    }
}

/// Compares the three views for `diff`. `live` maps each *recorded* resource id to what AWS
/// holds at its recorded physical id.
pub fn diff(
    desired: &[Resource],
    recorded: &BTreeMap<String, RecordedResource>,
    live: &BTreeMap<String, Option<Props>>,
) -> DiffReport {
    let drift = recorded
        .iter()
        .filter_map(|(id, rec)| match live.get(id).cloned().flatten() {
            None => Some(Drift {
                id: id.clone(),
                kind: rec.kind,
                physical_id: rec.physical_id.clone(),
                deleted: true,
                changes: Vec::new(),
            }),
            Some(l) => {
                let changes = attr_changes(&fill_unrecorded(&rec.props, &l), &l);
                (!changes.is_empty()).then(|| Drift {
                    id: id.clone(),
                    kind: rec.kind,
                    physical_id: rec.physical_id.clone(),
                    deleted: false,
                    changes,
                })
            }
        })
        .collect();
    // Pending: the spec against what was applied, as if AWS still held exactly that.
    let as_applied: BTreeMap<String, Option<Props>> = recorded
        .iter()
        .map(|(id, rec)| (id.clone(), Some(rec.props.clone())))
        .collect();
    let pending = plan_deploy(desired, recorded, &as_applied).steps;
    DiffReport { drift, pending }
}

#[cfg(test)]
mod tests;
