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
use crate::presigned::explain;

mod checks;
mod report;

use checks::{check_api_cors, check_bucket_cors, upload_and_back};
use report::report;

/// One step's outcome.
#[derive(Debug, serde::Serialize)]
pub(super) struct Step {
    pub(super) step: &'static str,
    pub(super) ok: bool,
    /// The HTTP status, when there was an answer.
    pub(super) status: Option<u16>,
    /// Milliseconds the step's request took.
    pub(super) ms: Option<u128>,
    pub(super) detail: String,
}

/// What the whole run found, for the report.
pub(super) struct Smoke {
    pub(super) steps: Vec<Step>,
    pub(super) explain: Option<explain::Report>,
}

impl Smoke {
    pub(super) fn push(
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
pub(super) async fn timed(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (Result<(u16, Vec<(String, String)>, String), String>, u128) {
    let start = Instant::now();
    let answer = presign_signer::s3::exchange(method, url, headers, body).await;
    (answer, start.elapsed().as_millis())
}

pub(super) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
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
