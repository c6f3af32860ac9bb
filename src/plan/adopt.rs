//! PURE: what `import` adopts, decided from what the user named, what AWS holds there and the
//! state, with no AWS call; and which of the adopted settings are unsafe, for the plan to call
//! out before anything is adopted.
//!
//! The rules (docs/security.md):
//! - Only what the user names is adopted, with what lives on it and nowhere else: a bucket's
//!   ownership controls, public access block, encryption, versioning, CORS, lifecycle and policy;
//!   a function's log group.
//! - Refused, with nothing changed: a resource that carries another stack's ownership tag, one
//!   that does not exist, one the state already records something else for, and a bucket or
//!   function the spec names otherwise (renaming either means replacing it). A role or an API
//!   named otherwise is adopted; the next deploy replaces it with the stack's own and says so.
//! - Adopting is tagging and recording; nothing else changes until `deploy`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::desired::ids;
use super::reconcile::{ownership, reconcile_deploy, refusal, DeployPlan, Refusal, Refusals, Why};
use super::{Action, Kind, PendingOperation, Props, RecordedResource, Resource};
use crate::spec::validate::names_everyone;
use crate::spec::OWNERSHIP_TAG;

/// What `import` adopts by name, as `KIND=NAME`: the word, the kind and its logical id.
pub const ADOPTABLE: [(&str, Kind, &str); 4] = [
    ("bucket", Kind::S3Bucket, ids::BUCKET),
    ("role", Kind::IamRole, ids::ROLE),
    ("function", Kind::LambdaFunction, ids::FUNCTION),
    ("api", Kind::HttpApi, ids::API),
];

/// What lives on a bucket and is adopted with it: logical id and kind.
pub const BUCKET_PARTS: [(&str, Kind); 7] = [
    (ids::OWNERSHIP, Kind::S3BucketOwnershipControls),
    (ids::PUBLIC_ACCESS_BLOCK, Kind::S3BucketPublicAccessBlock),
    (ids::ENCRYPTION, Kind::S3BucketEncryption),
    (ids::VERSIONING, Kind::S3BucketVersioning),
    (ids::CORS, Kind::S3BucketCors),
    (ids::LIFECYCLE, Kind::S3BucketLifecycle),
    (ids::POLICY, Kind::S3BucketPolicy),
];

/// One resource the user names: `bucket=photos`, `api=a1b2c3d4` (an API by its id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub id: String,
    pub kind: Kind,
    pub name: String,
}

/// Parses `KIND=NAME`; a kind `import` cannot adopt is an error saying what it can.
pub fn parse_wanted(arg: &str) -> Result<Wanted, String> {
    let Some((word, name)) = arg.split_once('=') else {
        return Err(format!(
            "{arg:?} is not KIND=NAME: write bucket=NAME, role=NAME, function=NAME or api=ID"
        ));
    };
    let word = word.trim().to_ascii_lowercase();
    let name = name.trim();
    let kind = match word.as_str() {
        "bucket" | "s3_bucket" => Kind::S3Bucket,
        "role" | "iam_role" => Kind::IamRole,
        "function" | "lambda" | "lambda_function" => Kind::LambdaFunction,
        "api" | "http_api" => Kind::HttpApi,
        w if w.starts_with("s3_bucket_") || w.starts_with("bucket_") || w == "cors" || w == "policy" => {
            return Err(format!(
                "{word} is adopted with its bucket: name the bucket (bucket=NAME)"
            ))
        }
        "log_group" | "logs" => {
            return Err(
                "a function's log group is adopted with the function: name the function (function=NAME)"
                    .into(),
            )
        }
        "iam_role_policy" | "role_policy" => {
            return Err("a role's policies are read with the role: name the role (role=NAME)".into())
        }
        _ => {
            return Err(format!(
                "presign-stack cannot adopt a {word:?}: it adopts bucket=NAME, role=NAME, function=NAME and api=ID (an HTTP API)"
            ))
        }
    };
    if name.is_empty() {
        return Err(format!("{word}= names nothing: write {word}=NAME"));
    }
    let id = ADOPTABLE
        .iter()
        .find(|(_, k, _)| *k == kind)
        .map_or("", |(_, _, id)| id);
    Ok(Wanted {
        id: id.to_string(),
        kind,
        name: name.to_string(),
    })
}

/// What the journal of an interrupted import names: the same resources, to adopt again.
pub fn interrupted(journal: &[PendingOperation]) -> Vec<Wanted> {
    journal
        .iter()
        .filter(|p| p.action == Action::Adopt)
        .map(|p| Wanted {
            id: p.id.clone(),
            kind: p.kind,
            name: p.physical_id.clone(),
        })
        .collect()
}

/// Why deploy and destroy wait while the journal holds an import that did not finish: what
/// it adopted is tagged but not yet recorded. `None` when there is none.
pub fn unfinished_import(journal: &[PendingOperation]) -> Option<String> {
    let names: Vec<String> = interrupted(journal)
        .iter()
        .map(|w| format!("{} {}", w.kind, w.name))
        .collect();
    (!names.is_empty()).then(|| {
        format!(
            "an import was interrupted while adopting {}\n  hint: run `presign-stack import` to finish it (it reads the state's journal), then run this again; nothing was changed",
            names.join(", ")
        )
    })
}

/// A named resource and what AWS holds under its name (`None`: nothing).
#[derive(Debug, Clone)]
pub struct Found {
    pub wanted: Wanted,
    pub live: Option<Props>,
}

/// What the command read for `import`.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub found: Vec<Found>,
    /// What AWS holds at the spec's physical ids, and a named bucket's parts, by logical id.
    pub live: BTreeMap<String, Option<Props>>,
    /// The documents of the managed policies attached to a named role, by ARN.
    pub managed: BTreeMap<String, Value>,
}

/// One resource `import` takes into the stack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Adoption {
    pub id: String,
    pub kind: Kind,
    pub physical_id: String,
    /// What the user named it by (an API's id), for the tagging call and the journal.
    pub named: String,
    /// The resource it lives on, when it is adopted with another (`bucket`, `function`).
    pub with: Option<String>,
    /// Whether it gets the ownership tag (a kind that carries tags, without it yet).
    pub tag: bool,
    /// What the state records: what AWS holds, with the ownership tag.
    #[serde(skip)]
    pub record: RecordedResource,
}

/// A setting of an adopted resource that is unsafe or goes with the next deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub id: String,
    pub kind: Kind,
    pub physical_id: String,
    pub unsafe_setting: bool,
    pub text: String,
}

/// What an import does.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportPlan {
    pub adopt: Vec<Adoption>,
    /// Named resources the state already records as the stack's: nothing to do.
    pub already: Vec<String>,
    /// What the next deploy will do once they are adopted; or what it would refuse (a
    /// resource at a name the spec gives that is neither named here nor the stack's).
    pub next: Result<DeployPlan, Refusals>,
    pub findings: Vec<Finding>,
}

/// `Ok(None)`: already the stack's and recorded; `Ok(Some(tag))`: adopt it (tag: it needs the
/// ownership tag); `Err`: refused.
fn judge(
    stack: &str,
    recorded: &BTreeMap<String, RecordedResource>,
    id: &str,
    live: &Props,
) -> Result<Option<bool>, Why> {
    let owner = ownership(stack, live);
    if let Some(rec) = recorded.get(id) {
        if rec.physical_id != live.physical_id() {
            return Err(Why::Recorded {
                physical_id: rec.physical_id.clone(),
            });
        }
    }
    let is_recorded = recorded.contains_key(id);
    match owner {
        None if is_recorded => Ok(None),
        None => Ok(Some(false)),
        Some(Why::Untagged) => Ok(Some(true)),
        Some(why) => Err(why),
    }
}

/// The props with this stack's ownership tag, for kinds that carry tags.
fn with_owner(props: &Props, stack: &str) -> Props {
    let mut p = props.clone();
    let tags = match &mut p {
        Props::S3Bucket(b) => &mut b.tags,
        Props::IamRole(r) => &mut r.tags,
        Props::LogGroup(g) => &mut g.tags,
        Props::LambdaFunction(f) => &mut f.tags,
        Props::HttpApi(a) => &mut a.tags,
        _ => return p,
    };
    tags.insert(OWNERSHIP_TAG.to_string(), stack.to_string());
    p
}

/// Plans an import: checks every named resource (refusing, with nothing changed, what may not be
/// adopted), adds what lives on them, and plans the deploy that follows.
pub fn reconcile_import(
    stack: &str,
    desired: &[Resource],
    recorded: &BTreeMap<String, RecordedResource>,
    seen: &Seen,
    journal: &[PendingOperation],
) -> Result<ImportPlan, Refusals> {
    let mut refused: Vec<Refusal> = Vec::new();
    let mut adopt: Vec<Adoption> = Vec::new();
    let mut already = Vec::new();
    let wanted_name = |id: &str| {
        desired
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.props.physical_id().to_string())
    };
    let mut take = |id: &str, live: &Props, named: &str, with: Option<&str>| -> Option<Why> {
        match judge(stack, recorded, id, live) {
            Err(why) => Some(why),
            Ok(None) => {
                if with.is_none() {
                    already.push(id.to_string());
                }
                None
            }
            Ok(Some(tag)) => {
                let props = with_owner(live, stack);
                let depends_on = desired
                    .iter()
                    .find(|r| r.id == id)
                    .map(|r| r.depends_on.clone())
                    .unwrap_or_else(|| vec![ids::BUCKET.to_string()]);
                adopt.push(Adoption {
                    id: id.to_string(),
                    kind: live.kind(),
                    physical_id: live.physical_id().to_string(),
                    named: named.to_string(),
                    with: with.map(str::to_string),
                    tag,
                    record: RecordedResource {
                        kind: live.kind(),
                        physical_id: live.physical_id().to_string(),
                        depends_on,
                        props,
                    },
                });
                None
            }
        }
    };
    for f in &seen.found {
        let w = &f.wanted;
        let Some(live) = &f.live else {
            refused.push(Refusal {
                id: w.id.clone(),
                kind: w.kind,
                physical_id: w.name.clone(),
                stack: stack.to_string(),
                why: Why::Missing,
            });
            continue;
        };
        let setting = match w.kind {
            Kind::S3Bucket => Some("bucket.name"),
            Kind::LambdaFunction => Some("function.name"),
            _ => None,
        };
        if let (Some(setting), Some(wanted)) = (setting, wanted_name(&w.id)) {
            if wanted != live.physical_id() {
                let why = Why::Renamed { setting, wanted };
                refused.push(refusal(stack, &w.id, live, why));
                continue;
            }
        }
        if let Some(why) = take(&w.id, live, &w.name, None) {
            refused.push(refusal(stack, &w.id, live, why));
            continue;
        }
        let parts: Vec<&str> = match w.kind {
            Kind::S3Bucket => BUCKET_PARTS.iter().map(|(id, _)| *id).collect(),
            Kind::LambdaFunction => vec![ids::LOG_GROUP],
            _ => Vec::new(),
        };
        for part in parts {
            let Some(Some(found)) = seen.live.get(part) else {
                continue;
            };
            if let Some(why) = take(part, found, found.physical_id(), Some(&w.id)) {
                refused.push(refusal(stack, part, found, why));
            }
        }
    }
    if !refused.is_empty() {
        return Err(Refusals(refused));
    }
    // The next deploy, as it will see AWS once these are adopted (tagged and recorded).
    let mut prospective = recorded.clone();
    let mut live = seen.live.clone();
    for a in &adopt {
        prospective.insert(a.id.clone(), a.record.clone());
        if wanted_name(&a.id).as_deref() == Some(a.physical_id.as_str()) {
            live.insert(a.id.clone(), Some(a.record.props.clone()));
        }
    }
    let others: Vec<PendingOperation> = journal
        .iter()
        .filter(|p| p.action != Action::Adopt)
        .cloned()
        .collect();
    let next = reconcile_deploy(stack, desired, &prospective, &live, &others);
    let findings = findings(desired, &adopt, seen);
    Ok(ImportPlan {
        adopt,
        already,
        next,
        findings,
    })
}

/// The unsafe settings of what is adopted, and what the next deploy does about each.
fn findings(desired: &[Resource], adopt: &[Adoption], seen: &Seen) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut note = |a: &Adoption, unsafe_setting: bool, text: String| {
        out.push(Finding {
            id: a.id.clone(),
            kind: a.kind,
            physical_id: a.physical_id.clone(),
            unsafe_setting,
            text,
        })
    };
    let adopted = |id: &str| adopt.iter().find(|a| a.id == id);
    let wanted = |id: &str| desired.iter().find(|r| r.id == id).map(|r| &r.props);
    for a in adopt {
        match &a.record.props {
            Props::S3Bucket(_) => {
                if adopted(ids::PUBLIC_ACCESS_BLOCK).is_none() {
                    note(a, true, "public access is not blocked: nothing stops a public policy or ACL (the next deploy blocks it)".into());
                }
                if adopted(ids::OWNERSHIP).is_none() {
                    note(a, true, "ACLs are enabled (no object ownership controls): an upload can make itself public with an ACL, as the write-up's public-read does (the next deploy disables ACLs)".into());
                }
            }
            Props::S3BucketPublicAccessBlock(p) => {
                let open: Vec<&str> = [
                    ("block_public_acls", p.block_public_acls),
                    ("ignore_public_acls", p.ignore_public_acls),
                    ("block_public_policy", p.block_public_policy),
                    ("restrict_public_buckets", p.restrict_public_buckets),
                ]
                .into_iter()
                .filter(|(_, on)| !on)
                .map(|(n, _)| n)
                .collect();
                if !open.is_empty() {
                    note(
                        a,
                        true,
                        format!(
                            "public access is not fully blocked ({} off)",
                            open.join(", ")
                        ),
                    );
                }
            }
            Props::S3BucketOwnershipControls(p) if p.object_ownership != "BucketOwnerEnforced" => {
                note(a, true, format!("ACLs are enabled (object ownership {}): an upload can make itself public with an ACL (the next deploy disables ACLs)", p.object_ownership));
            }
            Props::S3BucketCors(p) => {
                for r in p
                    .rules
                    .iter()
                    .filter(|r| r.allowed_origins.iter().any(|o| o == "*"))
                {
                    let then = match wanted(ids::CORS) {
                        Some(_) => "the next deploy replaces the rules with bucket.cors",
                        None => "the next deploy deletes them; bucket.cors sets the stack's",
                    };
                    note(
                        a,
                        true,
                        format!(
                            "CORS lets any web site send {} (AllowedOrigins \"*\"; {then})",
                            r.allowed_methods.join(", ")
                        ),
                    );
                }
            }
            Props::S3BucketPolicy(p) => {
                for s in statements(&p.document) {
                    let allow = s.get("Effect").and_then(Value::as_str) == Some("Allow");
                    if allow && s.get("Principal").is_some_and(names_everyone) {
                        let sid = s.get("Sid").and_then(Value::as_str).unwrap_or("(no Sid)");
                        note(a, true, format!(
                            "the bucket policy lets anyone on the internet {} on {} (Sid {sid}; the next deploy {})",
                            strings(s.get("Action")).join(", "),
                            strings(s.get("Resource")).join(", "),
                            if wanted(ids::POLICY).is_some() { "replaces the policy with the stack's" } else { "deletes the policy" }
                        ));
                    }
                }
            }
            Props::LambdaFunction(f) => {
                if !f.runtime.starts_with("provided") {
                    note(a, true, format!("runs {} code (handler {}), not the signer: the next deploy replaces its code and configuration with the Rust signer (provided.al2023), which checks keys, content types and sizes", f.runtime, f.handler));
                }
                for st in &f.other_permissions {
                    let open = st.principal == "*" || st.source_arn.is_none();
                    let from = st.source_arn.as_deref().unwrap_or("any source");
                    note(a, open, format!("its policy lets {} invoke it from {from} (Sid {}): not the stack's permission; the next deploy removes it", st.principal, st.sid));
                }
            }
            Props::IamRole(r) => {
                let allowed = wanted(ids::ROLE_POLICY)
                    .and_then(|p| match p {
                        Props::IamRolePolicy(p) => Some(
                            allow_actions(&p.document)
                                .iter()
                                .map(|a| a.to_ascii_lowercase())
                                .collect::<BTreeSet<_>>(),
                        ),
                        _ => None,
                    })
                    .unwrap_or_default();
                for arn in &r.attached_policies {
                    let wider = seen
                        .managed
                        .get(arn)
                        .map(|doc| {
                            let extra: Vec<String> = allow_actions(doc)
                                .into_iter()
                                .filter(|a| !allowed.contains(&a.to_ascii_lowercase()))
                                .collect();
                            let on: BTreeSet<String> = statements(doc)
                                .iter()
                                .flat_map(|s| strings(s.get("Resource")))
                                .collect();
                            if extra.is_empty() {
                                String::new()
                            } else {
                                format!(
                                    ": wider than the stack's policy, it grants {} on {}",
                                    extra.join(", "),
                                    on.into_iter().collect::<Vec<_>>().join(", ")
                                )
                            }
                        })
                        .unwrap_or_default();
                    note(a, true, format!("managed policy {arn} is attached (the console's wizard does this){wider}; the next deploy detaches it (the policy itself stays)"));
                }
                for p in &r.other_inline_policies {
                    note(
                        a,
                        true,
                        format!("inline policy {p} is not the stack's; the next deploy deletes it"),
                    );
                }
                if let Some(name) = wanted(ids::ROLE).map(Props::physical_id) {
                    if name != r.name {
                        note(a, false, format!("the next deploy replaces this role with the stack's own, {name}, whose policy grants only what the signer needs, and deletes this one"));
                    }
                }
            }
            Props::HttpApi(api) => {
                if let Some(route) = api
                    .route
                    .as_ref()
                    .filter(|r| r.route_key.starts_with("ANY "))
                {
                    note(
                        a,
                        true,
                        format!("route {} answers every HTTP method", route.route_key),
                    );
                }
                if api
                    .stage
                    .as_ref()
                    .is_none_or(|s| s.throttle_rate_limit <= 0.0)
                {
                    note(a, true, "no throttling on a $default stage: anyone may ask for URLs as fast as they like".into());
                }
                if let Some(name) = wanted(ids::API).map(Props::physical_id) {
                    if name != api.name {
                        note(a, false, format!("the next deploy replaces this API with the stack's own, {name}, and deletes this one: the API's URL changes, so clients must use the new api_url"));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn statements(doc: &Value) -> Vec<&serde_json::Map<String, Value>> {
    match doc.get("Statement") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_object).collect(),
        Some(Value::Object(one)) => vec![one],
        _ => Vec::new(),
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// The actions a policy allows, as written (IAM compares them case-insensitively).
fn allow_actions(doc: &Value) -> BTreeSet<String> {
    statements(doc)
        .into_iter()
        .filter(|s| s.get("Effect").and_then(Value::as_str) == Some("Allow"))
        .flat_map(|s| strings(s.get("Action")))
        .collect()
}

#[cfg(test)]
mod tests;
