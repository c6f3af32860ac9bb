use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;

use super::desired::{desired, ids};
use super::resources::LifecycleRule;
use super::*;
use crate::spec;

fn stack(extra: &str) -> spec::Stack {
    let text = format!(
        "stack: demo\nbucket:\n  cors:\n    - allowed_origins: [\"https://app\"]\n      allowed_methods: [PUT]\n{extra}"
    );
    spec::parse(Path::new("s.yaml"), &text).unwrap()
}

pub(super) fn as_live(resources: &[Resource]) -> BTreeMap<String, Option<Props>> {
    resources
        .iter()
        .map(|r| (r.id.clone(), Some(r.props.clone())))
        .collect()
}

pub(super) fn as_recorded(resources: &[Resource]) -> BTreeMap<String, RecordedResource> {
    resources
        .iter()
        .map(|r| (r.id.clone(), record_of(r)))
        .collect()
}

fn position(plan: &Plan, id: &str) -> usize {
    plan.steps.iter().position(|s| s.id == id).unwrap()
}

#[test]
fn a_fresh_stack_creates_everything_bucket_first_and_a_public_policy_after_the_block() {
    let d = desired(&stack(""), "us-east-1");
    let plan = plan_deploy(&d, &BTreeMap::new(), &BTreeMap::new());
    assert_eq!(plan.count(Action::Create), d.len());
    assert_eq!(plan.steps[0].id, ids::BUCKET);
    // Only denies: nothing for the block to refuse, so the policy waits for the bucket alone.
    let policy = &plan.steps[position(&plan, ids::POLICY)];
    assert_eq!(policy.after_steps, vec![ids::BUCKET]);
    // A public statement waits for the block to be relaxed.
    let d = desired(&stack("  public_read:\n    prefix: public/\n"), "us-east-1");
    let plan = plan_deploy(&d, &BTreeMap::new(), &BTreeMap::new());
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
    let d = desired(&stack("  public_read:\n    prefix: public/\n"), "us-east-1");
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

fn target() -> desired::Target {
    desired::Target {
        region: "eu-west-1".into(),
        account_id: "111122223333".into(),
        code_sha256: "c2hh".into(),
    }
}

/// (actions, resources) of every statement of a policy document.
fn grants(doc: &serde_json::Value) -> Vec<(Vec<String>, Vec<String>)> {
    let list = |v: &serde_json::Value| -> Vec<String> {
        match v {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(a) => {
                a.iter().map(|x| x.as_str().unwrap().to_string()).collect()
            }
            other => panic!("not a string or list: {other}"),
        }
    };
    doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["Effect"], "Allow");
            assert!(s.get("NotAction").is_none() && s.get("NotResource").is_none());
            (list(&s["Action"]), list(&s["Resource"]))
        })
        .collect()
}

#[test]
fn the_signer_policy_grants_exactly_put_on_the_prefix_and_its_own_logs() {
    let s = stack("");
    let doc = desired::signer_policy(&s, &target());
    let g = grants(&doc);
    assert_eq!(
        g,
        vec![
            (
                vec!["s3:PutObject".to_string()],
                vec!["arn:aws:s3:::demo-uploads-eu-west-1/uploads/*".to_string()]
            ),
            (
                vec![
                    "logs:CreateLogStream".to_string(),
                    "logs:PutLogEvents".to_string()
                ],
                vec![
                    "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/demo-signer:*"
                        .to_string()
                ]
            ),
        ]
    );
    for (actions, resources) in &g {
        assert!(actions.iter().all(|a| !a.contains('*')), "{actions:?}");
        for r in resources {
            assert_ne!(r, "*");
            let scoped = r.starts_with("arn:aws:s3:::demo-uploads-eu-west-1/uploads/")
                || r.starts_with(
                    "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/demo-signer:",
                );
            assert!(scoped, "resource {r} is not scoped to the stack");
        }
    }
}

#[test]
fn downloads_add_get_on_the_same_prefix_only() {
    let s = spec::parse(
        Path::new("s.yaml"),
        "stack: demo\nuploads:\n  prefix: in/\n  allow_downloads: true\n",
    )
    .unwrap();
    let g = grants(&desired::signer_policy(&s, &target()));
    assert_eq!(g.len(), 3);
    assert_eq!(g[1].0, vec!["s3:GetObject"]);
    assert_eq!(g[1].1, vec!["arn:aws:s3:::demo-uploads-eu-west-1/in/*"]);
}

#[test]
fn the_trust_policy_admits_lambda_for_this_account_only() {
    let t = desired::trust_policy(&target());
    let s = &t["Statement"][0];
    assert_eq!(s["Principal"]["Service"], "lambda.amazonaws.com");
    assert_eq!(s["Action"], "sts:AssumeRole");
    assert_eq!(
        s["Condition"]["StringEquals"]["aws:SourceAccount"],
        "111122223333"
    );
}

#[test]
fn the_signer_resources_depend_in_the_right_order() {
    let all = desired::whole_stack(&stack(""), &target());
    let ids: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
    assert!(ids.ends_with(&[
        ids::ROLE,
        ids::ROLE_POLICY,
        ids::LOG_GROUP,
        ids::FUNCTION,
        ids::API
    ]));
    let plan = plan_deploy(&all, &BTreeMap::new(), &BTreeMap::new());
    let function = &plan.steps[position(&plan, ids::FUNCTION)];
    // The function starts once its role exists; its role's policy and log group need not be
    // in place yet, since nothing can invoke it before its API's permission, which waits.
    assert_eq!(function.after_steps, vec![ids::ROLE]);
    assert!(function.late_steps.is_empty());
    // The API starts at once; only its invoke permission waits for the function, the policy
    // and the log group.
    let api = &plan.steps[position(&plan, ids::API)];
    assert!(api.after_steps.is_empty(), "{:?}", api.after_steps);
    assert_eq!(
        api.late_steps,
        vec![ids::FUNCTION, ids::ROLE_POLICY, ids::LOG_GROUP]
    );
    // People read plans top down: what a step waits for part of the way in still comes first.
    assert!(position(&plan, ids::API) > position(&plan, ids::FUNCTION));
    assert!(position(&plan, ids::API) > position(&plan, ids::ROLE_POLICY));
    assert!(position(&plan, ids::API) > position(&plan, ids::LOG_GROUP));
    let Props::LambdaFunction(f) = &all.iter().find(|r| r.id == ids::FUNCTION).unwrap().props
    else {
        panic!()
    };
    assert_eq!(f.role_arn, "arn:aws:iam::111122223333:role/demo-signer");
    assert_eq!(f.environment["PRESIGN_BUCKET"], "demo-uploads-eu-west-1");
    assert_eq!(
        f.environment["PRESIGN_ALLOWED_CONTENT_TYPES"],
        "image/jpeg,image/png"
    );
    assert_eq!(f.code_sha256, "c2hh");
}

#[test]
fn the_invoke_permission_is_limited_to_this_apis_route() {
    let all = desired::whole_stack(&stack(""), &target());
    let Props::HttpApi(api) = &all.iter().find(|r| r.id == ids::API).unwrap().props else {
        panic!()
    };
    assert_eq!(
        api.invoke_permission.as_ref().map(ToString::to_string).as_deref(),
        Some("arn:aws:lambda:eu-west-1:111122223333:function:demo-signer arn:aws:execute-api:eu-west-1:111122223333:{api}/*/GET/sign")
    );
    let stored = serde_json::to_value(&api.invoke_permission).unwrap();
    assert_eq!(
        stored,
        serde_json::json!("arn:aws:lambda:eu-west-1:111122223333:function:demo-signer arn:aws:execute-api:eu-west-1:111122223333:{api}/*/GET/sign"),
        "the state stores the permission as it always has"
    );
    let other: crate::plan::resources::InvokePermission =
        serde_json::from_value(serde_json::json!("fn src principal=s3.amazonaws.com")).unwrap();
    assert_eq!(other.principal, "s3.amazonaws.com");
    assert_eq!(other.to_string(), "fn src principal=s3.amazonaws.com");
    assert_eq!(api.route.as_ref().unwrap().route_key, "GET /sign");
    assert_eq!(
        api.integration.as_deref(),
        Some("arn:aws:lambda:eu-west-1:111122223333:function:demo-signer")
    );
}

#[test]
fn memory_is_an_update_and_a_new_function_name_a_replacement() {
    let t = target();
    let before = desired::whole_stack(&stack(""), &t);
    let more_memory = spec::parse(
        Path::new("s.yaml"),
        "stack: demo\nbucket:\n  cors:\n    - allowed_origins: [\"https://app\"]\n      allowed_methods: [PUT]\nfunction:\n  memory_mb: 256\n",
    )
    .unwrap();
    let plan = plan_deploy(
        &desired::whole_stack(&more_memory, &t),
        &as_recorded(&before),
        &as_live(&before),
    );
    assert_eq!(plan.steps.len(), 1, "{plan:?}");
    assert_eq!(
        (plan.steps[0].id.as_str(), plan.steps[0].action),
        (ids::FUNCTION, Action::Update)
    );

    let renamed = spec::parse(
        Path::new("s.yaml"),
        "stack: demo\nbucket:\n  cors:\n    - allowed_origins: [\"https://app\"]\n      allowed_methods: [PUT]\nfunction:\n  name: demo-other\n",
    )
    .unwrap();
    let plan = plan_deploy(
        &desired::whole_stack(&renamed, &t),
        &as_recorded(&before),
        &as_live(&before),
    );
    let f = &plan.steps[position(&plan, ids::FUNCTION)];
    assert_eq!(f.action, Action::Replace);
    assert_eq!(f.delete_physical_id.as_deref(), Some("demo-signer"));
}

#[test]
fn a_customer_kms_key_is_granted_by_arn_id_or_alias_and_the_aws_key_needs_nothing() {
    let with_key = |key: &str| {
        let s = spec::parse(
            Path::new("s.yaml"),
            &format!(
                "stack: demo\nbucket:\n  encryption:\n    type: sse-kms\n    kms_key_id: {key}\n"
            ),
        )
        .unwrap();
        desired::signer_policy(&s, &target())["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|st| st["Sid"] == "UseUploadKey")
            .cloned()
    };
    let arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    assert_eq!(with_key(arn).unwrap()["Resource"], arn);
    assert_eq!(
        with_key("1234abcd-12ab-34cd-56ef-1234567890ab").unwrap()["Resource"],
        arn
    );
    let alias = with_key("alias/uploads").unwrap();
    assert_eq!(
        alias["Resource"],
        "arn:aws:kms:eu-west-1:111122223333:key/*"
    );
    assert_eq!(
        alias["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"],
        "alias/uploads"
    );
    assert_eq!(
        alias["Action"],
        json!(["kms:GenerateDataKey"]),
        "no Decrypt without downloads"
    );
    assert!(with_key("alias/aws/s3").is_none());
}

#[test]
fn a_state_from_before_log_group_tags_were_read_shows_no_false_drift() {
    let s = stack("");
    let signer = desired::signer(&s, &target());
    let mut recorded = as_recorded(&signer);
    if let Some(rec) = recorded.get_mut(ids::LOG_GROUP) {
        if let Props::LogGroup(p) = &mut rec.props {
            p.tags.clear();
        }
    }
    let report = diff(&signer, &recorded, &as_live(&signer));
    assert!(report.drift.is_empty(), "{:?}", report.drift);
}

#[test]
fn uppy_adds_its_route_with_its_own_permission_and_tells_the_function() {
    let all = desired::whole_stack(&stack("uploads:\n  uppy: true\n  min_size_bytes: 1\napi:\n  cors_origins: [\"https://a.example\"]\n"), &target());
    let Props::HttpApi(api) = &all.iter().find(|r| r.id == ids::API).unwrap().props else {
        panic!()
    };
    assert_eq!(api.other_routes, ["GET /s3/params"]);
    let permissions: Vec<String> = api
        .other_permissions
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        permissions,
        ["arn:aws:lambda:eu-west-1:111122223333:function:demo-signer arn:aws:execute-api:eu-west-1:111122223333:{api}/*/GET/s3/params"]
    );
    assert!(api
        .cors
        .as_ref()
        .unwrap()
        .allow_headers
        .contains(&"uppy-versions".to_string()));
    let Props::LambdaFunction(f) = &all.iter().find(|r| r.id == ids::FUNCTION).unwrap().props
    else {
        panic!()
    };
    assert_eq!(
        f.environment.get("PRESIGN_UPPY").map(String::as_str),
        Some("true")
    );
    assert_eq!(
        f.environment
            .get("PRESIGN_MIN_SIZE_BYTES")
            .map(String::as_str),
        Some("1")
    );

    assert_eq!(
        f.environment.get("PRESIGN_UPPY_METHOD"),
        None,
        "post is the default"
    );
    let put = desired::whole_stack(
        &stack("uploads:\n  uppy: true\n  uppy_method: put\napi:\n  cors_origins: [\"https://a.example\"]\n"),
        &target(),
    );
    let Props::LambdaFunction(f) = &put.iter().find(|r| r.id == ids::FUNCTION).unwrap().props
    else {
        panic!()
    };
    assert_eq!(
        f.environment.get("PRESIGN_UPPY_METHOD").map(String::as_str),
        Some("put")
    );

    // Off (the default): nothing of it, and the stored props keep their old shape.
    let all = desired::whole_stack(&stack(""), &target());
    let Props::HttpApi(api) = &all.iter().find(|r| r.id == ids::API).unwrap().props else {
        panic!()
    };
    assert!(api.other_routes.is_empty() && api.other_permissions.is_empty());
    let stored = serde_json::to_value(api).unwrap();
    assert!(stored.get("other_routes").is_none() && stored.get("other_permissions").is_none());
}

#[test]
fn multipart_adds_a_lifecycle_rule_on_the_prefix_and_a_hand_added_rule_is_an_update() {
    assert!(desired(&stack(""), "us-east-1")
        .iter()
        .all(|r| r.id != ids::LIFECYCLE));
    let d = desired(
        &stack("uploads:\n  multipart: true\n  abort_incomplete_after_days: 2\n"),
        "us-east-1",
    );
    let lifecycle = d.iter().find(|r| r.id == ids::LIFECYCLE).unwrap();
    assert_eq!(lifecycle.depends_on, vec![ids::BUCKET]);
    let Props::S3BucketLifecycle(wanted) = &lifecycle.props else {
        panic!("{lifecycle:?}")
    };
    assert_eq!(
        wanted.rules,
        vec![LifecycleRule {
            id: desired::ABORT_INCOMPLETE_RULE.into(),
            prefix: "uploads/".into(),
            enabled: true,
            abort_incomplete_after_days: Some(2),
            other: vec![],
        }]
    );

    // A rule someone added, listed first by S3: drift in `rules`, repaired by an update.
    let mut live = as_live(&d);
    let mut theirs = wanted.clone();
    theirs.rules.insert(
        0,
        LifecycleRule {
            id: "expire-everything".into(),
            prefix: String::new(),
            enabled: true,
            abort_incomplete_after_days: None,
            other: vec!["expiration".into()],
        },
    );
    live.insert(
        ids::LIFECYCLE.into(),
        Some(Props::S3BucketLifecycle(normalize::lifecycle(theirs))),
    );
    let plan = plan_deploy(&d, &as_recorded(&d), &live);
    assert_eq!(plan.steps.len(), 1, "{plan:?}");
    assert_eq!(
        (plan.steps[0].id.as_str(), plan.steps[0].action),
        (ids::LIFECYCLE, Action::Update)
    );
    assert_eq!(plan.steps[0].changes[0].attribute, "rules");
}

#[test]
fn the_recorded_account_is_the_one_the_functions_role_names() {
    let all = desired::whole_stack(&stack(""), &target());
    assert_eq!(
        record::recorded_account(&as_recorded(&all)).as_deref(),
        Some("111122223333")
    );
    // Nothing recorded, or no function: no guess.
    assert_eq!(record::recorded_account(&BTreeMap::new()), None);
    let bucket_only: Vec<Resource> = all.into_iter().filter(|r| r.id != ids::FUNCTION).collect();
    assert_eq!(record::recorded_account(&as_recorded(&bucket_only)), None);
}
