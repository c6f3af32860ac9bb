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
        "bucket.force_destroy must be true or false, not a list",
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

/// The library's own words that used to reach users.
const LIBRARY_WORDS: [&str; 6] = [
    "DuplicateKeyPolicy",
    "from_str_multiple",
    "invalid u32",
    "expected sequence start",
    "invalid type",
    "unknown field",
];

fn problem_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("stack.yaml:"))
        .collect()
}

/// Regression (issue 15, point 6): an unknown key stopped at the first of six problems, type
/// errors named neither field nor range, problems came out unsorted, with no "did you mean",
/// and the YAML library's words leaked.
#[tokio::test]
async fn every_shape_problem_is_reported_at_once_in_our_words_sorted() {
    let stack = TestStack::new("e-all", "");
    std::fs::write(
        stack.spec(),
        "stack: NAME\nbucket:\n  versoning: true\n  force_destroy: [1]\nuploads:\n  prefx: uploads/\n  allowed_content_types: image/png\nfunction:\n  memory_mb: -5\n  timout_seconds: 3\napi:\n  rout: /sign\n  throttle: {rate_limit: 1, burst: 2}\nextra: 1\n"
            .replace("NAME", &stack.name),
    )
    .unwrap();
    let run = stack.expect(&["validate"], Failure).await;
    let lines = problem_lines(&run.stderr);
    let places: Vec<&str> = lines
        .iter()
        .map(|l| {
            l.split("stack.yaml:")
                .nth(1)
                .unwrap()
                .split(": ")
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(
        places,
        ["3:3", "4:18", "6:3", "7:26", "9:14", "10:3", "12:3", "13:13", "13:29", "14:1"],
        "{}",
        run.output()
    );
    for words in [
        "unknown key bucket.versoning",
        "did you mean versioning?",
        "bucket.force_destroy must be true or false, not a list",
        "did you mean prefix?",
        "uploads.allowed_content_types must be a list of strings, not a string",
        "function.memory_mb is -5, but must be between 0 and 4294967295",
        "did you mean timeout_seconds?",
        "did you mean route?",
        "api.throttle needs api.throttle.burst_limit",
        "unknown key extra",
    ] {
        assert!(run.stderr.contains(words), "{words}\n{}", run.output());
    }
    for words in LIBRARY_WORDS {
        assert!(!run.stderr.contains(words), "{words}\n{}", run.output());
    }
}

#[tokio::test]
async fn duplicate_keys_are_named_with_where_they_were_first_set() {
    refused(
        "e-dup",
        "stack: NAME\nbucket:\n  versioning: true\n  versioning: false\n",
        "4:3",
        "bucket.versioning is set twice (first at line 3, column 3)",
    )
    .await;
}

#[tokio::test]
async fn an_unknown_region_is_refused_with_the_closest_one() {
    refused(
        "e-region",
        "stack: NAME\nregion: us-east-9\n",
        "2:9",
        "did you mean us-east-1?",
    )
    .await;
}

#[tokio::test]
async fn a_dotted_bucket_name_is_refused_because_browsers_reject_its_certificate() {
    refused(
        "e-dots",
        "stack: NAME\nbucket:\n  name: acme.photo.uploads\n",
        "3:9",
        "contains dots",
    )
    .await;
}

#[tokio::test]
async fn a_public_prefix_overlapping_the_upload_prefix_is_refused() {
    for public in ["uploads/", "up", "uploads/public/"] {
        refused(
            "e-overlap",
            &format!("stack: NAME\nbucket:\n  public_read:\n    prefix: {public}\nuploads:\n  prefix: uploads/\n"),
            "4:13",
            "uploads would be readable by anyone",
        )
        .await;
    }
}

#[tokio::test]
async fn wildcard_origins_are_warned_about() {
    let stack = TestStack::new(
        "e-star",
        "bucket:\n  cors:\n    - allowed_origins: [\"*\"]\n      allowed_methods: [PUT]\napi:\n  cors_origins: [\"*\"]\n",
    );
    let run = stack
        .expect(&["validate"], presign_stack::commands::ExitStatus::Success)
        .await;
    assert_eq!(
        run.stderr.matches("warning:").count(),
        2,
        "{}",
        run.output()
    );
    assert!(
        run.stderr
            .contains("stack.yaml:5:25: allowed_origins \"*\""),
        "{}",
        run.output()
    );
    assert!(
        run.stderr
            .contains("stack.yaml:8:18: api.cors_origins \"*\""),
        "{}",
        run.output()
    );
}
