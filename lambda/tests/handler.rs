//! The handler's contract: 200 with the URL and the headers to send, 400 for every caller
//! mistake, and no way for the caller to choose the status.

use presign_signer::handler;
use presign_signer::{Config, Credentials, Presigner};

fn cfg(downloads: bool) -> Config {
    Config {
        bucket: "uploads-bucket".into(),
        prefix: "uploads/".into(),
        allowed_content_types: vec!["image/jpeg".into()],
        expires_seconds: 300,
        max_size_bytes: None,
        min_size_bytes: None,
        uppy: false,
        multipart: false,
        allow_downloads: downloads,
        checksum: None,
        uppy_put: false,
        region: "eu-west-1".into(),
        endpoint: None,
    }
}

fn signer() -> Presigner {
    Presigner::new(
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "secret".into(),
            session_token: Some("token/with+chars=".into()),
        },
        "eu-west-1",
        "uploads-bucket",
        None,
    )
}

const NOW: u64 = 1_795_876_239; // 2026-11-28T14:30:39Z

/// The reply's status and its body as JSON.
struct Answer {
    status: u16,
    body: serde_json::Value,
}

fn run(cfg: &Config, query: &[(&'static str, &'static str)]) -> Answer {
    let reply = handler::sign(
        cfg,
        &signer(),
        |name| query.iter().find(|(k, _)| *k == name).map(|(_, v)| *v),
        NOW,
    );
    Answer {
        status: reply.status,
        body: serde_json::from_str(&reply.body).expect("the body is JSON"),
    }
}

#[test]
fn a_valid_request_gets_a_url_the_headers_to_send_and_the_expiry() {
    let r = run(
        &cfg(false),
        &[("filekey", "cat.jpg"), ("contentType", "image/jpeg")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let url = r.body["signed_url"].as_str().unwrap();
    assert!(
        url.starts_with("https://uploads-bucket.s3.eu-west-1.amazonaws.com/uploads/cat.jpg?"),
        "{url}"
    );
    assert!(url.contains("X-Amz-Expires=300"));
    assert!(url.contains("X-Amz-SignedHeaders=content-type%3Bhost"));
    assert!(url.contains("X-Amz-Security-Token=token%2Fwith%2Bchars%3D"));
    assert!(
        !url.to_ascii_lowercase().contains("x-amz-acl"),
        "never signs an ACL"
    );
    assert!(!url.contains("checksum"), "never signs a checksum");
    assert_eq!(r.body["method"], "PUT");
    assert_eq!(r.body["headers"]["Content-Type"], "image/jpeg");
    assert_eq!(r.body["key"], "uploads/cat.jpg");
    assert_eq!(r.body["expires_at"], "2026-11-28T14:35:39Z");
}

/// A signer configured with `max_size_bytes: 5000000`.
fn limited() -> Config {
    Config {
        max_size_bytes: Some(5_000_000),
        min_size_bytes: None,
        uppy: false,
        multipart: false,
        ..cfg(false)
    }
}

#[test]
fn a_declared_size_is_signed_as_content_length() {
    let r = run(
        &limited(),
        &[
            ("filekey", "a.jpg"),
            ("contentType", "image/jpeg"),
            ("size", "1234"),
        ],
    );
    assert_eq!(r.body["headers"]["Content-Length"], "1234");
    assert!(r.body["signed_url"]
        .as_str()
        .unwrap()
        .contains("content-length%3Bcontent-type%3Bhost"));
    let r = run(
        &limited(),
        &[
            ("filekey", "a.jpg"),
            ("contentType", "image/jpeg"),
            ("size", "5000001"),
        ],
    );
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("too_large"))
    );
}

/// Regression (issue 14, finding 6): with `max_size_bytes` set, leaving out `size` gave a URL
/// that signed only `content-type;host`, so any length could be uploaded through it.
#[test]
fn regression_a_size_limit_cannot_be_skipped_by_leaving_out_the_size() {
    for query in [
        &[("filekey", "a.jpg"), ("contentType", "image/jpeg")][..],
        &[
            ("filekey", "a.jpg"),
            ("contentType", "image/jpeg"),
            ("size", ""),
        ][..],
    ] {
        let r = run(&limited(), query);
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (400, Some("missing_size")),
            "{query:?}: {}",
            r.body
        );
        assert!(r.body["message"].as_str().unwrap().contains("5000000"));
    }
    // Without a limit the size stays optional (the original client contract).
    let r = run(
        &cfg(false),
        &[("filekey", "a.jpg"), ("contentType", "image/jpeg")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn caller_mistakes_are_400_with_a_code_and_a_message() {
    for (query, code) in [
        (&[][..], "missing_filekey"),
        (&[("filekey", "a.jpg")][..], "missing_content_type"),
        (
            &[("filekey", "../a.jpg"), ("contentType", "image/jpeg")][..],
            "invalid_filekey",
        ),
        (
            &[("filekey", "a.png"), ("contentType", "image/png")][..],
            "content_type_not_allowed",
        ),
        (
            &[
                ("filekey", "a.jpg"),
                ("contentType", "image/jpeg"),
                ("method", "DELETE"),
            ][..],
            "invalid_method",
        ),
        (
            &[("filekey", "a.jpg"), ("method", "GET")][..],
            "downloads_disabled",
        ),
    ] {
        let r = run(&cfg(false), query);
        assert_eq!(r.status, 400, "{query:?}");
        assert_eq!(r.body["error"], code, "{query:?}: {}", r.body);
        assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[test]
fn the_caller_cannot_choose_the_status() {
    let r = run(
        &cfg(false),
        &[
            ("filekey", "a.jpg"),
            ("contentType", "image/jpeg"),
            ("httpStatus", "302"),
        ],
    );
    assert_eq!(r.status, 200);
    let r = run(
        &cfg(false),
        &[
            ("filekey", "../x"),
            ("contentType", "image/jpeg"),
            ("httpStatus", "200"),
        ],
    );
    assert_eq!(r.status, 400);
}

#[test]
fn downloads_sign_get_for_the_same_prefix_when_enabled() {
    let r = run(&cfg(true), &[("filekey", "a.jpg"), ("method", "get")]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["method"], "GET");
    assert_eq!(r.body["key"], "uploads/a.jpg");
    assert!(r.body["signed_url"]
        .as_str()
        .unwrap()
        .contains("X-Amz-SignedHeaders=host"));
}

#[test]
fn the_adapter_reads_an_http_api_event_and_answers_a_proxy_response() {
    let event = serde_json::json!({
        "version": "2.0",
        "routeKey": "GET /sign",
        "rawPath": "/sign",
        "rawQueryString": "filekey=cat.jpg&contentType=image%2Fjpeg",
        "queryStringParameters": {"filekey": "cat.jpg", "contentType": "image/jpeg"},
        "headers": {"host": "abc.execute-api.eu-west-1.amazonaws.com"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc", "domainName": "abc.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc", "requestId": "req-1", "routeKey": "GET /sign", "stage": "$default",
            "time": "28/Nov/2026:14:30:39 +0000", "timeEpoch": 1795876239000u64,
            "http": {"method": "GET", "path": "/sign", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1", "userAgent": "test"}
        },
        "isBase64Encoded": false
    });
    let event: handler::Event = serde_json::from_value(event).unwrap();
    let (response, outcome) = handler::handle(&cfg(false), &signer(), &event, NOW);
    let response = serde_json::to_value(&response).unwrap();
    assert_eq!(response["statusCode"], 200);
    assert_eq!(response["headers"]["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["key"], "uploads/cat.jpg");
    assert_eq!(outcome, "signed");

    // An event without a query string is a 400, not a crash.
    let empty: handler::Event = serde_json::from_str(r#"{"version": "2.0"}"#).unwrap();
    let (response, _) = handler::handle(&cfg(false), &signer(), &empty, NOW);
    assert_eq!(response.status_code, 400);
}

fn with_checksum(alg: presign_signer::config::Checksum) -> Config {
    Config {
        checksum: Some(alg),
        uppy_put: false,
        ..cfg(false)
    }
}

fn signed_headers(url: &str) -> String {
    url.split('&')
        .find_map(|p| p.strip_prefix("X-Amz-SignedHeaders="))
        .unwrap_or_default()
        .to_string()
}

/// The trap of aws-sdk-js-v3#6810: a presigner that computes the checksum itself signs the
/// checksum of the empty body it was given, and S3 refuses every real upload. The signer signs
/// only a checksum the caller declared, never one of its own, never the empty body's.
#[test]
fn a_checksum_is_signed_only_when_the_caller_declares_it_and_never_the_empty_bodys() {
    use presign_signer::config::Checksum::{Crc32, Sha256};
    let base = [("filekey", "a.jpg"), ("contentType", "image/jpeg")];

    // Off: no URL carries a checksum, and declaring one is a mistake, not silently dropped.
    let plain = run(&cfg(false), &base);
    assert_eq!(plain.status, 200);
    let url = plain.body["signed_url"].as_str().unwrap();
    assert!(!url.to_ascii_lowercase().contains("checksum"), "{url}");
    assert_eq!(plain.body["headers"].as_object().unwrap().len(), 1);
    let mut q = base.to_vec();
    q.push(("checksum", "AAAAAA=="));
    let r = run(&cfg(false), &q);
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("checksum_not_enabled"))
    );

    // On: the caller must declare it; the signer computes none in its place.
    for alg in [Sha256, Crc32] {
        let r = run(&with_checksum(alg), &base);
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (400, Some("missing_checksum")),
            "{:?}",
            r.body
        );
        // The empty body's checksum, with no size or a real one: refused.
        for size in [None, Some("42")] {
            let mut q = base.to_vec();
            q.push(("checksum", alg.of_empty_body()));
            if let Some(size) = size {
                q.push(("size", size));
            }
            let r = run(&with_checksum(alg), &q);
            assert_eq!(
                (r.status, r.body["error"].as_str()),
                (400, Some("empty_body_checksum")),
                "{alg:?} {size:?}"
            );
        }
        // Declared for an empty file, it is what that file's checksum is.
        let mut q = base.to_vec();
        q.extend([("checksum", alg.of_empty_body()), ("size", "0")]);
        assert_eq!(run(&with_checksum(alg), &q).status, 200);
    }

    // Malformed: not base64, or the wrong length for the algorithm.
    for bad in ["not base64!", "AAAAAA==", "YWJj"] {
        let mut q = base.to_vec();
        q.push(("checksum", bad));
        let r = run(&with_checksum(Sha256), &q);
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (400, Some("invalid_checksum")),
            "{bad}"
        );
    }

    // A real one is signed, and returned among the headers to send.
    let sum = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="; // SHA-256 of "test"
    let mut q = base.to_vec();
    q.push(("checksum", sum));
    let r = run(&with_checksum(Sha256), &q);
    assert_eq!(r.status, 200, "{:?}", r.body);
    let url = r.body["signed_url"].as_str().unwrap();
    assert_eq!(
        signed_headers(url),
        "content-type%3Bhost%3Bx-amz-checksum-sha256"
    );
    assert_eq!(r.body["headers"]["x-amz-checksum-sha256"], sum);
    assert!(
        !url.contains(sum),
        "the value travels as a header, not in the URL"
    );
}
