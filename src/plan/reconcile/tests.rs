//! The ownership rules as plans and refusals, snapshotted: no network, no emulator.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::plan::desired::{ids, whole_stack, Target};
use crate::plan::tests::{as_live, as_recorded};
use crate::spec;

const STACK: &str = "demo";

fn wanted() -> Vec<Resource> {
    let text = "stack: demo\nbucket:\n  cors:\n    - allowed_origins: [\"https://app.example.com\"]\n      allowed_methods: [PUT]\n";
    let stack = spec::parse(Path::new("stack.yaml"), text).unwrap();
    let target = Target {
        region: "eu-west-1".into(),
        account_id: "123456789012".into(),
        code_sha256: "c29tZS16aXA=".into(),
    };
    whole_stack(&stack, &target)
}

/// `props` with its ownership tag set to `owner` (`None`: removed).
fn owned_by(mut props: Props, owner: Option<&str>) -> Props {
    let tags = match &mut props {
        Props::S3Bucket(p) => &mut p.tags,
        Props::IamRole(p) => &mut p.tags,
        Props::LogGroup(p) => &mut p.tags,
        Props::LambdaFunction(p) => &mut p.tags,
        Props::HttpApi(p) => &mut p.tags,
        other => panic!("{} carries no tags", other.kind()),
    };
    match owner {
        Some(o) => tags.insert(OWNERSHIP_TAG.to_string(), o.to_string()),
        None => tags.remove(OWNERSHIP_TAG),
    };
    props
}

fn absent(live: &mut BTreeMap<String, Option<Props>>, ids: &[&str]) {
    for id in ids {
        live.insert(id.to_string(), None);
    }
}

fn render_plan(plan: &Plan) -> String {
    plan.steps
        .iter()
        .map(|s| {
            format!(
                "{} {} {}",
                s.action.symbol(),
                s.id,
                s.physical_id().unwrap_or("?")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn render_deploy(d: &Result<DeployPlan, Refusals>) -> String {
    match d {
        Err(refusals) => format!("REFUSED, nothing changed:\n{refusals}"),
        Ok(d) => format!(
            "plan:\n{}\nrecorded without a call: {:?}\nresumed: {:?}",
            render_plan(&d.plan),
            d.records.keys().collect::<Vec<_>>(),
            d.resumed
        ),
    }
}

fn render_destroy(d: &DestroyPlan) -> String {
    let refused: Vec<String> = d.refused.iter().map(|r| format!("{}: {r}", r.id)).collect();
    format!(
        "gone: {:?}\nrefused:\n{}\nplan:\n{}\nbuckets: {:?}\nprotected: {:?}",
        d.gone,
        refused.join("\n"),
        render_plan(&d.plan),
        d.buckets,
        d.protected
    )
}

fn pending(id: &str, kind: Kind, action: Action, physical_id: &str) -> PendingOperation {
    PendingOperation {
        id: id.into(),
        kind,
        action,
        physical_id: physical_id.into(),
        since: "2026-12-02T01:00:00Z".into(),
    }
}

#[test]
fn deploy_refuses_every_resource_it_cannot_prove_is_its_own_and_changes_nothing() {
    let want = wanted();
    let mut live = BTreeMap::new();
    absent(
        &mut live,
        &want.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
    );
    let by_id = |id: &str| want.iter().find(|r| r.id == id).unwrap().props.clone();
    live.insert(ids::BUCKET.into(), Some(owned_by(by_id(ids::BUCKET), None)));
    live.insert(
        ids::FUNCTION.into(),
        Some(owned_by(by_id(ids::FUNCTION), Some("other"))),
    );
    let decided = reconcile_deploy(STACK, &want, &BTreeMap::new(), &live, &[]);
    assert!(decided.is_err());
    insta::assert_snapshot!(render_deploy(&decided));
}

#[test]
fn deploy_adopts_what_its_own_interrupted_run_created_before_tagging_it() {
    let want = wanted();
    let mut live = BTreeMap::new();
    absent(
        &mut live,
        &want.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
    );
    let bucket = want.iter().find(|r| r.id == ids::BUCKET).unwrap();
    // Killed between CreateBucket and PutBucketTagging: the bucket is there, untagged.
    live.insert(
        ids::BUCKET.into(),
        Some(owned_by(bucket.props.clone(), None)),
    );
    let journal = [pending(
        ids::BUCKET,
        Kind::S3Bucket,
        Action::Create,
        bucket.props.physical_id(),
    )];
    let decided = reconcile_deploy(STACK, &want, &BTreeMap::new(), &live, &journal);
    assert!(decided.is_ok());
    insta::assert_snapshot!(render_deploy(&decided));
}

#[test]
fn deploy_records_its_own_tagged_resources_without_a_call_when_the_state_is_lost() {
    let want = wanted();
    let decided = reconcile_deploy(STACK, &want, &BTreeMap::new(), &as_live(&want), &[]);
    let d = decided.as_ref().unwrap();
    assert!(d.plan.is_empty());
    assert_eq!(d.records.len(), want.len());
    insta::assert_snapshot!(render_deploy(&decided));
}

#[test]
fn deploy_of_a_recorded_resource_that_lost_its_tag_retags_it() {
    let want = wanted();
    let mut live = as_live(&want);
    let role = want.iter().find(|r| r.id == ids::ROLE).unwrap();
    live.insert(ids::ROLE.into(), Some(owned_by(role.props.clone(), None)));
    let decided = reconcile_deploy(STACK, &want, &as_recorded(&want), &live, &[]);
    insta::assert_snapshot!(render_deploy(&decided));
}

#[test]
fn destroy_leaves_an_untagged_bucket_and_what_lives_on_it_and_deletes_the_rest() {
    let want = wanted();
    let mut live = as_live(&want);
    let bucket = want.iter().find(|r| r.id == ids::BUCKET).unwrap();
    live.insert(
        ids::BUCKET.into(),
        Some(owned_by(bucket.props.clone(), None)),
    );
    let decided = reconcile_destroy(STACK, &as_recorded(&want), &live, false);
    assert!(decided
        .refused
        .iter()
        .any(|r| r.id == ids::CORS && r.why == Why::OnRefused));
    assert!(decided.buckets.is_empty());
    insta::assert_snapshot!(render_destroy(&decided));
}

#[test]
fn destroy_leaves_a_role_with_foreign_policies_and_says_how_to_remove_them() {
    let want = wanted();
    let mut live = as_live(&want);
    let Some(Props::IamRole(mut role)) = live[ids::ROLE].clone() else {
        panic!("the role")
    };
    role.attached_policies = vec!["arn:aws:iam::aws:policy/AdministratorAccess".into()];
    role.other_inline_policies = vec!["console-wizard".into()];
    live.insert(ids::ROLE.into(), Some(Props::IamRole(role)));
    let decided = reconcile_destroy(STACK, &as_recorded(&want), &live, false);
    insta::assert_snapshot!(render_destroy(&decided));
}

#[test]
fn destroy_takes_what_an_interrupted_run_half_made_and_forgets_what_is_gone() {
    let want = wanted();
    let mut recorded = as_recorded(&want);
    let function = recorded.remove(ids::FUNCTION).unwrap();
    let journal = [pending(
        ids::FUNCTION,
        Kind::LambdaFunction,
        Action::Create,
        &function.physical_id,
    )];
    let targets = half_made(&recorded, &journal);
    assert_eq!(
        targets,
        vec![(
            ids::FUNCTION.to_string(),
            Kind::LambdaFunction,
            function.physical_id.clone()
        )]
    );
    recover(
        &mut recorded,
        BTreeMap::from([(ids::FUNCTION.to_string(), Some(function.props.clone()))]),
    );
    let mut live = as_live(&want);
    live.insert(ids::LOG_GROUP.into(), None);
    let decided = reconcile_destroy(STACK, &recorded, &live, false);
    assert_eq!(decided.gone, vec![ids::LOG_GROUP.to_string()]);
    assert!(decided.plan.steps.iter().any(|s| s.id == ids::FUNCTION));
    insta::assert_snapshot!(render_destroy(&decided));
}

#[test]
fn destroy_of_a_protected_bucket_is_refused_as_a_whole() {
    let want = wanted();
    let decided = reconcile_destroy(STACK, &as_recorded(&want), &as_live(&want), true);
    assert!(decided.protected.is_some());
    // An untagged bucket is not deleted anyway, so protection does not stand in the way.
    let mut live = as_live(&want);
    let bucket = want.iter().find(|r| r.id == ids::BUCKET).unwrap();
    live.insert(
        ids::BUCKET.into(),
        Some(owned_by(bucket.props.clone(), None)),
    );
    assert_eq!(
        reconcile_destroy(STACK, &as_recorded(&want), &live, true).protected,
        None
    );
}
