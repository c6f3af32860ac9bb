//! What `dev` answers, before it becomes HTTP: the route, CORS (preflight and response headers),
//! the JWT authorizer, and the signer's own handler, as API Gateway and the function would.

use presign_signer::s3::{shared_client, S3};
use presign_signer::{handler, Config, Presigner};

use super::jwt::LocalJwt;
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

    /// Whether the API has a route for `method` `path`, as deploy creates them.
    fn has_route(&self, method: &str, path: &str) -> bool {
        if path == self.route || (self.cfg.uppy && path == handler::PARAMS_PATH) {
            return method == "GET";
        }
        let Some(rest) = path.strip_prefix(handler::MULTIPART_PATH) else {
            return false;
        };
        let segments: Vec<&str> = rest.split('/').skip(1).collect();
        self.cfg.multipart
            && (rest.is_empty() || rest.starts_with('/'))
            && matches!(
                (method, segments.as_slice()),
                ("POST", [])
                    | ("GET", [_])
                    | ("DELETE", [_])
                    | ("GET", [_, _])
                    | ("POST", [_, "complete"])
            )
    }

    /// Answers one request, as API Gateway with its CORS configuration, its JWT authorizer
    /// and the signer would.
    pub async fn answer(&self, req: &DevRequest<'_>, now: u64) -> Answer {
        let DevRequest {
            method,
            path,
            query,
            origin,
            authorization,
            body,
        } = *req;
        let allowed = origin.filter(|o| self.origin_allowed(o));
        let mut headers: Vec<(&'static str, String)> = Vec::new();
        if let Some(o) = allowed {
            headers.push(("access-control-allow-origin", o.to_string()));
            headers.push(("vary", "origin".into()));
        }
        let preflight = method == "OPTIONS" && origin.is_some();
        let any_method = ["GET", "POST", "DELETE"]
            .into_iter()
            .any(|m| self.has_route(m, path));
        if !any_method || (!preflight && !self.has_route(method, path)) {
            return not_found(headers, format!("no route {method} {path}"));
        }
        if preflight {
            let methods = if self.cfg.multipart {
                "GET, POST, DELETE, OPTIONS"
            } else {
                "GET, OPTIONS"
            };
            return match allowed {
                Some(_) => {
                    headers.push(("access-control-allow-methods", methods.into()));
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
        let mut user = None;
        if let Some(jwt) = &self.jwt {
            match jwt.check(authorization, now) {
                Ok(sub) => user = sub,
                Err(why) => {
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
        }
        let params = query_parameters(query);
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let meta: Vec<(&str, &str)> = params
            .iter()
            .filter_map(|(k, v)| Some((handler::metadata_param(k)?, v.as_str())))
            .collect();
        // The function's own routing, as behind API Gateway.
        let reply = handler::serve(
            &self.cfg,
            &S3::new(&self.signer, shared_client()),
            method,
            Some(path),
            &param,
            &meta,
            Some(body),
            user.as_deref(),
            now,
        )
        .await;
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
    /// The request body (read up to the API's limit).
    pub body: &'a [u8],
}
