//! Issue 19, item 1: the stack deploys, updates and goes under AWS's own delays, which moto does
//! not show: a new role that Lambda cannot assume for P = 6 s (AWS's 400
//! InvalidParameterValueException), and a function that is Pending for Q = 2 s after it is created
//! and InProgress after each update, refusing a further update meanwhile (AWS's 409
//! ResourceConflictException). scripts/aws_delays.py adds them in front of moto. Every wait is on
//! a condition (the retry budget, the function's state): no fixed sleeps anywhere.

mod support;

use std::ffi::OsStr;

use support::delays::Delays;
use support::TestStack;

const P: f64 = 6.0;
const Q: f64 = 2.0;

fn run(stack: &TestStack, delays: &Delays, args: &[&str]) -> String {
    let endpoint = delays.endpoint();
    let out = stack.bin_with(&[("AWS_ENDPOINT_URL", OsStr::new(&endpoint))], args);
    let text = format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "presign-stack {args:?} under AWS's delays:\n{text}"
    );
    text
}

fn spec(memory: u32, artifact: &str) -> String {
    format!("function:\n  memory_mb: {memory}\n  artifact: {artifact}\n")
}

#[test]
fn cold_deploy_back_to_back_updates_a_code_update_and_destroy_succeed_under_aws_delays() {
    let delays = Delays::start(P, Q);
    let stack = TestStack::new("delays", "");
    let zip = |name: &str, text: &[u8]| {
        let bytes = presign_stack::artifact::zip_bootstrap(text).unwrap();
        std::fs::write(stack.dir.path().join(name), bytes).unwrap();
    };
    zip("v1.zip", b"#!/bin/sh\necho signer v1\n");
    zip("v2.zip", b"#!/bin/sh\necho signer v2\n");
    zip("v3.zip", b"#!/bin/sh\necho signer v3\n");

    // Cold: the role is new, so Lambda refuses it for P seconds; then the function is Pending.
    stack.write_spec(&spec(128, "v1.zip"));
    let cold = run(&stack, &delays, &["deploy", "--yes"]);
    let after_cold = delays.counts();
    assert!(
        after_cold["propagation_refusals"].as_u64() > Some(0),
        "the cold deploy met IAM propagation: {after_cold}\n{cold}"
    );
    assert!(
        after_cold["pending_reads"].as_u64() > Some(0),
        "and a Pending function: {after_cold}\n{cold}"
    );

    // A configuration update and, at once, a code update of the same function: the second
    // must wait for the first to finish, or AWS refuses it.
    stack.write_spec(&spec(256, "v2.zip"));
    let both = run(&stack, &delays, &["deploy", "--yes"]);
    let after_both = delays.counts();
    assert!(
        after_both["in_progress_reads"].as_u64() > after_cold["in_progress_reads"].as_u64(),
        "the update was seen InProgress: {after_both}\n{both}"
    );

    // A code update alone, then a deploy with nothing to do.
    stack.write_spec(&spec(256, "v3.zip"));
    run(&stack, &delays, &["deploy", "--yes"]);
    let noop = run(&stack, &delays, &["deploy", "--yes"]);
    assert!(noop.contains("No changes."), "{noop}");
    let diff = run(&stack, &delays, &["diff"]);
    assert!(diff.contains("No differences"), "{diff}");

    run(&stack, &delays, &["destroy", "--yes"]);
    let end = delays.counts();
    assert_eq!(
        end["conflicts"], 0,
        "no update was sent while another was in progress: every one waited for the function's state: {end}"
    );
    assert!(stack.state().is_none_or(|s| s.resources.is_empty()));
}
