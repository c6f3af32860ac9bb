//! The write-up's stack, built by hand against moto (tests/support/writeup.rs), meets
//! presign-stack. Until `import` adopts it (issue 18), a deploy naming its resources must refuse
//! them and change nothing: the write-up's stack is someone's production.

mod support;

use presign_stack::commands::ExitStatus::Failure;
use support::{lambda, s3, writeup, TestStack};

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
    let policy = s3()
        .await
        .get_bucket_policy()
        .bucket(&built.bucket)
        .send()
        .await
        .unwrap();
    assert!(
        policy.policy().unwrap().contains("Stmt1564527321604"),
        "the public-read policy is untouched"
    );
    let function = lambda()
        .await
        .get_function_configuration()
        .function_name(&built.function)
        .send()
        .await
        .unwrap();
    assert_eq!(
        function.runtime().map(|r| r.as_str()),
        Some("nodejs18.x"),
        "the Node.js function is untouched"
    );
    assert!(
        stack.state().is_none_or(|s| s.resources.is_empty()),
        "nothing recorded"
    );
}
