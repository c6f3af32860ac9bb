//! deploy against the emulator: what it creates, idempotence, ownership, confirmation, locking.

mod support;

use aws_sdk_s3::types::BucketVersioningStatus;
use presign_stack::commands::ExitStatus::{Failure, Success};
use support::{s3, TestStack};

const SPEC: &str = r#"
tags:
  team: media
bucket:
  versioning: true
  cors:
    - allowed_origins: ["https://app.example.com", "http://localhost:5173"]
      allowed_methods: [PUT]
      allowed_headers: [content-type]
      expose_headers: [ETag]
      max_age_seconds: 3000
  policy_statements:
    - Sid: DenyUnencryptedUploads
      Effect: Deny
      Principal: "*"
      Action: [s3:PutObject]
      Resource: "arn:aws:s3:::${bucket}/*"
      Condition:
        "Null":
          s3:x-amz-server-side-encryption: "true"
"#;

#[tokio::test]
async fn deploy_on_an_empty_emulator_creates_the_bucket_family_as_specified() {
    let stack = TestStack::new("create", SPEC);
    let run = stack.expect(&["deploy", "--yes"], Success).await;
    assert!(
        run.stdout.contains("Plan: 12 to create"),
        "{}",
        run.output()
    );
    assert!(run.stdout.contains(&format!("bucket = {}", stack.bucket())));

    let s3 = s3().await;
    let b = stack.bucket();
    let tags = s3.get_bucket_tagging().bucket(&b).send().await.unwrap();
    let tag = |k: &str| {
        tags.tag_set()
            .iter()
            .find(|t| t.key() == k)
            .map(|t| t.value().to_string())
    };
    assert_eq!(tag("presign-stack:stack"), Some(stack.name.clone()));
    assert_eq!(tag("team").as_deref(), Some("media"));

    let own = s3
        .get_bucket_ownership_controls()
        .bucket(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(
        own.ownership_controls().unwrap().rules()[0]
            .object_ownership()
            .as_str(),
        "BucketOwnerEnforced"
    );
    let pab = s3
        .get_public_access_block()
        .bucket(&b)
        .send()
        .await
        .unwrap();
    let pab = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            pab.block_public_acls(),
            pab.ignore_public_acls(),
            pab.block_public_policy(),
            pab.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let enc = s3.get_bucket_encryption().bucket(&b).send().await.unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm()
            .as_str(),
        "AES256"
    );
    let ver = s3.get_bucket_versioning().bucket(&b).send().await.unwrap();
    assert_eq!(ver.status(), Some(&BucketVersioningStatus::Enabled));
    let cors = s3.get_bucket_cors().bucket(&b).send().await.unwrap();
    let rule = &cors.cors_rules()[0];
    assert_eq!(rule.allowed_methods(), ["PUT"]);
    assert_eq!(rule.max_age_seconds(), Some(3000));
    let mut origins = rule.allowed_origins().to_vec();
    origins.sort();
    assert_eq!(
        origins,
        ["http://localhost:5173", "https://app.example.com"]
    );
    let policy = s3.get_bucket_policy().bucket(&b).send().await.unwrap();
    let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let sids: Vec<&str> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["Sid"].as_str())
        .collect();
    assert_eq!(
        sids,
        [
            "PresignStackDenyInsecureTransport",
            "DenyUnencryptedUploads"
        ]
    );
    assert!(policy.to_string().contains(&format!("arn:aws:s3:::{b}/*")));

    let state = stack.state().expect("state written");
    assert_eq!(state.resources.len(), 12);
    assert!(state.pending.is_empty(), "nothing left in the journal");
    // Written as steps start (journal) and end (records), once for all that start or end
    // together: fewer writes than two a step (24).
    assert!(
        (3..24).contains(&state.serial),
        "state written {} times",
        state.serial
    );
    let text = std::fs::read_to_string(stack.state_path()).unwrap();
    assert!(
        !text.contains("testing"),
        "credentials must never reach the state"
    );
}

#[tokio::test]
async fn a_second_deploy_reports_no_changes_and_makes_zero_mutating_calls() {
    let stack = TestStack::new("noop", SPEC);
    stack.expect(&["deploy", "--yes"], Success).await;
    let serial = stack.state().unwrap().serial;
    let again = stack.expect(&["deploy", "--yes"], Success).await;
    assert!(again.stdout.contains("No changes"), "{}", again.output());
    assert_eq!(again.mutations(), Vec::<String>::new(), "{:?}", again.calls);
    assert!(!again.calls.is_empty(), "the no-op deploy still reads AWS");
    assert_eq!(stack.state().unwrap().serial, serial, "nothing to record");
}

#[tokio::test]
async fn a_bucket_name_taken_by_an_untagged_bucket_fails_clearly_and_changes_nothing() {
    let stack = TestStack::new("taken", "");
    let s3 = s3().await;
    s3.create_bucket()
        .bucket(stack.bucket())
        .send()
        .await
        .unwrap();

    let run = stack.expect(&["deploy", "--yes"], Failure).await;
    assert!(run.stderr.contains(&stack.bucket()), "{}", run.output());
    assert!(run.stderr.contains("bucket.name"), "{}", run.output());
    assert!(
        run.stderr.contains("not created by presign-stack"),
        "{}",
        run.output()
    );
    assert_eq!(run.mutations(), Vec::<String>::new());
    assert!(stack.state().is_none(), "no state written");
    let tags = s3.get_bucket_tagging().bucket(stack.bucket()).send().await;
    assert!(tags.is_err(), "the foreign bucket was left untagged");
}

#[tokio::test]
async fn a_bucket_owned_by_another_stack_is_not_adopted() {
    let stack = TestStack::new("other", "");
    let mine = TestStack::new("mine", &format!("bucket:\n  name: {}\n", stack.bucket()));
    stack.expect(&["deploy", "--yes"], Success).await;
    let run = mine.expect(&["deploy", "--yes"], Failure).await;
    assert!(run.stderr.contains("belongs to stack"), "{}", run.output());
    assert_eq!(run.mutations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_bucket_of_ours_missing_from_state_is_adopted_without_changes() {
    let stack = TestStack::new("adopt", SPEC);
    stack.expect(&["deploy", "--yes"], Success).await;
    std::fs::remove_file(stack.state_path()).unwrap();
    let run = stack.expect(&["deploy", "--yes"], Success).await;
    assert!(run.stdout.contains("No changes"), "{}", run.output());
    assert_eq!(run.mutations(), Vec::<String>::new());
    assert_eq!(stack.state().unwrap().resources.len(), 12);
    stack.expect(&["diff"], Success).await;
}

#[tokio::test]
async fn without_a_terminal_and_without_yes_deploy_refuses_and_says_why() {
    let stack = TestStack::new("noyes", "");
    let out = stack.bin(&["deploy"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--yes"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Plan: 11 to create"));
    let head = s3().await.head_bucket().bucket(stack.bucket()).send().await;
    assert!(head.is_err(), "nothing was created");
}

#[tokio::test]
async fn a_locked_stack_refuses_a_second_deploy_naming_the_holder_but_diff_still_runs() {
    let stack = TestStack::new("locked", "");
    let dir = stack.dir.path().join(".presign-stack");
    let _held =
        presign_stack::state::lock::LockGuard::acquire(&dir, &stack.name, "deploy").unwrap();
    let run = stack.expect(&["deploy", "--yes"], Failure).await;
    assert!(run.stderr.contains("is locked by"), "{}", run.output());
    assert!(
        run.stderr.contains(&format!("pid {}", std::process::id())),
        "{}",
        run.output()
    );
    assert!(
        run.calls.is_empty(),
        "a locked run makes no AWS call: {:?}",
        run.calls
    );
    // diff is read-only and takes no lock.
    stack
        .expect(&["diff"], presign_stack::commands::ExitStatus::Differences)
        .await;
}

#[tokio::test]
async fn the_binary_deploys_with_the_standard_aws_settings() {
    let stack = TestStack::new("binary", "");
    let out = stack.bin(&["deploy", "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = stack.bin(&["diff"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = stack.bin(&["destroy", "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
