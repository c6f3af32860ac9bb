//! Uppy's simple upload (`GET /s3/params`) end to end against a signature-checking S3 server
//! (s3s-fs 0.14.1, which verifies SigV4 POST signatures and every policy condition): the
//! handler chooses the key and signs a form, the client POSTs the file as a browser form would,
//! and S3 itself refuses what the policy does not allow (a body outside the size range, another
//! content type, another key).

mod s3s;

use std::path::PathBuf;

use presign_signer::{handler, Config};
use s3s::{now, server, signer};

const BUCKET: &str = "uppy-bucket";

fn s3() -> &'static (u16, PathBuf) {
    s3s::s3(BUCKET)
}

fn cfg(min: Option<u64>, max: Option<u64>) -> Config {
    Config {
        bucket: BUCKET.into(),
        prefix: "uploads/".into(),
        allowed_content_types: vec!["image/png".into(), "text/plain".into()],
        expires_seconds: 300,
        max_size_bytes: max,
        min_size_bytes: min,
        uppy: true,
        multipart: false,
        allow_downloads: false,
        checksum: None,
        uppy_put: false,
        region: "us-east-1".into(),
        endpoint: Some(format!("http://127.0.0.1:{}", s3().0)),
    }
}

/// The handler's answer to `GET /s3/params` with these (decoded) parameters, as API Gateway
/// passes the request on; `sub`: the JWT authorizer's verified subject.
fn params(cfg: &Config, query: &[(&str, &str)], sub: Option<&str>) -> (u16, serde_json::Value) {
    let q: serde_json::Map<String, serde_json::Value> = query
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
        .collect();
    let mut context = serde_json::json!({"http": {"method": "GET", "path": "/s3/params"}});
    if let Some(sub) = sub {
        context["authorizer"] =
            serde_json::json!({"jwt": {"claims": {"sub": sub}, "scopes": null}});
    }
    let event = serde_json::json!({
        "version": "2.0", "routeKey": "GET /s3/params", "rawPath": "/s3/params",
        "queryStringParameters": q, "requestContext": context, "isBase64Encoded": false
    });
    let event: handler::Event = serde_json::from_value(event).unwrap();
    let (response, _) = handler::handle(cfg, &signer(cfg), &event, now());
    (
        response.status_code,
        serde_json::from_str(&response.body).unwrap(),
    )
}

/// POSTs `fields` then the file as `multipart/form-data`, as a browser form does: (status, body).
fn post_form(
    url: &str,
    fields: &[(String, String)],
    file: &[u8],
    file_type: &str,
) -> (u16, String) {
    let boundary = "----presignstackboundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\nContent-Type: {file_type}\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let (status, _, text) = server::http_exchange(
        host,
        "POST",
        path,
        &[("Content-Type", &content_type)],
        &body,
    )
    .unwrap_or_else(|| panic!("no answer from s3s-fs for POST {url}"));
    (status, text)
}

fn fields_of(answer: &serde_json::Value) -> Vec<(String, String)> {
    answer["fields"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

fn field(answer: &serde_json::Value, name: &str) -> String {
    answer["fields"][name].as_str().unwrap().to_string()
}

fn stored(key: &str) -> PathBuf {
    s3().1.join(BUCKET).join(key)
}

#[test]
fn a_small_file_lands_at_a_key_the_server_chose() {
    let cfg = cfg(None, Some(1000));
    let (status, answer) = params(
        &cfg,
        &[("filename", "My Cat (1).png"), ("type", "image/png")],
        None,
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["method"], "POST");
    assert_eq!(answer["expires"], 300);
    let key = field(&answer, "key");
    let parts: Vec<&str> = key.split('/').collect();
    assert_eq!(parts.len(), 3, "{key}");
    assert_eq!(parts[0], "uploads");
    assert!(
        parts[1].len() == 32 && parts[1].bytes().all(|b| b.is_ascii_hexdigit()),
        "{key}"
    );
    assert_eq!(parts[2], "My_Cat__1_.png");
    let (status, text) = post_form(
        answer["url"].as_str().unwrap(),
        &fields_of(&answer),
        b"PNG bytes",
        "image/png",
    );
    assert_eq!(status, 201, "success_action_status 201: {text}");
    assert_eq!(std::fs::read(stored(&key)).unwrap(), b"PNG bytes");
}

#[test]
fn the_same_name_twice_gets_two_keys_so_nothing_is_overwritten() {
    let cfg = cfg(None, None);
    let ask = || params(&cfg, &[("filename", "a.txt"), ("type", "text/plain")], None).1;
    let (first, second) = (ask(), ask());
    assert_ne!(field(&first, "key"), field(&second, "key"));
    for (answer, body) in [(&first, &b"first"[..]), (&second, &b"second"[..])] {
        let (status, text) = post_form(
            answer["url"].as_str().unwrap(),
            &fields_of(answer),
            body,
            "text/plain",
        );
        assert_eq!(status, 201, "{text}");
    }
    assert_eq!(
        std::fs::read(stored(&field(&first, "key"))).unwrap(),
        b"first"
    );
    assert_eq!(
        std::fs::read(stored(&field(&second, "key"))).unwrap(),
        b"second"
    );
}

#[test]
fn s3_refuses_a_body_outside_the_size_range() {
    let cfg = cfg(Some(4), Some(10));
    for (body, code) in [
        (&b"0123456789X"[..], "EntityTooLarge"),
        (&b"abc"[..], "EntityTooSmall"),
    ] {
        let (_, answer) = params(&cfg, &[("filename", "n.txt"), ("type", "text/plain")], None);
        let (status, text) = post_form(
            answer["url"].as_str().unwrap(),
            &fields_of(&answer),
            body,
            "text/plain",
        );
        assert_eq!(status, 400, "{text}");
        assert!(text.contains(code), "{text}");
        assert!(!stored(&field(&answer, "key")).exists());
    }
    let (_, answer) = params(&cfg, &[("filename", "n.txt"), ("type", "text/plain")], None);
    let (status, text) = post_form(
        answer["url"].as_str().unwrap(),
        &fields_of(&answer),
        b"0123456789",
        "text/plain",
    );
    assert_eq!(status, 201, "exactly the maximum is allowed: {text}");
}

#[test]
fn s3_refuses_a_form_whose_key_or_type_was_changed() {
    let cfg = cfg(None, None);
    let (_, answer) = params(&cfg, &[("filename", "a.png"), ("type", "image/png")], None);
    let url = answer["url"].as_str().unwrap();
    for (name, value) in [
        ("key", "uploads/chosen-by-the-client.png"),
        ("Content-Type", "text/html"),
    ] {
        let fields: Vec<(String, String)> = fields_of(&answer)
            .into_iter()
            .map(|(k, v)| {
                if k == name {
                    (k, value.to_string())
                } else {
                    (k, v)
                }
            })
            .collect();
        // s3s-fs answers 400 InvalidPolicyDocument naming the condition; S3 answers a refused
        // condition with 403 AccessDenied "Invalid according to Policy" (docs/signer.md). Both
        // refuse, and nothing is stored.
        let (status, text) = post_form(url, &fields, b"x", "image/png");
        assert!(
            status == 400 || status == 403,
            "{name} changed: {status} {text}"
        );
        assert!(
            text.contains("Policy")
                && text
                    .to_ascii_lowercase()
                    .contains(&name.to_ascii_lowercase()),
            "{name} changed: {text}"
        );
        assert!(!stored("uploads/chosen-by-the-client.png").exists());
    }
    let mut tampered = fields_of(&answer);
    for (k, v) in &mut tampered {
        if k == "x-amz-signature" {
            v.replace_range(..1, if v.starts_with('0') { "1" } else { "0" });
        }
    }
    let (status, text) = post_form(url, &tampered, b"x", "image/png");
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("SignatureDoesNotMatch"), "{text}");
}

#[test]
fn a_file_name_is_a_name_never_a_path() {
    let cfg = cfg(None, None);
    for (name, last) in [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("...hidden", "hidden"),
        ("/", "file"),
        ("猫.png", "_.png"),
    ] {
        let (status, answer) = params(&cfg, &[("filename", name), ("type", "text/plain")], None);
        assert_eq!(status, 200, "{answer}");
        let key = field(&answer, "key");
        assert!(
            key.starts_with("uploads/") && !key.contains(".."),
            "{name} → {key}"
        );
        assert_eq!(key.rsplit('/').next().unwrap(), last, "{name} → {key}");
    }
}

#[test]
fn with_a_token_the_key_is_under_the_callers_folder() {
    let cfg = cfg(None, None);
    let (status, answer) = params(
        &cfg,
        &[("filename", "a.png"), ("type", "image/png")],
        Some("user-42"),
    );
    assert_eq!(status, 200, "{answer}");
    assert!(
        field(&answer, "key").starts_with("uploads/user-42/"),
        "{answer}"
    );
    let (status, answer) = params(
        &cfg,
        &[("filename", "a.png"), ("type", "image/png")],
        Some("../admin"),
    );
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_user"))
    );
}

#[test]
fn caller_mistakes_are_400s_with_a_code() {
    let cfg = cfg(None, None);
    for (query, code) in [
        (vec![("type", "image/png")], "missing_filename"),
        (vec![("filename", "a.png")], "missing_type"),
        (
            vec![("filename", "a.html"), ("type", "text/html")],
            "content_type_not_allowed",
        ),
    ] {
        let (status, answer) = params(&cfg, &query, None);
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some(code)),
            "{answer}"
        );
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // With Uppy's routes off, the path is not served: the signing route answers as before.
    let mut off = cfg.clone();
    off.uppy = false;
    let (status, answer) = params(&off, &[("filename", "a.png"), ("type", "image/png")], None);
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("missing_filekey"))
    );
}

/// The user metadata s3s-fs stored with `key` (its own record beside the object).
fn stored_metadata(key: &str) -> serde_json::Value {
    use base64::Engine as _;
    let encode = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let record = s3().1.join(format!(
        ".bucket-{}.object-{}.metadata.json",
        encode(BUCKET),
        encode(key)
    ));
    let text = std::fs::read_to_string(&record)
        .unwrap_or_else(|e| panic!("no metadata record for {key}: {e}"));
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["user_metadata"].clone()
}

/// PUTs `body` to a `/s3/params` PUT answer with the headers it names (the exchange adds its
/// own Content-Length, from the body): the status and S3's text.
fn put_answer(answer: &serde_json::Value, body: &[u8]) -> (u16, String) {
    let url = answer["url"].as_str().unwrap();
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let headers: Vec<(&str, &str)> = answer["headers"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("content-length"))
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
        .collect();
    let (status, _, text) = server::http_exchange(host, "PUT", path, &headers, body)
        .unwrap_or_else(|| panic!("no answer from s3s-fs for PUT {url}"));
    (status, text)
}

#[test]
fn the_metadata_uppy_sends_travels_in_the_form_and_is_stored() {
    let cfg = cfg(None, None);
    let (status, answer) = params(
        &cfg,
        &[
            ("filename", "a.png"),
            ("type", "image/png"),
            ("metadata[Caption]", "my cat"),
            ("metadata[name]", "a.png"),
        ],
        None,
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(field(&answer, "x-amz-meta-caption"), "my cat");
    let key = field(&answer, "key");
    let (status, text) = post_form(
        answer["url"].as_str().unwrap(),
        &fields_of(&answer),
        b"png",
        "image/png",
    );
    assert_eq!(status, 201, "{text}");
    let meta = stored_metadata(&key);
    assert_eq!(meta["caption"], "my cat", "{meta}");
    assert_eq!(meta["name"], "a.png", "{meta}");

    // Each metadata field is an exact condition of the policy: another value is refused.
    let (_, answer) = params(
        &cfg,
        &[
            ("filename", "b.png"),
            ("type", "image/png"),
            ("metadata[caption]", "signed"),
        ],
        None,
    );
    let fields: Vec<(String, String)> = fields_of(&answer)
        .into_iter()
        .map(|(k, v)| {
            if k == "x-amz-meta-caption" {
                (k, "changed".into())
            } else {
                (k, v)
            }
        })
        .collect();
    let (status, text) = post_form(answer["url"].as_str().unwrap(), &fields, b"x", "image/png");
    assert!(status == 400 || status == 403, "{status} {text}");
    assert!(!stored(&field(&answer, "key")).exists());
}

#[test]
fn metadata_outside_s3s_rules_is_a_400_naming_it() {
    let cfg = cfg(None, None);
    let long = "v".repeat(2100);
    for (meta, code) in [
        (vec![("metadata[bad name]", "x")], "invalid_metadata"),
        (vec![("metadata[]", "x")], "invalid_metadata"),
        (
            vec![("metadata[Tag]", "a"), ("metadata[tag]", "b")],
            "invalid_metadata",
        ),
        (vec![("metadata[note]", "line\nbreak")], "invalid_metadata"),
        (
            vec![("metadata[note]", long.as_str())],
            "metadata_too_large",
        ),
    ] {
        let mut query = vec![("filename", "a.png"), ("type", "image/png")];
        query.extend(meta.iter().copied());
        let (status, answer) = params(&cfg, &query, None);
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some(code)),
            "{meta:?}: {answer}"
        );
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[test]
fn a_post_form_refuses_a_checksum_it_cannot_carry() {
    let cfg = cfg(None, None);
    let (status, answer) = params(
        &cfg,
        &[
            ("filename", "a.png"),
            ("type", "image/png"),
            ("checksum", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="),
        ],
        None,
    );
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("checksum_not_supported")),
        "{answer}"
    );
}

fn put_cfg(min: Option<u64>, max: Option<u64>) -> Config {
    Config {
        uppy_put: true,
        ..cfg(min, max)
    }
}

#[test]
fn a_put_answer_lands_once_and_never_replaces_an_object() {
    let cfg = put_cfg(None, Some(100));
    let (status, answer) = params(
        &cfg,
        &[
            ("filename", "note.txt"),
            ("type", "text/plain"),
            ("size", "5"),
            ("metadata[Caption]", "Café crème"),
        ],
        None,
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["method"], "PUT");
    let headers = &answer["headers"];
    assert_eq!(headers["Content-Type"], "text/plain");
    assert_eq!(headers["If-None-Match"], "*");
    assert_eq!(headers["Content-Length"], "5");
    // Not ASCII: RFC 2047-encoded as the AWS SDKs send it, and S3 stores it decoded.
    assert_eq!(
        headers["x-amz-meta-caption"], "=?UTF-8?B?Q2Fmw6kgY3LDqG1l?=",
        "{answer}"
    );
    let key = answer["key"].as_str().unwrap().to_string();
    assert!(
        key.starts_with("uploads/") && key.ends_with("/note.txt"),
        "{key}"
    );

    let (status, text) = put_answer(&answer, b"hello");
    assert_eq!(status, 200, "{text}");
    assert_eq!(std::fs::read(stored(&key)).unwrap(), b"hello");
    assert_eq!(stored_metadata(&key)["caption"], "Café crème");

    // The same URL again: the object exists, and If-None-Match: * makes S3 refuse to replace it.
    let (status, text) = put_answer(&answer, b"HELLO");
    assert_eq!(status, 412, "{text}");
    assert_eq!(std::fs::read(stored(&key)).unwrap(), b"hello");
}

#[test]
fn a_put_answer_signs_the_declared_length() {
    let cfg = put_cfg(None, Some(100));
    let (_, answer) = params(
        &cfg,
        &[("filename", "n.txt"), ("type", "text/plain"), ("size", "5")],
        None,
    );
    let (status, text) = put_answer(&answer, b"hello!");
    assert_eq!(status, 403, "another length than the signed one: {text}");
    assert!(text.contains("SignatureDoesNotMatch"), "{text}");
    assert!(!stored(answer["key"].as_str().unwrap()).exists());
}

#[test]
fn a_put_answer_checks_the_declared_size_against_the_limits() {
    let cfg = put_cfg(Some(4), Some(10));
    for (size, code) in [
        (None, "missing_size"),
        (Some("abc"), "invalid_size"),
        (Some("3"), "too_small"),
        (Some("11"), "too_large"),
    ] {
        let mut query = vec![("filename", "n.txt"), ("type", "text/plain")];
        if let Some(size) = size {
            query.push(("size", size));
        }
        let (status, answer) = params(&cfg, &query, None);
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some(code)),
            "size {size:?}: {answer}"
        );
    }
    // Without limits a size is optional, and S3's own 5 GiB is the bound.
    let (status, answer) = params(
        &put_cfg(None, None),
        &[("filename", "n.txt"), ("type", "text/plain")],
        None,
    );
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["headers"].get("Content-Length").is_none(),
        "{answer}"
    );
}
