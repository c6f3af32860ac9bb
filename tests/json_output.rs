//! `--json`: one document on stdout with `format_version`, exit codes unchanged.

mod support;

use support::{s3, TestStack};

fn json_of(stack: &TestStack, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let out = stack.bin(args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: stdout is not one JSON document ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), value)
}

#[tokio::test]
async fn deploy_diff_output_and_destroy_speak_json() {
    let stack = TestStack::new("j-all", "bucket:\n  cors:\n    - allowed_origins: [\"https://a.example\"]\n      allowed_methods: [PUT]\n");
    let (code, deploy) = json_of(&stack, &["deploy", "--yes", "--json"]);
    assert_eq!(code, Some(0), "{deploy}");
    assert_eq!(deploy["format_version"], 1);
    assert_eq!(deploy["changed"], true);
    assert_eq!(deploy["plan"].as_array().unwrap().len(), 12);
    assert_eq!(deploy["plan"][0]["action"], "create");
    assert!(deploy["outputs"]["api_url"]
        .as_str()
        .unwrap()
        .ends_with("/sign"));

    let (code, again) = json_of(&stack, &["deploy", "--yes", "--json"]);
    assert_eq!(
        (code, &again["changed"], &again["applied"]),
        (Some(0), &false.into(), &0.into())
    );

    let (code, diff) = json_of(&stack, &["diff", "--json"]);
    assert_eq!((code, &diff["in_sync"]), (Some(0), &true.into()), "{diff}");

    s3().await
        .delete_bucket_cors()
        .bucket(stack.bucket())
        .send()
        .await
        .unwrap();
    let (code, diff) = json_of(&stack, &["diff", "--json"]);
    assert_eq!(code, Some(2), "exit code unchanged with --json");
    assert_eq!(diff["in_sync"], false);
    assert_eq!(diff["drift"][0]["id"], "bucket_cors");
    assert_eq!(diff["drift"][0]["deleted"], true);
    assert_eq!(diff["pending"], serde_json::json!([]));

    let (code, output) = json_of(&stack, &["output", "--json"]);
    assert_eq!(code, Some(0));
    assert_eq!(output["outputs"]["bucket"], stack.bucket());

    let (code, destroy) = json_of(&stack, &["destroy", "--yes", "--json"]);
    assert_eq!(code, Some(0), "{destroy}");
    assert_eq!(
        destroy["deleted"], 11,
        "the CORS configuration was already gone"
    );

    std::fs::write(stack.spec(), "stack: Bad Name\n").unwrap();
    let (code, error) = json_of(&stack, &["diff", "--json"]);
    assert_eq!(code, Some(1));
    assert!(
        error["error"].as_str().unwrap().contains("stack.yaml:1:8"),
        "{error}"
    );
}

fn validator(name: &str) -> jsonschema::Validator {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/schemas")
        .join(name);
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

fn assert_valid(v: &jsonschema::Validator, doc: &serde_json::Value) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{doc}");
}

#[tokio::test]
async fn diff_and_deploy_json_match_their_documented_schemas() {
    let (diff_schema, deploy_schema) = (validator("diff.v1.json"), validator("deploy.v1.json"));
    let stack = TestStack::new("j-schema", "");
    let (_, pending) = json_of(&stack, &["diff", "--json"]);
    assert_valid(&diff_schema, &pending);
    let (_, first) = json_of(&stack, &["deploy", "--yes", "--json"]);
    assert_valid(&deploy_schema, &first);
    let (_, noop) = json_of(&stack, &["deploy", "--yes", "--json"]);
    assert_valid(&deploy_schema, &noop);
    s3().await
        .delete_bucket_policy()
        .bucket(stack.bucket())
        .send()
        .await
        .unwrap();
    let (code, drift) = json_of(&stack, &["diff", "--json"]);
    assert_eq!(code, Some(2));
    assert_valid(&diff_schema, &drift);
    std::fs::write(stack.spec(), "stack: [\n").unwrap();
    let (_, error) = json_of(&stack, &["diff", "--json"]);
    assert_valid(&diff_schema, &error);
    // The schemas are strict: an unexpected field is caught.
    let mut extra = first.clone();
    extra["surprise"] = true.into();
    assert!(!deploy_schema.is_valid(&extra));
}
