//! The deployer policy in docs/permissions.md grants exactly what the code calls: every SDK
//! call in src/aws/ maps to IAM actions here, and the documented policy must hold all of them
//! and nothing else. A new call without a mapping fails the test until it is added.

use std::collections::BTreeSet;

/// (client variable in src/aws, SDK method) → the IAM actions the call needs.
const ACTIONS: &[(&str, &str, &[&str])] = &[
    ("s3", "create_bucket", &["s3:CreateBucket"]),
    ("s3", "delete_bucket", &["s3:DeleteBucket"]),
    ("s3", "head_bucket", &["s3:ListBucket"]),
    ("s3", "get_bucket_location", &["s3:GetBucketLocation"]),
    ("s3", "get_bucket_tagging", &["s3:GetBucketTagging"]),
    ("s3", "put_bucket_tagging", &["s3:PutBucketTagging"]),
    (
        "s3",
        "get_bucket_ownership_controls",
        &["s3:GetBucketOwnershipControls"],
    ),
    (
        "s3",
        "put_bucket_ownership_controls",
        &["s3:PutBucketOwnershipControls"],
    ),
    (
        "s3",
        "delete_bucket_ownership_controls",
        &["s3:PutBucketOwnershipControls"],
    ),
    (
        "s3",
        "get_public_access_block",
        &["s3:GetBucketPublicAccessBlock"],
    ),
    (
        "s3",
        "put_public_access_block",
        &["s3:PutBucketPublicAccessBlock"],
    ),
    (
        "s3",
        "delete_public_access_block",
        &["s3:PutBucketPublicAccessBlock"],
    ),
    (
        "s3",
        "get_bucket_encryption",
        &["s3:GetEncryptionConfiguration"],
    ),
    (
        "s3",
        "put_bucket_encryption",
        &["s3:PutEncryptionConfiguration"],
    ),
    (
        "s3",
        "delete_bucket_encryption",
        &["s3:PutEncryptionConfiguration"],
    ),
    ("s3", "get_bucket_versioning", &["s3:GetBucketVersioning"]),
    ("s3", "put_bucket_versioning", &["s3:PutBucketVersioning"]),
    ("s3", "get_bucket_cors", &["s3:GetBucketCORS"]),
    ("s3", "put_bucket_cors", &["s3:PutBucketCORS"]),
    ("s3", "delete_bucket_cors", &["s3:PutBucketCORS"]),
    (
        "s3",
        "get_bucket_lifecycle_configuration",
        &["s3:GetLifecycleConfiguration"],
    ),
    (
        "s3",
        "put_bucket_lifecycle_configuration",
        &["s3:PutLifecycleConfiguration"],
    ),
    // S3 has no action of its own for this: removing the rules is putting none.
    (
        "s3",
        "delete_bucket_lifecycle",
        &["s3:PutLifecycleConfiguration"],
    ),
    ("s3", "get_bucket_policy", &["s3:GetBucketPolicy"]),
    ("s3", "put_bucket_policy", &["s3:PutBucketPolicy"]),
    ("s3", "delete_bucket_policy", &["s3:DeleteBucketPolicy"]),
    ("s3", "list_object_versions", &["s3:ListBucketVersions"]),
    (
        "s3",
        "delete_objects",
        &["s3:DeleteObject", "s3:DeleteObjectVersion"],
    ),
    ("iam", "get_role", &["iam:GetRole"]),
    ("iam", "create_role", &["iam:CreateRole", "iam:TagRole"]),
    ("iam", "delete_role", &["iam:DeleteRole"]),
    (
        "iam",
        "update_assume_role_policy",
        &["iam:UpdateAssumeRolePolicy"],
    ),
    ("iam", "tag_role", &["iam:TagRole"]),
    ("iam", "untag_role", &["iam:UntagRole"]),
    ("iam", "get_role_policy", &["iam:GetRolePolicy"]),
    ("iam", "put_role_policy", &["iam:PutRolePolicy"]),
    ("iam", "delete_role_policy", &["iam:DeleteRolePolicy"]),
    ("iam", "list_role_policies", &["iam:ListRolePolicies"]),
    (
        "iam",
        "list_attached_role_policies",
        &["iam:ListAttachedRolePolicies"],
    ),
    ("iam", "detach_role_policy", &["iam:DetachRolePolicy"]),
    ("iam", "get_policy", &["iam:GetPolicy"]),
    ("iam", "get_policy_version", &["iam:GetPolicyVersion"]),
    ("logs", "describe_log_groups", &["logs:DescribeLogGroups"]),
    (
        "logs",
        "create_log_group",
        &["logs:CreateLogGroup", "logs:TagResource"],
    ),
    ("logs", "put_retention_policy", &["logs:PutRetentionPolicy"]),
    ("logs", "delete_log_group", &["logs:DeleteLogGroup"]),
    (
        "logs",
        "list_tags_for_resource",
        &["logs:ListTagsForResource"],
    ),
    ("logs", "tag_resource", &["logs:TagResource"]),
    ("logs", "untag_resource", &["logs:UntagResource"]),
    (
        "lambda",
        "get_function",
        &["lambda:GetFunction", "lambda:ListTags"],
    ),
    (
        "lambda",
        "get_function_configuration",
        &["lambda:GetFunctionConfiguration"],
    ),
    (
        "lambda",
        "create_function",
        &[
            "lambda:CreateFunction",
            "lambda:TagResource",
            "iam:PassRole",
        ],
    ),
    (
        "lambda",
        "update_function_configuration",
        &["lambda:UpdateFunctionConfiguration", "iam:PassRole"],
    ),
    (
        "lambda",
        "update_function_code",
        &["lambda:UpdateFunctionCode"],
    ),
    ("lambda", "delete_function", &["lambda:DeleteFunction"]),
    ("lambda", "tag_resource", &["lambda:TagResource"]),
    ("lambda", "untag_resource", &["lambda:UntagResource"]),
    ("lambda", "get_policy", &["lambda:GetPolicy"]),
    ("lambda", "add_permission", &["lambda:AddPermission"]),
    ("lambda", "remove_permission", &["lambda:RemovePermission"]),
    ("sts", "get_caller_identity", &[]),
];

/// API Gateway authorises by HTTP method: GET reads, POST creates (and tags), PATCH updates,
/// DELETE deletes (and untags).
fn apigateway(method: &str) -> &'static str {
    match method.split('_').next().unwrap_or_default() {
        "get" => "apigateway:GET",
        "create" | "tag" => "apigateway:POST",
        "update" => "apigateway:PATCH",
        "delete" | "untag" => "apigateway:DELETE",
        other => panic!("no API Gateway mapping for {method} ({other})"),
    }
}

/// The S3 calls on the state bucket (src/state/s3.rs), beyond those in [`ACTIONS`]. Without
/// s3:ListBucket, reading a state that does not exist yet answers AccessDenied, not NoSuchKey.
const STATE_ACTIONS: &[(&str, &str, &[&str])] = &[
    ("client", "get_object", &["s3:GetObject", "s3:ListBucket"]),
    ("client", "put_object", &["s3:PutObject"]),
    ("client", "delete_object", &["s3:DeleteObject"]),
];

/// The resource operations `state bootstrap` (src/commands/bootstrap.rs) borrows from src/aws/ (whose SDK calls the
/// deployer test maps) → the IAM actions they need on the state bucket.
const BOOTSTRAP_OPERATIONS: &[(&str, &[&str])] = &[
    (
        "s3_bucket::find",
        &[
            "s3:ListBucket",
            "s3:GetBucketLocation",
            "s3:GetBucketTagging",
        ],
    ),
    (
        "s3_bucket::create",
        &["s3:CreateBucket", "s3:PutBucketTagging"],
    ),
    (
        "s3_public_access_block::put",
        &["s3:PutBucketPublicAccessBlock"],
    ),
    (
        "s3_ownership_controls::put",
        &["s3:PutBucketOwnershipControls"],
    ),
    ("s3_versioning::put", &["s3:PutBucketVersioning"]),
    ("s3_encryption::put", &["s3:PutEncryptionConfiguration"]),
    ("s3_policy::put", &["s3:PutBucketPolicy"]),
];

/// `(client, method)` of every SDK call in the files of `dir`.
fn calls_in(files: Vec<std::path::PathBuf>, clients: &[&str]) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for path in files {
        let text = std::fs::read_to_string(path).unwrap();
        // One line, with method chains joined up: `s3\n    .head_bucket()` → `s3.head_bucket()`.
        let flat = text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace(" .", ".");
        for client in clients {
            let needle = format!("{client}.");
            let mut rest = flat.as_str();
            while let Some(i) = rest.find(&needle) {
                let before_ok = i == 0
                    || !rest.as_bytes()[i - 1].is_ascii_alphanumeric()
                        && rest.as_bytes()[i - 1] != b'_';
                rest = &rest[i + needle.len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
                    .collect();
                if before_ok
                    && rest[name.len()..].starts_with("()")
                    && !name.is_empty()
                    && name != "clone"
                    && name != "config"
                {
                    found.insert((client.to_string(), name));
                }
            }
        }
    }
    found
}

/// The files below `dir`, at any depth.
fn files_below(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_below(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// `(client, method)` of every SDK call in src/aws/ (and its folders).
fn calls_in_code() -> BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/aws");
    let files = files_below(&dir);
    assert!(
        files.iter().any(|f| f.ends_with("http_api/converge.rs")),
        "the walk reaches the resource modules' folders"
    );
    calls_in(
        files,
        &["s3", "iam", "lambda", "gw", "apigw", "logs", "sts"],
    )
}

/// The actions of the `n`-th JSON policy in docs/permissions.md (1: the deployer's, 2: the
/// state bucket's).
fn documented_actions(n: usize) -> BTreeSet<String> {
    let doc = include_str!("../docs/permissions.md");
    let json = doc
        .split("```json")
        .nth(n)
        .and_then(|s| s.split("```").next())
        .expect("a JSON policy block");
    let policy: serde_json::Value =
        serde_json::from_str(json).expect("the documented policy is JSON");
    let mut actions = BTreeSet::new();
    for s in policy["Statement"].as_array().unwrap() {
        match &s["Action"] {
            serde_json::Value::String(a) => {
                actions.insert(a.clone());
            }
            serde_json::Value::Array(a) => {
                actions.extend(a.iter().map(|x| x.as_str().unwrap().to_string()))
            }
            other => panic!("Action {other}"),
        }
    }
    actions
}

#[test]
fn the_documented_deployer_policy_covers_every_call_and_nothing_more() {
    let calls = calls_in_code();
    assert!(calls.len() > 60, "found only {calls:?}");
    let mut needed = BTreeSet::new();
    for (client, method) in &calls {
        if client == "gw" || client == "apigw" {
            needed.insert(apigateway(method).to_string());
            continue;
        }
        let Some((_, _, actions)) = ACTIONS.iter().find(|(c, m, _)| c == client && m == method)
        else {
            panic!("{client}.{method}() has no IAM mapping in tests/permissions.rs: add it, and to docs/permissions.md");
        };
        needed.extend(actions.iter().map(|a| a.to_string()));
    }
    let documented = documented_actions(1);
    let missing: Vec<&String> = needed.difference(&documented).collect();
    let extra: Vec<&String> = documented.difference(&needed).collect();
    assert!(missing.is_empty(), "docs/permissions.md lacks {missing:?}");
    assert!(
        extra.is_empty(),
        "docs/permissions.md grants unused {extra:?}"
    );
    let mapped: BTreeSet<(String, String)> = ACTIONS
        .iter()
        .map(|(c, m, _)| (c.to_string(), m.to_string()))
        .collect();
    let stale: Vec<_> = mapped.iter().filter(|k| !calls.contains(*k)).collect();
    assert!(stale.is_empty(), "mapped but no longer called: {stale:?}");
}

#[test]
fn the_documented_state_bucket_policy_covers_every_state_call_and_nothing_more() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/state/s3.rs");
    let calls = calls_in(vec![file.clone()], &["s3", "client"]);
    assert!(calls.len() >= 3, "found only {calls:?}");
    let mut needed = BTreeSet::new();
    for (client, method) in &calls {
        let Some((_, _, actions)) = STATE_ACTIONS
            .iter()
            .find(|(c, m, _)| c == client && m == method)
        else {
            panic!(
                "{client}.{method}() in src/state/s3.rs has no IAM mapping in tests/permissions.rs"
            );
        };
        needed.extend(actions.iter().map(|a| a.to_string()));
    }
    // Resource operations of src/aws/ that `state bootstrap` calls (src/commands/bootstrap.rs):
    // each must be mapped, each mapping used.
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/commands/bootstrap.rs");
    let text = std::fs::read_to_string(file).unwrap();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("s3_") {
        let name: String = rest[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        rest = &rest[i + name.len()..];
        if name.contains("::") && rest.starts_with('(') {
            assert!(
                BOOTSTRAP_OPERATIONS.iter().any(|(o, _)| *o == name),
                "{name}() in src/commands/bootstrap.rs has no IAM mapping in tests/permissions.rs"
            );
        }
    }
    for (operation, actions) in BOOTSTRAP_OPERATIONS {
        assert!(
            text.contains(&format!("{operation}(")),
            "{operation} is mapped but src/commands/bootstrap.rs no longer calls it"
        );
        needed.extend(actions.iter().map(|a| a.to_string()));
    }
    let documented = documented_actions(2);
    let missing: Vec<&String> = needed.difference(&documented).collect();
    let extra: Vec<&String> = documented.difference(&needed).collect();
    assert!(
        missing.is_empty(),
        "docs/permissions.md (state bucket) lacks {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "docs/permissions.md (state bucket) grants unused {extra:?}"
    );
}
