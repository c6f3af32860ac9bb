//! End to end against a real signature-checking S3 server (s3s-fs): the handler signs, the
//! client PUTs with the returned headers, the object reads back; a different Content-Type, a
//! different key, an expired URL and GET on a PUT URL are all refused.

mod s3s;

use std::path::PathBuf;

use presign_signer::{handler, Config};
use s3s::{now, server, signer};

const BUCKET: &str = "uploads-bucket";

/// The s3s-fs server for this test binary: its port and data folder.
fn s3() -> &'static (u16, PathBuf) {
    s3s::s3(BUCKET)
}

fn cfg(downloads: bool) -> Config {
    Config {
        bucket: BUCKET.into(),
        prefix: "uploads/".into(),
        allowed_content_types: vec!["image/png".into(), "image/jpeg".into()],
        expires_seconds: 300,
        max_size_bytes: None,
        min_size_bytes: None,
        uppy: false,
        multipart: false,
        allow_downloads: downloads,
        checksum: None,
        uppy_put: false,
        region: "us-east-1".into(),
        endpoint: Some(format!("http://127.0.0.1:{}", s3().0)),
    }
}

/// Calls the handler with an API Gateway HTTP API event, as Lambda would. `query` is written
/// decoded (`a=b c&d=e/f`); the event carries it encoded, as API Gateway sends it.
fn sign(cfg: &Config, query: &str, at: u64) -> serde_json::Value {
    let pairs: Vec<(&str, &str)> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let params: serde_json::Map<String, serde_json::Value> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
        .collect();
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            let mut out = format!("{k}=");
            presign_signer::sign::uri_encode(&mut out, v, false);
            out
        })
        .collect();
    let query = encoded.join("&");
    let event = serde_json::json!({
        "version": "2.0", "routeKey": "GET /sign", "rawPath": "/sign", "rawQueryString": query,
        "queryStringParameters": params, "headers": {"host": "api.example.com"},
        "requestContext": {"accountId": "1", "apiId": "a", "domainName": "api.example.com", "domainPrefix": "api",
            "requestId": "r", "routeKey": "GET /sign", "stage": "$default", "time": "", "timeEpoch": 0,
            "http": {"method": "GET", "path": "/sign", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"}},
        "isBase64Encoded": false
    });
    let event: handler::Event = serde_json::from_value(event).unwrap();
    let (response, _) = handler::handle(cfg, &signer(cfg), &event, at);
    assert_eq!(response.status_code, 200, "{}", response.body);
    serde_json::from_str(&response.body).unwrap()
}

/// A plain HTTP/1.1 request to the s3s-fs server: (status, body).
fn http(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let (status, _, body) = server::http_exchange(host, method, path, headers, body)
        .unwrap_or_else(|| panic!("no answer from s3s-fs for {method} {url}"));
    (status, body)
}

fn content_type(body: &serde_json::Value) -> String {
    body["headers"]["Content-Type"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn an_upload_through_the_signed_url_lands_and_reads_back() {
    let body = sign(&cfg(false), "filekey=cat.png&contentType=image/png", now());
    let url = body["signed_url"].as_str().unwrap();
    let (status, text) = http(
        "PUT",
        url,
        &[("Content-Type", &content_type(&body))],
        b"PNG bytes",
    );
    assert_eq!(status, 200, "{text}");
    let on_disk = s3().1.join(BUCKET).join("uploads/cat.png");
    assert_eq!(std::fs::read(on_disk).unwrap(), b"PNG bytes");

    let get = sign(&cfg(true), "filekey=cat.png&method=GET", now());
    let (status, text) = http("GET", get["signed_url"].as_str().unwrap(), &[], b"");
    assert_eq!((status, text.as_str()), (200, "PNG bytes"));
}

#[test]
fn a_key_with_spaces_and_unicode_uploads_intact() {
    let body = sign(
        &cfg(false),
        "filekey=holiday photos/été 2026.jpg&contentType=image/jpeg",
        now(),
    );
    let (status, text) = http(
        "PUT",
        body["signed_url"].as_str().unwrap(),
        &[("Content-Type", "image/jpeg")],
        b"jpeg",
    );
    assert_eq!(status, 200, "{text}");
    assert!(s3()
        .1
        .join(BUCKET)
        .join("uploads/holiday photos/été 2026.jpg")
        .exists());
}

#[test]
fn a_different_content_type_is_refused() {
    let body = sign(&cfg(false), "filekey=a.png&contentType=image/png", now());
    let (status, text) = http(
        "PUT",
        body["signed_url"].as_str().unwrap(),
        &[("Content-Type", "image/jpeg")],
        b"x",
    );
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("SignatureDoesNotMatch"), "{text}");
}

#[test]
fn a_different_key_is_refused() {
    let body = sign(&cfg(false), "filekey=mine.png&contentType=image/png", now());
    let url = body["signed_url"]
        .as_str()
        .unwrap()
        .replace("/uploads/mine.png", "/uploads/theirs.png");
    let (status, text) = http("PUT", &url, &[("Content-Type", "image/png")], b"x");
    assert_eq!(status, 403, "{text}");
    assert!(!s3().1.join(BUCKET).join("uploads/theirs.png").exists());
}

#[test]
fn an_expired_url_is_refused() {
    let body = sign(
        &cfg(false),
        "filekey=late.png&contentType=image/png",
        now() - 3600,
    );
    let (status, text) = http(
        "PUT",
        body["signed_url"].as_str().unwrap(),
        &[("Content-Type", "image/png")],
        b"x",
    );
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("expired"), "{text}");
}

#[test]
fn get_on_a_put_url_is_refused() {
    let body = sign(
        &cfg(false),
        "filekey=put-only.png&contentType=image/png",
        now(),
    );
    let url = body["signed_url"].as_str().unwrap();
    let (status, _) = http("PUT", url, &[("Content-Type", "image/png")], b"x");
    assert_eq!(status, 200);
    let (status, text) = http("GET", url, &[("Content-Type", "image/png")], b"");
    assert_eq!(status, 403, "{text}");
}

#[test]
fn a_tampered_signature_is_refused() {
    let body = sign(&cfg(false), "filekey=t.png&contentType=image/png", now());
    let url = body["signed_url"].as_str().unwrap();
    let last = url.chars().last().unwrap();
    let tampered = format!(
        "{}{}",
        &url[..url.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    let (status, _) = http("PUT", &tampered, &[("Content-Type", "image/png")], b"x");
    assert_eq!(status, 403);
}

/// Regression (issue 14, finding 6): with `max_size_bytes` set, a URL signed without `size`
/// accepted any length (it signed only `content-type;host`; a 5 MB PUT went through). Now no
/// such URL is issued, and a URL for a declared size refuses a body of another length.
#[test]
fn regression_a_size_limit_is_enforced_by_s3_on_every_url() {
    let limited = Config {
        max_size_bytes: Some(1000),
        min_size_bytes: None,
        uppy: false,
        multipart: false,
        ..cfg(false)
    };
    let query = handler::Query {
        filekey: Some("big.png".into()),
        content_type: Some("image/png".into()),
        ..Default::default()
    };
    let event = handler::Event {
        query: Some(query),
        ..Default::default()
    };
    let (response, outcome) = handler::handle(&limited, &signer(&limited), &event, now());
    assert_eq!(
        (response.status_code, outcome),
        (400, "missing_size"),
        "{}",
        response.body
    );

    let body = sign(
        &limited,
        "filekey=small.png&contentType=image/png&size=10",
        now(),
    );
    let url = body["signed_url"].as_str().unwrap();
    assert!(
        url.contains("content-length%3Bcontent-type%3Bhost"),
        "{url}"
    );
    let headers = [("Content-Type", "image/png")];
    let (status, text) = http("PUT", url, &headers, &[b'x'; 2000]);
    assert_eq!(
        status, 403,
        "a body over the declared size is refused: {text}"
    );
    assert!(text.contains("SignatureDoesNotMatch"), "{text}");
    assert!(!s3().1.join(BUCKET).join("uploads/small.png").exists());
    let (status, text) = http("PUT", url, &headers, b"0123456789");
    assert_eq!(status, 200, "the declared size uploads: {text}");
}

/// `uploads.checksum: sha256`: the URL signs the checksum the caller declared, so S3 verifies
/// the body against it. s3s-fs checks the header's value against the body (BadDigest), as S3
/// does (https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html).
#[test]
fn a_declared_sha256_is_signed_and_a_body_that_does_not_match_it_is_refused() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let with_checksum = Config {
        checksum: Some(presign_signer::config::Checksum::Sha256),
        uppy_put: false,
        ..cfg(false)
    };
    let file = b"the real PNG bytes";
    let sum = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(file));
    let body = sign(
        &with_checksum,
        &format!("filekey=sum.png&contentType=image/png&checksum={sum}"),
        now(),
    );
    let url = body["signed_url"].as_str().unwrap();
    assert!(
        url.contains("x-amz-checksum-sha256"),
        "the header is signed: {url}"
    );
    assert_eq!(body["headers"]["x-amz-checksum-sha256"], sum.as_str());
    let headers = [
        ("Content-Type", "image/png"),
        ("x-amz-checksum-sha256", sum.as_str()),
    ];
    let (status, text) = http("PUT", url, &headers, b"a corrupted body!!");
    assert_eq!(status, 400, "a body that does not match is refused: {text}");
    assert!(text.contains("BadDigest"), "{text}");
    // s3s-fs writes the body before it compares the checksum, so the refused bytes stay on its
    // disk; S3 stores nothing for a request it refuses (docs/architecture.md lists the gap). The
    // good upload below replaces them, and that is what is checked.

    // Leaving the signed header out does not get around it: the signature no longer matches.
    let (status, text) = http("PUT", url, &[("Content-Type", "image/png")], file);
    assert_eq!(status, 403, "{text}");

    let (status, text) = http("PUT", url, &headers, file);
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        std::fs::read(s3().1.join(BUCKET).join("uploads/sum.png")).unwrap(),
        file
    );
}
