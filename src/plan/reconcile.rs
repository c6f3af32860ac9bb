//! What deploy and destroy may touch, decided from the three views and the journal, with no AWS
//! call: ownership proof, adoption, refusal, and recovery of what an interrupted run half made.
//! The commands read AWS, call these, render the answer and run the plan.
//!
//! The rules (docs/security.md):
//! - A resource is the stack's when the state records it at that physical id, when an
//!   interrupted run's journal says it was creating it there, or when it carries the ownership
//!   tag naming the stack. Anything else found where the stack wants to create is refused.
//! - destroy deletes only what the state records (and what the journal says a killed run
//!   created), and of that only what still carries the stack's tag; what lives on a refused
//!   resource stays with it; a role holding policies the stack did not put there stays too.

use std::collections::BTreeMap;
use std::fmt;

use super::record::{was_creating, PendingOperation, RecordedResource};
use super::resources::RoleProps;
use super::{plan_deploy, plan_destroy, record_of, Action, Kind, Plan, Props, Resource};
use crate::spec::OWNERSHIP_TAG;

/// Why a resource may not be touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// Its ownership tag names another stack.
    OtherStack(String),
    /// It carries no ownership tag: presign-stack did not create it.
    Untagged,
    /// It lives on a refused resource (a bucket's CORS or policy, a role's policy).
    OnRefused,
    /// A role holding policies the stack did not attach: their names, and the commands that
    /// remove them.
    ForeignPolicies { names: String, steps: Vec<String> },
    /// `import`: nothing of this kind exists under the name given.
    Missing,
    /// `import`: the state already records another resource as this one.
    Recorded { physical_id: String },
    /// `import`: the spec gives the resource another name (`setting`), and renaming it means
    /// replacing it.
    Renamed {
        setting: &'static str,
        wanted: String,
    },
}

/// A resource deploy or destroy leaves alone, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub id: String,
    pub kind: Kind,
    pub physical_id: String,
    pub stack: String,
    pub why: Why,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = format!("{} {}", self.kind, self.physical_id);
        let hint = match self.kind {
            Kind::S3Bucket => "set bucket.name in stack.yaml to another name",
            Kind::LambdaFunction => "set function.name in stack.yaml to another name",
            _ => "rename the stack, or remove the other resource",
        };
        let stack = &self.stack;
        match &self.why {
            Why::OtherStack(owner) => write!(
                f,
                "{what} already exists and belongs to stack {owner:?}, not {stack:?}\n  hint: {hint}; presign-stack never adopts or deletes another stack's resources"
            ),
            Why::Untagged => write!(
                f,
                "{what} already exists and was not created by presign-stack (it has no {OWNERSHIP_TAG} tag)\n  hint: {hint}; presign-stack never adopts or deletes a resource it did not create"
            ),
            Why::OnRefused => write!(f, "it belongs to a resource that is not the stack's"),
            Why::ForeignPolicies { names, steps } => write!(
                f,
                "it has policies presign-stack did not attach ({names})\n    next: run `presign-stack deploy` (it removes them), or remove them yourself:\n      {}\n    then run destroy again",
                steps.join("\n      ")
            ),
            Why::Missing => {
                let hint = match self.kind {
                    Kind::HttpApi => "name an HTTP API by its id (`aws apigatewayv2 get-apis`); REST APIs (API Gateway v1) and WebSocket APIs cannot be adopted",
                    _ => "check the name and the region (--region)",
                };
                write!(f, "{what} does not exist\n  hint: {hint}; nothing was imported")
            }
            Why::Recorded { physical_id } => write!(
                f,
                "the state of stack {stack:?} already records {} {physical_id} as {}\n  hint: a stack holds one of each; destroy the recorded one first, or import into another stack (--env, or another stack.yaml); nothing was imported",
                self.kind, self.id
            ),
            Why::Renamed { setting, wanted } => write!(
                f,
                "{what} cannot be adopted under the spec's name {wanted:?}: renaming it means replacing it\n  hint: set {setting}: {} in stack.yaml so the stack keeps it as it is; nothing was imported",
                self.physical_id
            ),
        }
    }
}

/// Every resource a deploy refuses; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusals(pub Vec<Refusal>);

impl fmt::Display for Refusals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(|r| r.to_string()).collect();
        write!(f, "{}", lines.join("\n"))
    }
}

impl std::error::Error for Refusals {}

/// Whether `live` is `stack`'s by its ownership tag: `None` when it is (or when its kind carries
/// no tags: those are named after the stack and live on a tagged resource), else why not.
pub fn ownership(stack: &str, live: &Props) -> Option<Why> {
    let tags = live.tags()?;
    match tags.get(OWNERSHIP_TAG) {
        Some(owner) if owner == stack => None,
        Some(owner) => Some(Why::OtherStack(owner.clone())),
        None => Some(Why::Untagged),
    }
}

pub(super) fn refusal(stack: &str, id: &str, live: &Props, why: Why) -> Refusal {
    Refusal {
        id: id.to_string(),
        kind: live.kind(),
        physical_id: live.physical_id().to_string(),
        stack: stack.to_string(),
        why,
    }
}

/// What a deploy does.
#[derive(Debug, Clone, PartialEq)]
pub struct DeployPlan {
    pub plan: Plan,
    /// Resources already as wanted that the state does not record as such (adopted after a
    /// crash, or recorded by an older version): written to the state without any AWS call.
    pub records: BTreeMap<String, RecordedResource>,
    /// Ids an interrupted run's journal names: the plan resumes from what AWS holds now.
    pub resumed: Vec<String>,
}

/// Plans a deploy of `desired`, given what the state `recorded`, what AWS holds at the desired
/// physical ids (`live`) and the journal of an interrupted run. Refuses, changing nothing,
/// when anything found there is not provably the stack's.
pub fn reconcile_deploy(
    stack: &str,
    desired: &[Resource],
    recorded: &BTreeMap<String, RecordedResource>,
    live: &BTreeMap<String, Option<Props>>,
    journal: &[PendingOperation],
) -> Result<DeployPlan, Refusals> {
    let refused: Vec<Refusal> = desired
        .iter()
        .filter_map(|r| {
            let found = live.get(&r.id)?.as_ref()?;
            let ours_by_state = recorded
                .get(&r.id)
                .is_some_and(|rec| rec.physical_id == found.physical_id())
                || was_creating(journal, &r.id, found.physical_id());
            if ours_by_state {
                return None;
            }
            ownership(stack, found).map(|why| refusal(stack, &r.id, found, why))
        })
        .collect();
    if !refused.is_empty() {
        return Err(Refusals(refused));
    }
    let plan = plan_deploy(desired, recorded, live);
    let planned: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
    let records = desired
        .iter()
        .filter(|r| !planned.contains(&r.id.as_str()))
        .filter(|r| live.get(&r.id).is_some_and(|l| l.is_some()))
        .map(|r| (r.id.clone(), record_of(r)))
        .filter(|(id, record)| recorded.get(id) != Some(record))
        .collect();
    Ok(DeployPlan {
        plan,
        records,
        resumed: journal.iter().map(|p| p.id.clone()).collect(),
    })
}

/// What an interrupted run was creating and never recorded, as `(id, kind, physical id)` to
/// read: what is found there is the stack's, so destroy takes it too ([`recover`]).
pub fn half_made(
    recorded: &BTreeMap<String, RecordedResource>,
    journal: &[PendingOperation],
) -> Vec<(String, Kind, String)> {
    journal
        .iter()
        .filter(|p| matches!(p.action, Action::Create | Action::Replace))
        .filter(|p| !recorded.contains_key(&p.id))
        .map(|p| (p.id.clone(), p.kind, p.physical_id.clone()))
        .collect()
}

/// Adds to `recorded` the half-made resources that were found (see [`half_made`]).
pub fn recover(
    recorded: &mut BTreeMap<String, RecordedResource>,
    found: BTreeMap<String, Option<Props>>,
) {
    for (id, props) in found {
        if let Some(props) = props {
            recorded.insert(
                id,
                RecordedResource {
                    kind: props.kind(),
                    physical_id: props.physical_id().to_string(),
                    depends_on: Vec::new(),
                    props,
                },
            );
        }
    }
}

/// What a destroy does.
#[derive(Debug, Clone, PartialEq)]
pub struct DestroyPlan {
    /// Recorded, but AWS no longer has them: forget them, nothing to delete.
    pub gone: Vec<String>,
    /// Left in place, in id order (then the ones that live on them).
    pub refused: Vec<Refusal>,
    /// The deletes, in reverse dependency order.
    pub plan: Plan,
    /// The buckets the plan deletes (the command checks whether they must be emptied first).
    pub buckets: Vec<String>,
    /// The bucket the spec protects (`bucket.protect`) that the plan would delete: then the
    /// destroy is refused as a whole.
    pub protected: Option<String>,
}

/// Plans a destroy of what the state `recorded` (with [`recover`]ed resources), given what AWS
/// holds at the recorded physical ids. `protect`: the spec's `bucket.protect`.
pub fn reconcile_destroy(
    stack: &str,
    recorded: &BTreeMap<String, RecordedResource>,
    live: &BTreeMap<String, Option<Props>>,
    protect: bool,
) -> DestroyPlan {
    let present = |id: &String| live.get(id).is_some_and(|l| l.is_some());
    let gone: Vec<String> = recorded.keys().filter(|id| !present(id)).cloned().collect();
    let mut refused: Vec<Refusal> = recorded
        .keys()
        .filter_map(|id| {
            let found = live.get(id)?.as_ref()?;
            ownership(stack, found).map(|why| refusal(stack, id, found, why))
        })
        .collect();
    // What lives on a refused resource stays with it, transitively.
    loop {
        let is_refused = |id: &str, refused: &[Refusal]| refused.iter().any(|r| r.id == id);
        let more: Vec<Refusal> = recorded
            .iter()
            .filter(|(id, _)| present(id) && !is_refused(id, &refused))
            .filter(|(_, rec)| rec.depends_on.iter().any(|d| is_refused(d, &refused)))
            .map(|(id, rec)| Refusal {
                id: id.clone(),
                kind: rec.kind,
                physical_id: rec.physical_id.clone(),
                stack: stack.to_string(),
                why: Why::OnRefused,
            })
            .collect();
        if more.is_empty() {
            break;
        }
        refused.extend(more);
    }
    // A role with policies the stack did not put there is left too (IAM would refuse to delete
    // it, and removing them is not destroy's to do); what depends on it goes as usual.
    for (id, found) in live {
        let Some(props @ Props::IamRole(role)) = found else {
            continue;
        };
        if refused.iter().any(|r| &r.id == id) || !recorded.contains_key(id) {
            continue;
        }
        if let Some((names, steps)) = foreign_policies(role) {
            refused.push(refusal(
                stack,
                id,
                props,
                Why::ForeignPolicies { names, steps },
            ));
        }
    }
    let existing: BTreeMap<String, RecordedResource> = recorded
        .iter()
        .filter(|(id, _)| present(id) && !refused.iter().any(|r| &r.id == *id))
        .map(|(id, r)| (id.clone(), r.clone()))
        .collect();
    let buckets: Vec<String> = existing
        .values()
        .filter(|r| r.kind == Kind::S3Bucket)
        .map(|r| r.physical_id.clone())
        .collect();
    DestroyPlan {
        gone,
        refused,
        plan: plan_destroy(&existing),
        protected: buckets.first().filter(|_| protect).cloned(),
        buckets,
    }
}

/// Policies on the role that the stack did not put there, and the commands that remove them.
/// `None` when the role holds only the stack's own.
pub fn foreign_policies(live: &RoleProps) -> Option<(String, Vec<String>)> {
    if live.attached_policies.is_empty() && live.other_inline_policies.is_empty() {
        return None;
    }
    let mut names = Vec::new();
    let mut steps = Vec::new();
    for arn in &live.attached_policies {
        names.push(format!("managed policy {arn}"));
        steps.push(format!(
            "aws iam detach-role-policy --role-name {} --policy-arn {arn}",
            live.name
        ));
    }
    for policy in &live.other_inline_policies {
        names.push(format!("inline policy {policy}"));
        steps.push(format!(
            "aws iam delete-role-policy --role-name {} --policy-name {policy}",
            live.name
        ));
    }
    Some((names.join(", "), steps))
}

#[cfg(test)]
mod tests;
