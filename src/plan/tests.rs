use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;

use super::desired::{desired, ids};
use super::*;
use crate::spec;

fn stack(extra: &str) -> spec::Stack {
    let text = format!(
        "stack: demo\nbucket:\n  cors:\n    - allowed_origins: [\"https://app\"]\n      allowed_methods: [PUT]\n{extra}"
    );
    spec::parse(Path::new("s.yaml"), &text).unwrap()
}

fn as_live(resources: &[Resource]) -> BTreeMap<String, Option<Props>> {
    resources
        .iter()
        .map(|r| (r.id.clone(), Some(r.props.clone())))
        .collect()
}

fn as_recorded(resources: &[Resource]) -> BTreeMap<String, crate::state::RecordedResource> {
    resources
        .iter()
        .map(|r| (r.id.clone(), record_of(r)))
        .collect()
}

fn position(plan: &Plan, id: &str) -> usize {
    plan.steps.iter().position(|s| s.id == id).unwrap()
}

#[test]
fn a_fresh_stack_creates_everything_bucket_first_and_policy_after_the_block() {
    let d = desired(&stack(""), "us-east-1");
    let plan = plan_deploy(&d, &BTreeMap::new(), &BTreeMap::new());
    assert_eq!(plan.count(Action::Create), d.len());
    assert_eq!(plan.steps[0].id, ids::BUCKET);
    assert!(position(&plan, ids::POLICY) > position(&plan, ids::PUBLIC_ACCESS_BLOCK));
    let policy = &plan.steps[position(&plan, ids::POLICY)];
    assert_eq!(
        policy.after_steps,
        vec![ids::BUCKET, ids::PUBLIC_ACCESS_BLOCK]
    );
}

#[test]
fn nothing_to_do_when_aws_matches() {
    let d = desired(&stack(""), "us-east-1");
    assert!(plan_deploy(&d, &as_recorded(&d), &as_live(&d)).is_empty());
    // Also when the state is missing: the resources are adopted without changes.
    assert!(plan_deploy(&d, &BTreeMap::new(), &as_live(&d)).is_empty());
}

#[test]
fn a_changed_attribute_is_an_update_naming_it() {
    let d = desired(&stack(""), "us-east-1");
    let mut live = as_live(&d);
    if let Some(Some(Props::S3BucketPublicAccessBlock(p))) = live.get_mut(ids::PUBLIC_ACCESS_BLOCK)
    {
        p.block_public_policy = false;
    }
    let plan = plan_deploy(&d, &as_recorded(&d), &live);
    assert_eq!(plan.steps.len(), 1);
    assert_eq!(plan.steps[0].action, Action::Update);
    assert_eq!(plan.steps[0].changes[0].attribute, "block_public_policy");
    assert_eq!(plan.steps[0].changes[0].before, json!(false));
    assert_eq!(plan.steps[0].changes[0].after, json!(true));
}

#[test]
fn a_new_bucket_name_replaces_the_bucket_family() {
    let old = desired(&stack(""), "us-east-1");
    let new = desired(&stack("  name: demo-renamed\n"), "us-east-1");
    let plan = plan_deploy(&new, &as_recorded(&old), &BTreeMap::new());
    assert!(
        plan.steps.iter().all(|s| s.action == Action::Replace),
        "{plan:?}"
    );
    let bucket = &plan.steps[position(&plan, ids::BUCKET)];
    assert_eq!(
        bucket.delete_physical_id.as_deref(),
        Some("demo-uploads-us-east-1")
    );
    assert!(bucket.changes.iter().any(|c| c.attribute == "name"));
}

#[test]
fn removing_cors_from_the_spec_deletes_it() {
    let before = desired(&stack(""), "us-east-1");
    let after: Vec<Resource> = before
        .iter()
        .filter(|r| r.id != ids::CORS)
        .cloned()
        .collect();
    let plan = plan_deploy(&after, &as_recorded(&before), &as_live(&after));
    assert_eq!(plan.steps.len(), 1);
    assert_eq!(
        (plan.steps[0].id.as_str(), plan.steps[0].action),
        (ids::CORS, Action::Delete)
    );
}

#[test]
fn destroy_deletes_in_reverse_dependency_order() {
    let d = desired(&stack(""), "us-east-1");
    let plan = plan_destroy(&as_recorded(&d));
    assert_eq!(plan.count(Action::Delete), d.len());
    assert_eq!(plan.steps.last().unwrap().id, ids::BUCKET);
    assert!(position(&plan, ids::POLICY) < position(&plan, ids::PUBLIC_ACCESS_BLOCK));
    let bucket = &plan.steps[position(&plan, ids::BUCKET)];
    assert_eq!(bucket.after_steps.len(), d.len() - 1);
}

#[test]
fn diff_separates_drift_from_pending_changes() {
    let applied = desired(&stack(""), "us-east-1");
    let mut live = as_live(&applied);
    live.insert(ids::POLICY.into(), None);
    if let Some(Some(Props::S3BucketVersioning(v))) = live.get_mut(ids::VERSIONING) {
        v.enabled = true;
    }
    let wanted = desired(&stack("  versioning: true\n"), "us-east-1");
    let report = diff(&wanted, &as_recorded(&applied), &live);
    let drift: Vec<(&str, bool)> = report
        .drift
        .iter()
        .map(|d| (d.id.as_str(), d.deleted))
        .collect();
    assert_eq!(drift, vec![(ids::POLICY, true), (ids::VERSIONING, false)]);
    assert_eq!(report.drift[1].changes[0].attribute, "enabled");
    assert_eq!(report.pending.len(), 1);
    assert_eq!(report.pending[0].id, ids::VERSIONING);
    assert!(!report.in_sync());
    assert!(diff(&applied, &as_recorded(&applied), &as_live(&applied)).in_sync());
}

#[test]
fn public_read_relaxes_only_the_policy_blocks_and_adds_a_prefix_statement() {
    let d = desired(&stack("  public_read:\n    prefix: public/\n"), "us-east-1");
    let pab = d.iter().find(|r| r.id == ids::PUBLIC_ACCESS_BLOCK).unwrap();
    let Props::S3BucketPublicAccessBlock(p) = &pab.props else {
        panic!()
    };
    assert!(p.block_public_acls && p.ignore_public_acls);
    assert!(!p.block_public_policy && !p.restrict_public_buckets);
    let policy = d.iter().find(|r| r.id == ids::POLICY).unwrap();
    let Props::S3BucketPolicy(p) = &policy.props else {
        panic!()
    };
    let text = p.document.to_string();
    assert!(
        text.contains("arn:aws:s3:::demo-uploads-us-east-1/public/*"),
        "{text}"
    );

    let private = desired(&stack(""), "us-east-1");
    let pab = private
        .iter()
        .find(|r| r.id == ids::PUBLIC_ACCESS_BLOCK)
        .unwrap();
    let Props::S3BucketPublicAccessBlock(p) = &pab.props else {
        panic!()
    };
    assert!(
        p.block_public_acls
            && p.ignore_public_acls
            && p.block_public_policy
            && p.restrict_public_buckets
    );
}

#[test]
fn the_bucket_carries_the_ownership_tag_and_user_tags() {
    let d = desired(&stack("  tags:\n    team: media\n"), "eu-west-1");
    let Props::S3Bucket(b) = &d[0].props else {
        panic!()
    };
    assert_eq!(b.name, "demo-uploads-eu-west-1");
    assert_eq!(b.region, "eu-west-1");
    assert_eq!(
        b.tags.get(spec::OWNERSHIP_TAG).map(String::as_str),
        Some("demo")
    );
    assert_eq!(b.tags.get("team").map(String::as_str), Some("media"));
}
