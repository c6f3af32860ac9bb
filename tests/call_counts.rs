//! Call economy on the full stack: a no-op deploy and a diff make reads only, each operation at
//! most once (one read per resource attribute group), and exactly the reads listed here, so a
//! new or repeated read fails this test until it is justified.

mod support;

use presign_stack::commands::ExitStatus;
use support::TestStack;

const SPEC: &str = "bucket:\n  versioning: true\n  cors:\n    - allowed_origins: [\"https://app.example.com\"]\n      allowed_methods: [PUT]\n      allowed_headers: [content-type]\n  policy_statements:\n    - Sid: DenyDeleteByOthers\n      Effect: Deny\n      Principal: \"*\"\n      Action: s3:DeleteObject\n      Resource: \"arn:aws:s3:::${bucket}/uploads/*\"\napi:\n  route: /sign\n  cors_origins: [\"https://app.example.com\"]\n";

/// One read per attribute group of each resource, plus the account id.
const READS: &[&str] = &[
    "GetCallerIdentity",
    // bucket family
    "HeadBucket",
    "GetBucketTagging",
    "GetBucketOwnershipControls",
    "GetPublicAccessBlock",
    "GetBucketEncryption",
    "GetBucketVersioning",
    "GetBucketCors",
    "GetBucketPolicy",
    // signer
    "GetRole",
    "GetRolePolicy",
    "DescribeLogGroups",
    "GetFunction",
    // HTTP API: found by name and tag, then its parts
    "GetApis",
    "GetApi",
    "GetIntegrations",
    "GetRoutes",
    "GetStage",
    "GetPolicy",
];

fn assert_reads_only(what: &str, calls: &std::collections::BTreeMap<String, u64>) {
    let mut expected: Vec<&str> = READS.to_vec();
    expected.sort();
    let made: Vec<&str> = calls.keys().map(String::as_str).collect();
    assert_eq!(made, expected, "{what}: the operations made");
    for (op, n) in calls {
        assert_eq!(*n, 1, "{what}: {op} was called {n} times");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_op_deploy_and_diff_only_read_each_thing_once() {
    let stack = TestStack::new("calls", SPEC);
    stack
        .expect(&["deploy", "--yes"], ExitStatus::Success)
        .await;
    let noop = stack
        .expect(&["deploy", "--yes"], ExitStatus::Success)
        .await;
    assert!(noop.stdout.contains("No changes"), "{}", noop.output());
    assert!(noop.mutations().is_empty(), "{:?}", noop.mutations());
    assert_reads_only("no-op deploy", &noop.calls);
    let diff = stack.expect(&["diff"], ExitStatus::Success).await;
    assert!(diff.mutations().is_empty());
    assert_reads_only("diff", &diff.calls);
}
