//! `presign-stack dev` answers exactly as the deployed Lambda handler would: the same status and
//! the same body for the same inputs, with the configuration deploy gave the function (read
//! back from the emulator), and it applies the API's CORS origins as API Gateway does.

mod support;

use std::collections::BTreeMap;

use presign_signer::handler::{self, Event, Query};
use presign_signer::{Config, Credentials, Presigner};
use presign_stack::commands::ExitStatus;
use support::{http_request, lambda, DevServer, TestStack};

const ALLOWED: &str = "https://app.example.com";

fn spec() -> String {
    format!(
        "bucket:\n  enforce_tls: false\n  cors:\n    - allowed_origins: [\"{ALLOWED}\"]\n      allowed_methods: [PUT]\n      allowed_headers: [content-type]\nuploads:\n  prefix: uploads/\n  allowed_content_types: [image/jpeg, image/png]\n  max_size_bytes: 1000000\napi:\n  route: /sign\n  cors_origins: [\"{ALLOWED}\"]\n"
    )
}

/// The Lambda's configuration as deploy set it: the function's environment, read back.
async fn deployed_config(stack: &TestStack) -> Config {
    let function = lambda()
        .await
        .get_function_configuration()
        .function_name(format!("{}-signer", stack.name))
        .send()
        .await
        .expect("the deployed function");
    let mut env: BTreeMap<String, String> = function
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .collect();
    // What Lambda itself adds, and the emulator's endpoint (path-style URLs).
    env.insert("AWS_REGION".into(), support::REGION.into());
    env.insert("PRESIGN_S3_ENDPOINT".into(), support::endpoint().into());
    Config::from_env(|name| env.get(name).cloned()).expect("the function's configuration")
}

/// `X-Amz-Date` of a signed URL, as seconds since the epoch.
fn signing_time(url: &str) -> u64 {
    let date = url
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("X-Amz-Date="))
        .expect("X-Amz-Date");
    presign_stack::clock::parse_amz_date(date).expect("a SigV4 date")
}

/// Query string → API Gateway's decoded parameters (the four the signer reads).
fn event_for(params: &[(&str, &str)]) -> Event {
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    };
    Event {
        query: (!params.is_empty()).then(|| Query {
            filekey: get("filekey"),
            content_type: get("contentType"),
            method: get("method"),
            size: get("size"),
            filename: get("filename"),
            file_type: get("type"),
            key: get("key"),
            checksum: get("checksum"),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    presign_signer::sign::uri_encode(&mut out, s, false);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_answers_as_the_deployed_handler_does_and_applies_cors() {
    let stack = TestStack::new("dev", &spec());
    stack
        .expect(&["deploy", "--yes"], ExitStatus::Success)
        .await;
    let cfg = deployed_config(&stack).await;
    let signer = Presigner::new(
        Credentials {
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
            session_token: None,
        },
        &cfg.region,
        &cfg.bucket,
        cfg.endpoint.as_deref(),
    );
    let dev = DevServer::start(&stack.spec());

    let cases: &[&[(&str, &str)]] = &[
        &[("filekey", "cat.jpg"), ("contentType", "image/jpeg")],
        &[
            ("filekey", "holiday photos/été 2026.png"),
            ("contentType", "IMAGE/PNG"),
        ],
        &[
            ("filekey", "cat.jpg"),
            ("contentType", "image/jpeg"),
            ("size", "2048"),
        ],
        &[
            ("filekey", "cat.jpg"),
            ("contentType", "image/jpeg"),
            ("size", "99999999"),
        ],
        &[("filekey", "../etc/passwd"), ("contentType", "image/jpeg")],
        &[("filekey", "a%2e%2e/b"), ("contentType", "image/jpeg")],
        &[("filekey", "cat.gif"), ("contentType", "image/gif")],
        &[
            ("filekey", "cat.jpg"),
            ("contentType", "image/png; charset=utf-8"),
        ],
        &[("filekey", "cat.jpg"), ("method", "GET")],
        &[("filekey", "cat.jpg"), ("method", "DELETE")],
        &[("contentType", "image/jpeg")],
        &[
            ("filekey", "a\u{202E}b.jpg"),
            ("contentType", "image/jpeg"),
            ("size", "1"),
        ],
        &[
            ("filekey", "a\u{2215}b.jpg"),
            ("contentType", "image/jpeg"),
            ("size", "1"),
        ],
        &[],
    ];
    for params in cases {
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        let (status, headers, body) =
            http_request(&dev.base, "GET", &format!("/sign?{}", query.join("&")), &[]);
        let now = if status == 200 {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            signing_time(v["signed_url"].as_str().unwrap())
        } else {
            0
        };
        let (lambda_response, _) = handler::handle(&cfg, &signer, &event_for(params), now);
        assert_eq!(
            (status, body.as_str()),
            (lambda_response.status_code, lambda_response.body.as_str()),
            "dev and the Lambda handler differ for {params:?}\n{}",
            dev.banner
        );
        let header = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("content-type"), Some("application/json"));
        assert_eq!(header("cache-control"), Some("no-store"));
        assert_eq!(
            header("access-control-allow-origin"),
            None,
            "no Origin, no CORS header"
        );
    }

    // CORS as API Gateway applies api.cors_origins.
    let (status, headers, _) = http_request(
        &dev.base,
        "OPTIONS",
        "/sign",
        &[
            ("Origin", ALLOWED),
            ("Access-Control-Request-Method", "GET"),
        ],
    );
    assert_eq!(status, 204);
    assert!(headers.contains(&("access-control-allow-origin".into(), ALLOWED.into())));
    let (status, headers, _) = http_request(
        &dev.base,
        "OPTIONS",
        "/sign",
        &[
            ("Origin", "https://evil.example"),
            ("Access-Control-Request-Method", "GET"),
        ],
    );
    assert_eq!(status, 403, "a preflight from another origin is refused");
    assert!(headers
        .iter()
        .all(|(k, _)| k != "access-control-allow-origin"));
    let q = "/sign?filekey=cat.jpg&contentType=image%2Fjpeg&size=10";
    let (_, headers, _) = http_request(&dev.base, "GET", q, &[("Origin", ALLOWED)]);
    assert!(headers.contains(&("access-control-allow-origin".into(), ALLOWED.into())));
    let (status, headers, _) =
        http_request(&dev.base, "GET", q, &[("Origin", "https://evil.example")]);
    assert_eq!(status, 200, "the API answers; the browser withholds it");
    assert!(headers
        .iter()
        .all(|(k, _)| k != "access-control-allow-origin"));
    let (status, _, body) = http_request(&dev.base, "GET", "/other", &[]);
    assert_eq!((status, body.as_str()), (404, r#"{"message":"Not Found"}"#));
}

#[test]
fn dev_warns_when_the_bucket_does_not_exist_yet() {
    let stack = TestStack::new("dev-undeployed", &spec());
    let dev = DevServer::start(&stack.spec());
    // Written before the address line, but read by another thread: wait for it.
    support::wait_until(
        std::time::Duration::from_secs(10),
        "the missing-bucket warning",
        || {
            let stderr = dev.stderr.lock().unwrap();
            stderr.contains("does not exist yet") && stderr.contains("presign-stack deploy")
        },
    );
    // It still answers: a front end can be started before the first deploy.
    let (status, _, _) = http_request(
        &dev.base,
        "GET",
        "/sign?filekey=a.jpg&contentType=image%2Fjpeg&size=10",
        &[],
    );
    assert_eq!(status, 200);
}

/// `dev` answers Uppy's `/s3/params` with the function's own routing when the signer's
/// configuration turns it on, and API Gateway's 404 otherwise.
#[tokio::test]
async fn dev_serves_uppys_params_route_only_when_it_is_on() {
    use presign_stack::commands::dev::{Api, DevRequest};
    let cfg = |uppy: bool| Config {
        bucket: "b".into(),
        prefix: "uploads/".into(),
        allowed_content_types: vec!["image/png".into()],
        expires_seconds: 300,
        max_size_bytes: Some(1000),
        min_size_bytes: None,
        uppy,
        multipart: false,
        allow_downloads: false,
        checksum: None,
        uppy_put: false,
        region: "us-east-1".into(),
        endpoint: Some("http://127.0.0.1:9".into()),
    };
    let api = |uppy: bool| Api {
        signer: Presigner::new(
            Credentials {
                access_key_id: "AKID".into(),
                secret_access_key: "secret".into(),
                session_token: None,
            },
            "us-east-1",
            "b",
            Some("http://127.0.0.1:9"),
        ),
        cfg: cfg(uppy),
        route: "/sign".into(),
        cors_origins: vec![],
        cors_allow_headers: vec![],
        jwt: None,
    };
    let request = DevRequest {
        method: "GET",
        path: "/s3/params",
        query: "filename=a%20b.png&type=image%2Fpng",
        origin: None,
        authorization: None,
        body: b"",
    };
    let on = api(true).answer(&request, 1_800_000_000).await;
    assert_eq!(on.status, 200, "{}", on.body);
    let body: serde_json::Value = serde_json::from_str(&on.body).unwrap();
    assert_eq!(body["method"], "POST");
    assert_eq!(body["url"], "http://127.0.0.1:9/b/");
    let key = body["fields"]["key"].as_str().unwrap();
    assert!(
        key.starts_with("uploads/") && key.ends_with("/a_b.png"),
        "{key}"
    );
    let policy = body["fields"]["policy"].as_str().unwrap();
    use base64::Engine as _;
    let policy: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(policy)
            .unwrap(),
    )
    .unwrap();
    let conditions = policy["conditions"].as_array().unwrap();
    assert!(conditions.contains(&serde_json::json!(["content-length-range", 0, 1000])));
    assert!(conditions.contains(&serde_json::json!({"key": key})));
    assert!(conditions.contains(&serde_json::json!({"bucket": "b"})));
    assert_eq!(policy["expiration"], "2027-01-15T08:05:00.000Z");
    let off = api(false).answer(&request, 1_800_000_000).await;
    assert_eq!(off.status, 404, "{}", off.body);

    // The write-up's `curl <gateway-url>?filekey=mysecretfile.jpeg&contentType=image%2Fjpeg`
    // answers exactly as before with every Uppy route on: the caller's key, a signed PUT.
    let seed = DevRequest {
        method: "GET",
        path: "/sign",
        query: "filekey=mysecretfile.jpeg&contentType=image%2Fjpeg",
        origin: None,
        authorization: None,
        body: b"",
    };
    let answer = |uppy: bool| {
        let mut api = api(uppy);
        api.cfg.multipart = uppy;
        api.cfg.max_size_bytes = None;
        api.cfg.allowed_content_types = vec!["image/jpeg".into()];
        api
    };
    let before = answer(false).answer(&seed, 1_800_000_000).await;
    let with_uppy = answer(true).answer(&seed, 1_800_000_000).await;
    assert_eq!(before.status, 200, "{}", before.body);
    assert_eq!(
        (with_uppy.status, &with_uppy.body),
        (before.status, &before.body)
    );
    let body: serde_json::Value = serde_json::from_str(&with_uppy.body).unwrap();
    let url = body["signed_url"].as_str().unwrap();
    assert!(
        url.starts_with("http://127.0.0.1:9/b/uploads/mysecretfile.jpeg?"),
        "{url}"
    );
}
