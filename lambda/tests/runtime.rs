//! The built `bootstrap` really starts and serves: one invocation through a local stand-in of
//! the Lambda Runtime API.

mod support {
    pub mod runtime_api;
}

use std::time::Duration;

use support::runtime_api::{event, invoke_once, ENV};

#[test]
fn bootstrap_answers_an_invocation_through_the_runtime_api() {
    let ev = event(
        "filekey=cat.jpg&contentType=image%2Fjpeg",
        serde_json::json!({"filekey": "cat.jpg", "contentType": "image/jpeg"}),
    );
    let (response, _) = invoke_once(
        env!("CARGO_BIN_EXE_bootstrap"),
        ENV,
        ev,
        Duration::from_secs(30),
    );
    assert_eq!(response["statusCode"], 200, "{response}");
    let body: serde_json::Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["key"], "uploads/cat.jpg");
    assert!(body["signed_url"]
        .as_str()
        .unwrap()
        .contains("X-Amz-Security-Token=session-token"));
}

#[test]
fn bootstrap_answers_bad_input_with_400_not_an_error() {
    let ev = event("filekey=..%2Fx", serde_json::json!({"filekey": "../x"}));
    let (response, _) = invoke_once(
        env!("CARGO_BIN_EXE_bootstrap"),
        ENV,
        ev,
        Duration::from_secs(30),
    );
    assert_eq!(response["statusCode"], 400, "{response}");
}
