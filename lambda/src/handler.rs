//! The request handler: query parameters in, `200 {signed_url, ...}` or `400 {error, message}`
//! out. A plain function of its inputs (configuration, signer, query, time), so tests call it
//! directly; [`handle`] takes an API Gateway HTTP API (payload 2.0) event and returns the
//! proxy response.
//!
//! The event type reads only what the signer needs, the decoded query: decoding a whole API
//! Gateway event into an `http::Request` costs more than signing the URL (see
//! `scripts/bench-signer`), and the function answers one route. Everything else in the event
//! is skipped unread (the request id in the logs is the invocation's, from the runtime).

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::multipart;
pub use crate::multipart::MULTIPART_PATH;
use crate::s3::S3;
use crate::sign::{PresignRequest, Presigner, SigningTime};
use crate::validate::{self, Rejection};

/// The parts of an API Gateway HTTP API (payload format 2.0) event the signer reads.
#[derive(Debug, Default, Deserialize)]
pub struct Event {
    /// Decoded query parameters (API Gateway joins repeated ones with commas).
    #[serde(rename = "queryStringParameters", default)]
    pub query: Option<Query>,
    /// The request's path (`/sign`, `/s3/params`).
    #[serde(rename = "rawPath", default)]
    pub path: Option<String>,
    #[serde(rename = "requestContext", default)]
    pub context: Option<RequestContext>,
    /// The request body (the multipart routes' JSON), base64 when `is_base64_encoded`.
    #[serde(default)]
    pub body: Option<String>,
    #[serde(rename = "isBase64Encoded", default)]
    pub is_base64_encoded: bool,
}

/// `requestContext`: the JWT authorizer's claims and the HTTP method are read.
#[derive(Debug, Default, Deserialize)]
pub struct RequestContext {
    #[serde(default)]
    pub authorizer: Option<Authorizer>,
    #[serde(default)]
    pub http: Option<HttpContext>,
}

#[derive(Debug, Default, Deserialize)]
pub struct HttpContext {
    #[serde(default)]
    pub method: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Authorizer {
    #[serde(default)]
    pub jwt: Option<JwtContext>,
}

#[derive(Debug, Default, Deserialize)]
pub struct JwtContext {
    #[serde(default)]
    pub claims: Option<Claims>,
}

/// The token's claims, as API Gateway's JWT authorizer passes them on.
#[derive(Debug, Default, Deserialize)]
pub struct Claims {
    pub sub: Option<String>,
}

impl Event {
    /// The request's method (`GET` when the event does not say).
    pub fn method(&self) -> &str {
        self.context
            .as_ref()
            .and_then(|c| c.http.as_ref())
            .and_then(|h| h.method.as_deref())
            .unwrap_or("GET")
    }

    /// The body's bytes: decoded from base64 when API Gateway encoded it; `None` when that
    /// encoding is broken.
    pub fn body_bytes(&self) -> Option<std::borrow::Cow<'_, [u8]>> {
        use base64::Engine as _;
        let body = self.body.as_deref().unwrap_or_default();
        if self.is_base64_encoded {
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .ok()
                .map(std::borrow::Cow::Owned)
        } else {
            Some(std::borrow::Cow::Borrowed(body.as_bytes()))
        }
    }

    /// The verified token's subject, when the route has a JWT authorizer.
    pub fn user(&self) -> Option<&str> {
        self.context
            .as_ref()?
            .authorizer
            .as_ref()?
            .jwt
            .as_ref()?
            .claims
            .as_ref()?
            .sub
            .as_deref()
    }
}

/// The path of Uppy's simple-upload route.
pub const PARAMS_PATH: &str = "/s3/params";

/// The query parameters the signer understands; others are ignored.
#[derive(Debug, Default)]
pub struct Query {
    pub filekey: Option<String>,
    pub content_type: Option<String>,
    pub method: Option<String>,
    pub size: Option<String>,
    /// Uppy's routes: the file's name and type.
    pub filename: Option<String>,
    pub file_type: Option<String>,
    /// The multipart routes: the key create answered.
    pub key: Option<String>,
    /// The body's checksum (base64), signed when the stack turns checksums on.
    pub checksum: Option<String>,
    /// `metadata[name]=value` (Uppy's `/s3/params`), in the order given: `(name, value)`.
    pub metadata: Vec<(String, String)>,
}

impl Query {
    /// A parameter by its name in the URL.
    pub fn get(&self, name: &str) -> Option<&str> {
        match name {
            "filekey" => self.filekey.as_deref(),
            "contentType" => self.content_type.as_deref(),
            "method" => self.method.as_deref(),
            "size" => self.size.as_deref(),
            "filename" => self.filename.as_deref(),
            "type" => self.file_type.as_deref(),
            "key" => self.key.as_deref(),
            "checksum" => self.checksum.as_deref(),
            _ => None,
        }
    }

    /// The `metadata[name]=value` parameters as `(name, value)`.
    pub fn metadata(&self) -> Vec<(&str, &str)> {
        self.metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

/// `name` of a `metadata[name]` query parameter (Uppy's way of sending the file's metadata).
pub fn metadata_param(param: &str) -> Option<&str> {
    param.strip_prefix("metadata[")?.strip_suffix(']')
}

/// A query parameter's name, as [`Query`] reads it: one of its own, a `metadata[...]` one, or
/// another (skipped unread).
enum QueryName {
    Known(usize),
    Metadata(String),
    Other,
}

/// The names [`Query`] keeps, in the order of [`Query::slot`].
const QUERY_NAMES: [&str; 8] = [
    "filekey",
    "contentType",
    "method",
    "size",
    "filename",
    "type",
    "key",
    "checksum",
];

impl Query {
    fn slot(&mut self, i: usize) -> &mut Option<String> {
        match i {
            0 => &mut self.filekey,
            1 => &mut self.content_type,
            2 => &mut self.method,
            3 => &mut self.size,
            4 => &mut self.filename,
            5 => &mut self.file_type,
            6 => &mut self.key,
            _ => &mut self.checksum,
        }
    }
}

impl<'de> Deserialize<'de> for QueryName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Names;
        impl serde::de::Visitor<'_> for Names {
            type Value = QueryName;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a query parameter's name")
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<QueryName, E> {
                if let Some(i) = QUERY_NAMES.iter().position(|n| *n == name) {
                    return Ok(QueryName::Known(i));
                }
                Ok(metadata_param(name)
                    .map_or(QueryName::Other, |m| QueryName::Metadata(m.to_string())))
            }
        }
        d.deserialize_identifier(Names)
    }
}

// Written out rather than derived: the `metadata[name]` parameters have names no field can
// carry, and the derive's `flatten` would buffer the whole query first.
impl<'de> Deserialize<'de> for Query {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Params;
        impl<'de> serde::de::Visitor<'de> for Params {
            type Value = Query;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("the query parameters")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Query, A::Error> {
                let mut q = Query::default();
                while let Some(name) = map.next_key::<QueryName>()? {
                    match name {
                        QueryName::Known(i) => *q.slot(i) = map.next_value()?,
                        QueryName::Metadata(m) => {
                            if let Some(v) = map.next_value::<Option<String>>()? {
                                q.metadata.push((m, v));
                            }
                        }
                        QueryName::Other => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(q)
            }
        }
        d.deserialize_map(Params)
    }
}

/// The proxy response API Gateway turns into the HTTP response.
#[derive(Debug, Serialize)]
pub struct ProxyResponse {
    #[serde(rename = "statusCode")]
    pub status_code: u16,
    pub headers: ResponseHeaders,
    pub body: String,
}

#[derive(Debug, Serialize)]
pub struct ResponseHeaders {
    #[serde(rename = "content-type")]
    pub content_type: &'static str,
    #[serde(rename = "cache-control")]
    pub cache_control: &'static str,
}

/// What the handler answers, before it becomes a response.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    /// The JSON body.
    pub body: String,
    /// For the log line: what happened, never the key or the URL.
    pub outcome: &'static str,
}

#[derive(Serialize)]
struct Refused<'a> {
    error: &'a str,
    message: &'a str,
}

pub(crate) fn to_json(value: &impl Serialize) -> String {
    // Plain structs of strings always serialise.
    serde_json::to_string(value).unwrap_or_default()
}

pub(crate) fn rejected(r: Rejection) -> Reply {
    Reply {
        status: 400,
        body: to_json(&Refused {
            error: r.code,
            message: &r.message,
        }),
        outcome: r.code,
    }
}

/// Signs what the query asks for. `param` looks a query parameter up by name; `now` is the
/// Unix time in seconds. Caller mistakes are 400s; the caller never chooses the status.
pub fn sign<'q>(
    cfg: &Config,
    signer: &Presigner,
    param: impl Fn(&str) -> Option<&'q str>,
    now: u64,
) -> Reply {
    match sign_inner(cfg, signer, &param, now) {
        Ok(r) => r,
        Err(r) => rejected(r),
    }
}

fn sign_inner<'q>(
    cfg: &Config,
    signer: &Presigner,
    param: &dyn Fn(&str) -> Option<&'q str>,
    now: u64,
) -> Result<Reply, Rejection> {
    let method = match param("method") {
        None => "PUT",
        Some(m) if m.eq_ignore_ascii_case("PUT") => "PUT",
        Some(m) if m.eq_ignore_ascii_case("GET") && cfg.allow_downloads => "GET",
        Some(m) if m.eq_ignore_ascii_case("GET") => {
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
    let key = validate::key(cfg, param("filekey").unwrap_or_default())?;
    let (content_type, size, checksum) = if method == "PUT" {
        let t = validate::content_type(cfg, param("contentType").unwrap_or_default())?;
        let size = validate::size(cfg, param("size"))?;
        let checksum = validate::checksum(cfg, param("checksum"), size)?;
        (Some(t), size.map(|n| n.to_string()), checksum)
    } else {
        (None, None, None)
    };
    let mut signed: Vec<(&str, &str)> = Vec::with_capacity(3);
    if let Some(n) = &size {
        signed.push(("content-length", n));
    }
    if let Some(t) = &content_type {
        signed.push(("content-type", t));
    }
    if let Some((name, value)) = &checksum {
        signed.push((name, value));
    }
    let url = signer.presign(&PresignRequest {
        method,
        key: &key,
        expires_seconds: cfg.expires_seconds,
        headers: &signed,
        query: &[],
        time: SigningTime { unix: now },
    });
    let expires_at = SigningTime {
        unix: now + cfg.expires_seconds,
    }
    .rfc3339();
    Ok(Reply {
        status: 200,
        body: signed_body(
            &url,
            method,
            &[
                ("Content-Type", content_type.as_deref()),
                ("Content-Length", size.as_deref()),
                (
                    checksum.as_ref().map_or("", |c| c.0),
                    checksum.as_ref().map(|c| c.1.as_str()),
                ),
            ],
            &key,
            &expires_at,
        ),
        outcome: "signed",
    })
}

/// `{"signed_url": ..., "method": ..., "headers": {...}, "key": ..., "expires_at": ...}`,
/// written in one pass into one buffer (this is on every request's path).
fn signed_body(
    url: &str,
    method: &str,
    headers: &[(&str, Option<&str>)],
    key: &str,
    expires_at: &str,
) -> String {
    let mut out = String::with_capacity(url.len() + key.len() + 160);
    out.push_str("{\"signed_url\":");
    push_json_str(&mut out, url);
    out.push_str(",\"method\":");
    push_json_str(&mut out, method);
    out.push_str(",\"headers\":{");
    let mut first = true;
    for (name, value) in headers {
        if let Some(value) = value {
            if !first {
                out.push(',');
            }
            first = false;
            push_json_str(&mut out, name);
            out.push(':');
            push_json_str(&mut out, value);
        }
    }
    out.push_str("},\"key\":");
    push_json_str(&mut out, key);
    out.push_str(",\"expires_at\":");
    push_json_str(&mut out, expires_at);
    out.push('}');
    out
}

/// Appends `s` as a JSON string literal.
fn push_json_str(out: &mut String, s: &str) {
    // A fold without early exit, so the compiler can check many bytes at a time.
    let needs_escape = s.bytes().fold(false, |acc, b| {
        acc | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if !needs_escape {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&to_json(&s));
    }
}

/// The answer for a request to `path`: Uppy's routes when they are on, else the signing route
/// (the API sends the function nothing else).
pub fn route<'q>(
    cfg: &Config,
    signer: &Presigner,
    path: Option<&str>,
    param: impl Fn(&str) -> Option<&'q str>,
    meta: &[(&str, &str)],
    user: Option<&str>,
    now: u64,
) -> Reply {
    match path {
        Some(PARAMS_PATH) if cfg.uppy => {
            crate::upload::params(cfg, signer, param, meta, user, now).unwrap_or_else(rejected)
        }
        Some(p) if is_multipart(p) => Reply {
            status: 404,
            body: to_json(&Refused {
                error: "not_found",
                message: "the multipart routes are not served by this signer",
            }),
            outcome: "not_found",
        },
        _ => sign(cfg, signer, param, now),
    }
}

fn is_multipart(path: &str) -> bool {
    path.strip_prefix(MULTIPART_PATH)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The answer to any request: the multipart routes (which call S3) when they are on, else
/// [`route`]. `method`, `path` and `body` as the API passes them on; `meta` are the query's
/// `metadata[name]=value` parameters.
#[allow(clippy::too_many_arguments)]
pub async fn serve<'q>(
    cfg: &Config,
    s3: &S3<'_>,
    method: &str,
    path: Option<&str>,
    param: &'q (dyn Fn(&str) -> Option<&'q str> + Sync),
    meta: &[(&str, &str)],
    body: Option<&[u8]>,
    user: Option<&str>,
    now: u64,
) -> Reply {
    match path {
        Some(p) if cfg.multipart && is_multipart(p) => {
            let Some(body) = body else {
                return rejected(Rejection {
                    code: "invalid_body",
                    message: "the request body is not valid base64".into(),
                });
            };
            let req = multipart::Request {
                method,
                rest: &p[MULTIPART_PATH.len()..],
                param,
                body,
                user,
                now,
            };
            multipart::serve(cfg, s3, &req).await
        }
        _ => route(cfg, s3.signer(), path, param, meta, user, now),
    }
}

/// [`handle`] for every route, the multipart ones included.
pub async fn handle_all(
    cfg: &Config,
    s3: &S3<'_>,
    event: &Event,
    now: u64,
) -> (ProxyResponse, &'static str) {
    let query = event.query.as_ref();
    let param = |name: &str| query.and_then(|q| q.get(name));
    let body = event.body_bytes();
    let meta = query.map(Query::metadata).unwrap_or_default();
    let reply = serve(
        cfg,
        s3,
        event.method(),
        event.path.as_deref(),
        &param,
        &meta,
        body.as_deref(),
        event.user(),
        now,
    )
    .await;
    respond(reply)
}

fn respond(reply: Reply) -> (ProxyResponse, &'static str) {
    let response = ProxyResponse {
        status_code: reply.status,
        headers: ResponseHeaders {
            content_type: "application/json",
            cache_control: "no-store",
        },
        body: reply.body,
    };
    (response, reply.outcome)
}

/// An API Gateway HTTP API event in, the proxy response out, and the outcome for the log.
pub fn handle(
    cfg: &Config,
    signer: &Presigner,
    event: &Event,
    now: u64,
) -> (ProxyResponse, &'static str) {
    let query = event.query.as_ref();
    let param = |name: &str| query.and_then(|q| q.get(name));
    let meta = query.map(Query::metadata).unwrap_or_default();
    respond(route(
        cfg,
        signer,
        event.path.as_deref(),
        param,
        &meta,
        event.user(),
        now,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hand_written_body_is_the_json_serde_would_write() {
        for key in [
            "uploads/cat.jpg",
            "uploads/\"quoted\" \\ back",
            "uploads/tab\there",
            "uploads/ünïcødé \u{2028} 猫.png",
        ] {
            for (ct, size) in [
                (Some("image/png"), Some("42")),
                (None, None),
                (Some("a/b"), None),
            ] {
                let body = signed_body(
                    "https://h/p?a=b&c=%2F",
                    "PUT",
                    &[("Content-Type", ct), ("Content-Length", size), ("", None)],
                    key,
                    "2026-11-28T14:30:39Z",
                );
                let parsed: serde_json::Value = serde_json::from_str(&body).expect("valid JSON");
                let mut headers = serde_json::Map::new();
                if let Some(ct) = ct {
                    headers.insert("Content-Type".into(), ct.into());
                }
                if let Some(size) = size {
                    headers.insert("Content-Length".into(), size.into());
                }
                assert_eq!(
                    parsed,
                    serde_json::json!({
                        "signed_url": "https://h/p?a=b&c=%2F",
                        "method": "PUT",
                        "headers": headers,
                        "key": key,
                        "expires_at": "2026-11-28T14:30:39Z",
                    })
                );
            }
        }
    }
}
