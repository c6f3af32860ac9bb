//! Crash safety: the tool is killed right after each mutating AWS call of a full-stack deploy
//! (and destroy) in turn, before it can record anything; every time, the next run converges,
//! a further deploy is a no-op, and the emulator holds exactly the stack's resources.
//! The kill is the failure point `PRESIGN_STACK_FAILPOINT_AFTER_MUTATIONS=N` (abort).

mod support;

use std::os::unix::process::ExitStatusExt;

use presign_stack::commands::ExitStatus::Success;
use support::{apigw, iam, lambda, s3, TestStack};

const SPEC: &str = "bucket:\n  versioning: true\n  cors:\n    - allowed_origins: [\"https://a.example\"]\n      allowed_methods: [PUT]\napi:\n  cors_origins: [\"https://a.example\"]\n";

/// Runs the binary with the failure point at mutating call `n`; returns whether it was killed.
fn run_killed_at(stack: &TestStack, args: &[&str], n: usize) -> bool {
    let out = support::command(args)
        .arg("-f")
        .arg(stack.spec())
        .env("PRESIGN_STACK_FAILPOINT_AFTER_MUTATIONS", n.to_string())
        .output()
        .unwrap();
    out.status.signal().is_some()
}

/// How many of the stack's resources exist, by kind, counting duplicates.
async fn census(name: &str) -> (usize, usize, usize, usize, bool) {
    let apis = apigw()
        .await
        .get_apis()
        .send()
        .await
        .unwrap()
        .items()
        .iter()
        .filter(|a| a.name() == Some(format!("{name}-api").as_str()))
        .count();
    let roles = iam()
        .await
        .get_role()
        .role_name(format!("{name}-signer"))
        .send()
        .await
        .map(|_| 1)
        .unwrap_or(0);
    let functions = lambda()
        .await
        .get_function()
        .function_name(format!("{name}-signer"))
        .send()
        .await
        .map(|_| 1)
        .unwrap_or(0);
    let bucket = format!("{name}-uploads-{}", support::REGION);
    let s3 = s3().await;
    let buckets = s3
        .head_bucket()
        .bucket(&bucket)
        .send()
        .await
        .map(|_| 1)
        .unwrap_or(0);
    let tagged = s3
        .get_bucket_tagging()
        .bucket(&bucket)
        .send()
        .await
        .map(|t| {
            t.tag_set()
                .iter()
                .any(|t| t.key() == "presign-stack:stack" && t.value() == name)
        })
        .unwrap_or(false);
    (apis, roles, functions, buckets, tagged)
}

#[tokio::test]
async fn a_deploy_killed_after_any_mutating_call_is_finished_by_the_next_one() {
    // How many mutating calls a full deploy makes.
    let probe = TestStack::new("k-probe", SPEC);
    let first = probe.expect(&["deploy", "--yes"], Success).await;
    let total: u64 = first.mutations().len() as u64;
    let total_calls: u64 = first
        .calls
        .iter()
        .filter(|(op, _)| !presign_stack::aws::CallCounter::is_read(op))
        .map(|(_, n)| n)
        .sum();
    assert!(total >= 10, "{:?}", first.calls);
    probe.expect(&["destroy", "--yes"], Success).await;

    for n in 1..=total_calls as usize {
        let stack = TestStack::new(&format!("k{n}"), SPEC);
        assert!(
            run_killed_at(&stack, &["deploy", "--yes"], n),
            "deploy was not killed at call {n}"
        );
        let resumed = stack.run(&["deploy", "--yes"]).await;
        assert_eq!(
            resumed.status,
            Success,
            "after a kill at call {n}:\n{}",
            resumed.output()
        );
        let again = stack.expect(&["deploy", "--yes"], Success).await;
        assert_eq!(
            again.mutations(),
            Vec::<String>::new(),
            "not a no-op after a kill at call {n}"
        );
        assert!(
            stack.state().unwrap().pending.is_empty(),
            "journal left after a kill at call {n}"
        );
        assert_eq!(
            census(&stack.name).await,
            (1, 1, 1, 1, true),
            "resources after a kill at call {n}"
        );
        stack.expect(&["destroy", "--yes"], Success).await;
        assert_eq!(
            census(&stack.name).await,
            (0, 0, 0, 0, false),
            "destroy after a kill at call {n}"
        );
    }
}

#[tokio::test]
async fn a_destroy_killed_after_any_mutating_call_is_finished_by_the_next_one() {
    let probe = TestStack::new("kd-probe", SPEC);
    probe.expect(&["deploy", "--yes"], Success).await;
    let destroy = probe.expect(&["destroy", "--yes"], Success).await;
    let total: u64 = destroy
        .calls
        .iter()
        .filter(|(op, _)| !presign_stack::aws::CallCounter::is_read(op))
        .map(|(_, n)| n)
        .sum();
    assert!(total >= 8, "{:?}", destroy.calls);

    for n in 1..=total as usize {
        let stack = TestStack::new(&format!("kd{n}"), SPEC);
        stack.expect(&["deploy", "--yes"], Success).await;
        assert!(
            run_killed_at(&stack, &["destroy", "--yes"], n),
            "destroy was not killed at call {n}"
        );
        let finished = stack.run(&["destroy", "--yes"]).await;
        assert_eq!(
            finished.status,
            Success,
            "after a kill at call {n}:\n{}",
            finished.output()
        );
        assert_eq!(
            census(&stack.name).await,
            (0, 0, 0, 0, false),
            "leftovers after a kill at call {n}"
        );
        let again = stack.expect(&["destroy", "--yes"], Success).await;
        assert_eq!(again.mutations(), Vec::<String>::new());
    }
}
