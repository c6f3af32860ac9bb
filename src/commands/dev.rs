//! `presign-stack dev`: the stack's API on 127.0.0.1, served by the signer's own code (the
//! `lambda/` crate as a library, same validation, same response) with the API's CORS rules,
//! signing with the caller's credentials for the stack's bucket, on the emulator or on AWS.

use std::convert::Infallible;
use std::sync::Arc;

use anyhow::Context as _;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use presign_signer::{handler, Config, Presigner};
use tokio::net::TcpListener;

use super::{ExitStatus, Session};
use crate::cli::{DevArgs, Global};
use crate::output::Printer;
use crate::presigned::cors::wildcard_match;

/// What a request needs: the signer, its configuration, the route, the API's CORS rules and its
/// JWT authorizer.
pub struct Api {
    pub cfg: Config,
    pub signer: Presigner,
    pub route: String,
    pub cors_origins: Vec<String>,
    /// The headers a preflight may ask for, as the deployed API's CORS configuration lists them.
    pub cors_allow_headers: Vec<String>,
    /// With `api.jwt`: the route needs a token, as behind API Gateway's JWT authorizer.
    pub jwt: Option<LocalJwt>,
}

/// `api.jwt` locally. API Gateway checks a token's signature against the issuer's published
/// keys, which `dev` cannot fetch (it may be offline, and a real user's token is not something
/// to paste into a terminal): instead `dev` makes a key of its own when it starts, prints a
/// token signed with it (HS256) for the spec's issuer and audience, and accepts only tokens
/// signed with that key, from that issuer, for that audience, not expired. A request without a
/// valid token gets API Gateway's `401 {"message":"Unauthorized"}`.
pub struct LocalJwt {
    key: [u8; 32],
    pub issuer: String,
    pub audience: Vec<String>,
}

/// How long a local token lives.
const LOCAL_TOKEN_SECONDS: u64 = 3600;

impl LocalJwt {
    pub fn new(issuer: &str, audience: &[String]) -> LocalJwt {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        LocalJwt {
            key,
            issuer: issuer.to_string(),
            audience: audience.to_vec(),
        }
    }

    fn mac(&self, signed: &str) -> Vec<u8> {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.key)
            .expect("HMAC takes a key of any length");
        mac.update(signed.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// A token for the spec's issuer and first audience, valid for an hour from `now`.
    pub fn mint(&self, now: u64) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
        let claims = serde_json::json!({
            "iss": self.issuer,
            "aud": self.audience.first().cloned().unwrap_or_default(),
            "sub": "presign-stack-dev",
            "iat": now,
            "exp": now + LOCAL_TOKEN_SECONDS,
        });
        let payload = b64.encode(claims.to_string());
        let signed = format!("{header}.{payload}");
        let signature = b64.encode(self.mac(&signed));
        format!("{signed}.{signature}")
    }

    /// Checks an `Authorization` header (the token, with or without `Bearer `); why not, when
    /// it is refused (for the log line).
    pub fn check(&self, authorization: Option<&str>, now: u64) -> Result<(), &'static str> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let token = authorization.ok_or("no Authorization header")?.trim();
        let token = token
            .strip_prefix("Bearer ")
            .or_else(|| token.strip_prefix("bearer "))
            .unwrap_or(token)
            .trim();
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("not a JWT");
        };
        let signed_part = &token[..header.len() + 1 + payload.len()];
        let header: serde_json::Value = b64
            .decode(header)
            .ok()
            .and_then(|h| serde_json::from_slice(&h).ok())
            .ok_or("not a JWT")?;
        if header["alg"] != "HS256" {
            return Err("not signed by this dev server");
        }
        let signature = b64.decode(signature).map_err(|_| "not a JWT")?;
        let expected = self.mac(signed_part);
        if !constant_time_eq(&signature, &expected) {
            return Err("not signed by this dev server");
        }
        let claims: serde_json::Value = b64
            .decode(payload)
            .ok()
            .and_then(|p| serde_json::from_slice(&p).ok())
            .ok_or("not a JWT")?;
        if claims["iss"].as_str() != Some(self.issuer.as_str()) {
            return Err("wrong issuer");
        }
        let audiences: Vec<&str> = match &claims["aud"] {
            serde_json::Value::String(a) => vec![a.as_str()],
            serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect(),
            _ => claims["client_id"].as_str().into_iter().collect(),
        };
        if !audiences
            .iter()
            .any(|a| self.audience.iter().any(|w| w == a))
        {
            return Err("wrong audience");
        }
        match claims["exp"].as_u64() {
            Some(exp) if exp > now => {}
            _ => return Err("expired"),
        }
        if claims["nbf"].as_u64().is_some_and(|nbf| nbf > now) {
            return Err("not valid yet");
        }
        Ok(())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The response `dev` gives, before it becomes HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// For the log line.
    pub outcome: String,
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space, as API Gateway
/// decodes query parameters).
fn form_decode(s: &str) -> String {
    crate::presigned::percent_decode(&s.replace('+', " "))
}

/// The query as API Gateway's `queryStringParameters`: decoded, repeated names joined by commas.
pub fn query_parameters(raw: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (form_decode(k), form_decode(v));
        match out.iter_mut().find(|(name, _)| *name == k) {
            Some((_, existing)) => {
                existing.push(',');
                existing.push_str(&v);
            }
            None => out.push((k, v)),
        }
    }
    out
}

/// API Gateway's answer for a route it does not have.
fn not_found(mut headers: Vec<(&'static str, String)>, outcome: String) -> Answer {
    headers.push(("content-type", "application/json".into()));
    Answer {
        status: 404,
        headers,
        body: r#"{"message":"Not Found"}"#.into(),
        outcome,
    }
}

impl Api {
    fn origin_allowed(&self, origin: &str) -> bool {
        self.cors_origins.iter().any(|o| wildcard_match(o, origin))
    }

    /// Answers one request, as API Gateway with its CORS configuration, its JWT authorizer
    /// and the signer would.
    pub fn answer(&self, req: &DevRequest<'_>, now: u64) -> Answer {
        let DevRequest {
            method,
            path,
            query,
            origin,
            authorization,
        } = *req;
        let allowed = origin.filter(|o| self.origin_allowed(o));
        let mut headers: Vec<(&'static str, String)> = Vec::new();
        if let Some(o) = allowed {
            headers.push(("access-control-allow-origin", o.to_string()));
            headers.push(("vary", "origin".into()));
        }
        if path != self.route {
            return not_found(headers, "no such route".into());
        }
        if method == "OPTIONS" && origin.is_some() {
            return match allowed {
                Some(_) => {
                    headers.push(("access-control-allow-methods", "GET, OPTIONS".into()));
                    headers.push((
                        "access-control-allow-headers",
                        self.cors_allow_headers.join(","),
                    ));
                    headers.push(("access-control-max-age", "300".into()));
                    Answer {
                        status: 204,
                        headers,
                        body: String::new(),
                        outcome: "preflight allowed".into(),
                    }
                }
                None => Answer {
                    status: 403,
                    headers,
                    body: String::new(),
                    outcome: format!(
                        "preflight refused: origin {} is not in api.cors_origins",
                        origin.unwrap_or_default()
                    ),
                },
            };
        }
        if method != "GET" {
            return not_found(headers, format!("no {method} route"));
        }
        if let Some(jwt) = &self.jwt {
            if let Err(why) = jwt.check(authorization, now) {
                headers.push(("content-type", "application/json".into()));
                headers.push(("www-authenticate", "Bearer".into()));
                return Answer {
                    status: 401,
                    headers,
                    body: r#"{"message":"Unauthorized"}"#.into(),
                    outcome: format!("unauthorized: {why}"),
                };
            }
        }
        let params = query_parameters(query);
        let reply = handler::sign(
            &self.cfg,
            &self.signer,
            |name| {
                params
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
            },
            now,
        );
        headers.push(("content-type", "application/json".into()));
        headers.push(("cache-control", "no-store".into()));
        let outcome = match (origin, allowed) {
            (Some(o), None) => format!(
                "{} (origin {o} is not allowed: the browser will block it)",
                reply.outcome
            ),
            _ => reply.outcome.to_string(),
        };
        Answer {
            status: reply.status,
            headers,
            body: reply.body,
            outcome,
        }
    }
}

/// The parts of an HTTP request `dev` answers from.
#[derive(Debug, Clone, Copy)]
pub struct DevRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub origin: Option<&'a str>,
    pub authorization: Option<&'a str>,
}

async fn serve(
    api: Arc<Api>,
    printer: Printer,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let answer = api.answer(
        &DevRequest {
            method: &method,
            path: &path,
            query: req.uri().query().unwrap_or_default(),
            origin: header("origin"),
            authorization: header("authorization"),
        },
        crate::clock::now_unix(),
    );
    // One line per request: never the key or the signed URL.
    printer.progress(&format!(
        "{method} {path} → {} {}",
        answer.status, answer.outcome
    ));
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in answer.headers {
        if let Ok(v) = hyper::header::HeaderValue::from_str(&value) {
            response.headers_mut().append(name, v);
        }
    }
    Ok(response)
}

pub async fn run(global: &Global, args: &DevArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let session = Session::open(global, printer, None).await?;
    let cfg = super::url::signer_config(&session)?;
    let signer = super::url::local_presigner(&session, &cfg).await?;
    let api = Arc::new(Api {
        route: session.stack.api.route.clone(),
        cors_origins: session.stack.api.cors_origins.clone(),
        cors_allow_headers: crate::plan::desired::api_cors(&session.stack)
            .map(|c| c.allow_headers)
            .unwrap_or_default(),
        jwt: session
            .stack
            .api
            .jwt
            .as_ref()
            .map(|j| LocalJwt::new(&j.issuer, &j.audience)),
        cfg,
        signer,
    });
    // Uploads need the bucket: say so now rather than at the first PUT.
    if let Err(e) = session
        .clients
        .s3
        .head_bucket()
        .bucket(&api.cfg.bucket)
        .send()
        .await
    {
        let missing = e.as_service_error().is_some_and(|s| s.is_not_found());
        printer.info(&if missing {
            format!(
                "warning: bucket {} does not exist yet: uploads will fail until you run `presign-stack deploy`",
                api.cfg.bucket
            )
        } else {
            format!(
                "warning: could not check bucket {}: {}",
                api.cfg.bucket,
                aws_sdk_s3::error::DisplayErrorContext(&e)
            )
        });
    }
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| {
            format!(
                "cannot listen on 127.0.0.1:{}\n  hint: pick another --port (0 picks a free one)",
                args.port
            )
        })?;
    let addr = listener.local_addr()?;
    let target = match &api.cfg.endpoint {
        Some(e) => format!("{e} (path-style)"),
        None => format!("AWS, {}", api.cfg.region),
    };
    let token_note = match &api.jwt {
        Some(jwt) => format!(
            "api.jwt is on: requests need a token. A local one (valid 1 h, accepted only by this server):\n  Authorization: Bearer {}\n",
            jwt.mint(crate::clock::now_unix())
        ),
        None => String::new(),
    };
    printer.result(&format!(
        "{token_note}Listening on http://{addr}{route}\n  bucket {bucket} on {target}, signing with your credentials\n  CORS origins: {origins}\n  try: curl 'http://{addr}{route}?filekey=cat.jpg&contentType=image/jpeg'\nPress Ctrl-C to stop.\n",
        route = api.route,
        bucket = api.cfg.bucket,
        origins = if api.cors_origins.is_empty() { "(none: browsers are refused)".to_string() } else { api.cors_origins.join(", ") },
    ));
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    printer.info(&format!("accept failed: {e}"));
                    continue;
                }
            },
            _ = tokio::signal::ctrl_c() => break,
        };
        let (api, printer) = (api.clone(), printer.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req| serve(api.clone(), printer.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
    printer.info("Stopped.");
    Ok(ExitStatus::Success)
}
