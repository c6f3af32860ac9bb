//! Two environments of one spec deploy side by side: no shared resource name, no shared state
//! file; destroying one leaves the other intact.

mod support;

use presign_stack::commands::ExitStatus;
use support::{s3, TestStack, REGION};

#[tokio::test(flavor = "multi_thread")]
async fn two_environments_live_side_by_side_and_die_alone() {
    let stack = TestStack::new(
        "envs",
        "bucket:\n  enforce_tls: false\nenvironments:\n  dev: {}\n  prod:\n    bucket:\n      versioning: true\n",
    );
    stack
        .expect(&["deploy", "--yes", "--env", "dev"], ExitStatus::Success)
        .await;
    stack
        .expect(&["deploy", "--yes", "--env", "prod"], ExitStatus::Success)
        .await;
    let state_dir = stack.dir.path().join(".presign-stack");
    let state = |env: &str| -> presign_stack::state::State {
        let text = std::fs::read_to_string(state_dir.join(format!("{}-{env}.json", stack.name)))
            .unwrap_or_else(|e| panic!("the {env} state: {e}"));
        serde_json::from_str(&text).unwrap()
    };
    let (dev, prod) = (state("dev"), state("prod"));
    let names = |s: &presign_stack::state::State| -> Vec<String> {
        s.resources
            .values()
            .map(|r| r.physical_id.clone())
            .collect()
    };
    let dev_names = names(&dev);
    for name in names(&prod) {
        assert!(!dev_names.contains(&name), "both environments use {name}");
    }
    assert!(
        !state_dir.join(format!("{}.json", stack.name)).exists(),
        "no state for the bare stack"
    );
    let bucket = |env: &str| format!("{}-{env}-uploads-{REGION}", stack.name);
    let versioning = s3()
        .await
        .get_bucket_versioning()
        .bucket(bucket("prod"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        versioning.status().map(|s| s.as_str()),
        Some("Enabled"),
        "prod's own setting"
    );

    // PRESIGN_STACK_ENV selects as --env does (the real binary reads the environment).
    let out = support::command(&["diff", "-f", stack.spec().to_str().unwrap()])
        .env("PRESIGN_STACK_ENV", "prod")
        .current_dir(stack.dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    stack
        .expect(&["destroy", "--yes", "--env", "dev"], ExitStatus::Success)
        .await;
    assert!(s3()
        .await
        .head_bucket()
        .bucket(bucket("dev"))
        .send()
        .await
        .is_err());
    s3().await
        .head_bucket()
        .bucket(bucket("prod"))
        .send()
        .await
        .expect("prod's bucket stays");
    stack
        .expect(&["diff", "--env", "prod"], ExitStatus::Success)
        .await;
    stack
        .expect(&["destroy", "--yes", "--env", "prod"], ExitStatus::Success)
        .await;
}

#[test]
fn validate_checks_every_environment() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("stack.yaml");
    std::fs::write(
        &spec,
        "stack: photos\nenvironments:\n  dev: {}\n  bad:\n    uploads:\n      expires_seconds: 999999\n",
    )
    .unwrap();
    let out = support::command(&["validate", "-f", spec.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("environment bad") && stderr.contains("stack.yaml:6:24"),
        "{stderr}"
    );
    let out = support::command(&["validate", "--env", "dev", "-f", spec.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("photos-dev"));
}
