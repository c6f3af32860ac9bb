//! A malformed stack.yaml: exit 1, a message with file, line and column, and no AWS call.

mod support;

use presign_stack::commands::ExitStatus::Failure;
use support::TestStack;

async fn refused(label: &str, body: &str, line_col: &str, words: &str) {
    let stack = TestStack::new(label, "");
    std::fs::write(stack.spec(), body.replace("NAME", &stack.name)).unwrap();
    for command in [
        &["deploy", "--yes"][..],
        &["diff"],
        &["destroy", "--yes"],
        &["validate"],
    ] {
        let run = stack.expect(command, Failure).await;
        let at = format!("stack.yaml:{line_col}: ");
        assert!(
            run.stderr.contains(&at),
            "{command:?}: expected {at}\n{}",
            run.output()
        );
        assert!(
            run.stderr.contains(words),
            "{command:?}: expected {words:?}\n{}",
            run.output()
        );
        assert!(run.stderr.contains("hint:"), "{}", run.output());
        assert!(run.calls.is_empty(), "no AWS call: {:?}", run.calls);
    }
    assert!(stack.state().is_none());
}

#[tokio::test]
async fn unknown_field() {
    refused(
        "e-field",
        "stack: NAME\nbucket:\n  versoning: true\n",
        "3:3",
        "versoning",
    )
    .await;
}

#[tokio::test]
async fn wrong_type() {
    refused(
        "e-type",
        "stack: NAME\nbucket:\n  force_destroy: [1]\n",
        "3:18",
        "expected",
    )
    .await;
}

#[tokio::test]
async fn invalid_bucket_name() {
    refused(
        "e-name",
        "stack: NAME\nbucket:\n  name: Not_A_Bucket\n",
        "3:9",
        "Not_A_Bucket",
    )
    .await;
}

#[tokio::test]
async fn bad_cors_method() {
    refused(
        "e-cors",
        "stack: NAME\nbucket:\n  cors:\n    - allowed_origins: [\"https://a\"]\n      allowed_methods: [PUT, FETCH]\n",
        "5:30",
        "FETCH",
    )
    .await;
}

#[tokio::test]
async fn bad_yaml() {
    refused(
        "e-yaml",
        "stack: NAME\nbucket:\n  cors: [\n",
        "3:9",
        "unclosed",
    )
    .await;
}

#[test]
fn the_binary_exits_1_with_the_position() {
    let stack = TestStack::new("e-bin", "");
    std::fs::write(stack.spec(), "stack: demo\nregion: not-a-region\n").unwrap();
    let out = stack.bin(&["diff"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("stack.yaml:2:9: "), "{stderr}");
}

#[tokio::test]
async fn validate_checks_a_spec_offline() {
    refused(
        "e-validate",
        "stack: NAME\nbucket:\n  versoning: true\n",
        "3:3",
        "versoning",
    )
    .await;
    let stack = TestStack::new("e-valid", "");
    std::fs::write(stack.spec(), include_str!("../stack.yaml")).unwrap();
    let run = stack
        .expect(&["validate"], presign_stack::commands::ExitStatus::Success)
        .await;
    assert!(run.stdout.contains("is valid"), "{}", run.output());
    assert!(run.calls.is_empty());
    let bad = stack.dir.path().join("bad.yaml");
    std::fs::write(&bad, "stack: demo\nbucket:\n  name: Not_Valid\n").unwrap();
    let out = support::bin_in(stack.dir.path(), &["validate"], &bad);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.yaml:3:9: "));
}

#[test]
fn completions_are_printed_for_each_shell() {
    let stack = TestStack::new("e-compl", "");
    for shell in ["bash", "zsh", "fish"] {
        let out = stack.bin(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("deploy") && text.contains("destroy"),
            "{shell}: {text}"
        );
    }
}
