//! A local stand-in of the Lambda Runtime API: serves one invocation to a `bootstrap` process
//! (`GET /2018-06-01/runtime/invocation/next`) and captures what it posts back
//! (`POST .../invocation/<id>/response`). Shared by the runtime test and the benchmark.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

/// An API Gateway HTTP API (payload 2.0) event for `GET /sign?<query>`.
pub fn event(query: &str, params: serde_json::Value) -> String {
    serde_json::json!({
        "version": "2.0", "routeKey": "GET /sign", "rawPath": "/sign", "rawQueryString": query,
        "queryStringParameters": params, "headers": {"host": "api.example.com"},
        "requestContext": {"accountId": "123456789012", "apiId": "a", "domainName": "api.example.com",
            "domainPrefix": "api", "requestId": "r", "routeKey": "GET /sign", "stage": "$default",
            "time": "28/Nov/2026:14:30:39 +0000", "timeEpoch": 1795876239000u64,
            "http": {"method": "GET", "path": "/sign", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"}},
        "isBase64Encoded": false
    })
    .to_string()
}

/// One HTTP request: (request line, body).
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        if header == "\r\n" || header.is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
            if k.eq_ignore_ascii_case("transfer-encoding")
                && v.trim().eq_ignore_ascii_case("chunked")
            {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some((line.trim().to_string(), body))
}

fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &str) {
    let mut text = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/json\r\n",
        body.len()
    );
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    let _ = stream.write_all(text.as_bytes());
}

/// Starts `bootstrap` against a stand-in that hands it `event`, and returns what it answered
/// (the posted response body) and the time from spawning the process to that answer.
pub fn invoke_once(
    bootstrap: &str,
    env: &[(&str, &str)],
    event: String,
    limit: Duration,
) -> (serde_json::Value, Duration) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the runtime stand-in");
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let served = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (tx, event, served) = (tx.clone(), event.clone(), served.clone());
            // Each connection may carry several requests (HTTP keep-alive): serve them in turn.
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                while let Some((line, body)) = read_request(&mut reader) {
                    let stream = reader.get_mut();
                    if line.starts_with("GET /2018-06-01/runtime/invocation/next") {
                        if served.swap(true, std::sync::atomic::Ordering::SeqCst) {
                            // The next invocation never comes; the caller kills the process.
                            std::thread::park();
                        }
                        let deadline = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap()
                            .as_millis()
                            + 30_000;
                        respond(
                            stream,
                            "200 OK",
                            &[
                                ("Lambda-Runtime-Aws-Request-Id", REQUEST_ID.to_string()),
                                ("Lambda-Runtime-Deadline-Ms", deadline.to_string()),
                                (
                                    "Lambda-Runtime-Invoked-Function-Arn",
                                    "arn:aws:lambda:us-east-1:123456789012:function:signer"
                                        .to_string(),
                                ),
                            ],
                            &event,
                        );
                    } else if line.starts_with(&format!(
                        "POST /2018-06-01/runtime/invocation/{REQUEST_ID}/response"
                    )) {
                        respond(stream, "202 Accepted", &[], "{}");
                        let _ = tx.send(Ok(body));
                    } else {
                        respond(stream, "202 Accepted", &[], "{}");
                        let _ = tx.send(Err(format!("{line}: {}", String::from_utf8_lossy(&body))));
                    }
                }
            });
        }
    });
    let started = Instant::now();
    let mut child: Child = Command::new(bootstrap)
        .env_clear()
        .envs(env.iter().copied())
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "signer")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "stream")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/signer")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bootstrap");
    let answer = rx.recv_timeout(limit);
    let elapsed = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    let body = match answer {
        Ok(Ok(body)) => body,
        Ok(Err(other)) => panic!("bootstrap reported an error instead of a response: {other}"),
        Err(_) => {
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut stderr);
            }
            panic!("bootstrap did not answer within {limit:?}; it said: {stderr}")
        }
    };
    (
        serde_json::from_slice(&body).expect("a JSON response"),
        elapsed,
    )
}

/// The signer's configuration and credentials as the provisioner sets them.
pub const ENV: &[(&str, &str)] = &[
    ("PRESIGN_BUCKET", "uploads-bucket"),
    ("PRESIGN_PREFIX", "uploads/"),
    ("PRESIGN_ALLOWED_CONTENT_TYPES", "image/jpeg,image/png"),
    ("PRESIGN_EXPIRES_SECONDS", "300"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
    ("AWS_SECRET_ACCESS_KEY", "secret"),
    ("AWS_SESSION_TOKEN", "session-token"),
];
