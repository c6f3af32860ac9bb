//! Uppy's multipart routes end to end against a signature-checking S3 server (s3s-fs 0.14.1,
//! which verifies SigV4 on the part URLs and on the signer's own S3 calls): the handler creates
//! the upload, signs parts that the client PUTs, lists them, completes or aborts, and refuses
//! a caller who names an upload that is not theirs.
//!
//! s3s-fs enforces S3's 5 MiB minimum for every part but the last
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html>), so the files here are
//! a little over 5 MiB. What it cannot show (docs/architecture.md, "Emulator gaps"): its
//! ListParts has no ETag and answers `[]` for an aborted upload, and an unknown upload id is
//! AccessDenied or InvalidRequest where S3 answers 404 NoSuchUpload
//! (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_AbortMultipartUpload.html>). So an
//! abort is checked by the parts being gone from its data folder.

mod s3s;

use std::path::PathBuf;

use std::sync::OnceLock;

use presign_signer::s3::S3;
use presign_signer::sign::{PresignRequest, SigningTime};
use presign_signer::{handler, Config};
use s3s::{now, server, signer};
use serde_json::{json, Value};

const BUCKET: &str = "multipart-bucket";

fn s3() -> &'static (u16, PathBuf) {
    s3s::s3(BUCKET)
}

fn cfg(max: Option<u64>) -> Config {
    Config {
        bucket: BUCKET.into(),
        prefix: "uploads/".into(),
        allowed_content_types: vec!["application/octet-stream".into(), "text/plain".into()],
        expires_seconds: 300,
        max_size_bytes: max,
        min_size_bytes: None,
        uppy: true,
        multipart: true,
        allow_downloads: false,
        checksum: None,
        uppy_put: false,
        region: "us-east-1".into(),
        endpoint: Some(format!("http://127.0.0.1:{}", s3().0)),
    }
}

/// The handler's answer to `method path?query` with a JSON `body`, as API Gateway passes the
/// request on; `sub`: the JWT authorizer's verified subject.
async fn call(
    cfg: &Config,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    body: Option<Value>,
    sub: &str,
) -> (u16, Value) {
    let q: serde_json::Map<String, Value> = query
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let event = json!({
        "version": "2.0", "rawPath": path, "queryStringParameters": q,
        "requestContext": {
            "http": {"method": method, "path": path},
            "authorizer": {"jwt": {"claims": {"sub": sub}, "scopes": null}}
        },
        "body": body.map(|b| b.to_string()), "isBase64Encoded": false
    });
    let event: handler::Event = serde_json::from_value(event).unwrap();
    let presigner = signer(cfg);
    // A client for this call: each test has its own runtime, and a pooled connection does not
    // outlive the runtime that opened it (the function has one runtime for its life).
    let client = OnceLock::new();
    let s3 = S3::new(&presigner, &client);
    let (response, _) = handler::handle_all(cfg, &s3, &event, now()).await;
    (
        response.status_code,
        serde_json::from_str(&response.body)
            .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {}", response.body)),
    )
}

/// `POST /s3/multipart`: the key and upload id.
async fn create(cfg: &Config, name: &str, sub: &str) -> (String, String) {
    let (status, body) = call(
        cfg,
        "POST",
        "/s3/multipart",
        &[],
        Some(json!({"filename": name, "type": "application/octet-stream", "metadata": {}})),
        sub,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["bucket"], BUCKET);
    (
        body["key"].as_str().unwrap().to_string(),
        body["uploadId"].as_str().unwrap().to_string(),
    )
}

/// The upload's path, its id percent-encoded as Uppy's client sends it.
fn upload_path(id: &str, rest: &str) -> String {
    let encoded: String = id
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("/s3/multipart/{encoded}{rest}")
}

/// Signs part `n` (with its size when `size` is set) and PUTs `data` to the URL: the
/// status and the ETag S3 answered.
async fn put_part(
    cfg: &Config,
    key: &str,
    id: &str,
    n: u32,
    data: &[u8],
    size: bool,
) -> (u16, String) {
    let len = data.len().to_string();
    let mut query = vec![("key", key)];
    if size {
        query.push(("size", len.as_str()));
    }
    let (status, body) = call(
        cfg,
        "GET",
        &upload_path(id, &format!("/{n}")),
        &query,
        None,
        "alice",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires"], 300);
    put(body["url"].as_str().unwrap(), data)
}

/// PUTs `data` to a pre-signed URL: the status and the ETag header (or the body on a refusal).
fn put(url: &str, data: &[u8]) -> (u16, String) {
    put_with(url, &[], data)
}

/// [`put`] with these request headers.
fn put_with(url: &str, headers: &[(&str, &str)], data: &[u8]) -> (u16, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap());
    let (status, headers, body) =
        server::http_exchange(authority, "PUT", path, headers, data).expect("s3s-fs answers");
    let etag = headers
        .iter()
        .find(|(n, _)| n == "etag")
        .map(|(_, v)| v.clone());
    (status, etag.unwrap_or(body))
}

fn stored(key: &str) -> Option<Vec<u8>> {
    std::fs::read(s3().1.join(BUCKET).join(key)).ok()
}

/// The files s3s-fs keeps for an upload in progress (its parts and its record), by name.
fn upload_files(id: &str) -> Vec<String> {
    std::fs::read_dir(&s3().1)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains(id))
        .collect()
}

/// S3's smallest part but the last.
const MIB5: usize = 5 * 1024 * 1024;

#[tokio::test]
async fn a_file_in_three_parts_is_stored_whole_and_listed_on_the_way() {
    let cfg = cfg(Some(11 * 1024 * 1024));
    let (key, id) = create(&cfg, "big file.bin", "alice").await;
    assert!(key.starts_with("uploads/alice/"), "{key}");
    assert!(
        key.ends_with("/big_file.bin") || key.ends_with("/big file.bin"),
        "{key}"
    );

    let sizes = [MIB5, MIB5 + 1, 1002];
    let parts: Vec<Vec<u8>> = (0..3u8)
        .map(|i| vec![b'a' + i; sizes[i as usize]])
        .collect();
    let (status, listed) = call(
        &cfg,
        "GET",
        &upload_path(&id, ""),
        &[("key", &key)],
        None,
        "alice",
    )
    .await;
    assert_eq!(
        (status, listed.clone()),
        (200, json!([])),
        "no parts yet: an empty list"
    );

    let mut etags = vec![];
    for (i, data) in parts.iter().enumerate() {
        let (status, etag) = put_part(&cfg, &key, &id, i as u32 + 1, data, i == 0).await;
        assert_eq!(status, 200, "part {}: {etag}", i + 1);
        etags.push(etag);
    }

    assert!(
        upload_files(&id).len() >= 3,
        "s3s-fs keeps the parts: {:?}",
        upload_files(&id)
    );
    // A page reload: Uppy asks what S3 holds, and resumes from it.
    let (status, listed) = call(
        &cfg,
        "GET",
        &upload_path(&id, ""),
        &[("key", &key)],
        None,
        "alice",
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    let listed = listed.as_array().unwrap();
    let numbers: Vec<u64> = listed
        .iter()
        .map(|p| p["PartNumber"].as_u64().unwrap())
        .collect();
    let listed_sizes: Vec<usize> = listed
        .iter()
        .map(|p| p["Size"].as_u64().unwrap() as usize)
        .collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert_eq!(listed_sizes, sizes);

    let body = json!({"parts": etags.iter().enumerate()
        .map(|(i, e)| json!({"PartNumber": i + 1, "ETag": e})).collect::<Vec<_>>()});
    let (status, done) = call(
        &cfg,
        "POST",
        &upload_path(&id, "/complete"),
        &[("key", &key)],
        Some(body),
        "alice",
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["key"], key.as_str());
    assert_eq!(done["bucket"], BUCKET);
    let location = done["location"].as_str().unwrap();
    assert!(
        location.starts_with(&format!(
            "http://127.0.0.1:{}/{BUCKET}/uploads/alice/",
            s3().0
        )),
        "{location}"
    );
    assert!(
        stored(&key) == Some(parts.concat()),
        "the object is the parts in order"
    );
    assert_eq!(
        upload_files(&id),
        Vec::<String>::new(),
        "nothing of the upload is left"
    );
}

#[tokio::test]
async fn a_part_url_asked_with_its_size_signs_content_length_and_s3_refuses_another_body() {
    let cfg = cfg(None);
    let (key, id) = create(&cfg, "f.bin", "alice").await;
    let (status, body) = call(
        &cfg,
        "GET",
        &upload_path(&id, "/1"),
        &[("key", &key), ("size", "10")],
        None,
        "alice",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let url = body["url"].as_str().unwrap();
    assert!(
        url.contains("X-Amz-SignedHeaders=content-length%3Bhost"),
        "{url}"
    );
    let (status, answer) = put(url, &[0u8; 11]);
    assert_eq!(
        status, 403,
        "a body of another length breaks the signature: {answer}"
    );
    let (status, _) = put(url, &[0u8; 10]);
    assert_eq!(status, 200);
}

#[tokio::test]
async fn parts_over_the_limit_are_refused_at_complete_and_the_upload_is_aborted() {
    let max = MIB5 as u64 + 1024;
    let cfg = cfg(Some(max));
    let (key, id) = create(&cfg, "f.bin", "alice").await;
    let mut parts = vec![];
    for (n, size) in [(1u32, MIB5), (2, 2048)] {
        let (status, etag) = put_part(&cfg, &key, &id, n, &vec![7u8; size], false).await;
        assert_eq!(status, 200, "{etag}");
        parts.push(json!({"PartNumber": n, "ETag": etag}));
    }
    let (status, body) = call(
        &cfg,
        "POST",
        &upload_path(&id, "/complete"),
        &[("key", &key)],
        Some(json!({ "parts": parts })),
        "alice",
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"], "too_large");
    let message = body["message"].as_str().unwrap();
    let total = MIB5 + 2048;
    assert!(
        message.contains(&format!(
            "{total} bytes is over the limit of {max}; the upload was aborted"
        )),
        "{message}"
    );
    assert_eq!(stored(&key), None, "no object");
    assert_eq!(
        upload_files(&id),
        Vec::<String>::new(),
        "no incomplete upload left"
    );
}

#[tokio::test]
async fn a_declared_size_over_the_limit_is_refused_before_any_upload_starts() {
    let cfg = cfg(Some(1500));
    let (status, body) = call(
        &cfg,
        "POST",
        "/s3/multipart",
        &[],
        Some(json!({"filename": "f.bin", "type": "application/octet-stream", "size": 1501})),
        "alice",
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (413, json!("too_large")),
        "{body}"
    );
    let (status, body) = call(
        &cfg,
        "GET",
        &upload_path("some-id", "/1"),
        &[
            (
                "key",
                "uploads/alice/0123456789abcdef0123456789abcdef/f.bin",
            ),
            ("size", "1501"),
        ],
        None,
        "alice",
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (413, json!("too_large")),
        "{body}"
    );
}

#[tokio::test]
async fn completing_onto_an_existing_object_does_not_replace_it() {
    let cfg = cfg(None);
    let (key, id) = create(&cfg, "f.bin", "alice").await;
    let (status, etag) = put_part(&cfg, &key, &id, 1, b"the upload", false).await;
    assert_eq!(status, 200, "{etag}");
    // Someone else's object lands on the key first (a plain PUT with the deployer's rights).
    let presigner = signer(&cfg);
    let url = presigner.presign(&PresignRequest {
        method: "PUT",
        key: &key,
        expires_seconds: 60,
        headers: &[],
        query: &[],
        time: SigningTime { unix: now() },
    });
    assert_eq!(put(&url, b"first").0, 200);
    let (status, body) = call(
        &cfg,
        "POST",
        &upload_path(&id, "/complete"),
        &[("key", &key)],
        Some(json!({"parts": [{"PartNumber": 1, "ETag": etag}]})),
        "alice",
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "key_exists");
    assert_eq!(
        stored(&key).as_deref(),
        Some(&b"first"[..]),
        "the object is unchanged"
    );
}

#[tokio::test]
async fn another_caller_can_neither_sign_list_complete_nor_abort_the_upload() {
    let cfg = cfg(None);
    let (key, id) = create(&cfg, "f.bin", "alice").await;
    let (status, etag) = put_part(&cfg, &key, &id, 1, b"alice's part", false).await;
    assert_eq!(status, 200, "{etag}");
    let complete = json!({"parts": [{"PartNumber": 1, "ETag": etag}]});
    for (method, rest, body) in [
        ("GET", "/1", None),
        ("GET", "", None),
        ("POST", "/complete", Some(complete.clone())),
        ("DELETE", "", None),
    ] {
        let (status, answer) = call(
            &cfg,
            method,
            &upload_path(&id, rest),
            &[("key", &key)],
            body,
            "mallory",
        )
        .await;
        assert_eq!(status, 403, "{method} {rest}: {answer}");
        assert_eq!(answer["error"], "not_yours", "{method} {rest}");
    }
    // Alice's upload is untouched: she lists her part, and abort then removes it.
    let (status, listed) = call(
        &cfg,
        "GET",
        &upload_path(&id, ""),
        &[("key", &key)],
        None,
        "alice",
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    let (status, body) = call(
        &cfg,
        "DELETE",
        &upload_path(&id, ""),
        &[("key", &key)],
        None,
        "alice",
    )
    .await;
    assert_eq!((status, body), (200, json!({})));
    assert_eq!(
        upload_files(&id),
        Vec::<String>::new(),
        "aborted: no part is left"
    );
    assert_eq!(stored(&key), None);
}

#[tokio::test]
async fn caller_mistakes_are_4xx_with_the_error_and_a_message() {
    let cfg = cfg(None);
    let key = "uploads/alice/0123456789abcdef0123456789abcdef/f.bin";
    for (method, path, query, body, status, error) in [
        (
            "POST",
            "/s3/multipart".to_string(),
            vec![],
            Some(json!({"filename": "f"})),
            400,
            "missing_type",
        ),
        (
            "POST",
            "/s3/multipart".to_string(),
            vec![],
            Some(json!({"filename": "f", "type": "image/gif"})),
            400,
            "content_type_not_allowed",
        ),
        (
            "POST",
            "/s3/multipart".to_string(),
            vec![],
            None,
            400,
            "invalid_body",
        ),
        (
            "GET",
            upload_path("id", "/1"),
            vec![],
            None,
            400,
            "missing_key",
        ),
        (
            "GET",
            upload_path("id", "/0"),
            vec![("key", key)],
            None,
            400,
            "invalid_part_number",
        ),
        (
            "GET",
            upload_path("id", "/10001"),
            vec![("key", key)],
            None,
            400,
            "invalid_part_number",
        ),
        (
            "GET",
            upload_path("id", "/1"),
            vec![("key", "uploads/alice/../bob/x")],
            None,
            403,
            "not_yours",
        ),
        (
            "GET",
            upload_path("id", "/1"),
            vec![("key", key), ("size", "ten")],
            None,
            400,
            "invalid_size",
        ),
        (
            "POST",
            upload_path("id", "/complete"),
            vec![("key", key)],
            Some(json!({"parts": []})),
            400,
            "invalid_parts",
        ),
        (
            "POST",
            upload_path("id", "/complete"),
            vec![("key", key)],
            Some(
                json!({"parts": [{"PartNumber": 2, "ETag": "a"}, {"PartNumber": 1, "ETag": "b"}]}),
            ),
            400,
            "invalid_parts",
        ),
        (
            "PUT",
            upload_path("id", ""),
            vec![("key", key)],
            None,
            404,
            "not_found",
        ),
    ] {
        let (got, answer) = call(&cfg, method, &path, &query, body, "alice").await;
        assert_eq!(
            (got, answer["error"].as_str()),
            (status, Some(error)),
            "{method} {path}: {answer}"
        );
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{answer}"
        );
    }
}

/// `uploads.checksum: sha256` on the multipart routes: create names the algorithm, a part URL
/// needs the part's declared checksum and signs it, and complete hands S3 each part's checksum
/// (which S3 requires for an upload created with an algorithm,
/// <https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html>). s3s-fs
/// does not compare a part's body with its checksum (its PutObject does): that S3 refuses a part
/// that does not match is shown on the PUT path (e2e_s3s.rs) and documented in docs/signer.md.
#[tokio::test]
async fn with_checksums_on_a_part_url_signs_the_parts_declared_sha256() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let cfg = Config {
        checksum: Some(presign_signer::config::Checksum::Sha256),
        uppy_put: false,
        ..cfg(None)
    };
    let (key, id) = create(&cfg, "summed.bin", "alice").await;
    let data = vec![b'z'; 1000];
    let sum = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&data));
    let part = upload_path(&id, "/1");

    let (status, body) = call(&cfg, "GET", &part, &[("key", &key)], None, "alice").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("missing_checksum"))
    );
    let empty = presign_signer::config::Checksum::Sha256.of_empty_body();
    let (status, body) = call(
        &cfg,
        "GET",
        &part,
        &[("key", &key), ("checksum", empty)],
        None,
        "alice",
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("empty_body_checksum"))
    );

    let (status, body) = call(
        &cfg,
        "GET",
        &part,
        &[("key", &key), ("checksum", &sum)],
        None,
        "alice",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["headers"]["x-amz-checksum-sha256"], sum.as_str());
    let url = body["url"].as_str().unwrap();
    assert!(url.contains("x-amz-checksum-sha256"), "{url}");
    // Without the signed header the URL is refused; with it, the part lands.
    assert_eq!(put(url, &data).0, 403);
    let (status, etag) = put_with(url, &[("x-amz-checksum-sha256", &sum)], &data);
    assert_eq!(status, 200, "{etag}");
    let (status, done) = call(
        &cfg,
        "POST",
        &upload_path(&id, "/complete"),
        &[("key", &key)],
        Some(json!({"parts": [{"PartNumber": 1, "ETag": etag}]})),
        "alice",
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(stored(&key).as_deref(), Some(data.as_slice()));
}

/// Uppy's `createMultipartUpload` sends the file's metadata in the create body: it is signed on
/// S3's CreateMultipartUpload as `x-amz-meta-*` and stored with the completed object.
#[tokio::test]
async fn the_metadata_given_at_create_is_stored_with_the_object() {
    use base64::Engine as _;
    let cfg = cfg(None);
    let (status, body) = call(
        &cfg,
        "POST",
        "/s3/multipart",
        &[],
        Some(json!({
            "filename": "m.bin", "type": "application/octet-stream",
            "metadata": {"Caption": "Grüße", "relativePath": null, "size": 4}
        })),
        "alice",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (key, id) = (
        body["key"].as_str().unwrap().to_string(),
        body["uploadId"].as_str().unwrap().to_string(),
    );
    let (status, etag) = put_part(&cfg, &key, &id, 1, b"data", false).await;
    assert_eq!(status, 200, "{etag}");
    let (status, body) = call(
        &cfg,
        "POST",
        &upload_path(&id, "/complete"),
        &[("key", &key)],
        Some(json!({"parts": [{"PartNumber": 1, "ETag": etag}]})),
        "alice",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let encode = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let record = s3().1.join(format!(
        ".bucket-{}.object-{}.metadata.json",
        encode(BUCKET),
        encode(&key)
    ));
    let record: Value = serde_json::from_str(&std::fs::read_to_string(record).unwrap()).unwrap();
    let meta = &record["user_metadata"];
    assert_eq!(meta["caption"], "Grüße", "{record}");
    assert_eq!(meta["size"], "4", "{record}");

    let (status, body) = call(
        &cfg,
        "POST",
        "/s3/multipart",
        &[],
        Some(json!({
            "filename": "m.bin", "type": "application/octet-stream",
            "metadata": {"bad name": "x"}
        })),
        "alice",
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_metadata")),
        "{body}"
    );
}
