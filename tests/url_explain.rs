//! `url explain`: one test per failure mode it claims to detect, on URLs made by the AWS SDK
//! for Rust's presigner (and by hand where no SDK makes the case). Each checks the finding's
//! code, that its message names the problem, and that it says how to fix it. No AWS call:
//! presigning and explaining are local.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::ObjectCannedAcl;
use presign_stack::plan::resources::CorsRule;
use presign_stack::presigned::explain::{
    explain, BucketFacts, Context, Finding, Request, Severity,
};
use presign_stack::presigned::{s3error, PresignedUrl};

const KEY_ID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// The query of a URL written by hand (signs only host; the signature is not checked there).
const HAND_QUERY: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261128%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261128T143039Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=00";
/// 2026-11-28T14:30:39Z
const T0: u64 = 1_795_876_239;

fn client(token: Option<&str>, region: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new(
            KEY_ID,
            SECRET,
            token.map(str::to_string),
            None,
            "test",
        ))
        .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

fn presigning(signed_at: u64, expires: u64) -> PresigningConfig {
    PresigningConfig::builder()
        .start_time(UNIX_EPOCH + Duration::from_secs(signed_at))
        .expires_in(Duration::from_secs(expires))
        .build()
        .expect("presigning config")
}

/// A PUT URL for `uploads/cat.png` with Content-Type image/png, signed at `signed_at`.
async fn put_url(signed_at: u64) -> String {
    client(None, "us-east-1")
        .put_object()
        .bucket("photos-uploads")
        .key("uploads/cat.png")
        .content_type("image/png")
        .presigned(presigning(signed_at, 300))
        .await
        .expect("presign")
        .uri()
        .to_string()
}

fn own_credentials() -> Option<(String, String)> {
    Some((KEY_ID.to_string(), SECRET.to_string()))
}

fn request(method: &str, headers: &[(&str, &str)]) -> Request {
    Request {
        method: Some(method.to_string()),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
            .collect(),
    }
}

fn run(url: &str, ctx: Context) -> Vec<Finding> {
    let url = PresignedUrl::parse(url).expect("a URL");
    explain(&url, &ctx).findings
}

/// The finding with `code`; fails listing all findings if there is none.
fn find<'a>(findings: &'a [Finding], code: &str) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no {code} finding in {findings:#?}"))
}

fn assert_names(f: &Finding, problem_words: &[&str], fix_words: &[&str]) {
    for w in problem_words {
        assert!(
            f.problem.contains(w),
            "{:?} should mention {w:?}",
            f.problem
        );
    }
    for w in fix_words {
        assert!(f.fix.contains(w), "fix {:?} should mention {w:?}", f.fix);
    }
}

fn now_ctx(now: u64) -> Context {
    Context {
        now,
        ..Context::default()
    }
}

#[tokio::test]
async fn a_good_url_and_request_raise_no_problem_and_the_signature_verifies() {
    let url = put_url(T0).await;
    let findings = run(
        &url,
        Context {
            now: T0 + 10,
            request: request("PUT", &[("Content-Type", "image/png")]),
            credentials: own_credentials(),
            ..Context::default()
        },
    );
    assert!(findings.is_empty(), "{findings:#?}");
    let parsed = PresignedUrl::parse(&url).unwrap();
    assert_eq!(parsed.bucket.as_deref(), Some("photos-uploads"));
    assert_eq!(parsed.key.as_deref(), Some("uploads/cat.png"));
    assert_eq!(parsed.scope.as_ref().unwrap().region, "us-east-1");
    assert_eq!(parsed.signed_at, Some(T0));
    assert_eq!(parsed.expires_at(), Some(T0 + 300));
    assert_eq!(parsed.signed_headers, ["content-type", "host"]);
}

#[tokio::test]
async fn expired() {
    let findings = run(&put_url(T0).await, now_ctx(T0 + 3600));
    let f = find(&findings, "expired");
    assert_eq!(f.severity, Severity::Problem);
    assert_names(
        f,
        &["expired at 2026-11-28T14:35:39Z", "55m 0s ago"],
        &["new URL"],
    );
}

#[tokio::test]
async fn signing_time_in_the_future_is_clock_skew() {
    let findings = run(&put_url(T0 + 7200).await, now_ctx(T0));
    let f = find(&findings, "signed-in-future");
    assert_names(f, &["2h 0m after now", "clock skew"], &["clock", "NTP"]);
    assert!(findings.iter().all(|f| f.code != "expired"));
}

#[tokio::test]
async fn wrong_content_type_against_the_signers_response() {
    let findings = run(
        &put_url(T0).await,
        Context {
            now: T0,
            request: request("PUT", &[("Content-Type", "image/jpeg")]),
            expected_headers: vec![("content-type".into(), "image/png".into())],
            ..Context::default()
        },
    );
    let f = find(&findings, "signed-header-value");
    assert_names(
        f,
        &[
            "signed for content-type: image/png",
            "sends content-type: image/jpeg",
            "SignatureDoesNotMatch",
        ],
        &["image/png"],
    );
}

#[tokio::test]
async fn wrong_content_type_found_with_own_credentials() {
    // No signer response: the signed value is found by recomputing the signature.
    let findings = run(
        &put_url(T0).await,
        Context {
            now: T0,
            request: request(
                "PUT",
                &[("Content-Type", "application/x-www-form-urlencoded")],
            ),
            credentials: own_credentials(),
            ..Context::default()
        },
    );
    let f = find(&findings, "signed-header-value");
    assert_names(f, &["content-type: image/png", "axios"], &["image/png"]);
}

#[tokio::test]
async fn missing_signed_header() {
    let findings = run(
        &put_url(T0).await,
        Context {
            now: T0,
            request: request("PUT", &[("Content-Length", "1024")]),
            ..Context::default()
        },
    );
    let f = find(&findings, "signed-header-missing");
    assert_names(
        f,
        &["signs content-type", "does not send it"],
        &["send content-type"],
    );
}

#[tokio::test]
async fn unsigned_amz_header() {
    let findings = run(
        &put_url(T0).await,
        Context {
            now: T0,
            request: request(
                "PUT",
                &[("Content-Type", "image/png"), ("x-amz-meta-owner", "me")],
            ),
            ..Context::default()
        },
    );
    let f = find(&findings, "unsigned-amz-header");
    assert_names(
        f,
        &["x-amz-meta-owner", "HeadersNotSigned"],
        &["stop sending"],
    );
}

#[tokio::test]
async fn signed_acl_as_the_original_pattern_did() {
    let url = client(None, "us-east-1")
        .put_object()
        .bucket("photos-uploads")
        .key("uploads/cat.png")
        .content_type("image/png")
        .acl(ObjectCannedAcl::PublicRead)
        .presigned(presigning(T0, 600))
        .await
        .unwrap()
        .uri()
        .to_string();
    let findings = run(
        &url,
        Context {
            now: T0,
            bucket: Some(BucketFacts {
                acls_disabled: Some(true),
                ..BucketFacts::default()
            }),
            ..Context::default()
        },
    );
    let f = find(&findings, "signed-acl");
    assert_names(
        f,
        &[
            "x-amz-acl",
            "AccessControlListNotSupported",
            "ACLs disabled (BucketOwnerEnforced)",
        ],
        &["without an ACL", "bucket policy"],
    );
}

#[tokio::test]
async fn empty_body_checksum_baked_in_by_the_sdk_default() {
    // The SDK's default (WhenSupported) signs a checksum of the body it saw: none.
    let config = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(KEY_ID, SECRET, None, None, "test"))
        .build();
    let url = aws_sdk_s3::Client::from_conf(config)
        .put_object()
        .bucket("photos-uploads")
        .key("uploads/cat.png")
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc32)
        .presigned(presigning(T0, 300))
        .await
        .unwrap()
        .uri()
        .to_string();
    // The Rust SDK signs the algorithm as a header the browser will not send.
    let findings = run(&url, now_ctx(T0));
    let f = find(&findings, "checksum-in-url");
    assert_names(
        f,
        &["x-amz-sdk-checksum-algorithm", "SignatureDoesNotMatch"],
        &["WHEN_REQUIRED"],
    );
    // The JavaScript v3 SDK (>= 3.729.0) puts the empty body's CRC32 in the query (by hand).
    let url = format!("{url}&x-amz-checksum-crc32=AAAAAA%3D%3D");
    let findings = run(&url, now_ctx(T0));
    let f = findings
        .iter()
        .find(|f| f.code == "checksum-in-url" && f.problem.contains("x-amz-checksum-crc32"))
        .expect("a finding for the query's checksum");
    assert_names(f, &["EMPTY body", "BadDigest"], &["WHEN_REQUIRED"]);
}

/// Regressions (issue 15, point 2; ../shared/PRESIGNED-URLS.md entries 2 to 5 as corrected):
/// beliefs that disagreed with S3.
#[tokio::test]
async fn what_s3_accepts_is_not_flagged_and_what_it_answers_is_recognised() {
    // 4: a checksum header signed *and* sent with the body's value is S3's integrity check
    // (S3 User Guide, "Checking object integrity": uploads with pre-signed URLs).
    let url = client(None, "us-east-1")
        .put_object()
        .bucket("photos-uploads")
        .key("uploads/cat.png")
        .checksum_sha256("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
        .presigned(presigning(T0, 300))
        .await
        .unwrap()
        .uri()
        .to_string();
    let mut ctx = now_ctx(T0);
    ctx.request = request(
        "PUT",
        &[(
            "x-amz-checksum-sha256",
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        )],
    );
    let findings = run(&url, ctx);
    assert!(
        !findings.iter().any(|f| f.code == "checksum-in-url"),
        "{findings:#?}"
    );
    // 4: x-amz-checksum-mode=ENABLED on a GET asks S3 to return the stored checksum.
    let get = format!("https://photos-uploads.s3.us-east-1.amazonaws.com/uploads/cat.png?{HAND_QUERY}&x-amz-checksum-mode=ENABLED");
    let findings = run(&get, now_ctx(T0));
    assert!(
        !findings.iter().any(|f| f.code == "checksum-in-url"),
        "{findings:#?}"
    );
    // 3: bucket-owner-full-control is accepted by buckets with ACLs disabled (S3 User Guide,
    // "Controlling ownership of objects and disabling ACLs").
    let owner = format!("https://photos-uploads.s3.us-east-1.amazonaws.com/uploads/cat.png?{HAND_QUERY}&x-amz-acl=bucket-owner-full-control");
    let mut ctx = now_ctx(T0);
    ctx.bucket = Some(BucketFacts {
        acls_disabled: Some(true),
        ..Default::default()
    });
    let findings = run(&owner, ctx);
    assert!(
        !findings.iter().any(|f| f.code == "signed-acl"),
        "{findings:#?}"
    );
    // 2: unsigned x-amz-* headers: code AccessDenied, the headers in HeadersNotSigned.
    let body = "<Error><Code>AccessDenied</Code><Message>There were headers present in the request which were not signed</Message><HeadersNotSigned>x-amz-meta-owner</HeadersNotSigned></Error>";
    let mut ctx = now_ctx(T0);
    ctx.s3_error = Some(s3error::parse(body).unwrap());
    let findings = run(&get, ctx);
    let f = find(&findings, "unsigned-amz-header");
    assert!(f.problem.contains("x-amz-meta-owner"), "{f:?}");
    assert!(!findings.iter().any(|f| f.code == "access-denied"));
    // 5: a pre-signed URL for the wrong region.
    let body = "<Error><Code>AuthorizationQueryParametersError</Code><Message>Error parsing the X-Amz-Credential parameter; the region 'us-east-1' is wrong; expecting 'eu-west-1'</Message></Error>";
    let mut ctx = now_ctx(T0);
    ctx.s3_error = Some(s3error::parse(body).unwrap());
    let f = find(&run(&get, ctx), "region-mismatch").clone();
    assert!(f.problem.contains("eu-west-1"), "{f:?}");
    // A key with a real % in it, encoded once, is not "encoded twice"; %2520 is.
    let once = format!(
        "https://photos-uploads.s3.us-east-1.amazonaws.com/uploads/100%25.png?{HAND_QUERY}"
    );
    assert!(!run(&once, now_ctx(T0))
        .iter()
        .any(|f| f.problem.contains("encoded twice")));
    let twice = format!(
        "https://photos-uploads.s3.us-east-1.amazonaws.com/uploads/a%2520b.png?{HAND_QUERY}"
    );
    assert!(run(&twice, now_ctx(T0))
        .iter()
        .any(|f| f.problem.contains("encoded twice")));
}

#[test]
fn expiry_over_seven_days() {
    // SDK presigners refuse to make one; our own signer's code can, so it stands in.
    let signer = presign_signer::Presigner::new(
        presign_signer::Credentials {
            access_key_id: KEY_ID.into(),
            secret_access_key: SECRET.into(),
            session_token: None,
        },
        "us-east-1",
        "photos-uploads",
        None,
    );
    let url = signer.presign(&presign_signer::sign::PresignRequest {
        method: "PUT",
        key: "uploads/cat.png",
        expires_seconds: 700_000,
        headers: &[],
        query: &[],
        time: presign_signer::sign::SigningTime { unix: T0 },
    });
    let findings = run(&url, now_ctx(T0));
    let f = find(&findings, "expires-over-7-days");
    assert_names(f, &["700000 s", "604800"], &["604800"]);
}

#[tokio::test]
async fn session_token_limits_the_lifetime() {
    let url = client(Some("IQoJb3JpZ2luX2VjEXAMPLE"), "us-east-1")
        .put_object()
        .bucket("photos-uploads")
        .key("uploads/cat.png")
        .presigned(presigning(T0, 300))
        .await
        .unwrap()
        .uri()
        .to_string();
    let findings = run(&url, now_ctx(T0));
    let f = find(&findings, "session-token");
    assert_eq!(f.severity, Severity::Warning);
    assert_names(
        f,
        &["temporary credentials", "ExpiredToken"],
        &["shorter of the two"],
    );
}

#[tokio::test]
async fn wrong_method_found_with_own_credentials() {
    let findings = run(
        &put_url(T0).await,
        Context {
            now: T0,
            request: request("GET", &[("Content-Type", "image/png")]),
            credentials: own_credentials(),
            ..Context::default()
        },
    );
    let f = find(&findings, "method-mismatch");
    assert_names(f, &["signed for PUT", "uses GET"], &["send a PUT request"]);
}

#[tokio::test]
async fn tampered_signature_found_with_own_credentials() {
    let url = put_url(T0).await;
    let i = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let flipped = if &url[i..i + 1] == "0" { "1" } else { "0" };
    let tampered = format!("{}{flipped}{}", &url[..i], &url[i + 1..]);
    let findings = run(
        &tampered,
        Context {
            now: T0,
            request: request("PUT", &[("Content-Type", "image/png")]),
            credentials: own_credentials(),
            ..Context::default()
        },
    );
    let f = find(&findings, "signature-mismatch");
    assert_names(
        f,
        &["changed after signing"],
        &["exactly as the signer returned it"],
    );
    // A changed key is caught the same way.
    let moved = url.replace("/uploads/cat.png", "/uploads/dog.png");
    let findings = run(
        &moved,
        Context {
            now: T0,
            request: request("PUT", &[("Content-Type", "image/png")]),
            credentials: own_credentials(),
            ..Context::default()
        },
    );
    find(&findings, "signature-mismatch");
}

#[tokio::test]
async fn s3_error_body_whose_canonical_request_differs_in_one_header() {
    let url_text = put_url(T0).await;
    let url = PresignedUrl::parse(&url_text).unwrap();
    // What S3 computed from a request that sent Content-Type: image/jpeg.
    let received = url.canonical_request("PUT", &|name| {
        (name == "content-type").then(|| "image/jpeg".to_string())
    });
    let escaped = received.replace('&', "&amp;").replace('<', "&lt;");
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message><AWSAccessKeyId>{KEY_ID}</AWSAccessKeyId><StringToSign>{}</StringToSign><SignatureProvided>{}</SignatureProvided><CanonicalRequest>{escaped}</CanonicalRequest><RequestId>R</RequestId><HostId>H</HostId></Error>",
        url.string_to_sign(&received),
        url.signature.clone().unwrap()
    );
    let findings = run(
        &url_text,
        Context {
            now: T0,
            expected_headers: vec![("content-type".into(), "image/png".into())],
            s3_error: s3error::parse(&body),
            ..Context::default()
        },
    );
    let diffs: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.code == "canonical-request-differs")
        .collect();
    assert_eq!(diffs.len(), 1, "exactly one line differs: {findings:#?}");
    assert_names(
        diffs[0],
        &[
            "line 4",
            "header content-type",
            "\"content-type:image/png\"",
            "\"content-type:image/jpeg\"",
        ],
        &["Content-Type: image/png"],
    );
}

#[tokio::test]
async fn region_mismatch_between_host_and_signature() {
    let url = put_url(T0)
        .await
        .replace(".s3.us-east-1.", ".s3.eu-west-1.");
    let findings = run(&url, now_ctx(T0));
    let f = find(&findings, "region-mismatch");
    assert_names(f, &["signed for us-east-1", "eu-west-1"], &["eu-west-1"]);
    // And against the bucket's real region.
    let findings = run(
        &put_url(T0).await,
        Context {
            now: T0,
            bucket: Some(BucketFacts {
                region: Some("eu-central-1".into()),
                ..BucketFacts::default()
            }),
            ..Context::default()
        },
    );
    assert_names(
        find(&findings, "region-mismatch"),
        &["bucket is in eu-central-1"],
        &["eu-central-1"],
    );
}

#[test]
fn host_rewritten_by_a_proxy() {
    let url =
        &format!("https://photos-uploads.s3.us-east-1.amazonaws.com/uploads/cat.png?{HAND_QUERY}");
    let findings = run(
        url,
        Context {
            now: T0,
            request: request("PUT", &[("Host", "uploads.example.com")]),
            ..Context::default()
        },
    );
    assert_names(
        find(&findings, "host-mismatch"),
        &["Host: uploads.example.com"],
        &["forward Host"],
    );
}

#[test]
fn key_encoding_that_s3_reads_differently() {
    // `+` for a space and a double-encoded key: written by hand, as buggy clients do.
    let base = format!("?{HAND_QUERY}");
    let findings = run(
        &format!("https://b.s3.us-east-1.amazonaws.com/uploads/my+cat.png{base}"),
        now_ctx(T0),
    );
    assert_names(find(&findings, "key-encoding"), &["%2B"], &["exactly once"]);
    let findings = run(
        &format!("https://b.s3.us-east-1.amazonaws.com/uploads/my%2520cat.png{base}"),
        now_ctx(T0),
    );
    assert!(
        findings
            .iter()
            .any(|f| f.code == "key-encoding" && f.problem.contains("encoded twice")),
        "{findings:#?}"
    );
}

#[tokio::test]
async fn missing_key_answers_403() {
    let url = client(None, "us-east-1")
        .get_object()
        .bucket("photos-uploads")
        .key("uploads/nothing-here.png")
        .presigned(presigning(T0, 300))
        .await
        .unwrap()
        .uri()
        .to_string();
    let findings = run(
        &url,
        Context {
            now: T0,
            request: request("GET", &[]),
            s3_error: s3error::parse(
                "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
            ),
            bucket: Some(BucketFacts {
                object_exists: Some(false),
                ..BucketFacts::default()
            }),
            ..Context::default()
        },
    );
    assert_names(
        find(&findings, "missing-key-403"),
        &["403 instead of 404", "does not exist"],
        &["check the key"],
    );
}

#[tokio::test]
async fn cors_rule_missing_for_the_pages_origin() {
    let rules = vec![CorsRule {
        id: None,
        allowed_origins: vec!["https://app.example.com".into()],
        allowed_methods: vec!["PUT".into()],
        allowed_headers: vec!["content-type".into()],
        expose_headers: vec![],
        max_age_seconds: None,
    }];
    let ctx = |origin: &str| Context {
        now: T0,
        origin: Some(origin.to_string()),
        bucket: Some(BucketFacts {
            cors: Some(rules.clone()),
            ..BucketFacts::default()
        }),
        ..Context::default()
    };
    let url = put_url(T0).await;
    assert!(run(&url, ctx("https://app.example.com"))
        .iter()
        .all(|f| f.code != "cors"));
    let findings = run(&url, ctx("http://localhost:3000"));
    assert_names(
        find(&findings, "cors"),
        &["http://localhost:3000", "blocked by CORS policy"],
        &["allowed_origins"],
    );
}

#[test]
fn not_a_url_and_not_presigned_are_told_apart() {
    assert!(PresignedUrl::parse("cat.png").is_err());
    assert!(PresignedUrl::parse("ftp://x/y").is_err());
    let findings = run(
        "https://photos-uploads.s3.us-east-1.amazonaws.com/uploads/cat.png",
        now_ctx(T0),
    );
    find(&findings, "not-presigned");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Odd input never panics.
    for odd in [
        "https://",
        "https://h?&&==&X-Amz-Date=2026&X-Amz-Expires=-1",
        "https://h/%zz%?X-Amz-Credential=a/b",
        "http://[::1]:9/é?X-Amz-SignedHeaders=;;",
    ] {
        if let Ok(u) = PresignedUrl::parse(odd) {
            explain(&u, &now_ctx(now));
        }
    }
}

/// The command line: exit 0 when nothing is wrong, 2 when problems are found, 1 for input that
/// is not a URL; `--json` gives the findings with their codes.
#[tokio::test]
async fn the_command_exit_status_and_json_can_be_relied_on() {
    let url = put_url(T0).await;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_presign-stack"))
            .args(args)
            .env("AWS_ACCESS_KEY_ID", KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_SESSION_TOKEN")
            .output()
            .expect("run presign-stack")
    };
    let ok = run(&[
        "url",
        "explain",
        &url,
        "--at",
        "2026-11-28T14:31:00Z",
        "-H",
        "Content-Type: image/png",
    ]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    assert!(String::from_utf8_lossy(&ok.stdout)
        .contains("verified: your credentials sign this URL for PUT"));
    let bad = run(&[
        "url",
        "explain",
        &url,
        "--at",
        "2026-11-28T15:31:00Z",
        "-X",
        "GET",
        "-H",
        "Content-Type: image/png",
        "--json",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&bad.stdout).expect("JSON on stdout");
    assert_eq!(report["format_version"], 1);
    let codes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"expired") && codes.contains(&"method-mismatch"),
        "{codes:?}"
    );
    assert_eq!(report["url"]["bucket"], "photos-uploads");
    let nonsense = run(&["url", "explain", "not a url"]);
    assert_eq!(nonsense.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&nonsense.stderr).contains("not a URL"));
}

/// Regression (issue 15, point 2): a custom-domain URL (a CNAME to S3) was read path-style, with
/// the key's first segment as the bucket. S3 serves a CNAME for the bucket named like the host
/// (S3 User Guide, "Virtual hosting of buckets"); emulators and S3-compatible servers on an
/// address or a port keep the bucket in the path.
#[test]
fn custom_domains_emulators_and_s3_compatible_servers_name_the_right_bucket() {
    let parse = |host: &str, path: &str| {
        let url = PresignedUrl::parse(&format!("{host}{path}?{HAND_QUERY}")).unwrap();
        (url.bucket.unwrap_or_default(), url.key.unwrap_or_default())
    };
    assert_eq!(
        parse("https://uploads.example.com", "/photos/cat.jpg"),
        ("uploads.example.com".into(), "photos/cat.jpg".into())
    );
    for host in [
        "http://127.0.0.1:4566",
        "http://localhost:4566",
        "https://minio.example.com:9000",
        "http://s3emu",
    ] {
        assert_eq!(
            parse(host, "/photos/cat.jpg"),
            ("photos".into(), "cat.jpg".into()),
            "{host}"
        );
    }
    assert_eq!(
        parse("https://photos.s3.eu-west-1.amazonaws.com", "/cat.jpg"),
        ("photos".into(), "cat.jpg".into())
    );
}

/// Regression (issue 15, point 2): with the signer's key, a signed value sent differently was
/// blamed on "the URL was changed": `text/plain;charset=UTF-8` (what a browser sends for a Blob)
/// where `text/plain; charset=utf-8` was signed, and a Content-Length other than the signed one.
#[tokio::test]
async fn a_signed_value_sent_differently_is_named_not_blamed_on_the_url() {
    let url = client(None, "us-east-1")
        .put_object()
        .bucket("photos-uploads")
        .key("uploads/notes.txt")
        .content_type("text/plain; charset=utf-8")
        .presigned(presigning(T0, 300))
        .await
        .unwrap()
        .uri()
        .to_string();
    let findings = run(
        &url,
        Context {
            now: T0,
            request: request("PUT", &[("Content-Type", "text/plain;charset=UTF-8")]),
            credentials: own_credentials(),
            ..Context::default()
        },
    );
    let f = find(&findings, "signed-header-value");
    assert_names(
        f,
        &["text/plain; charset=utf-8", "text/plain;charset=UTF-8"],
        &["text/plain; charset=utf-8"],
    );
    assert!(
        !findings.iter().any(|f| f.code == "signature-mismatch"),
        "{findings:#?}"
    );

    let sized = client(None, "us-east-1")
        .put_object()
        .bucket("photos-uploads")
        .key("uploads/cat.png")
        .content_type("image/png")
        .content_length(10)
        .presigned(presigning(T0, 300))
        .await
        .unwrap()
        .uri()
        .to_string();
    let findings = run(
        &sized,
        Context {
            now: T0,
            request: request(
                "PUT",
                &[("Content-Type", "image/png"), ("Content-Length", "11")],
            ),
            credentials: own_credentials(),
            ..Context::default()
        },
    );
    // Content-Length cannot be guessed the way Content-Type is: the value sent is named as the
    // first suspect, and the URL is not blamed.
    let f = find(&findings, "signed-value-differs");
    assert_names(
        f,
        &["content-length: 11", "not the size that was signed"],
        &["size was signed"],
    );
    assert!(
        !findings.iter().any(|f| f.code == "signature-mismatch"),
        "{findings:#?}"
    );
}
