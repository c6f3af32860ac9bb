//! What `import` adopts, refuses and calls out, decided without a network.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;

use super::*;
use crate::plan::desired::{whole_stack, Target};
use crate::plan::resources::{HttpApiProps, RoleProps};
use crate::spec;

const STACK: &str = "demo";

fn wanted() -> Vec<Resource> {
    let text = "stack: demo\nbucket:\n  name: photos\nfunction:\n  name: getPresignedURL\n";
    let stack = spec::parse(Path::new("stack.yaml"), text).unwrap();
    let target = Target {
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        code_sha256: "c29tZS16aXA=".into(),
    };
    whole_stack(&stack, &target)
}

fn untagged(mut props: Props) -> Props {
    match &mut props {
        Props::S3Bucket(p) => p.tags.clear(),
        Props::LambdaFunction(p) => p.tags.clear(),
        Props::LogGroup(p) => p.tags.clear(),
        _ => {}
    }
    props
}

fn props_of(desired: &[Resource], id: &str) -> Props {
    desired.iter().find(|r| r.id == id).unwrap().props.clone()
}

/// The write-up's stack as AWS holds it: what the spec names, untagged, with the console's
/// settings; the role and API under the console's names.
fn hand_built(desired: &[Resource]) -> Seen {
    let mut live: BTreeMap<String, Option<Props>> =
        desired.iter().map(|r| (r.id.clone(), None)).collect();
    live.insert(
        ids::BUCKET.into(),
        Some(untagged(props_of(desired, ids::BUCKET))),
    );
    live.insert(
        ids::POLICY.into(),
        Some(Props::S3BucketPolicy(crate::plan::resources::PolicyProps {
            bucket: "photos".into(),
            document: json!({"Version": "2012-10-17", "Statement": [{"Sid": "Stmt1564527321604",
                "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::photos/*"}]}),
        })),
    );
    let mut function = untagged(props_of(desired, ids::FUNCTION));
    if let Props::LambdaFunction(f) = &mut function {
        f.runtime = "nodejs18.x".into();
        f.handler = "index.handler".into();
    }
    live.insert(ids::FUNCTION.into(), Some(function.clone()));
    live.insert(
        ids::LOG_GROUP.into(),
        Some(untagged(props_of(desired, ids::LOG_GROUP))),
    );
    let role = Props::IamRole(RoleProps {
        name: "getPresignedURL-role-x1y2z3".into(),
        assume_role_policy: json!({}),
        tags: BTreeMap::new(),
        attached_policies: vec!["arn:aws:iam::123456789012:policy/wizard".into()],
        other_inline_policies: Vec::new(),
    });
    let mut api = match props_of(desired, ids::API) {
        Props::HttpApi(a) => a,
        _ => unreachable!(),
    };
    api = HttpApiProps {
        name: "getPresignedURL-API".into(),
        tags: BTreeMap::new(),
        stage: None,
        ..api
    };
    let found = |kind: Kind, id: &str, name: &str, live: Option<Props>| Found {
        wanted: Wanted {
            id: id.into(),
            kind,
            name: name.into(),
        },
        live,
    };
    Seen {
        found: vec![
            found(
                Kind::S3Bucket,
                ids::BUCKET,
                "photos",
                live[ids::BUCKET].clone(),
            ),
            found(
                Kind::IamRole,
                ids::ROLE,
                "getPresignedURL-role-x1y2z3",
                Some(role),
            ),
            found(
                Kind::LambdaFunction,
                ids::FUNCTION,
                "getPresignedURL",
                Some(function),
            ),
            found(
                Kind::HttpApi,
                ids::API,
                "a1b2c3d4e5",
                Some(Props::HttpApi(api)),
            ),
        ],
        live,
        managed: BTreeMap::from([(
            "arn:aws:iam::123456789012:policy/wizard".to_string(),
            json!({"Statement": [{"Effect": "Allow", "Action": ["s3:PutObject", "s3:PutObjectAcl"],
                "Resource": "arn:aws:s3:::photos/*"}]}),
        )]),
    }
}

#[test]
fn kinds_are_parsed_and_what_cannot_be_adopted_says_what_can() {
    let w = parse_wanted("api=a1b2c3d4e5").unwrap();
    assert_eq!(
        (w.kind, w.id.as_str(), w.name.as_str()),
        (Kind::HttpApi, "api", "a1b2c3d4e5")
    );
    assert_eq!(
        parse_wanted("lambda_function=f").unwrap().kind,
        Kind::LambdaFunction
    );
    let refused = |arg: &str| parse_wanted(arg).unwrap_err();
    assert!(refused("dynamodb_table=t").contains("cannot adopt a \"dynamodb_table\""));
    assert!(refused("dynamodb_table=t").contains("bucket=NAME, role=NAME"));
    assert!(refused("bucket_policy=photos").contains("name the bucket"));
    assert!(refused("log_group=/aws/lambda/f").contains("name the function"));
    assert!(refused("photos").contains("not KIND=NAME"));
    assert!(refused("bucket=").contains("names nothing"));
}

#[test]
fn the_hand_built_stack_is_adopted_with_its_parts_and_its_unsafe_settings_are_named() {
    let desired = wanted();
    let seen = hand_built(&desired);
    let plan = reconcile_import(STACK, &desired, &BTreeMap::new(), &seen, &[]).unwrap();
    let adopted: Vec<(&str, Option<&str>, bool)> = plan
        .adopt
        .iter()
        .map(|a| (a.id.as_str(), a.with.as_deref(), a.tag))
        .collect();
    assert_eq!(
        adopted,
        vec![
            ("bucket", None, true),
            ("bucket_policy", Some("bucket"), false),
            ("role", None, true),
            ("function", None, true),
            ("log_group", Some("function"), true),
            ("api", None, true),
        ]
    );
    // What the state records carries the ownership tag; the API is recorded under its name.
    let api = plan.adopt.iter().find(|a| a.id == "api").unwrap();
    assert_eq!(
        (api.physical_id.as_str(), api.named.as_str()),
        ("getPresignedURL-API", "a1b2c3d4e5")
    );
    assert_eq!(api.record.props.tags().unwrap()[OWNERSHIP_TAG], STACK);
    let text: Vec<String> = plan.findings.iter().map(|f| f.text.clone()).collect();
    let has = |needle: &str| text.iter().any(|t| t.contains(needle));
    assert!(has("lets anyone on the internet s3:GetObject on arn:aws:s3:::photos/* (Sid Stmt1564527321604"), "{text:#?}");
    assert!(has("ACLs are enabled"), "{text:#?}");
    assert!(has("public access is not blocked"), "{text:#?}");
    assert!(has("runs nodejs18.x code"), "{text:#?}");
    assert!(
        has("it grants s3:PutObjectAcl on arn:aws:s3:::photos/*"),
        "only what the stack's policy lacks: {text:#?}"
    );
    assert!(!has("grants s3:PutObject,"), "{text:#?}");
    assert!(has("the API's URL changes"), "{text:#?}");
    // The next deploy replaces the console's role and API with the stack's, and deletes the
    // public policy with the rest brought to the spec.
    let steps: Vec<(&str, Action)> = plan
        .next
        .as_ref()
        .unwrap()
        .plan
        .steps
        .iter()
        .map(|s| (s.id.as_str(), s.action))
        .collect();
    assert!(steps.contains(&("role", Action::Replace)), "{steps:?}");
    assert!(steps.contains(&("api", Action::Replace)), "{steps:?}");
    assert!(steps.contains(&("function", Action::Update)), "{steps:?}");
    assert!(
        steps.contains(&("bucket_policy", Action::Update)),
        "{steps:?}"
    );
}

#[test]
fn another_stacks_resource_a_missing_one_and_a_renamed_bucket_are_refused_together() {
    let desired = wanted();
    let mut seen = hand_built(&desired);
    let Some(Props::LambdaFunction(f)) = &mut seen.found[2].live else {
        unreachable!()
    };
    f.tags.insert(OWNERSHIP_TAG.into(), "other".into());
    seen.found[3].live = None;
    let Some(Props::S3Bucket(b)) = &mut seen.found[0].live else {
        unreachable!()
    };
    b.name = "photos-old".into();
    let refused = reconcile_import(STACK, &desired, &BTreeMap::new(), &seen, &[]).unwrap_err();
    let why: Vec<(&str, &Why)> = refused.0.iter().map(|r| (r.id.as_str(), &r.why)).collect();
    assert_eq!(
        why,
        vec![
            (
                "bucket",
                &Why::Renamed {
                    setting: "bucket.name",
                    wanted: "photos".into()
                }
            ),
            ("function", &Why::OtherStack("other".into())),
            ("api", &Why::Missing),
        ]
    );
    let text = refused.to_string();
    assert!(
        text.contains("set bucket.name: photos-old in stack.yaml"),
        "{text}"
    );
    assert!(
        text.contains("http_api a1b2c3d4e5 does not exist"),
        "{text}"
    );
}

#[test]
fn what_the_state_records_already_is_not_adopted_twice_and_another_record_is_refused() {
    let desired = wanted();
    let mut seen = hand_built(&desired);
    seen.found.truncate(1);
    let first = reconcile_import(STACK, &desired, &BTreeMap::new(), &seen, &[]).unwrap();
    let mut recorded: BTreeMap<String, RecordedResource> = first
        .adopt
        .iter()
        .map(|a| (a.id.clone(), a.record.clone()))
        .collect();
    for a in &first.adopt {
        seen.live.insert(a.id.clone(), Some(a.record.props.clone()));
    }
    seen.found[0].live = Some(first.adopt[0].record.props.clone());
    let again = reconcile_import(STACK, &desired, &recorded, &seen, &[]).unwrap();
    assert!(again.adopt.is_empty(), "{:?}", again.adopt);
    assert_eq!(again.already, vec!["bucket".to_string()]);
    // The function the spec names was not named: the next deploy would refuse it, and says so.
    let blocked = again.next.unwrap_err();
    assert_eq!(blocked.0.len(), 2, "{blocked}");
    assert!(
        blocked
            .to_string()
            .contains("getPresignedURL already exists and was not created by presign-stack"),
        "{blocked}"
    );

    recorded.get_mut("bucket").unwrap().physical_id = "elsewhere".into();
    let refused = reconcile_import(STACK, &desired, &recorded, &seen, &[]).unwrap_err();
    assert!(
        matches!(&refused.0[0].why, Why::Recorded { physical_id } if physical_id == "elsewhere")
    );
}

#[test]
fn an_interrupted_import_is_read_back_from_the_journal_and_holds_deploy() {
    let journal = vec![PendingOperation {
        id: "api".into(),
        kind: Kind::HttpApi,
        action: Action::Adopt,
        physical_id: "a1b2c3d4e5".into(),
        since: "2026-12-04T00:00:00Z".into(),
    }];
    assert_eq!(
        interrupted(&journal),
        vec![Wanted {
            id: "api".into(),
            kind: Kind::HttpApi,
            name: "a1b2c3d4e5".into()
        }]
    );
    assert!(unfinished_import(&journal)
        .unwrap()
        .contains("run `presign-stack import` to finish it"));
    assert!(unfinished_import(&[]).is_none());
}
