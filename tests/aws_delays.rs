//! Issue 19, item 1: the stack deploys, updates and goes under AWS's own delays, which moto does
//! not show: a new role that Lambda cannot assume for P = 6 s (AWS's 400
//! InvalidParameterValueException), and a function that is Pending for Q = 2 s after it is created
//! and InProgress after each update, refusing a further update meanwhile (AWS's 409
//! ResourceConflictException). scripts/aws_delays.py adds them in front of moto. Every wait is on
//! a condition (the retry budget, the function's state): no fixed sleeps anywhere.

mod support;

use std::ffi::OsStr;

use support::delays::{longest_chain, Delays};
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

/// Issue 19, item 2: nothing waits for what it does not need, seen in the calls themselves, each
/// answered 200 ms late (a far region), so that one call after another is unmistakable.
#[test]
fn a_cold_deploy_is_the_graphs_chain_and_a_no_op_or_diff_is_one_wave_of_reads() {
    let delays = Delays::with_latency(200.0, 0.0, 0.0);
    let stack = TestStack::new("chain", "");
    for (name, text) in [
        ("v1.zip", &b"#!/bin/sh\necho v1\n"[..]),
        ("v2.zip", b"#!/bin/sh\necho v2\n"),
    ] {
        let bytes = presign_stack::artifact::zip_bootstrap(text).unwrap();
        std::fs::write(stack.dir.path().join(name), bytes).unwrap();
    }
    stack.write_spec(&spec(128, "v1.zip"));
    let chain_of = |args: &[&str]| {
        delays.trace();
        let out = run(&stack, &delays, args);
        let calls = delays.trace();
        (longest_chain(&calls), format!("{calls:?}\n{out}"))
    };
    // The read wave, then CreateRole → CreateFunction → AddPermission (moto answers Active, so
    // no poll; AWS's Pending adds one), beside CreateBucket → its tags → its settings and
    // CreateApi → CreateIntegration → CreateRoute. Before the late dependencies it was 6.
    let (cold, text) = chain_of(&["deploy", "--yes"]);
    assert!(cold <= 4, "a cold deploy {cold} calls deep: {text}");
    // One wave: every read starts before any has answered (the bucket's tags beside its head,
    // the log group's tags beside its description, the API's parts by the recorded id).
    let (noop, text) = chain_of(&["deploy", "--yes"]);
    assert_eq!(noop, 1, "a no-op deploy {noop} calls deep: {text}");
    let (diff, text) = chain_of(&["diff"]);
    assert_eq!(diff, 1, "a diff {diff} calls deep: {text}");
    // The read wave, then UpdateFunctionCode, whose answer says it is done.
    stack.write_spec(&spec(128, "v2.zip"));
    let (code, text) = chain_of(&["deploy", "--yes"]);
    assert!(code <= 2, "a code-only update {code} calls deep: {text}");
    // The reads with the bucket's listing beside them; the API, its permission and the bucket's
    // settings at once; the function (and the bucket); the role's policy and the log group's
    // re-read; the role and the log group. It was 8.
    let (destroy, text) = chain_of(&["destroy", "--yes"]);
    assert!(destroy <= 5, "a destroy {destroy} calls deep: {text}");
}
