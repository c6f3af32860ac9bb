//! destroy: removes what the stack made, refuses a non-empty bucket unless asked to empty it,
//! and is a no-op the second time.

mod support;

use aws_sdk_s3::primitives::ByteStream;
use presign_stack::commands::ExitStatus::{Failure, Success};
use support::{s3, TestStack};

/// Objects can only be written over plain HTTP to the emulator when the TLS-only statement is
/// off: moto enforces bucket policies.
const VERSIONED: &str = "bucket:\n  versioning: true\n  enforce_tls: false\n  cors:\n    - allowed_origins: [\"https://a.example\"]\n      allowed_methods: [PUT]\n";

#[tokio::test]
async fn destroy_removes_everything_and_a_second_destroy_does_nothing() {
    let stack = TestStack::new("x-all", VERSIONED);
    stack.expect(&["deploy", "--yes"], Success).await;
    let run = stack.expect(&["destroy", "--yes"], Success).await;
    assert!(
        run.stdout
            .contains("Plan: 0 to create, 0 to update, 0 to replace, 11 to delete."),
        "{}",
        run.output()
    );
    let s3 = s3().await;
    assert!(
        s3.head_bucket()
            .bucket(stack.bucket())
            .send()
            .await
            .is_err(),
        "bucket gone"
    );
    assert!(stack.state().unwrap().resources.is_empty());

    let again = stack.expect(&["destroy", "--yes"], Success).await;
    assert!(
        again.stdout.contains("Nothing to destroy"),
        "{}",
        again.output()
    );
    assert_eq!(again.mutations(), Vec::<String>::new());
}

#[tokio::test]
async fn destroy_refuses_a_non_empty_bucket_then_empties_a_versioned_one_with_force_empty() {
    let stack = TestStack::new("x-full", VERSIONED);
    stack.expect(&["deploy", "--yes"], Success).await;
    let s3 = s3().await;
    let b = stack.bucket();
    for body in ["one", "two"] {
        s3.put_object()
            .bucket(&b)
            .key("uploads/cat.jpg")
            .body(ByteStream::from_static(body.as_bytes()))
            .send()
            .await
            .unwrap();
    }
    s3.delete_object()
        .bucket(&b)
        .key("uploads/cat.jpg")
        .send()
        .await
        .unwrap();
    let before = stack.state().unwrap();

    let refused = stack.expect(&["destroy", "--yes"], Failure).await;
    assert!(
        refused.stderr.contains("3 object versions"),
        "{}",
        refused.output()
    );
    assert!(
        refused.stderr.contains("--force-empty"),
        "{}",
        refused.output()
    );
    assert_eq!(refused.mutations(), Vec::<String>::new(), "nothing deleted");
    assert_eq!(stack.state().unwrap(), before, "state untouched");
    assert!(
        s3.get_bucket_cors().bucket(&b).send().await.is_ok(),
        "CORS still there"
    );

    let forced = stack
        .expect(&["destroy", "--yes", "--force-empty"], Success)
        .await;
    assert!(
        forced.calls.contains_key("DeleteObjects"),
        "{:?}",
        forced.calls
    );
    assert!(
        s3.head_bucket().bucket(&b).send().await.is_err(),
        "bucket gone"
    );
    stack.expect(&["destroy", "--yes"], Success).await;
}

#[tokio::test]
async fn force_destroy_in_the_spec_empties_the_bucket_without_the_flag() {
    let stack = TestStack::new("x-spec", &format!("{VERSIONED}  force_destroy: true\n"));
    stack.expect(&["deploy", "--yes"], Success).await;
    let s3 = s3().await;
    s3.put_object()
        .bucket(stack.bucket())
        .key("uploads/a.png")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    stack.expect(&["destroy", "--yes"], Success).await;
    assert!(s3
        .head_bucket()
        .bucket(stack.bucket())
        .send()
        .await
        .is_err());
}

#[tokio::test]
async fn destroy_never_deletes_a_bucket_that_lost_the_stacks_ownership_tag() {
    let stack = TestStack::new("x-owner", "bucket:\n  enforce_tls: false\n");
    stack.expect(&["deploy", "--yes"], Success).await;
    let s3 = s3().await;
    s3.delete_bucket_tagging()
        .bucket(stack.bucket())
        .send()
        .await
        .unwrap();
    let run = stack.expect(&["destroy", "--yes"], Failure).await;
    assert!(
        run.stderr.contains("not created by presign-stack"),
        "{}",
        run.output()
    );
    assert!(
        run.stderr.contains("left 5 resource(s) in place"),
        "the bucket and what lives on it: {}",
        run.output()
    );
    let touched: Vec<String> = run
        .mutations()
        .into_iter()
        .filter(|op| op.contains("Bucket") || op.contains("PublicAccess"))
        .collect();
    assert_eq!(
        touched,
        Vec::<String>::new(),
        "nothing of the bucket was touched"
    );
    assert!(s3.head_bucket().bucket(stack.bucket()).send().await.is_ok());
    assert!(
        s3.get_bucket_encryption()
            .bucket(stack.bucket())
            .send()
            .await
            .is_ok(),
        "its configuration stays"
    );
    let state = stack.state().unwrap();
    assert!(state.resources.contains_key("bucket"));
    assert!(
        !state.resources.contains_key("function"),
        "the rest was destroyed"
    );
}

#[tokio::test]
async fn destroy_of_a_never_deployed_stack_succeeds_without_calls() {
    let stack = TestStack::new("x-never", "");
    let run = stack.expect(&["destroy", "--yes"], Success).await;
    assert!(
        run.stdout.contains("Nothing to destroy"),
        "{}",
        run.output()
    );
    assert!(run.calls.is_empty(), "{:?}", run.calls);
}

#[tokio::test]
async fn without_a_terminal_destroy_asks_for_yes_and_deletes_nothing() {
    let stack = TestStack::new("x-noyes", "");
    stack.expect(&["deploy", "--yes"], Success).await;
    let out = stack.bin(&["destroy"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    assert!(s3()
        .await
        .head_bucket()
        .bucket(stack.bucket())
        .send()
        .await
        .is_ok());
}

#[tokio::test]
async fn destroy_refuses_an_untagged_bucket_swapped_in_under_the_recorded_name() {
    let stack = TestStack::new("x-swap", "bucket:\n  enforce_tls: false\n");
    stack.expect(&["deploy", "--yes"], Success).await;
    let s3 = s3().await;
    // Someone deletes the stack's bucket and creates their own with the same name.
    s3.delete_bucket()
        .bucket(stack.bucket())
        .send()
        .await
        .unwrap();
    s3.create_bucket()
        .bucket(stack.bucket())
        .send()
        .await
        .unwrap();
    // moto keeps a deleted bucket's tags for a new bucket of the same name (AWS does not):
    // make sure the new bucket is untagged, as it would be on AWS.
    s3.delete_bucket_tagging()
        .bucket(stack.bucket())
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket(stack.bucket())
        .key("theirs.txt")
        .body(ByteStream::from_static(b"not yours"))
        .send()
        .await
        .unwrap();
    let run = stack
        .expect(&["destroy", "--yes", "--force-empty"], Failure)
        .await;
    assert!(
        run.stderr.contains("not created by presign-stack"),
        "{}",
        run.output()
    );
    assert!(
        !run.calls.contains_key("DeleteObjects") && !run.calls.contains_key("DeleteBucket"),
        "{:?}",
        run.calls
    );
    let left = s3
        .get_object()
        .bucket(stack.bucket())
        .key("theirs.txt")
        .send()
        .await;
    assert!(left.is_ok(), "their object is still there");
}

#[tokio::test]
async fn a_protected_bucket_makes_destroy_refuse() {
    let stack = TestStack::new("x-protect", "bucket:\n  protect: true\n");
    stack.expect(&["deploy", "--yes"], Success).await;
    let run = stack.expect(&["destroy", "--yes"], Failure).await;
    assert!(run.stderr.contains("protected"), "{}", run.output());
    assert_eq!(run.mutations(), Vec::<String>::new());
    stack.write_spec("bucket:\n  protect: false\n");
    stack.expect(&["destroy", "--yes"], Success).await;
}

/// Issue 19, item 4: a versioned bucket holding several pages of versions and delete markers is
/// emptied with the listing continuing while the pages already listed are deleted (1,000 keys a
/// call); progress is shown; a run killed half way leaves a state the next destroy finishes.
#[tokio::test]
async fn a_bucket_of_many_pages_of_versions_is_emptied_and_an_interrupted_emptying_is_finished() {
    let stack = TestStack::new("x-many", VERSIONED);
    stack.expect(&["deploy", "--yes"], Success).await;
    let b = stack.bucket();
    // 1,200 keys written twice and 300 of them deleted: 2,700 versions and delete markers.
    let mut puts = tokio::task::JoinSet::new();
    for batch in 0..16 {
        let b = b.clone();
        puts.spawn(async move {
            let s3 = s3().await;
            for i in (batch..1200).step_by(16) {
                let key = format!("uploads/{i:05}.jpg");
                for body in ["one", "two"] {
                    s3.put_object()
                        .bucket(&b)
                        .key(&key)
                        .body(ByteStream::from_static(body.as_bytes()))
                        .send()
                        .await
                        .unwrap();
                }
                if i % 4 == 0 {
                    s3.delete_object()
                        .bucket(&b)
                        .key(&key)
                        .send()
                        .await
                        .unwrap();
                }
            }
        });
    }
    while let Some(done) = puts.join_next().await {
        done.unwrap();
    }

    let refused = stack.expect(&["destroy", "--yes"], Failure).await;
    assert!(
        refused.stderr.contains("more than 1000 object versions"),
        "one listing call tells a full bucket: {}",
        refused.output()
    );

    // Killed after the first batch was deleted: the bucket is still recorded, partly empty.
    let killed = stack.bin_with(
        &[(
            "PRESIGN_STACK_FAILPOINT_AFTER_MUTATIONS",
            std::ffi::OsStr::new("1"),
        )],
        &["destroy", "--yes", "--force-empty"],
    );
    assert!(!killed.status.success());
    assert!(stack.state().unwrap().resources.contains_key("bucket"));
    let s3 = s3().await;
    let left = s3.list_object_versions().bucket(&b).send().await.unwrap();
    assert!(
        !left.versions().is_empty(),
        "the bucket was not emptied yet"
    );

    let finished = stack
        .expect(&["destroy", "--yes", "--force-empty"], Success)
        .await;
    assert!(
        finished.stderr.contains("object versions deleted so far"),
        "progress is shown: {}",
        finished.output()
    );
    assert!(
        finished.calls.get("DeleteObjects").copied().unwrap_or(0) >= 2,
        "{:?}",
        finished.calls
    );
    assert!(
        s3.head_bucket().bucket(&b).send().await.is_err(),
        "bucket gone"
    );
    assert!(stack.state().is_none_or(|s| s.resources.is_empty()));
}

#[tokio::test]
async fn a_role_whose_own_policy_the_state_lost_is_still_deleted() {
    let stack = TestStack::new("x-role", "");
    stack.expect(&["deploy", "--yes"], Success).await;
    // The state forgets the role's policy (a hand edit, an old state): the policy is still on
    // the role, so IAM refuses DeleteRole until it is gone.
    let mut state = stack.state().unwrap();
    let role = state.resources["role"].physical_id.clone();
    assert!(state.resources.remove("role_policy").is_some());
    std::fs::write(stack.state_path(), presign_stack::state::to_bytes(&state)).unwrap();
    let run = stack.expect(&["destroy", "--yes"], Success).await;
    // Tried first (its policy usually went in its own step just before), refused, then the
    // policy removed and the role deleted.
    assert_eq!(run.calls.get("DeleteRole"), Some(&2), "{:?}", run.calls);
    assert_eq!(
        run.calls.get("DeleteRolePolicy"),
        Some(&1),
        "{:?}",
        run.calls
    );
    let iam = aws_sdk_iam::Client::new(&support::sdk_config().await);
    assert!(
        iam.get_role().role_name(&role).send().await.is_err(),
        "role {role} gone"
    );
}
