//! The signer's benchmark (run by `scripts/bench-signer`, which supplies the Node.js figures,
//! the release `bootstrap` and the zip through environment variables). Everything is measured
//! in this one run; the table shows figures and ratios, `target/bench/signer.json` keeps them.

#[path = "../tests/support/runtime_api.rs"]
mod runtime_api;

use std::hint::black_box;
use std::time::{Duration, Instant};

use presign_signer::sign::{PostRequest, PresignRequest, SigningTime};
use presign_signer::{handler, Config, Credentials, Presigner};

fn cfg() -> Config {
    Config {
        bucket: "uploads-bucket".into(),
        prefix: "uploads/".into(),
        allowed_content_types: vec!["image/jpeg".into(), "image/png".into()],
        expires_seconds: 300,
        max_size_bytes: None,
        min_size_bytes: None,
        uppy: false,
        multipart: false,
        allow_downloads: false,
        checksum: None,
        uppy_put: false,
        region: "us-east-1".into(),
        endpoint: None,
    }
}

fn signer() -> Presigner {
    Presigner::new(
        Credentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "secret".into(),
            session_token: Some("session-token".into()),
        },
        "us-east-1",
        "uploads-bucket",
        None,
    )
}

/// Mean time per call over `n` calls, after a warm-up.
fn per_call(n: u32, mut f: impl FnMut()) -> Duration {
    for _ in 0..n / 10 {
        f();
    }
    let t0 = Instant::now();
    for _ in 0..n {
        f();
    }
    t0.elapsed() / n
}

fn main() {
    const NOW: u64 = 1_795_876_239;
    let cfg = cfg();
    let signer = signer();
    let headers = [("content-type", "image/jpeg")];
    let sign_only = per_call(200_000, || {
        black_box(signer.presign(&PresignRequest {
            method: "PUT",
            key: black_box("uploads/cat.jpg"),
            expires_seconds: 300,
            headers: &headers,
            query: &[],
            time: SigningTime { unix: NOW },
        }));
    });
    // Uppy's two other URLs: a multipart part (with its Content-Length signed) and a POST form
    // (policy, base64, signature).
    let part_url = per_call(200_000, || {
        black_box(signer.presign(&PresignRequest {
            method: "PUT",
            key: black_box("uploads/alice/0123456789abcdef0123456789abcdef/big.bin"),
            expires_seconds: 300,
            headers: &[("content-length", "5242880")],
            query: &[
                ("partNumber", "17"),
                (
                    "uploadId",
                    "VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA",
                ),
            ],
            time: SigningTime { unix: NOW },
        }));
    });
    let post_form = per_call(200_000, || {
        black_box(signer.presign_post(&PostRequest {
            key: black_box("uploads/alice/0123456789abcdef0123456789abcdef/photo.png"),
            content_type: "image/png",
            size_range: (1, 10 * 1024 * 1024),
            expires_seconds: 300,
            metadata: &[],
            time: SigningTime { unix: NOW },
        }));
    });
    // A browser's request as API Gateway hands it over (the Node.js benchmark reads the same file).
    let event = include_str!("event.json").to_string();
    // What lambda_runtime does per invocation: event bytes in (through serde_path_to_error, as
    // its deserializer does), response bytes out (serde_json::to_vec, as it does).
    let parse = |bytes: &[u8]| -> handler::Event {
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(bytes))
            .expect("event")
    };
    let end_to_end = per_call(50_000, || {
        let ev = parse(black_box(event.as_bytes()));
        let (response, _) = handler::handle(&cfg, &signer, &ev, NOW);
        black_box(serde_json::to_vec(&response).expect("response"));
    });

    let parse_only = per_call(50_000, || {
        black_box(parse(black_box(event.as_bytes())));
    });
    let ev: handler::Event = serde_json::from_str(&event).expect("event");
    let handle_only = per_call(50_000, || {
        black_box(handler::handle(&cfg, &signer, black_box(&ev), NOW));
    });
    println!(
        "breakdown: event parsing {:.2} µs, handle (validate, sign, JSON body) {:.2} µs",
        parse_only.as_secs_f64() * 1e6,
        handle_only.as_secs_f64() * 1e6
    );

    let node: serde_json::Value = std::env::var("PRESIGN_BENCH_NODE")
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    let cold = std::env::var("PRESIGN_BENCH_BOOTSTRAP").ok().map(|bin| {
        let mut times: Vec<Duration> = (0..20)
            .map(|_| {
                let (r, t) = runtime_api::invoke_once(
                    &bin,
                    runtime_api::ENV,
                    event.clone(),
                    Duration::from_secs(10),
                );
                assert_eq!(r["statusCode"], 200);
                t
            })
            .collect();
        times.sort();
        times[times.len() / 2]
    });
    let zip = std::env::var("PRESIGN_BENCH_ZIP")
        .ok()
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| m.len());

    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let nodef = |name: &str| node[name].as_f64();
    println!(
        "{:<52} {:>12} {:>14} {:>10}",
        "measure", "µs per URL", "URLs/second", "target"
    );
    let row = |name: &str, v: Option<f64>, target: &str| match v {
        Some(v) => println!("{name:<52} {v:>12.2} {:>14.0} {target:>10}", 1e6 / v),
        None => println!("{name:<52} {:>12}", "skipped"),
    };
    row(
        "signing alone (Rust, cached signing key)",
        Some(us(sign_only)),
        "≤ 3",
    );
    row(
        "multipart part URL (Content-Length signed)",
        Some(us(part_url)),
        "≤ 3",
    );
    row(
        "POST form (policy with content-length-range)",
        Some(us(post_form)),
        "≤ 5",
    );
    println!("runtime boundary: event JSON text in, response JSON text out");
    row(
        "  Rust handler (lambda_runtime's (de)serialisation)",
        Some(us(end_to_end)),
        "≤ 20",
    );
    row(
        "  Node.js handler, aws-sdk v2 getSignedUrl",
        nodef("v2_handler_us"),
        "",
    );
    row(
        "  Node.js handler, SDK v3 getSignedUrl",
        nodef("v3_handler_us"),
        "",
    );
    println!("function boundary: parsed event in, response value out");
    row("  Rust handle()", Some(us(handle_only)), "");
    row(
        "  Node.js handler function, aws-sdk v2",
        nodef("v2_function_us"),
        "",
    );
    row(
        "  Node.js handler function, SDK v3",
        nodef("v3_function_us"),
        "",
    );
    let mut ratios = serde_json::Map::new();
    for (boundary, rust, suffix) in [
        ("runtime boundary", us(end_to_end), "handler_us"),
        ("function boundary", us(handle_only), "function_us"),
    ] {
        for sdk in ["v2", "v3"] {
            if let Some(v) = nodef(&format!("{sdk}_{suffix}")) {
                println!(
                    "ratio at the {boundary}: Node {sdk} / Rust = {:.0}×  (target ≥ 100×)",
                    v / rust
                );
                ratios.insert(format!("node_{sdk}_to_rust_{suffix}"), (v / rust).into());
            }
        }
    }
    if let Some(c) = cold {
        println!(
            "cold start, spawn to first response (median of 20): {:.1} ms  (target ≤ 15 ms)",
            c.as_secs_f64() * 1e3
        );
    }
    if let Some(z) = zip {
        println!("bootstrap.zip: {:.2} MB  (target ≤ 3 MB)", z as f64 / 1e6);
    }
    let report = serde_json::json!({
        "sign_us": us(sign_only),
        "part_url_us": us(part_url),
        "post_form_us": us(post_form),
        "handler_us": us(end_to_end),
        "handle_us": us(handle_only),
        "event_parse_us": us(parse_only),
        "node": node,
        "ratios": ratios,
        "cold_start_ms": cold.map(|c| c.as_secs_f64() * 1e3),
        "zip_bytes": zip,
    });
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(
        dir.join("signer.json"),
        serde_json::to_string_pretty(&report).unwrap(),
    );
}
