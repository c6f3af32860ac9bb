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
    // the role as a whole: managed and other inline policies are drift
    "ListAttachedRolePolicies",
    "ListRolePolicies",
    "GetRolePolicy",
    "DescribeLogGroups",
    // the log group's ownership tag
    "ListTagsForResource",
    "GetFunction",
    // HTTP API: by the id the last deploy recorded (its name and tag checked), then its parts;
    // no GetApis listing
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

/// The API id recorded in the state is only a hint: pointing it at another stack's API, or at
/// an API deleted out of band, changes nothing in what diff and deploy see.
#[tokio::test(flavor = "multi_thread")]
async fn the_recorded_api_id_is_verified_before_it_is_trusted() {
    let a = TestStack::new("hint-a", "api:\n  route: /sign\n");
    let b = TestStack::new("hint-b", "api:\n  route: /sign\n");
    a.expect(&["deploy", "--yes"], ExitStatus::Success).await;
    b.expect(&["deploy", "--yes"], ExitStatus::Success).await;
    let url_of = |s: &TestStack| s.state().unwrap().outputs["api_url"].clone();
    let (a_url, b_url) = (url_of(&a), url_of(&b));
    assert_ne!(a_url, b_url);

    // A's state names B's API: A's diff must still find A's own API, and leave B's alone.
    let path = a.state_path();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace(&a_url, &b_url)).unwrap();
    let diff = a.expect(&["diff"], ExitStatus::Success).await;
    assert!(
        diff.calls.contains_key("GetApis"),
        "looked up by name: {:?}",
        diff.calls
    );
    b.expect(&["diff"], ExitStatus::Success).await;

    // A's API deleted out of band: drift, and deploy recreates it.
    let a_id = a_url
        .trim_start_matches("https://")
        .split('.')
        .next()
        .unwrap()
        .to_string();
    support::apigw()
        .await
        .delete_api()
        .api_id(&a_id)
        .send()
        .await
        .unwrap();
    std::fs::write(
        &path,
        std::fs::read_to_string(&path)
            .unwrap()
            .replace(&b_url, &a_url),
    )
    .unwrap();
    a.expect(&["diff"], ExitStatus::Differences).await;
    a.expect(&["deploy", "--yes"], ExitStatus::Success).await;
    a.expect(&["diff"], ExitStatus::Success).await;
    b.expect(&["diff"], ExitStatus::Success).await;
}
