//! `presign-stack smoke`: does an upload work now? The live path exercised as a browser would:
//! ask the API for a URL (with the page's `Origin`), check the API's CORS answer and the
//! bucket's preflight, PUT a small object with the headers the signer returned, read it back
//! (HEAD) and delete it with the deployer's credentials. Each step has its status and latency;
//! the first failing one is named, and a refused URL goes through `url explain`.
//!
//! The HTTP(S) requests go through the signer crate's client (hyper and rustls, the stack the
//! function itself uses), so the check needs nothing the tool does not already carry.

use std::time::Instant;

use anyhow::Context as _;

use super::{ExitStatus, Session};
use crate::cli::{Global, SmokeArgs};
use crate::output::Printer;
use crate::presigned::cors::{self, Verdict};
use crate::presigned::explain::{self, BucketFacts, Context, Request, Severity};
use crate::presigned::{s3error, PresignedUrl};

/// One step's outcome.
#[derive(Debug, serde::Serialize)]
struct Step {
    step: &'static str,
    ok: bool,
    /// The HTTP status, when there was an answer.
    status: Option<u16>,
    /// Milliseconds the step's request took.
    ms: Option<u128>,
    detail: String,
}

/// What the whole run found, for the report.
struct Smoke {
    steps: Vec<Step>,
    explain: Option<explain::Report>,
}

impl Smoke {
    fn push(
        &mut self,
        step: &'static str,
        ok: bool,
        status: Option<u16>,
        ms: Option<u128>,
        detail: String,
    ) -> bool {
        self.steps.push(Step {
            step,
            ok,
            status,
            ms,
            detail,
        });
        ok
    }
}

/// One request, timed: the status, headers and body, or why there was no answer.
async fn timed(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (Result<(u16, Vec<(String, String)>, String), String>, u128) {
    let start = Instant::now();
    let answer = presign_signer::s3::exchange(method, url, headers, body).await;
    (answer, start.elapsed().as_millis())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A content type the stack allows (a `type/*` family gets a plain member of it).
fn content_type(allowed: &[String]) -> String {
    let first = allowed.first().map(String::as_str).unwrap_or("image/png");
    match first.strip_suffix("/*") {
        Some(family) => format!("{family}/octet-stream"),
        None => first.to_string(),
    }
}

/// The checksum parameter the signer needs when `uploads.checksum` is on (base64 of the digest).
fn checksum(algorithm: Option<&str>, body: &[u8]) -> Option<String> {
    use base64::Engine as _;
    let digest = match algorithm? {
        "sha256" => {
            use sha2::Digest as _;
            sha2::Sha256::digest(body).to_vec()
        }
        "crc32" => crc32fast::hash(body).to_be_bytes().to_vec(),
        _ => return None,
    };
    Some(base64::engine::general_purpose::STANDARD.encode(digest))
}

pub async fn run(
    global: &Global,
    args: &SmokeArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let session = Session::open(global, printer, None).await?;
    let stack = &session.stack;
    // With --dev: dev's own server, on a free port, for as long as this run.
    let mut token = args.token.clone();
    let mut local: Option<tokio::task::JoinHandle<()>> = None;
    let dev_url = if args.dev {
        let api = super::dev::local_api(&session).await?;
        if let (Some(jwt), None) = (&api.jwt, &token) {
            token = Some(jwt.mint("presign-stack-smoke", crate::clock::now_unix()));
        }
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("cannot listen on 127.0.0.1 for --dev")?;
        let url = format!("http://{}{}", listener.local_addr()?, api.route);
        local = Some(tokio::spawn(super::dev::serve_on(
            listener,
            std::sync::Arc::new(api),
            printer.clone(),
        )));
        Some(url)
    } else {
        None
    };
    // An emulator keeps API Gateway's resources but serves nothing at the api_url it recorded
    // (an AWS address): say so rather than send the requests there.
    if let (None, None, Some(endpoint)) =
        (&args.api_url, &dev_url, &session.run.clients.s3_endpoint)
    {
        anyhow::bail!(
            "the stack's api_url is where AWS would serve the API; the endpoint {endpoint} serves no API Gateway\n  hint: pass --dev (the same API with the signer's code, on 127.0.0.1) or --api-url http://127.0.0.1:<port><route> of a running presign-stack dev"
        );
    }
    let api_url = match args.api_url.as_ref().or(dev_url.as_ref()) {
        Some(u) => u.clone(),
        None => session
            .state
            .as_ref()
            .and_then(|s| s.outputs.get("api_url").cloned())
            .with_context(|| {
                format!(
                    "stack {:?} has no api_url: it has not been deployed\n  hint: run presign-stack deploy, or pass --api-url (e.g. http://127.0.0.1:8787/sign for presign-stack dev)",
                    stack.name
                )
            })?,
    };
    let origin = args
        .origin
        .clone()
        .or_else(|| stack.api.cors_origins.first().cloned())
        .filter(|o| o != "*");
    let s3 = &session.run.clients.s3;
    let bucket = crate::plan::desired::bucket_name(stack, &session.region);
    let mut smoke = Smoke {
        steps: Vec::new(),
        explain: None,
    };
    printer.progress(&format!(
        "Smoke test of stack {} through {api_url}{}",
        stack.name,
        origin
            .as_deref()
            .map(|o| format!(" from origin {o}"))
            .unwrap_or_default()
    ));

    // 1. Ask for a URL, as the page would.
    let ctype = content_type(&stack.uploads.allowed_content_types);
    let mut body = b"presign-stack smoke test\n".to_vec();
    let min = stack.uploads.min_size_bytes.unwrap_or(0) as usize;
    if body.len() < min {
        body.resize(min, b'.');
    }
    let filekey = format!("presign-stack-smoke/{}", uuid::Uuid::new_v4().simple());
    let mut query: Vec<(&str, String)> = vec![
        ("filekey", filekey.clone()),
        ("contentType", ctype.clone()),
        ("size", body.len().to_string()),
    ];
    if let Some(sum) = checksum(stack.uploads.checksum.as_deref(), &body) {
        query.push(("checksum", sum));
    }
    let query: Vec<String> = query
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect();
    let sign_url = format!(
        "{api_url}{}{}",
        if api_url.contains('?') { "&" } else { "?" },
        query.join("&")
    );
    let bearer = token.as_ref().map(|t| format!("Bearer {t}"));
    let mut request_headers: Vec<(&str, &str)> = Vec::new();
    if let Some(o) = &origin {
        request_headers.push(("Origin", o));
    }
    if let Some(b) = &bearer {
        request_headers.push(("Authorization", b));
    }
    let (answer, ms) = timed("GET", &sign_url, &request_headers, Vec::new()).await;
    let signed = match answer {
        Err(e) => {
            smoke.push("sign", false, None, Some(ms), format!("GET {api_url}: {e}"));
            None
        }
        Ok((status, headers, text)) => {
            let json: Option<serde_json::Value> = serde_json::from_str(&text).ok();
            let url = json
                .as_ref()
                .and_then(|j| j["signed_url"].as_str())
                .map(str::to_string);
            match (status, url) {
                (200, Some(url)) => {
                    smoke.push(
                        "sign",
                        true,
                        Some(status),
                        Some(ms),
                        format!("GET {api_url}: a URL for {filekey}"),
                    );
                    Some((url, json.unwrap(), headers))
                }
                _ => {
                    let why = json
                        .as_ref()
                        .and_then(|j| {
                            Some(format!(
                                "{}: {}",
                                j["error"].as_str()?,
                                j["message"].as_str()?
                            ))
                        })
                        .unwrap_or_else(|| text.chars().take(300).collect());
                    smoke.push(
                        "sign",
                        false,
                        Some(status),
                        Some(ms),
                        format!("GET {api_url}: {why}"),
                    );
                    None
                }
            }
        }
    };

    if let Some((url, signer_json, api_headers)) = &signed {
        let ok = check_api_cors(&mut smoke, origin.as_deref(), api_headers)
            && check_bucket_cors(
                &mut smoke,
                s3,
                &bucket,
                stack,
                origin.as_deref(),
                url,
                signer_json,
            )
            .await;
        if ok {
            upload_and_back(
                &mut smoke,
                s3,
                session.run.clients.credentials.clone(),
                &bucket,
                origin.as_deref(),
                url,
                signer_json,
                &body,
                &ctype,
            )
            .await;
        }
    }
    if let Some(server) = local {
        server.abort();
    }
    report(printer, &api_url, origin.as_deref(), &smoke);
    Ok(if smoke.steps.iter().all(|s| s.ok) {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// The API's CORS answer: with an origin, the signer's answer must allow it or the page never
/// sees the URL.
fn check_api_cors(smoke: &mut Smoke, origin: Option<&str>, headers: &[(String, String)]) -> bool {
    let Some(origin) = origin else {
        return smoke.push(
            "api cors",
            true,
            None,
            None,
            "not checked: no origin (api.cors_origins is empty; pass --origin)".into(),
        );
    };
    match header(headers, "access-control-allow-origin") {
        Some(a) if a == "*" || a.eq_ignore_ascii_case(origin) => smoke.push(
            "api cors",
            true,
            None,
            None,
            format!("access-control-allow-origin: {a}"),
        ),
        other => smoke.push(
            "api cors",
            false,
            None,
            None,
            format!(
                "the API's answer allows {} where the page is {origin}, so the browser hides it; add the origin to api.cors_origins and deploy",
                other.map(|a| format!("the origin {a}")).unwrap_or_else(|| "no origin".into())
            ),
        ),
    }
}

/// The headers a browser sets on the upload itself (what the preflight asks for).
fn upload_headers(signer_json: &serde_json::Value) -> Vec<(String, String)> {
    signer_json["headers"]
        .as_object()
        .map(|h| {
            h.iter()
                .filter(|(k, _)| {
                    !k.eq_ignore_ascii_case("content-length") && !k.eq_ignore_ascii_case("host")
                })
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The bucket's preflight for the upload, as a browser sends it. A store that answers no
/// preflight at all (s3s-fs) is judged by the bucket's CORS rules (GetBucketCors), or, when it
/// cannot say those either, by the spec's.
async fn check_bucket_cors(
    smoke: &mut Smoke,
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    stack: &crate::spec::Stack,
    origin: Option<&str>,
    url: &str,
    signer_json: &serde_json::Value,
) -> bool {
    let Some(origin) = origin else {
        return smoke.push(
            "bucket cors",
            true,
            None,
            None,
            "not checked: no origin".into(),
        );
    };
    let method = signer_json["method"].as_str().unwrap_or("PUT").to_string();
    let asked: Vec<String> = upload_headers(signer_json)
        .into_iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .collect();
    let asked_line = asked.join(",");
    let mut headers = vec![
        ("Origin", origin),
        ("Access-Control-Request-Method", method.as_str()),
    ];
    if !asked.is_empty() {
        headers.push(("Access-Control-Request-Headers", &asked_line));
    }
    let (answer, ms) = timed("OPTIONS", url, &headers, Vec::new()).await;
    let (status, answered) = match &answer {
        Ok((status, h, _)) => (
            Some(*status),
            header(h, "access-control-allow-origin").map(str::to_string),
        ),
        Err(_) => (None, None),
    };
    if let Some(allowed) = answered {
        let ok = (200..300).contains(&status.unwrap_or(0))
            && (allowed == "*" || allowed.eq_ignore_ascii_case(origin));
        return smoke.push(
            "bucket cors",
            ok,
            status,
            Some(ms),
            format!("preflight {method} from {origin}: access-control-allow-origin: {allowed}"),
        );
    }
    // S3 refuses a preflight no rule allows with 403 "CORSResponse: ..."; any other answer
    // without CORS headers (s3s-fs refuses an unsigned OPTIONS) says nothing about CORS.
    let cors_refusal = matches!(&answer, Ok((403, _, text)) if text.contains("CORS"));
    if cors_refusal {
        return smoke.push("bucket cors", false, status, Some(ms), format!("preflight {method} from {origin} refused: no rule of the bucket's CORS allows it (bucket.cors in stack.yaml, then deploy)"));
    }
    // No CORS answer at all: judge the rules S3 holds, or the spec's.
    let (rules, source) = match crate::aws::s3_cors::find(s3, bucket).await {
        Ok(c) => (
            c.map(|c| c.rules).unwrap_or_default(),
            "the bucket's CORS rules (GetBucketCors)",
        ),
        Err(_) => (
            stack.bucket.cors.clone(),
            "the spec's bucket.cors (this S3 answers neither preflights nor GetBucketCors)",
        ),
    };
    match cors::evaluate(&rules, origin, &method, &asked) {
        Verdict::Allowed { index } => smoke.push(
            "bucket cors",
            true,
            status,
            Some(ms),
            format!(
                "{method} from {origin}: allowed by rule {} of {source}",
                index + 1
            ),
        ),
        Verdict::Refused { reason, fix } => smoke.push(
            "bucket cors",
            false,
            status,
            Some(ms),
            format!("{method} from {origin}: {reason} ({source}); fix: {fix}"),
        ),
    }
}

/// The upload with the signer's headers, then HEAD and DELETE with the deployer's credentials.
#[allow(clippy::too_many_arguments)]
async fn upload_and_back(
    smoke: &mut Smoke,
    s3: &aws_sdk_s3::Client,
    credentials: Option<aws_sdk_s3::config::SharedCredentialsProvider>,
    bucket: &str,
    origin: Option<&str>,
    url: &str,
    signer_json: &serde_json::Value,
    body: &[u8],
    ctype: &str,
) {
    let sent = upload_headers(signer_json);
    let mut headers: Vec<(&str, &str)> =
        sent.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    if let Some(o) = origin {
        headers.push(("Origin", o));
    }
    let method = signer_json["method"].as_str().unwrap_or("PUT");
    let key = signer_json["key"]
        .as_str()
        .map(str::to_string)
        .or_else(|| PresignedUrl::parse(url).ok()?.key);
    let (answer, ms) = timed(method, url, &headers, body.to_vec()).await;
    match answer {
        Ok((status, _, _)) if (200..300).contains(&status) => {
            smoke.push(
                "upload",
                true,
                Some(status),
                Some(ms),
                format!("{method} {} bytes as {ctype}", body.len()),
            );
        }
        Ok((status, _, text)) => {
            let error = s3error::parse(&text);
            let what = error
                .as_ref()
                .map(|e| format!("{} {}", e.code, e.message))
                .unwrap_or_else(|| text.chars().take(200).collect());
            smoke.push(
                "upload",
                false,
                Some(status),
                Some(ms),
                format!("S3 refused the {method}: {what}"),
            );
            smoke.explain = explain_refusal(credentials, url, method, &sent, error, origin).await;
            return;
        }
        Err(e) => {
            smoke.push(
                "upload",
                false,
                None,
                Some(ms),
                format!("{method} to the bucket: {e}"),
            );
            return;
        }
    }
    let Some(key) = key else {
        smoke.push(
            "read back",
            false,
            None,
            None,
            "the URL names no key".into(),
        );
        return;
    };
    let start = Instant::now();
    let head = s3.head_object().bucket(bucket).key(&key).send().await;
    let ms = start.elapsed().as_millis();
    let read_ok = match head {
        Ok(h) => {
            let length = h.content_length().unwrap_or(-1);
            let same = length == body.len() as i64;
            smoke.push(
                "read back",
                same,
                Some(200),
                Some(ms),
                format!(
                    "HEAD {key}: {length} bytes{}",
                    if same { "" } else { ", not what was sent" }
                ),
            )
        }
        Err(e) => smoke.push(
            "read back",
            false,
            e.raw_response().map(|r| r.status().as_u16()),
            Some(ms),
            format!(
                "HEAD {key}: {}",
                crate::aws::AwsError::from_sdk("HeadObject", &key, e)
            ),
        ),
    };
    let start = Instant::now();
    let deleted = s3.delete_object().bucket(bucket).key(&key).send().await;
    let ms = start.elapsed().as_millis();
    match deleted {
        Ok(_) => smoke.push("delete", true, Some(204), Some(ms), format!("DELETE {key}")),
        Err(e) => smoke.push(
            "delete",
            false,
            e.raw_response().map(|r| r.status().as_u16()),
            Some(ms),
            format!(
                "DELETE {key}: {} (the smoke object stays; delete it by hand)",
                crate::aws::AwsError::from_sdk("DeleteObject", &key, e)
            ),
        ),
    };
    let _ = read_ok;
}

/// `url explain` on a refused URL, with the caller's credentials and the bucket's facts.
async fn explain_refusal(
    credentials: Option<aws_sdk_s3::config::SharedCredentialsProvider>,
    url: &str,
    method: &str,
    sent: &[(String, String)],
    error: Option<s3error::S3Error>,
    origin: Option<&str>,
) -> Option<explain::Report> {
    let parsed = PresignedUrl::parse(url).ok()?;
    let credentials = super::url::resolve_credentials(credentials).await;
    let headers: Vec<(String, String)> = sent
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    let ctx = Context {
        now: crate::clock::now_unix(),
        request: Request {
            method: Some(method.to_string()),
            headers: headers.clone(),
        },
        credentials: credentials.map(|c| (c.access_key_id, c.secret_access_key)),
        expected_headers: headers,
        s3_error: error,
        bucket: None::<BucketFacts>,
        origin: origin.map(str::to_string),
        content_type_candidates: Vec::new(),
    };
    Some(explain::explain(&parsed, &ctx))
}

fn report(printer: &Printer, api_url: &str, origin: Option<&str>, smoke: &Smoke) {
    let ok = smoke.steps.iter().all(|s| s.ok);
    let failed = smoke.steps.iter().find(|s| !s.ok).map(|s| s.step);
    if printer.json {
        printer.json_result(serde_json::json!({
            "api_url": api_url,
            "origin": origin,
            "ok": ok,
            "failed_step": failed,
            "steps": smoke.steps,
            "explain": smoke.explain.as_ref().map(|r| serde_json::json!({
                "findings": r.findings,
                "problems": r.problems(),
            })),
        }));
        return;
    }
    let mut out = String::new();
    for s in &smoke.steps {
        let mark = if s.ok { "✓" } else { "✗" };
        let status = s
            .status
            .map(|c| c.to_string())
            .unwrap_or_else(|| "-".into());
        let ms =
            s.ms.map(|m| format!("{m} ms"))
                .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{mark} {:<12} {status:>4} {ms:>8}  {}\n",
            s.step, s.detail
        ));
    }
    if let Some(r) = &smoke.explain {
        out.push_str("\nurl explain on the refused URL:\n");
        for f in &r.findings {
            let mark = match f.severity {
                Severity::Problem => "✗",
                Severity::Warning => "!",
            };
            out.push_str(&format!(
                "  {mark} {}: {}\n    fix: {}\n",
                f.code, f.problem, f.fix
            ));
        }
        if r.findings.is_empty() {
            out.push_str("  no finding\n");
        }
    }
    match failed {
        None => out.push_str("\nThe upload path works.\n"),
        Some(step) => out.push_str(&format!(
            "\nThe upload path is broken at step \"{step}\".\n"
        )),
    }
    printer.result(&out);
}
