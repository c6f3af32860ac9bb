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

/// Every command, the path of its words through clap (`state list`), for the check below.
fn leaf_commands() -> Vec<String> {
    fn walk(cmd: &clap::Command, prefix: &str, out: &mut Vec<String>) {
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let path = format!("{prefix}{}", sub.get_name());
            if sub.has_subcommands() {
                walk(sub, &format!("{path} "), out);
            } else {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &<presign_stack::cli::Cli as clap::CommandFactory>::command(),
        "",
        &mut out,
    );
    out
}

/// Regression (issue 15, point 3): `schema`, `completions`, `state list`, `state show` and
/// `validate` printed nothing with `--json` and exited 0. Every command now either prints one
/// document that matches its schema in docs/schemas/, or refuses `--json` as a usage error.
#[tokio::test]
async fn every_command_honours_json_with_a_documented_schema_or_refuses_it() {
    let state_bucket = format!("j-every-state-{}", std::process::id());
    let stack = TestStack::new(
        "j-every",
        &format!("bucket:\n  enforce_tls: false\nstate:\n  bucket: {state_bucket}\n"),
    );
    let mut covered: Vec<&str> = Vec::new();
    let mut check = |command: &'static str, args: &[&str], schema: &str, code: i32| {
        let (got, doc) = json_of(&stack, args);
        assert_eq!(got, Some(code), "{command}: {doc}");
        assert_valid(&validator(schema), &doc);
        covered.push(command);
    };
    check("validate", &["validate", "--json"], "validate.v1.json", 0);
    check("schema", &["schema", "--json"], "schema.v1.json", 0);
    check(
        "deploy",
        &["deploy", "--yes", "--json"],
        "deploy.v1.json",
        0,
    );
    check("diff", &["diff", "--json"], "diff.v1.json", 0);
    // The deployed bucket is the stack's already: nothing to adopt.
    let bucket: &'static str = Box::leak(format!("bucket={}", stack.bucket()).into_boxed_str());
    check(
        "import",
        &["import", bucket, "--yes", "--json"],
        "import.v1.json",
        0,
    );
    check("smoke", &["smoke", "--dev", "--json"], "smoke.v1.json", 0);
    check("output", &["output", "--json"], "output.v1.json", 0);
    check(
        "state list",
        &["state", "list", "--json"],
        "state-list.v1.json",
        0,
    );
    check(
        "state show",
        &["state", "show", "bucket", "--json"],
        "state-show.v1.json",
        0,
    );
    check(
        "state unlock",
        &["state", "unlock", "--json"],
        "state-unlock.v1.json",
        0,
    );
    check(
        "url sign",
        &[
            "url",
            "sign",
            "--key",
            "a.jpg",
            "--content-type",
            "image/jpeg",
            "--json",
        ],
        "url-sign.v1.json",
        0,
    );
    let signed = stack.bin(&[
        "url",
        "sign",
        "--key",
        "a.jpg",
        "--content-type",
        "image/jpeg",
    ]);
    let body: serde_json::Value = serde_json::from_slice(&signed.stdout).unwrap();
    let url = body["signed_url"].as_str().unwrap().to_string();
    let url: &'static str = Box::leak(url.into_boxed_str());
    // Without the request it is meant for, the signed Content-Type is missing: a problem (2).
    check(
        "url explain",
        &["url", "explain", url, "--json"],
        "url-explain.v1.json",
        2,
    );
    check(
        "state bootstrap",
        &["state", "bootstrap", "--json"],
        "state-bootstrap.v1.json",
        0,
    );
    check(
        "state migrate",
        &["state", "migrate", "--to", "s3", "--json"],
        "state-migrate.v1.json",
        0,
    );
    // destroy reads the spec's backend (local), which now holds a note that the state moved:
    // an error document, of the destroy schema.
    check(
        "destroy",
        &["destroy", "--yes", "--json"],
        "destroy.v1.json",
        1,
    );

    for refused in [&["completions", "bash", "--json"][..], &["dev", "--json"]] {
        let out = stack.bin(refused);
        assert_eq!(out.status.code(), Some(1), "{refused:?}");
        assert!(out.stdout.is_empty(), "{refused:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--json does not apply"), "{stderr}");
        covered.push(refused[0]);
    }
    for command in leaf_commands() {
        assert!(
            covered.contains(&command.as_str()),
            "`{command} --json` is not checked here: give it a schema in docs/schemas/ and a case above"
        );
    }
}

/// Regression (issue 15, point 3): on an invalid spec `validate --json` gave one "error" string.
#[tokio::test]
async fn validate_json_lists_every_diagnostic_with_its_place_and_path() {
    let stack = TestStack::new(
        "j-diag",
        "uploads:\n  prefix: \"*\"\n  allowed_content_types: []\nenvironments:\n  dev:\n    uploads:\n      expires_seconds: 0\n",
    );
    let (code, doc) = json_of(&stack, &["validate", "--json"]);
    assert_eq!(code, Some(1), "{doc}");
    assert_valid(&validator("validate.v1.json"), &doc);
    assert_eq!(doc["valid"], false);
    let diagnostics = doc["diagnostics"].as_array().unwrap();
    let find = |path: &str| {
        diagnostics
            .iter()
            .find(|d| d["path"] == path)
            .unwrap_or_else(|| panic!("no diagnostic at {path}: {doc}"))
    };
    let prefix = find("uploads.prefix");
    assert_eq!(
        (prefix["line"].as_u64(), prefix["column"].as_u64()),
        (Some(4), Some(11))
    );
    assert!(prefix["file"].as_str().unwrap().ends_with("stack.yaml"));
    assert!(prefix["message"]
        .as_str()
        .unwrap()
        .contains("must not contain"));
    assert!(prefix["hint"].is_string());
    find("uploads.allowed_content_types");
    let env = find("environments.dev.uploads.expires_seconds");
    assert_eq!(env["environment"], "dev");
}

/// `import --json` on the write-up's hand-built stack: what was adopted, what is unsafe, and the
/// next deploy's plan, in the documented shape.
#[tokio::test]
async fn import_json_lists_what_it_adopted_and_the_unsafe_settings() {
    let stack = TestStack::new("j-import", "");
    let built = support::writeup::build(&stack.name).await;
    stack.write_spec(&format!(
        "bucket:\n  name: {}\nfunction:\n  name: {}\n",
        built.bucket, built.function
    ));
    let (bucket, function) = (
        format!("bucket={}", built.bucket),
        format!("function={}", built.function),
    );
    let (code, doc) = json_of(&stack, &["import", &bucket, &function, "--yes", "--json"]);
    assert_eq!(code, Some(0), "{doc}");
    assert_valid(&validator("import.v1.json"), &doc);
    assert_eq!(doc["changed"], true);
    let adopted: Vec<&str> = doc["adopted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert!(
        adopted.contains(&"bucket_policy") && adopted.contains(&"log_group"),
        "{adopted:?}"
    );
    assert!(doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["unsafe_setting"] == true
            && f["text"].as_str().unwrap().contains("Stmt1564527321604")));
    assert!(!doc["next_deploy"].as_array().unwrap().is_empty());
}
