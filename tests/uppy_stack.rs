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
