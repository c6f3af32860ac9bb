//! The whole developer loop in a real browser: headless Chromium (Debian's, driven by
//! playwright-core) loads examples/upload from an origin the stack allows, asks
//! `presign-stack dev` for a URL and PUTs a file to the emulator (moto, with its global CORS
//! off so the bucket's CORS rules apply as on AWS); the object must arrive with its content
//! type. The same page from an origin the stack does not allow must be blocked by the browser,
//! and from an origin the API allows but the bucket does not, the PUT itself must be blocked.
//! Screenshots go to target/browser/. Needs `scripts/browser install` (scripts/test runs it).

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

use presign_stack::commands::ExitStatus;
use support::{s3, DevServer, TestStack};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Serves examples/upload/index.html for every GET on a free port; returns the origin.
fn serve_page() -> String {
    serve_page_on(
        TcpListener::bind("127.0.0.1:0").expect("a port for the page"),
        "127.0.0.1",
    )
}

/// Serves the page on `listener`; the origin names the host as `host`.
fn serve_page_on(listener: TcpListener, host: &str) -> String {
    let page = std::fs::read(repo().join("examples/upload/index.html")).expect("the upload page");
    serve_files(
        listener,
        host,
        vec![("/", "text/html; charset=utf-8", page)],
    )
}

/// Serves `files` (path, content type, bytes; `/` also answers `/?...`) on `listener`; the
/// origin names the host as `host`.
fn serve_files(
    listener: TcpListener,
    host: &str,
    files: Vec<(&'static str, &'static str, Vec<u8>)>,
) -> String {
    let origin = format!("http://{host}:{}", listener.local_addr().unwrap().port());
    let files = std::sync::Arc::new(files);
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let files = files.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut request_line = String::new();
                let _ = reader.read_line(&mut request_line);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let mut stream = &stream;
                let target = request_line.split_whitespace().nth(1).unwrap_or_default();
                let path = target.split('?').next().unwrap_or_default();
                let found = request_line
                    .starts_with("GET ")
                    .then(|| files.iter().find(|(p, _, _)| *p == path))
                    .flatten();
                let (status, content_type, body): (&str, &str, &[u8]) = match found {
                    Some((_, t, bytes)) => ("200 OK", t, bytes),
                    None => ("404 Not Found", "text/plain", b""),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(body);
            });
        }
    });
    origin
}

/// Chromium and the folder holding playwright-core (scripts/browser installs both).
fn browser() -> (PathBuf, PathBuf) {
    let chromium = PathBuf::from("/usr/bin/chromium");
    let node_dir = PathBuf::from(
        String::from_utf8(
            Command::new(repo().join("scripts/browser"))
                .arg("path")
                .output()
                .expect("scripts/browser path")
                .stdout,
        )
        .unwrap()
        .trim(),
    );
    assert!(
        chromium.exists() && node_dir.join("node_modules/playwright-core").exists(),
        "Chromium or playwright-core is missing: run scripts/browser install (scripts/test does)"
    );
    (chromium, node_dir)
}

/// Runs tests/browser/upload.js in Chromium with `env` (the pages to load, where to put
/// screenshots); its JSON report.
fn run_upload_js(env: &[(&str, String)]) -> serde_json::Value {
    run_js("upload.js", env)
}

/// Runs tests/browser/<script> in Chromium with `env`; the JSON line it printed last.
fn run_js(script: &str, env: &[(&str, String)]) -> serde_json::Value {
    let (chromium, node_dir) = browser();
    std::fs::create_dir_all(repo().join("target/browser")).unwrap();
    let out = Command::new("node")
        .arg(repo().join("tests/browser").join(script))
        .env("NODE_PATH", node_dir.join("node_modules"))
        .env("CHROMIUM", &chromium)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the browser run failed\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_browser_uploads_from_an_allowed_origin_and_is_blocked_from_another() {
    browser(); // fail first, and clearly, without Chromium
    let allowed = serve_page();
    let other = serve_page();
    let api_only = serve_page();
    let stack = TestStack::new(
        "browser",
        &format!(
            "bucket:\n  enforce_tls: false\n  cors:\n    - allowed_origins: [\"{allowed}\"]\n      allowed_methods: [PUT]\n      allowed_headers: [content-type]\n      expose_headers: [ETag]\nuploads:\n  prefix: uploads/\n  allowed_content_types: [image/png]\napi:\n  route: /sign\n  cors_origins: [\"{allowed}\", \"{api_only}\"]\n"
        ),
    );
    stack
        .expect(&["deploy", "--yes"], ExitStatus::Success)
        .await;
    let dev = DevServer::start(&stack.spec());
    let api = format!("{}/sign", dev.base);

    let shots = repo().join("target/browser");
    let result = run_upload_js(&[
        ("PAGE_ALLOWED", format!("{allowed}/?api={api}")),
        ("PAGE_DISALLOWED", format!("{other}/?api={api}")),
        ("PAGE_API_ONLY", format!("{api_only}/?api={api}")),
        ("SCREENSHOT", shots.join("upload.png").display().to_string()),
        (
            "SCREENSHOT_BLOCKED",
            shots
                .join("upload-blocked-origin.png")
                .display()
                .to_string(),
        ),
    ]);

    assert_eq!(result["allowed"]["state"], "ok", "{result:#}");
    assert!(result["allowed"]["text"]
        .as_str()
        .unwrap()
        .contains("uploads/from-allowed-origin.png"));
    let object = s3()
        .await
        .head_object()
        .bucket(stack.bucket())
        .key("uploads/from-allowed-origin.png")
        .send()
        .await
        .expect("the uploaded object is in the bucket");
    assert_eq!(object.content_type(), Some("image/png"));
    assert_eq!(object.content_length(), Some(70));

    assert_eq!(result["disallowed"]["state"], "error", "{result:#}");
    assert!(
        result["disallowed"]["text"]
            .as_str()
            .unwrap()
            .contains("blocked"),
        "the page explains the block: {result:#}"
    );
    // The API signs for the third origin, but S3's CORS rules refuse the browser's PUT.
    assert_eq!(result["bucket_blocked"]["state"], "error", "{result:#}");
    assert!(
        result["bucket_blocked"]["text"]
            .as_str()
            .unwrap()
            .contains("blocked the upload to S3"),
        "{result:#}"
    );
    let absent = s3()
        .await
        .head_object()
        .bucket(stack.bucket())
        .key("uploads/from-other-origin.png")
        .send()
        .await;
    assert!(absent.is_err(), "nothing arrives from the other origin");
    let absent = s3()
        .await
        .head_object()
        .bucket(stack.bucket())
        .key("uploads/from-api-only-origin.png")
        .send()
        .await;
    assert!(
        absent.is_err(),
        "nothing arrives past the bucket's CORS rules"
    );
    assert!(shots.join("upload.png").exists());
}

/// Regression (issue 15, point 1): with stack.yaml as shipped, the upload page in Chromium, from
/// an origin the example allows (http://localhost:5173), got 403 from the emulator and blamed
/// CORS. With the example's `local` environment (what scripts/local uses) it uploads.
#[tokio::test(flavor = "multi_thread")]
async fn the_shipped_example_uploads_from_its_own_origin_in_a_browser() {
    browser(); // fail first, and clearly, without Chromium
    let Ok(listener) = TcpListener::bind("127.0.0.1:5173") else {
        panic!("port 5173 (the example's allowed origin, http://localhost:5173) is taken: free it for this test");
    };
    let page = serve_page_on(listener, "localhost");
    let stack = TestStack::new("browser-example", &support::example());
    let deploy = support::command(&["deploy", "--yes", "-f", stack.spec().to_str().unwrap()])
        .env("PRESIGN_STACK_DEFAULT_ENV", "local")
        .current_dir(stack.dir.path())
        .output()
        .unwrap();
    assert_eq!(
        deploy.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&deploy.stderr)
    );
    let dev = DevServer::start_with(&stack.spec(), &[("PRESIGN_STACK_DEFAULT_ENV", "local")]);
    let api = format!("{}/sign", dev.base);
    let shots = repo().join("target/browser");
    let result = run_upload_js(&[
        ("PAGE_ALLOWED", format!("{page}/?api={api}")),
        (
            "SCREENSHOT",
            shots.join("upload-example.png").display().to_string(),
        ),
    ]);
    assert_eq!(result["allowed"]["state"], "ok", "{result:#}");
    let bucket = format!("{}-local-uploads-{}", stack.name, support::REGION);
    let object = s3()
        .await
        .head_object()
        .bucket(&bucket)
        .key("uploads/from-allowed-origin.png")
        .send()
        .await
        .expect("the uploaded object is in the bucket");
    assert_eq!(object.content_type(), Some("image/png"));
}

/// Runs tests/browser/uppy.js: one PNG of `size` bytes named `name` through the Uppy page at
/// `page`; its JSON report.
fn run_uppy_js(page: &str, name: &str, size: usize, screenshot: &str) -> serde_json::Value {
    run_js(
        "uppy.js",
        &[
            ("PAGE", page.to_string()),
            ("NAME", name.to_string()),
            ("TYPE", "image/png".to_string()),
            ("SIZE", size.to_string()),
            ("NO_CORS", "1".to_string()),
            ("SCREENSHOT", shot(screenshot)),
        ],
    )
}

fn shot(name: &str) -> String {
    repo()
        .join("target/browser")
        .join(name)
        .display()
        .to_string()
}

/// Serves examples/upload/uppy.html and Uppy's bundle (from scripts/browser's install) on a
/// free port: the origin.
fn serve_uppy_page() -> String {
    let (_, node_dir) = browser();
    let bundle = node_dir.join("node_modules/uppy/dist/uppy.min.mjs");
    assert!(
        bundle.exists(),
        "Uppy's bundle is missing: run scripts/browser install"
    );
    let page = std::fs::read(repo().join("examples/upload/uppy.html")).expect("the Uppy page");
    serve_files(
        TcpListener::bind("127.0.0.1:0").unwrap(),
        "127.0.0.1",
        vec![
            ("/uppy.html", "text/html; charset=utf-8", page),
            (
                "/uppy.min.mjs",
                "text/javascript",
                std::fs::read(&bundle).unwrap(),
            ),
        ],
    )
}

/// Uppy in Chromium against `presign-stack dev` and s3s-fs, which verifies the SigV4 POST
/// signature and every condition of the policy: Uppy's `@uppy/aws-s3` plugin (the uppy 6.0.1
/// bundle: @uppy/aws-s3 6.1.0) asks the API for a form as it asks Companion (`GET /s3/params`),
/// then POSTs the file with the browser's own `FormData`. A small image lands at the key the
/// server chose; a file over `max_size_bytes` is refused by S3 and nothing is stored.
///
/// s3s-fs sends no CORS headers at all, and moto none on a form POST (its
/// `_bucket_response_post` skips them), so Chromium runs without web security here: the
/// bucket's CORS for POST is AWS's to apply (docs/architecture.md lists the gap); the API's
/// CORS is shown by the test above.
#[tokio::test(flavor = "multi_thread")]
async fn uppy_uploads_through_the_stacks_s3_params_route_and_s3_enforces_the_size() {
    let origin = serve_uppy_page();
    let stack = TestStack::new(
        "uppy-browser",
        &format!(
            "bucket:\n  cors:\n    - allowed_origins: [\"{origin}\"]\n      allowed_methods: [POST]\n      expose_headers: [ETag, Location]\nuploads:\n  prefix: uploads/\n  allowed_content_types: [image/png]\n  max_size_bytes: 1000\n  uppy: true\napi:\n  cors_origins: [\"{origin}\"]\n"
        ),
    );
    let (access, secret) = ("AKIAUPPYBROWSER", "uppy-browser-secret");
    let (port, data) = support::server::start_s3s_fs(access, secret, &[&stack.bucket()]);
    let endpoint = format!("http://127.0.0.1:{port}");
    let dev = DevServer::start_with(
        &stack.spec(),
        &[
            ("AWS_ENDPOINT_URL_S3", &endpoint),
            ("AWS_ACCESS_KEY_ID", access),
            ("AWS_SECRET_ACCESS_KEY", secret),
        ],
    );
    let page = format!(
        "{origin}/uppy.html?api={}&uppy={origin}/uppy.min.mjs",
        dev.base
    );

    let small = run_uppy_js(&page, "holiday photo.png", 70, "uppy.png");
    assert_eq!(small["state"], "ok", "{small:#}");
    let key = small["key"].as_str().unwrap();
    assert!(
        key.starts_with("uploads/") && key.ends_with("/holiday_photo.png"),
        "the server chose the key: {small:#}"
    );
    let stored = std::fs::read(data.join(stack.bucket()).join(key)).expect("the object arrived");
    assert_eq!(stored.len(), 70);
    assert_eq!(&stored[1..4], b"PNG");

    let large = run_uppy_js(&page, "too big.png", 1001, "uppy-too-large.png");
    assert_eq!(large["state"], "error", "{large:#}");
    let uploads = data.join(stack.bucket()).join("uploads");
    let found: Vec<_> = walk(&uploads)
        .into_iter()
        .filter(|p| p.ends_with("too_big.png"))
        .collect();
    assert!(
        found.is_empty(),
        "nothing over the limit is stored: {found:?}"
    );
}

/// Every file below `dir`.
fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
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

/// A file of `size` pseudo-random bytes (so that a part out of place changes the hash) in
/// `dir`, and its SHA-256.
fn random_file(dir: &std::path::Path, name: &str, size: usize) -> (PathBuf, Vec<u8>) {
    use sha2::Digest;
    let mut data = Vec::with_capacity(size);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ size as u64;
    while data.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data.truncate(size);
    let path = dir.join(name);
    std::fs::write(&path, &data).unwrap();
    (path, sha2::Sha256::digest(&data).to_vec())
}

/// Answers `GET /?key=<key>` by putting "planted" at that key in s3s-fs with a pre-signed PUT
/// (someone else's object landing on the key first): the URL to call.
fn plant_server(port: u16, bucket: &str, access: &str, secret: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/",
        listener.local_addr().unwrap().port()
    );
    let presigner = presign_signer::Presigner::new(
        presign_signer::Credentials {
            access_key_id: access.into(),
            secret_access_key: secret.into(),
            session_token: None,
        },
        support::REGION,
        bucket,
        Some(&format!("http://127.0.0.1:{port}")),
    );
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let mut line = String::new();
            let _ = BufReader::new(&stream).read_line(&mut line);
            let target = line.split_whitespace().nth(1).unwrap_or_default();
            let query = target.split_once('?').map_or("", |(_, q)| q);
            let raw = query
                .split('&')
                .find_map(|p| p.strip_prefix("key="))
                .unwrap_or_default()
                .replace('+', " ");
            let key = percent_encoding::percent_decode_str(&raw)
                .decode_utf8_lossy()
                .into_owned();
            let signed = presigner.presign(&presign_signer::sign::PresignRequest {
                method: "PUT",
                key: &key,
                expires_seconds: 60,
                headers: &[],
                query: &[],
                time: presign_signer::sign::SigningTime {
                    unix: presign_stack::clock::now_unix(),
                },
            });
            let rest = signed.trim_start_matches("http://");
            let (authority, path) = rest.split_at(rest.find('/').unwrap());
            let status = support::server::http_exchange(authority, "PUT", path, &[], b"planted")
                .map_or(502, |(s, _, _)| s);
            let mut stream = &stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    url
}

/// Uppy's multipart path in Chromium against `dev` and s3s-fs (SigV4 checked on every part URL
/// and on the signer's own S3 calls), with the JWT authorizer on and two users:
/// - a 64 MiB file: after 3 parts the page is reloaded; Golden Retriever restores the file and
///   the upload, Uppy lists the parts (`GET /s3/multipart/{id}?key=`) and completes the same
///   upload, and the stored object's SHA-256 is the file's. While the upload is held, another
///   user's token is refused on every route (403).
/// - a second upload whose key someone else's object reaches first is refused at complete
///   (`If-None-Match: *`, 409), and that object is unchanged.
/// - a file over `max_size_bytes` (Uppy 6.1 sends no size, so the signer refuses it at
///   complete) leaves no object and no incomplete upload.
///
/// s3s-fs lists parts without their ETags, so after the reload Uppy sends again the parts S3
/// already held (against S3 it skips them); docs/architecture.md lists the gap.
#[tokio::test(flavor = "multi_thread")]
async fn uppy_uploads_64_mib_in_parts_resumes_after_a_reload_and_keeps_other_users_out() {
    let origin = serve_uppy_page();
    const MIB: usize = 1024 * 1024;
    let stack = TestStack::new(
        "uppy-multipart",
        &format!(
            "bucket:\n  cors:\n    - allowed_origins: [\"{origin}\"]\n      allowed_methods: [POST, PUT]\n      expose_headers: [ETag, Location]\nuploads:\n  prefix: uploads/\n  allowed_content_types: [application/octet-stream]\n  max_size_bytes: {}\n  uppy: true\n  multipart: true\napi:\n  cors_origins: [\"{origin}\"]\n  jwt:\n    issuer: https://issuer.example.com/pool\n    audience: [web-client]\n",
            66 * MIB
        ),
    );
    let (access, secret) = ("AKIAUPPYMULTIPART", "uppy-multipart-secret");
    let (port, data) = support::server::start_s3s_fs(access, secret, &[&stack.bucket()]);
    let endpoint = format!("http://127.0.0.1:{port}");
    let dev = DevServer::start_args(
        &stack.spec(),
        &["--token-for", "alice", "--token-for", "mallory"],
        &[
            ("AWS_ENDPOINT_URL_S3", &endpoint),
            ("AWS_ACCESS_KEY_ID", access),
            ("AWS_SECRET_ACCESS_KEY", secret),
        ],
    );
    let page = format!(
        "{origin}/uppy.html?api={}&uppy={origin}/uppy.min.mjs&multipart=1&token={}",
        dev.base,
        dev.token_for("alice")
    );
    let files = tempfile::tempdir().unwrap();
    let stored = |key: &str| std::fs::read(data.join(stack.bucket()).join(key)).ok();
    let upload_files = |id: &str| -> Vec<String> {
        std::fs::read_dir(&data)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.contains(id))
            .collect()
    };
    let run = |file: &PathBuf, extra: &[(&str, String)], screenshot: &str| {
        let mut env = vec![
            ("PAGE", page.clone()),
            ("FILE", file.display().to_string()),
            ("NO_CORS", "1".to_string()),
            ("SCREENSHOT", shot(screenshot)),
        ];
        env.extend(extra.iter().cloned());
        run_js("uppy.js", &env)
    };

    // 64 MiB, a reload after 3 parts, and another user knocking while it is held.
    let (big, big_sha) = random_file(files.path(), "big.bin", 64 * MIB);
    let r = run(
        &big,
        &[
            ("HOLD_AFTER", "3".into()),
            ("OTHER_TOKEN", dev.token_for("mallory")),
            ("RELOAD", "1".into()),
        ],
        "uppy-multipart.png",
    );
    assert_eq!(r["state"], "ok", "{r:#}");
    let key = r["key"].as_str().unwrap();
    assert!(
        key.starts_with("uploads/alice/") && key.ends_with("/big.bin"),
        "{r:#}"
    );
    assert_eq!(
        r["upload"]["key"], key,
        "the upload completed is the one begun before the reload: {r:#}"
    );
    assert_eq!(r["partsBeforeReload"], 3, "{r:#}");
    assert!(
        r["lists"].as_u64() >= Some(1),
        "after the reload Uppy asked for the parts S3 holds: {r:#}"
    );
    assert_eq!(
        r["other"],
        serde_json::json!({"sign": 403, "list": 403, "complete": 403, "abort": 403}),
        "another user's token is refused on every route: {r:#}"
    );
    let object = stored(key).expect("the object arrived");
    assert_eq!(object.len(), 64 * MIB);
    assert!(
        <sha2::Sha256 as sha2::Digest>::digest(&object).to_vec() == big_sha,
        "the stored object's SHA-256 is the file's"
    );
    let id = r["upload"]["uploadId"].as_str().unwrap();
    assert_eq!(upload_files(id), Vec::<String>::new(), "no part left over");

    // Someone else's object reaches the key before complete: it stays.
    let (second, _) = random_file(files.path(), "second.bin", 6 * MIB);
    let plant = plant_server(port, &stack.bucket(), access, secret);
    let r = run(
        &second,
        &[("HOLD_AFTER", "1".into()), ("PLANT_URL", plant)],
        "uppy-multipart-exists.png",
    );
    assert_eq!(r["state"], "error", "{r:#}");
    let key = r["upload"]["key"].as_str().unwrap();
    assert_eq!(
        stored(key).as_deref(),
        Some(&b"planted"[..]),
        "the object already there is not replaced: {r:#}"
    );

    // Over the limit: refused at complete, aborted, nothing stored.
    let (over, _) = random_file(files.path(), "too-big.bin", 66 * MIB + 1);
    let r = run(
        &over,
        &[("HOLD_AFTER", "0".into())],
        "uppy-multipart-too-large.png",
    );
    assert_eq!(r["state"], "error", "{r:#}");
    let key = r["upload"]["key"].as_str().unwrap();
    assert_eq!(stored(key), None, "nothing over the limit is stored: {r:#}");
    let id = r["upload"]["uploadId"].as_str().unwrap();
    assert_eq!(
        upload_files(id),
        Vec::<String>::new(),
        "no incomplete upload is left"
    );
    assert!(
        dev.stderr.lock().unwrap().contains("too_large"),
        "the signer refused it as too large"
    );
}
