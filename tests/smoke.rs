//! `presign-stack smoke` against `presign-stack dev` and s3s-fs (moto serves no HTTP APIs;
//! s3s-fs checks the URL's signature): the whole path passes, and a broken stack is named at
//! the step that breaks. s3s-fs answers no CORS preflight and no GetBucketCors, so smoke judges
//! the bucket's CORS by the spec's rules there (on AWS, by S3's own preflight answer).

mod support;

use support::{DevServer, TestStack};

const ORIGIN: &str = "https://app.example";

/// A stack whose bucket CORS rule allows `cors_origin`, served by `dev` on s3s-fs with
/// `secret` as the credentials dev signs with; smoke's JSON report and exit status.
fn smoke(cors_origin: &str, dev_secret: &str) -> (i32, serde_json::Value, std::path::PathBuf) {
    let stack = TestStack::new(
        "smoke",
        &format!(
            "bucket:\n  cors:\n    - allowed_origins: [\"{cors_origin}\"]\n      allowed_methods: [PUT]\n      allowed_headers: [content-type]\nuploads:\n  allowed_content_types: [text/plain]\n  max_size_bytes: 1000\napi:\n  cors_origins: [\"{ORIGIN}\"]\n"
        ),
    );
    let (access, secret) = ("AKIASMOKETEST", "smoke-test-secret");
    let (port, data) = support::server::start_s3s_fs(access, secret, &[&stack.bucket()]);
    let endpoint = format!("http://127.0.0.1:{port}");
    let dev = DevServer::start_with(
        &stack.spec(),
        &[
            ("AWS_ENDPOINT_URL_S3", &endpoint),
            ("AWS_ACCESS_KEY_ID", access),
            ("AWS_SECRET_ACCESS_KEY", dev_secret),
        ],
    );
    let api = format!("{}/sign", dev.base);
    let out = stack.bin_with(
        &[
            ("AWS_ENDPOINT_URL_S3", endpoint.as_ref()),
            ("AWS_ACCESS_KEY_ID", access.as_ref()),
            ("AWS_SECRET_ACCESS_KEY", secret.as_ref()),
        ],
        &["smoke", "--api-url", &api, "--json"],
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "smoke printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (
        out.status.code().unwrap_or(-1),
        report,
        data.join(stack.bucket()),
    )
}

fn step<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == name)
        .unwrap_or_else(|| panic!("no step {name}: {report:#}"))
}

#[test]
fn smoke_passes_every_step_of_a_working_stack_and_leaves_nothing() {
    let (code, report, bucket_dir) = smoke(ORIGIN, "smoke-test-secret");
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["ok"], true);
    let names: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "sign",
            "api cors",
            "bucket cors",
            "upload",
            "read back",
            "delete"
        ]
    );
    for s in report["steps"].as_array().unwrap() {
        assert_eq!(s["ok"], true, "{s}");
    }
    assert_eq!(step(&report, "sign")["status"], 200);
    assert_eq!(step(&report, "upload")["status"], 200);
    assert!(step(&report, "upload")["ms"].is_u64(), "{report:#}");
    assert!(step(&report, "bucket cors")["detail"]
        .as_str()
        .unwrap()
        .contains("spec's bucket.cors"));
    let left: Vec<_> = walk(&bucket_dir);
    assert!(left.is_empty(), "the smoke object is deleted: {left:?}");
}

#[test]
fn smoke_names_a_bucket_cors_rule_that_does_not_allow_the_origin() {
    let (code, report, _) = smoke("https://other.example", "smoke-test-secret");
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["failed_step"], "bucket cors", "{report:#}");
    let detail = step(&report, "bucket cors")["detail"].as_str().unwrap();
    assert!(detail.contains(ORIGIN), "{detail}");
    assert!(
        report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["step"] != "upload"),
        "nothing is uploaded past a broken step: {report:#}"
    );
}

#[test]
fn smoke_runs_a_refused_url_through_url_explain() {
    // dev signs with a secret S3 does not know: S3 refuses the upload's signature.
    let (code, report, _) = smoke(ORIGIN, "not-the-secret");
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["failed_step"], "upload", "{report:#}");
    let upload = step(&report, "upload");
    assert_eq!(upload["status"], 403, "{report:#}");
    assert!(upload["detail"]
        .as_str()
        .unwrap()
        .contains("SignatureDoesNotMatch"));
    let findings = report["explain"]["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["code"].as_str().unwrap().contains("signature")),
        "{report:#}"
    );
}

/// Every file below `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn smoke_on_the_emulator_without_an_api_says_to_use_dev() {
    let stack = TestStack::new("smoke-emu", "bucket:\n  enforce_tls: false\n");
    let out = stack.bin(&["smoke"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("serves no API Gateway") && stderr.contains("--dev"),
        "{stderr}"
    );
}
