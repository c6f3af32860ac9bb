//! `uploads.uppy: true` against the emulator: the API gets Uppy's route beside the signing route,
//! to the same integration, with its own invoke permission (one statement per route, never a
//! wildcard), the function is told to serve it, and the API's CORS allows what Uppy sends. Drift
//! in the route or its permission is reported and repaired; turning it off removes both.

mod support;

use presign_stack::commands::ExitStatus::{Differences, Success};
use support::{apigw, lambda, TestStack};

const SPEC: &str = "api:\n  cors_origins: [\"https://app.example.com\"]\nuploads:\n  uppy: true\n  max_size_bytes: 10485760\n";

async fn api_of(name: &str) -> String {
    let apis = apigw().await.get_apis().send().await.unwrap();
    apis.items()
        .iter()
        .find(|a| a.name() == Some(format!("{name}-api").as_str()))
        .and_then(|a| a.api_id())
        .unwrap()
        .to_string()
}

/// Route key → target, of every route of the stack's API.
async fn routes(name: &str) -> Vec<(String, String)> {
    let id = api_of(name).await;
    let routes = apigw().await.get_routes().api_id(&id).send().await.unwrap();
    let mut out: Vec<(String, String)> = routes
        .items()
        .iter()
        .map(|r| {
            (
                r.route_key().unwrap_or_default().to_string(),
                r.target().unwrap_or_default().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Statement id → source ARN, of the function's policy.
async fn statements(name: &str) -> Vec<(String, String)> {
    let policy = lambda()
        .await
        .get_policy()
        .function_name(format!("{name}-signer"))
        .send()
        .await;
    let Ok(policy) = policy else {
        return Vec::new();
    };
    let doc: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let mut out: Vec<(String, String)> = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["Sid"].as_str().unwrap().to_string(),
                s["Condition"]["ArnLike"]["AWS:SourceArn"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[tokio::test]
async fn uppys_route_is_deployed_beside_the_signing_route_with_its_own_permission() {
    let stack = TestStack::new("uppy-on", SPEC);
    stack.expect(&["deploy", "--yes"], Success).await;
    stack.expect(&["diff"], Success).await;
    let name = stack.name.clone();

    let routes = routes(&name).await;
    let keys: Vec<&str> = routes.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["GET /s3/params", "GET /sign"], "{routes:?}");
    assert_eq!(routes[0].1, routes[1].1, "both reach the same integration");

    let id = api_of(&name).await;
    let statements = statements(&name).await;
    let sids: Vec<&str> = statements.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        sids,
        [
            format!("presign-stack-{name}-apigw"),
            format!("presign-stack-{name}-apigw-GET-s3-params")
        ],
        "{statements:?}"
    );
    assert!(
        statements[1].1.ends_with(&format!(":{id}/*/GET/s3/params")),
        "one route, not a wildcard: {statements:?}"
    );

    let function = lambda()
        .await
        .get_function_configuration()
        .function_name(format!("{name}-signer"))
        .send()
        .await
        .unwrap();
    let env = function.environment().unwrap().variables().unwrap();
    assert_eq!(env.get("PRESIGN_UPPY").map(String::as_str), Some("true"));

    let api = apigw().await.get_api().api_id(&id).send().await.unwrap();
    let headers = api.cors_configuration().unwrap().allow_headers();
    assert!(headers.iter().any(|h| h == "uppy-versions"), "{headers:?}");
}

#[tokio::test]
async fn uppys_route_deleted_out_of_band_is_drift_and_is_repaired() {
    let stack = TestStack::new("uppy-route", SPEC);
    support::drift_is_reported_and_repaired(&stack, "api", "other_routes", |name| async move {
        let id = api_of(&name).await;
        let gw = apigw().await;
        let routes = gw.get_routes().api_id(&id).send().await.unwrap();
        let route = routes
            .items()
            .iter()
            .find(|r| r.route_key() == Some("GET /s3/params"))
            .and_then(|r| r.route_id())
            .unwrap();
        gw.delete_route()
            .api_id(&id)
            .route_id(route)
            .send()
            .await
            .unwrap();
    })
    .await;
    let keys: Vec<String> = routes(&stack.name)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["GET /s3/params", "GET /sign"]);
}

#[tokio::test]
async fn uppys_permission_removed_out_of_band_is_drift_and_is_repaired() {
    let stack = TestStack::new("uppy-perm", SPEC);
    support::drift_is_reported_and_repaired(
        &stack,
        "api",
        "other_permissions",
        |name| async move {
            let sid = format!("presign-stack-{name}-apigw-GET-s3-params");
            support::remove_statement(&name, &sid).await;
        },
    )
    .await;
    assert_eq!(statements(&stack.name).await.len(), 2);
}

#[tokio::test]
async fn turning_uppy_off_removes_its_route_and_its_permission_only() {
    let stack = TestStack::new("uppy-off", SPEC);
    stack.expect(&["deploy", "--yes"], Success).await;
    stack.write_spec("api:\n  cors_origins: [\"https://app.example.com\"]\n");
    let diff = stack.expect(&["diff"], Differences).await;
    assert!(diff.stdout.contains("other_routes"), "{}", diff.output());
    stack.expect(&["deploy", "--yes"], Success).await;
    stack.expect(&["diff"], Success).await;
    let keys: Vec<String> = routes(&stack.name)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["GET /sign"]);
    let sids: Vec<String> = statements(&stack.name)
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(sids, [format!("presign-stack-{}-apigw", stack.name)]);
    stack.expect(&["destroy", "--yes"], Success).await;
}

/// The bucket's lifecycle rules as (id, prefix, days after which incomplete uploads are aborted).
async fn lifecycle_rules(bucket: &str) -> Option<Vec<(String, String, Option<i32>)>> {
    let out = support::s3()
        .await
        .get_bucket_lifecycle_configuration()
        .bucket(bucket)
        .send()
        .await
        .ok()?;
    Some(
        out.rules()
            .iter()
            .map(|r| {
                (
                    r.id().unwrap_or_default().to_string(),
                    r.filter()
                        .and_then(|f| f.prefix())
                        .unwrap_or_default()
                        .to_string(),
                    r.abort_incomplete_multipart_upload()
                        .and_then(|a| a.days_after_initiation()),
                )
            })
            .collect(),
    )
}

fn abort_rule(days: i32) -> Vec<(String, String, Option<i32>)> {
    vec![(
        "presign-stack-abort-incomplete-uploads".to_string(),
        "uploads/".to_string(),
        Some(days),
    )]
}

/// The example stack.yaml as shipped, with its `multipart: true` line switched on.
fn example_with_multipart() -> String {
    let example = support::example();
    assert!(
        example.contains("  # multipart: true"),
        "the example offers multipart"
    );
    example.replacen("  # multipart: true", "  multipart: true", 1)
}

#[tokio::test]
async fn the_example_with_multipart_on_deploys_its_routes_and_lifecycle_rule_and_diff_is_clean() {
    let stack = TestStack::new("mp-example", &example_with_multipart());
    stack.expect(&["deploy", "--yes"], Success).await;
    let diff = stack.expect(&["diff"], Success).await;
    assert_eq!(diff.mutations(), Vec::<String>::new());

    let keys: Vec<String> = routes(&stack.name)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        keys,
        [
            "DELETE /s3/multipart/{uploadId}",
            "GET /s3/multipart/{uploadId}",
            "GET /s3/multipart/{uploadId}/{partNumber}",
            "GET /sign",
            "POST /s3/multipart",
            "POST /s3/multipart/{uploadId}/complete",
        ]
    );
    assert_eq!(lifecycle_rules(&stack.bucket()).await, Some(abort_rule(1)));

    // Turning multipart off takes its routes and the lifecycle rule away, nothing else.
    stack.write_spec(&support::example());
    let diff = stack.expect(&["diff"], Differences).await;
    assert!(
        diff.stdout.contains("bucket_lifecycle"),
        "{}",
        diff.output()
    );
    stack.expect(&["deploy", "--yes"], Success).await;
    stack.expect(&["diff"], Success).await;
    assert_eq!(lifecycle_rules(&stack.bucket()).await, None);
    let keys: Vec<String> = routes(&stack.name)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["GET /sign"]);
    stack.expect(&["destroy", "--yes"], Success).await;
}

#[tokio::test]
async fn a_lifecycle_rule_changed_out_of_band_is_drift_and_is_repaired() {
    let stack = TestStack::new(
        "mp-lifecycle",
        "api:\n  cors_origins: [\"https://app.example.com\"]\nuploads:\n  multipart: true\n  abort_incomplete_after_days: 3\n",
    );
    let bucket = stack.bucket();
    support::drift_is_reported_and_repaired(&stack, "bucket_lifecycle", "rules", |_| {
        let bucket = bucket.clone();
        async move {
            use aws_sdk_s3::types::{
                AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus,
                LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
            };
            // Someone "tidies up": a week to abort, and an expiry that would delete every upload.
            let rule = LifecycleRule::builder()
                .id("presign-stack-abort-incomplete-uploads")
                .filter(LifecycleRuleFilter::builder().prefix("uploads/").build())
                .status(ExpirationStatus::Enabled)
                .abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder()
                        .days_after_initiation(7)
                        .build(),
                )
                .expiration(LifecycleExpiration::builder().days(30).build())
                .build()
                .unwrap();
            support::s3()
                .await
                .put_bucket_lifecycle_configuration()
                .bucket(&bucket)
                .lifecycle_configuration(
                    BucketLifecycleConfiguration::builder()
                        .rules(rule)
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .unwrap();
        }
    })
    .await;
    assert_eq!(lifecycle_rules(&stack.bucket()).await, Some(abort_rule(3)));

    // Removed altogether: drift again, and repaired again.
    support::s3()
        .await
        .delete_bucket_lifecycle()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let diff = stack.expect(&["diff"], Differences).await;
    assert!(
        diff.stdout.contains("bucket_lifecycle"),
        "{}",
        diff.output()
    );
    stack.expect(&["deploy", "--yes"], Success).await;
    assert_eq!(lifecycle_rules(&stack.bucket()).await, Some(abort_rule(3)));

    // The bucket CORS the spec left out is the default Uppy needs.
    let cors = support::s3()
        .await
        .get_bucket_cors()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let rule = &cors.cors_rules()[0];
    assert_eq!(rule.allowed_origins(), ["https://app.example.com"]);
    assert_eq!(rule.allowed_methods(), ["PUT"]);
    assert_eq!(rule.expose_headers(), ["ETag", "Location"]);
    stack.expect(&["destroy", "--yes"], Success).await;
}
