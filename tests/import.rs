//! The write-up's stack, built by hand against moto (tests/support/writeup.rs), meets
//! presign-stack: `deploy` refuses it, `import` adopts it (tag and record, nothing else), and the
//! next `deploy` makes it the stack's: the unsafe settings are gone and the function is the
//! signer; `diff` is then in sync and `destroy` leaves nothing that was imported or created,
//! touching nothing outside what was named. And `import` refuses what it may not adopt.

mod support;

use presign_stack::commands::ExitStatus::{Differences, Failure, Success};
use support::{apigw, iam, lambda, s3, writeup, TestStack};

fn spec_naming(built: &writeup::WriteUp) -> String {
    format!(
        "bucket:\n  name: {}\n  cors:\n    - allowed_origins: [\"https://app.example.com\"]\n      allowed_methods: [PUT]\nfunction:\n  name: {}\napi:\n  cors_origins: [\"https://app.example.com\"]\n",
        built.bucket, built.function
    )
}

/// `import` naming everything the write-up built, without asking.
fn import_args(built: &writeup::WriteUp) -> Vec<String> {
    vec![
        "import".into(),
        format!("bucket={}", built.bucket),
        format!("role={}", built.role),
        format!("function={}", built.function),
        format!("api={}", built.api_id),
        "--yes".into(),
    ]
}

async fn policy_text(bucket: &str) -> Option<String> {
    s3().await
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .ok()
        .and_then(|p| p.policy().map(str::to_string))
}

async fn runtime(function: &str) -> Option<String> {
    lambda()
        .await
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
        .ok()
        .and_then(|f| f.runtime().map(|r| r.as_str().to_string()))
}

#[tokio::test]
async fn a_deploy_naming_the_hand_built_stack_refuses_it_and_changes_nothing() {
    let stack = TestStack::new("wu", "");
    let built = writeup::build(&stack.name).await;
    stack.write_spec(&format!(
        "bucket:\n  name: {}\n  enforce_tls: false\nfunction:\n  name: {}\n",
        built.bucket, built.function
    ));
    let run = stack.expect(&["deploy", "--yes"], Failure).await;
    assert!(
        run.stderr.contains(&built.bucket) && run.stderr.contains("not created by presign-stack"),
        "{}",
        run.output()
    );
    assert!(
        run.mutations().is_empty(),
        "nothing changed: {:?}",
        run.mutations()
    );
    assert!(
        policy_text(&built.bucket)
            .await
            .unwrap()
            .contains("Stmt1564527321604"),
        "the public-read policy is untouched"
    );
    assert_eq!(
        runtime(&built.function).await.as_deref(),
        Some("nodejs18.x"),
        "the Node.js function is untouched"
    );
    assert!(
        stack.state().is_none_or(|s| s.resources.is_empty()),
        "nothing recorded"
    );
}

#[tokio::test]
async fn import_then_deploy_makes_the_hand_built_stack_the_stacks_and_destroy_removes_only_it() {
    let stack = TestStack::new("wi", "");
    let built = writeup::build(&stack.name).await;
    // Something else in the account that nobody named.
    let bystander = format!("{}-bystander", stack.name);
    s3().await
        .create_bucket()
        .bucket(&bystander)
        .send()
        .await
        .unwrap();
    stack.write_spec(&spec_naming(&built));

    let args = import_args(&built);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let import = stack.expect(&argv, Success).await;
    let out = import.output();
    for shown in [
        "<= bucket (s3_bucket",
        "<= api (http_api",
        "<= bucket_policy (s3_bucket_policy",
        "Stmt1564527321604",
        "ACLs are enabled",
        "AllowedOrigins \"*\"",
        "runs nodejs18.x code",
        &built.wizard_policy_arn,
        "s3:PutObjectAcl",
        "the API's URL changes",
        "<= log_group (log_group /aws/lambda/",
        "(with function)",
        "apigw): not the stack's permission",
        "Then `presign-stack deploy` will make these changes",
    ] {
        assert!(
            out.contains(shown),
            "the import plan shows {shown:?}:\n{out}"
        );
    }
    let mut tagged = import.mutations();
    tagged.retain(|op| !["PutBucketTagging", "TagRole", "TagResource"].contains(&op.as_str()));
    assert!(
        tagged.is_empty(),
        "import only tags: {:?}",
        import.mutations()
    );
    assert!(
        policy_text(&built.bucket)
            .await
            .unwrap()
            .contains("Stmt1564527321604"),
        "nothing else changes until deploy"
    );
    assert_eq!(
        runtime(&built.function).await.as_deref(),
        Some("nodejs18.x")
    );
    let state = stack.state().unwrap();
    for id in [
        "bucket",
        "bucket_cors",
        "bucket_policy",
        "role",
        "function",
        "api",
    ] {
        assert!(
            state.resources.contains_key(id),
            "{id} recorded: {:?}",
            state.resources.keys()
        );
    }
    assert!(state.pending.is_empty(), "the journal is settled");

    // Again: everything named is already the stack's.
    let again = stack.expect(&argv, Success).await;
    assert!(
        again.stdout.contains("Nothing to import"),
        "{}",
        again.output()
    );
    assert!(again.mutations().is_empty());

    let diff = stack.expect(&["diff"], Differences).await;
    assert!(diff.mutations().is_empty());

    let deploy = stack.expect(&["deploy", "--yes"], Success).await;
    let policy = policy_text(&built.bucket).await.unwrap_or_default();
    assert!(
        !policy.contains("Stmt1564527321604"),
        "the public-read statement is gone: {policy}\n{}",
        deploy.output()
    );
    let cors = s3()
        .await
        .get_bucket_cors()
        .bucket(&built.bucket)
        .send()
        .await
        .unwrap();
    assert!(
        cors.cors_rules()
            .iter()
            .all(|r| r.allowed_origins() == ["https://app.example.com"]),
        "{cors:?}"
    );
    let ownership = s3()
        .await
        .get_bucket_ownership_controls()
        .bucket(&built.bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ownership.ownership_controls().unwrap().rules()[0]
            .object_ownership()
            .as_str(),
        "BucketOwnerEnforced"
    );
    assert_eq!(
        runtime(&built.function).await.as_deref(),
        Some("provided.al2023"),
        "the function is the signer"
    );
    let iam = iam().await;
    assert!(
        iam.get_role().role_name(&built.role).send().await.is_err(),
        "the console's role was replaced by the stack's"
    );
    assert!(
        iam.get_policy()
            .policy_arn(&built.wizard_policy_arn)
            .send()
            .await
            .is_ok(),
        "the wizard's policy itself was not named: it stays"
    );
    assert!(
        apigw()
            .await
            .get_api()
            .api_id(&built.api_id)
            .send()
            .await
            .is_err(),
        "the console's API was replaced by the stack's"
    );

    stack.expect(&["diff"], Success).await;

    let destroy = stack.expect(&["destroy", "--yes"], Success).await;
    assert!(
        s3().await
            .head_bucket()
            .bucket(&built.bucket)
            .send()
            .await
            .is_err(),
        "{}",
        destroy.output()
    );
    assert!(runtime(&built.function).await.is_none());
    let groups = support::logs()
        .await
        .describe_log_groups()
        .log_group_name_prefix(format!("/aws/lambda/{}", built.function))
        .send()
        .await
        .unwrap();
    assert!(
        groups.log_groups().is_empty(),
        "the adopted log group is gone"
    );
    assert!(iam
        .get_role()
        .role_name(format!("{}-signer", stack.name))
        .send()
        .await
        .is_err());
    let apis = apigw().await.get_apis().send().await.unwrap();
    assert!(
        !apis
            .items()
            .iter()
            .any(|a| a.name().is_some_and(|n| n.starts_with(&stack.name))),
        "no API of the stack is left"
    );
    assert!(
        iam.get_policy()
            .policy_arn(&built.wizard_policy_arn)
            .send()
            .await
            .is_ok(),
        "nothing outside what was named is touched"
    );
    assert!(s3()
        .await
        .head_bucket()
        .bucket(&bystander)
        .send()
        .await
        .is_ok());
}

#[tokio::test]
async fn import_refuses_another_stacks_resource_a_missing_one_and_a_kind_it_cannot_adopt() {
    let stack = TestStack::new("wr", "");
    let built = writeup::build(&stack.name).await;
    stack.write_spec(&spec_naming(&built));
    use aws_sdk_s3::types::{Tag, Tagging};
    s3().await
        .put_bucket_tagging()
        .bucket(&built.bucket)
        .tagging(
            Tagging::builder()
                .tag_set(
                    Tag::builder()
                        .key(presign_stack::spec::OWNERSHIP_TAG)
                        .value("someone-else")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let bucket = format!("bucket={}", built.bucket);
    let function = format!("function={}", built.function);
    let other = stack
        .expect(&["import", &bucket, &function, "--yes"], Failure)
        .await;
    assert!(
        other.stderr.contains("belongs to stack \"someone-else\""),
        "{}",
        other.output()
    );
    assert!(other.mutations().is_empty(), "{:?}", other.mutations());

    let missing = stack
        .expect(&["import", "function=no-such-function", "--yes"], Failure)
        .await;
    assert!(
        missing.stderr.contains("no-such-function does not exist"),
        "{}",
        missing.output()
    );
    assert!(missing.mutations().is_empty());

    let api = stack
        .expect(&["import", "api=nosuchapi", "--yes"], Failure)
        .await;
    assert!(api.stderr.contains("does not exist"), "{}", api.output());

    let kind = stack
        .expect(&["import", "dynamodb_table=orders", "--yes"], Failure)
        .await;
    assert!(
        kind.stderr.contains("cannot adopt a \"dynamodb_table\""),
        "{}",
        kind.output()
    );
    assert!(kind.calls.is_empty(), "refused before any AWS call");

    // A bucket the spec names otherwise would be replaced: refused, with the setting to change.
    stack.write_spec("");
    let renamed = stack.expect(&["import", &bucket, "--yes"], Failure).await;
    assert!(
        renamed
            .stderr
            .contains(&format!("set bucket.name: {}", built.bucket)),
        "{}",
        renamed.output()
    );
    assert!(
        stack.state().is_none_or(|s| s.resources.is_empty()),
        "nothing recorded"
    );
}

#[tokio::test]
async fn an_interrupted_import_is_finished_by_the_next_run() {
    let stack = TestStack::new("wc", "");
    let built = writeup::build(&stack.name).await;
    stack.write_spec(&spec_naming(&built));
    let args = import_args(&built);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    // Killed right after the second tag.
    let crashed = stack.bin_with(
        &[(
            "PRESIGN_STACK_FAILPOINT_AFTER_MUTATIONS",
            std::ffi::OsStr::new("2"),
        )],
        &argv,
    );
    assert!(!crashed.status.success());
    let state = stack
        .state()
        .expect("the journal was written before any tag");
    assert!(
        state.pending.iter().any(|p| p.id == "api"),
        "the journal names what was being adopted: {:?}",
        state.pending
    );
    assert!(!state.resources.contains_key("api"));

    // Until it is finished, deploy and destroy say so and change nothing.
    for command in ["deploy", "destroy"] {
        let waits = stack.expect(&[command, "--yes"], Failure).await;
        assert!(
            waits.stderr.contains("an import was interrupted"),
            "{}",
            waits.output()
        );
        assert!(waits.mutations().is_empty(), "{:?}", waits.mutations());
    }
    let finish = stack.expect(&["import", "--yes"], Success).await;
    assert!(
        finish.stderr.contains("An earlier import was interrupted"),
        "{}",
        finish.output()
    );
    let state = stack.state().unwrap();
    assert!(state.pending.is_empty(), "{:?}", state.pending);
    for id in ["bucket", "role", "function", "api"] {
        assert!(
            state.resources.contains_key(id),
            "{id}: {:?}",
            state.resources.keys()
        );
    }
    stack.expect(&["deploy", "--yes"], Success).await;
    stack.expect(&["diff"], Success).await;
    stack.expect(&["destroy", "--yes"], Success).await;
    assert!(s3()
        .await
        .head_bucket()
        .bucket(&built.bucket)
        .send()
        .await
        .is_err());
}
