//! The whole stack against the emulator: role, policy, log group, function, HTTP API.

mod support;

use aws_sdk_apigatewayv2::types::{Cors, RouteSettings};
use presign_stack::commands::ExitStatus::{Differences, Success};
use support::{apigw, example, iam, lambda, logs, s3, TestStack, REGION};

const ACCOUNT: &str = "123456789012";

fn api_id(stack: &TestStack) -> String {
    let url = stack.state().unwrap().outputs["api_url"].clone();
    url.trim_start_matches("https://")
        .split('.')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_full_example_deploys_every_resource_as_specified_with_outputs() {
    let stack = TestStack::new("full", &example());
    let run = stack.expect(&["deploy", "--yes"], Success).await;
    assert!(
        run.stdout.contains("Plan: 12 to create"),
        "{}",
        run.output()
    );
    let name = &stack.name;
    let function = format!("{name}-signer");

    let role = iam()
        .await
        .get_role()
        .role_name(&function)
        .send()
        .await
        .unwrap();
    let role = role.role().unwrap();
    // IAM answers with the document URL-encoded, as AWS does.
    let trust =
        presign_stack::aws::iam_role::decode_document(role.assume_role_policy_document().unwrap())
            .unwrap();
    assert_eq!(
        trust["Statement"][0]["Principal"]["Service"],
        "lambda.amazonaws.com"
    );
    assert_eq!(
        trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"],
        ACCOUNT
    );
    assert!(role
        .tags()
        .iter()
        .any(|t| t.key() == "presign-stack:stack" && t.value() == name));

    let policy = iam()
        .await
        .get_role_policy()
        .role_name(&function)
        .policy_name(&function)
        .send()
        .await
        .unwrap();
    let policy = presign_stack::aws::iam_role::decode_document(policy.policy_document()).unwrap();
    assert_eq!(policy["Statement"][0]["Action"], "s3:PutObject");
    assert_eq!(
        policy["Statement"][0]["Resource"],
        format!("arn:aws:s3:::{}/uploads/*", stack.bucket())
    );
    assert!(
        !policy.to_string().contains("\"*\""),
        "no bare wildcard resource: {policy}"
    );

    let groups = logs()
        .await
        .describe_log_groups()
        .log_group_name_prefix(format!("/aws/lambda/{function}"))
        .send()
        .await
        .unwrap();
    assert_eq!(groups.log_groups()[0].retention_in_days(), Some(14));

    let f = lambda()
        .await
        .get_function()
        .function_name(&function)
        .send()
        .await
        .unwrap();
    let c = f.configuration().unwrap();
    assert_eq!(c.runtime().unwrap().as_str(), "provided.al2023");
    assert_eq!(c.handler(), Some("bootstrap"));
    assert_eq!(c.architectures()[0].as_str(), "x86_64");
    assert_eq!((c.memory_size(), c.timeout()), (Some(128), Some(10)));
    assert_eq!(
        c.role(),
        Some(format!("arn:aws:iam::{ACCOUNT}:role/{function}").as_str())
    );
    let env = c.environment().unwrap().variables().unwrap();
    assert_eq!(env["PRESIGN_BUCKET"], stack.bucket());
    assert_eq!(env["PRESIGN_PREFIX"], "uploads/");
    assert_eq!(
        env["PRESIGN_ALLOWED_CONTENT_TYPES"],
        "image/jpeg,image/png,image/webp"
    );
    assert_eq!(env["PRESIGN_EXPIRES_SECONDS"], "300");
    assert_eq!(f.tags().unwrap()["presign-stack:stack"], *name);

    let id = api_id(&stack);
    let gw = apigw().await;
    let api = gw.get_api().api_id(&id).send().await.unwrap();
    assert_eq!(api.name(), Some(format!("{name}-api").as_str()));
    let cors = api.cors_configuration().unwrap();
    let mut origins = cors.allow_origins().to_vec();
    origins.sort();
    assert_eq!(
        origins,
        ["http://localhost:5173", "https://app.example.com"]
    );
    let routes = gw.get_routes().api_id(&id).send().await.unwrap();
    assert_eq!(routes.items()[0].route_key(), Some("GET /sign"));
    let integrations = gw.get_integrations().api_id(&id).send().await.unwrap();
    let integration = &integrations.items()[0];
    assert_eq!(
        integration.integration_uri(),
        Some(format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}").as_str())
    );
    assert_eq!(integration.payload_format_version(), Some("2.0"));
    assert_eq!(
        routes.items()[0].target(),
        Some(format!("integrations/{}", integration.integration_id().unwrap()).as_str())
    );
    let stage = gw
        .get_stage()
        .api_id(&id)
        .stage_name("$default")
        .send()
        .await
        .unwrap();
    assert_eq!(stage.auto_deploy(), Some(true));
    let throttle = stage.default_route_settings().unwrap();
    assert_eq!(
        (
            throttle.throttling_rate_limit(),
            throttle.throttling_burst_limit()
        ),
        (Some(10.0), Some(20))
    );
    let permission = lambda()
        .await
        .get_policy()
        .function_name(&function)
        .send()
        .await
        .unwrap();
    let permission = permission.policy().unwrap();
    assert!(
        permission.contains(&format!(
            "arn:aws:execute-api:{REGION}:{ACCOUNT}:{id}/*/GET/sign"
        )),
        "{permission}"
    );

    let outputs = stack.state().unwrap().outputs;
    for key in ["api_url", "bucket", "function_arn", "role_arn", "region"] {
        assert!(
            run.stdout.contains(&format!("{key} = {}", outputs[key])),
            "{key}\n{}",
            run.output()
        );
    }
    assert!(outputs["api_url"].ends_with("/sign"));
    let printed = stack.expect(&["output", "api_url"], Success).await;
    assert_eq!(printed.stdout.trim(), outputs["api_url"]);
}

#[tokio::test]
async fn a_second_deploy_of_the_whole_stack_changes_nothing_and_diff_is_clean() {
    let stack = TestStack::new(
        "full-noop",
        // The JWT block goes at the end of the api: section, before the environments.
        &example().replacen(
            "\n# Variants of this stack",
            "\n  jwt:\n    issuer: https://issuer.example.com\n    audience: [uploads]\n\n# Variants of this stack",
            1,
        ),
    );
    stack.expect(&["deploy", "--yes"], Success).await;
    let again = stack.expect(&["deploy", "--yes"], Success).await;
    assert!(again.stdout.contains("No changes"), "{}", again.output());
    assert_eq!(again.mutations(), Vec::<String>::new(), "{:?}", again.calls);
    let diff = stack.expect(&["diff"], Success).await;
    assert_eq!(diff.mutations(), Vec::<String>::new());
}

fn signer_stack(label: &str) -> TestStack {
    TestStack::new(
        label,
        "api:\n  cors_origins: [\"https://app.example.com\"]\n",
    )
}

#[tokio::test]
async fn function_memory_changed_out_of_band() {
    let stack = signer_stack("s-mem");
    support::drift_is_reported_and_repaired(&stack, "function", "memory_mb", |name| async move {
        lambda()
            .await
            .update_function_configuration()
            .function_name(format!("{name}-signer"))
            .memory_size(512)
            .send()
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn function_timeout_changed_out_of_band() {
    let stack = signer_stack("s-timeout");
    support::drift_is_reported_and_repaired(
        &stack,
        "function",
        "timeout_seconds",
        |name| async move {
            lambda()
                .await
                .update_function_configuration()
                .function_name(format!("{name}-signer"))
                .timeout(60)
                .send()
                .await
                .unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn function_environment_changed_out_of_band() {
    let stack = signer_stack("s-env");
    support::drift_is_reported_and_repaired(&stack, "function", "environment", |name| async move {
        let env = aws_sdk_lambda::types::Environment::builder()
            .variables("PRESIGN_BUCKET", "someone-elses")
            .build();
        lambda()
            .await
            .update_function_configuration()
            .function_name(format!("{name}-signer"))
            .environment(env)
            .send()
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn function_deleted_out_of_band() {
    let stack = signer_stack("s-fn-del");
    support::drift_is_reported_and_repaired(&stack, "function", "deleted", |name| async move {
        lambda()
            .await
            .delete_function()
            .function_name(format!("{name}-signer"))
            .send()
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn role_inline_policy_deleted_out_of_band() {
    let stack = signer_stack("s-rp-del");
    support::drift_is_reported_and_repaired(&stack, "role_policy", "deleted", |name| async move {
        let role = format!("{name}-signer");
        iam()
            .await
            .delete_role_policy()
            .role_name(&role)
            .policy_name(&role)
            .send()
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn role_inline_policy_edited_out_of_band() {
    let stack = signer_stack("s-rp-edit");
    support::drift_is_reported_and_repaired(&stack, "role_policy", "document", |name| async move {
        let role = format!("{name}-signer");
        let wide = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        iam().await.put_role_policy().role_name(&role).policy_name(&role).policy_document(wide).send().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn trust_policy_edited_out_of_band() {
    let stack = signer_stack("s-trust");
    support::drift_is_reported_and_repaired(&stack, "role ", "assume_role_policy", |name| async move {
        let open = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        iam().await.update_assume_role_policy().role_name(format!("{name}-signer")).policy_document(open).send().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn log_retention_changed_out_of_band() {
    let stack = signer_stack("s-logs");
    support::drift_is_reported_and_repaired(
        &stack,
        "log_group",
        "retention_days",
        |name| async move {
            logs()
                .await
                .put_retention_policy()
                .log_group_name(format!("/aws/lambda/{name}-signer"))
                .retention_in_days(1)
                .send()
                .await
                .unwrap();
        },
    )
    .await;
}

/// The id of the stack's API, looked up by name as a user would.
async fn find_api(name: &str) -> String {
    let apis = apigw().await.get_apis().send().await.unwrap();
    apis.items()
        .iter()
        .find(|a| a.name() == Some(format!("{name}-api").as_str()))
        .and_then(|a| a.api_id())
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn api_cors_changed_out_of_band() {
    let stack = signer_stack("s-cors");
    support::drift_is_reported_and_repaired(&stack, "api", "cors", |name| async move {
        let id = find_api(&name).await;
        let cors = Cors::builder()
            .allow_origins("*")
            .allow_methods("GET")
            .build();
        apigw()
            .await
            .update_api()
            .api_id(id)
            .cors_configuration(cors)
            .send()
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn route_deleted_out_of_band() {
    let stack = signer_stack("s-route");
    support::drift_is_reported_and_repaired(&stack, "api", "route", |name| async move {
        let id = find_api(&name).await;
        let gw = apigw().await;
        let routes = gw.get_routes().api_id(&id).send().await.unwrap();
        let route = routes.items()[0].route_id().unwrap();
        gw.delete_route()
            .api_id(&id)
            .route_id(route)
            .send()
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn stage_throttling_changed_out_of_band() {
    let stack = signer_stack("s-stage");
    support::drift_is_reported_and_repaired(&stack, "api", "stage", |name| async move {
        let id = find_api(&name).await;
        let settings = RouteSettings::builder()
            .throttling_rate_limit(1000.0)
            .throttling_burst_limit(5000)
            .build();
        apigw()
            .await
            .update_stage()
            .api_id(id)
            .stage_name("$default")
            .default_route_settings(settings)
            .send()
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn invoke_permission_removed_out_of_band() {
    let stack = signer_stack("s-perm");
    support::drift_is_reported_and_repaired(
        &stack,
        "api",
        "invoke_permission",
        |name| async move {
            support::remove_statement(&name, &format!("presign-stack-{name}-apigw")).await;
        },
    )
    .await;
}

#[tokio::test]
async fn spec_changes_update_in_place_and_a_rename_is_shown_as_a_replacement() {
    let stack = signer_stack("s-change");
    stack.expect(&["deploy", "--yes"], Success).await;
    stack.write_spec(
        "api:\n  route: /upload-url\n  cors_origins: [\"https://new.example.com\"]\nfunction:\n  memory_mb: 256\nuploads:\n  allowed_content_types: [image/png]\n",
    );
    let diff = stack.expect(&["diff"], Differences).await;
    assert!(diff.stdout.contains("~ function"), "{}", diff.output());
    assert!(diff.stdout.contains("~ api"), "{}", diff.output());
    assert!(
        !diff.stdout.contains("-/+"),
        "no replacement for these changes\n{}",
        diff.output()
    );
    let deploy = stack.expect(&["deploy", "--yes"], Success).await;
    for op in ["CreateFunction", "DeleteFunction", "CreateApi", "DeleteApi"] {
        assert!(
            !deploy.calls.contains_key(op),
            "{op} for an in-place change: {:?}",
            deploy.calls
        );
    }
    stack.expect(&["diff"], Success).await;
    let id = api_id(&stack);
    let routes = apigw().await.get_routes().api_id(&id).send().await.unwrap();
    assert_eq!(routes.items()[0].route_key(), Some("GET /upload-url"));

    stack.write_spec("function:\n  name: renamed-signer-fn\n");
    let out = stack.bin(&["deploy"]);
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(plan.contains("-/+ function"), "{plan}");
    assert!(plan.contains("forces replacement"), "{plan}");
}

#[tokio::test]
async fn a_new_artifact_updates_only_the_code_and_the_same_one_nothing() {
    let stack = TestStack::new("s-code", "function:\n  artifact: signer.zip\n");
    let zip = |text: &str| presign_stack::artifact::zip_bootstrap(text.as_bytes()).unwrap();
    std::fs::write(
        stack.dir.path().join("signer.zip"),
        zip("#!/bin/sh\necho one\n"),
    )
    .unwrap();
    stack.expect(&["deploy", "--yes"], Success).await;
    let same = stack.expect(&["deploy", "--yes"], Success).await;
    assert_eq!(same.mutations(), Vec::<String>::new());

    let new = zip("#!/bin/sh\necho two\n");
    std::fs::write(stack.dir.path().join("signer.zip"), &new).unwrap();
    let updated = stack.expect(&["deploy", "--yes"], Success).await;
    assert_eq!(
        updated.mutations(),
        vec!["UpdateFunctionCode".to_string()],
        "{}",
        updated.output()
    );
    let live = lambda()
        .await
        .get_function()
        .function_name(format!("{}-signer", stack.name))
        .send()
        .await
        .unwrap();
    let expected = presign_stack::artifact::Artifact::from_bytes(new, String::new()).sha256;
    assert_eq!(
        live.configuration().unwrap().code_sha256(),
        Some(expected.as_str())
    );
    stack.expect(&["diff"], Success).await;
}

#[tokio::test]
async fn destroy_leaves_nothing_that_carries_the_stacks_tag() {
    let stack = TestStack::new(
        "s-destroy",
        &example().replace("enforce_tls: true", "enforce_tls: false"),
    );
    stack.expect(&["deploy", "--yes"], Success).await;
    let run = stack.expect(&["destroy", "--yes"], Success).await;
    assert!(run.stdout.contains("12 to delete"), "{}", run.output());
    let tag = |tags: Option<String>| tags.as_deref() == Some(stack.name.as_str());
    // Other tests share the emulator and delete their own resources meanwhile: a resource that
    // is gone between the listing and the tag lookup is not left behind.
    let iam = iam().await;
    for role in iam.list_roles().send().await.unwrap().roles() {
        let Ok(tags) = iam
            .list_role_tags()
            .role_name(role.role_name())
            .send()
            .await
        else {
            continue;
        };
        let owner = tags
            .tags()
            .iter()
            .find(|t| t.key() == "presign-stack:stack")
            .map(|t| t.value().to_string());
        assert!(!tag(owner), "role {} left behind", role.role_name());
    }
    let lambda = lambda().await;
    for f in lambda.list_functions().send().await.unwrap().functions() {
        let Ok(tags) = lambda
            .list_tags()
            .resource(f.function_arn().unwrap())
            .send()
            .await
        else {
            continue;
        };
        let owner = tags
            .tags()
            .and_then(|t| t.get("presign-stack:stack").cloned());
        assert!(!tag(owner), "function {:?} left behind", f.function_name());
    }
    let logs = logs().await;
    for g in logs
        .describe_log_groups()
        .send()
        .await
        .unwrap()
        .log_groups()
    {
        let arn = g.log_group_arn().unwrap();
        let Ok(tags) = logs.list_tags_for_resource().resource_arn(arn).send().await else {
            continue;
        };
        let owner = tags
            .tags()
            .and_then(|t| t.get("presign-stack:stack").cloned());
        assert!(
            !tag(owner),
            "log group {:?} left behind",
            g.log_group_name()
        );
    }
    for api in apigw().await.get_apis().send().await.unwrap().items() {
        let owner = api
            .tags()
            .and_then(|t| t.get("presign-stack:stack").cloned());
        assert!(!tag(owner), "API {:?} left behind", api.name());
    }
    let s3 = s3().await;
    for b in s3.list_buckets().send().await.unwrap().buckets() {
        let Ok(tags) = s3
            .get_bucket_tagging()
            .bucket(b.name().unwrap())
            .send()
            .await
        else {
            continue;
        };
        let owner = tags
            .tag_set()
            .iter()
            .find(|t| t.key() == "presign-stack:stack")
            .map(|t| t.value().to_string());
        assert!(!tag(owner), "bucket {:?} left behind", b.name());
    }
}

#[tokio::test]
async fn deploy_builds_the_signer_in_a_checkout_even_from_a_relative_spec_path() {
    let stack = TestStack::new("s-build", "");
    let dir = stack.dir.path();
    // A checkout's layout: lambda/ and scripts/build-signer, which writes the zip.
    std::fs::create_dir_all(dir.join("lambda")).unwrap();
    std::fs::write(dir.join("lambda/Cargo.toml"), "[package]\n").unwrap();
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    let zip = presign_stack::artifact::zip_bootstrap(b"#!/bin/sh\necho built\n").unwrap();
    std::fs::write(dir.join("built.zip"), &zip).unwrap();
    let script = dir.join("scripts/build-signer");
    std::fs::write(
        &script,
        "#!/bin/sh\nmkdir -p target/lambda/bootstrap && cp built.zip target/lambda/bootstrap/bootstrap.zip\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();

    let out = support::command(&["deploy", "--yes", "-f", "stack.yaml"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let live = lambda()
        .await
        .get_function()
        .function_name(format!("{}-signer", stack.name))
        .send()
        .await
        .unwrap();
    let expected = presign_stack::artifact::Artifact::from_bytes(zip, String::new()).sha256;
    assert_eq!(
        live.configuration().unwrap().code_sha256(),
        Some(expected.as_str())
    );
}
