//! The request handler: query parameters in, `200 {signed_url, ...}` or `400 {error, message}`
//! out. A plain function of its inputs (configuration, signer, query, time), so tests call it
//! directly; [`handle`] adapts it to API Gateway HTTP API events.

use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;

use crate::config::Config;
use crate::sign::{PresignRequest, Presigner, SigningTime};
use crate::validate::{self, Rejection};

/// What the handler answers, before it becomes an HTTP response.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: serde_json::Value,
    /// For the log line: what happened, never the key or the URL.
    pub outcome: &'static str,
}

fn rejected(r: Rejection) -> Reply {
    Reply {
        status: 400,
        body: json!({"error": r.code, "message": r.message}),
        outcome: r.code,
    }
}

/// Signs what the query asks for. `param` looks a query parameter up by name; `now` is the
/// Unix time in seconds. Caller mistakes are 400s; the caller never chooses the status.
pub fn sign(
    cfg: &Config,
    signer: &Presigner,
    param: impl Fn(&str) -> Option<String>,
    now: u64,
) -> Reply {
    match sign_inner(cfg, signer, &param, now) {
        Ok(r) => r,
        Err(r) => rejected(r),
    }
}

fn sign_inner(
    cfg: &Config,
    signer: &Presigner,
    param: &dyn Fn(&str) -> Option<String>,
    now: u64,
) -> Result<Reply, Rejection> {
    let method = match param("method").map(|m| m.to_ascii_uppercase()).as_deref() {
        None | Some("PUT") => "PUT",
        Some("GET") if cfg.allow_downloads => "GET",
        Some("GET") => {
            return Err(Rejection {
                code: "downloads_disabled",
                message: "this signer hands out upload URLs only".into(),
            })
        }
        Some(other) => {
            return Err(Rejection {
                code: "invalid_method",
                message: format!(
                "method {other:?} is not supported; use PUT (or GET when downloads are enabled)"
            ),
            })
        }
    };
    let key = validate::key(cfg, &param("filekey").unwrap_or_default())?;
    let mut headers: Vec<(&str, String)> = Vec::new();
    if method == "PUT" {
        let content_type = validate::content_type(cfg, &param("contentType").unwrap_or_default())?;
        headers.push(("content-type", content_type));
        if let Some(size) = validate::size(cfg, param("size").as_deref())? {
            headers.push(("content-length", size.to_string()));
        }
    }
    let signed: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let url = signer.presign(&PresignRequest {
        method,
        key: &key,
        expires_seconds: cfg.expires_seconds,
        headers: &signed,
        time: SigningTime { unix: now },
    });
    let client_headers: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| {
            let name = match *k {
                "content-type" => "Content-Type",
                "content-length" => "Content-Length",
                other => other,
            };
            (name.to_string(), json!(v))
        })
        .collect();
    Ok(Reply {
        status: 200,
        body: json!({
            "signed_url": url,
            "method": method,
            "headers": client_headers,
            "key": key,
            "expires_at": rfc3339(now + cfg.expires_seconds),
        }),
        outcome: "signed",
    })
}

fn rfc3339(unix: u64) -> String {
    let (date, stamp) = SigningTime { unix }.parts();
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &date[0..4],
        &date[4..6],
        &date[6..8],
        &stamp[9..11],
        &stamp[11..13],
        &stamp[13..15]
    )
}

/// The API Gateway adapter: an HTTP API (payload 2.0) request in, a JSON response out.
pub fn handle(
    cfg: &Config,
    signer: &Presigner,
    req: &Request,
    now: u64,
) -> (Response<Body>, Reply) {
    let query = req
        .query_string_parameters_ref()
        .cloned()
        .unwrap_or_default();
    let reply = sign(
        cfg,
        signer,
        |name| query.first(name).map(str::to_string),
        now,
    );
    let response = Response::builder()
        .status(reply.status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(Body::Text(reply.body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::Text(String::new())));
    (response, reply)
}
