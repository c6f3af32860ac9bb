//! Uppy's multipart routes (the Companion S3 contract, `@uppy/aws-s3` 6.x), for files too large
//! or too precious for one request: parts of up to 5 GiB each, uploaded straight to S3 with
//! pre-signed URLs, resumable from the parts S3 already holds.
//!
//! - `POST /s3/multipart` `{"filename", "type", "metadata"}` → `{"key", "uploadId", "bucket"}`
//! - `GET /s3/multipart/{uploadId}/{partNumber}?key=` → `{"url", "expires"}`
//! - `GET /s3/multipart/{uploadId}?key=` → `[{"PartNumber", "ETag", "Size"}]`
//! - `POST /s3/multipart/{uploadId}/complete?key=` `{"parts": [...]}` → `{"location", "key", "bucket"}`
//! - `DELETE /s3/multipart/{uploadId}?key=` → `{}`
//!
//! The server chooses the key ([`crate::upload::server_key`]); every later call must name a key
//! of that shape under the caller's own folder (the JWT's `sub`), and S3 ties the upload id to
//! the key. Sizes: a size declared at create is checked, a part URL asked with `size` signs
//! its `Content-Length`, and complete adds up the parts S3 holds and aborts the upload when
//! they are over the limit. Complete sends `If-None-Match: *`: an existing object is never
//! replaced.

use serde::Deserialize;

use crate::config::Config;
use crate::handler::{to_json, Reply};
use crate::s3::{Completed, S3Error, S3};
use crate::sign::{PresignRequest, SigningTime, MAX_SINGLE_UPLOAD_BYTES};
use crate::upload::{random_id, sanitise_name, server_key};
use crate::validate::{self, Rejection};

/// The path every multipart route starts with.
pub const MULTIPART_PATH: &str = "/s3/multipart";
/// S3's part numbers: 1 to 10,000.
pub const MAX_PARTS: u32 = 10_000;
/// The largest request body read (a complete call listing 10,000 parts is about 700 KB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A request to one of the multipart routes, as the API passes it on.
pub struct Request<'r, 'q> {
    pub method: &'r str,
    /// The path after [`MULTIPART_PATH`], still percent-encoded (`""`, `/<id>`, `/<id>/<n>`,
    /// `/<id>/complete`).
    pub rest: &'r str,
    pub param: &'r (dyn Fn(&str) -> Option<&'q str> + Sync),
    /// The request body, decoded from base64 when API Gateway encoded it.
    pub body: &'r [u8],
    /// The JWT's subject when the route has an authorizer.
    pub user: Option<&'r str>,
    pub now: u64,
}

/// A refusal with its HTTP status: `{"error": code, "message": message}`.
struct Failure {
    status: u16,
    code: &'static str,
    message: String,
}

impl From<Rejection> for Failure {
    fn from(r: Rejection) -> Self {
        Failure {
            status: 400,
            code: r.code,
            message: r.message,
        }
    }
}

fn fail(status: u16, code: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        status,
        code,
        message: message.into(),
    }
}

/// What S3's refusal means for the caller: their mistakes are 4xx, S3's or ours 502.
fn from_s3(e: S3Error) -> Failure {
    match e {
        S3Error::Refused { code, .. } if code == "NoSuchUpload" => fail(
            404,
            "no_such_upload",
            "no upload in progress with this id and key (completed, aborted or expired)",
        ),
        S3Error::Refused { status, code, .. } if status == 412 || code == "PreconditionFailed" => {
            fail(
                409,
                "key_exists",
                "an object already exists at this key; it was not replaced",
            )
        }
        S3Error::Refused { code, message, .. }
            if matches!(
                code.as_str(),
                "InvalidPart" | "InvalidPartOrder" | "EntityTooSmall" | "InvalidArgument"
            ) =>
        {
            fail(
                400,
                "invalid_parts",
                format!("S3 refused the parts: {code}: {message}"),
            )
        }
        S3Error::Refused { status, code, .. } => fail(
            502,
            "storage_error",
            format!("S3 answered {status} {code}; the upload may be retried"),
        ),
        S3Error::Unreachable(why) => fail(502, "storage_unreachable", why),
    }
}

/// The answer to a multipart request. Never a 5xx for a caller's mistake.
pub async fn serve(cfg: &Config, s3: &S3<'_>, req: &Request<'_, '_>) -> Reply {
    match serve_inner(cfg, s3, req).await {
        Ok(reply) => reply,
        Err(f) => Reply {
            status: f.status,
            body: to_json(&serde_json::json!({"error": f.code, "message": f.message})),
            outcome: f.code,
        },
    }
}

async fn serve_inner(cfg: &Config, s3: &S3<'_>, req: &Request<'_, '_>) -> Result<Reply, Failure> {
    let segments: Vec<&str> = req
        .rest
        .strip_prefix('/')
        .map(|r| r.split('/').collect())
        .unwrap_or_default();
    let (id, action) = match (req.method, segments.as_slice()) {
        ("POST", []) => return create(cfg, s3, req).await,
        ("GET", [id, part]) => (id, Action::SignPart(part)),
        ("GET", [id]) => (id, Action::List),
        ("POST", [id, "complete"]) => (id, Action::Complete),
        ("DELETE", [id]) => (id, Action::Abort),
        _ => {
            return Err(fail(
                404,
                "not_found",
                format!("no route {} {MULTIPART_PATH}{}", req.method, req.rest),
            ))
        }
    };
    // Every route on an upload checks first that the key is the caller's, then the id's shape.
    let up = Upload {
        key: owned_key(cfg, req)?,
        id: upload_id(id)?,
    };
    match action {
        Action::SignPart(part) => sign_part(cfg, s3, req, &up, part),
        Action::List => list(s3, req, &up).await,
        Action::Complete => complete(cfg, s3, req, &up).await,
        Action::Abort => abort(s3, req, &up).await,
    }
}

enum Action<'a> {
    SignPart(&'a str),
    List,
    Complete,
    Abort,
}

/// An upload the caller named and owns: its key (checked against the caller's folder) and its
/// percent-decoded id.
struct Upload<'q> {
    key: &'q str,
    id: String,
}

fn ok(body: String, outcome: &'static str) -> Result<Reply, Failure> {
    Ok(Reply {
        status: 200,
        body,
        outcome,
    })
}

#[derive(Deserialize)]
struct CreateBody {
    #[serde(default)]
    filename: String,
    #[serde(rename = "type", default)]
    file_type: String,
    /// Not part of Uppy's request; a client that knows the size may declare it.
    #[serde(default)]
    size: Option<u64>,
    /// Uppy's `file.meta`: stored as the object's `x-amz-meta-*` (strings, numbers and
    /// booleans; `null` is left out).
    #[serde(default)]
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The create body's metadata as name/value text, refused when a value is a list or an object.
fn body_metadata(
    meta: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Result<Vec<(String, String)>, Failure> {
    use serde_json::Value;
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for (name, value) in meta.into_iter().flatten() {
        let text = match value {
            Value::Null => continue,
            Value::String(s) => s.clone(),
            Value::Bool(_) | Value::Number(_) => value.to_string(),
            Value::Array(_) | Value::Object(_) => {
                return Err(fail(
                    400,
                    "invalid_metadata",
                    format!("metadata {name:?} must be a string, a number or a boolean"),
                ))
            }
        };
        pairs.push((name, text));
    }
    Ok(crate::upload::metadata(
        pairs.iter().map(|(n, v)| (*n, v.as_str())),
    )?)
}

fn json_body<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, Failure> {
    if body.len() > MAX_BODY_BYTES {
        return Err(fail(
            413,
            "body_too_large",
            format!("the request body is over {MAX_BODY_BYTES} bytes"),
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        fail(
            400,
            "invalid_body",
            format!("the request body is not the JSON this route takes: {e}"),
        )
    })
}

/// The refusal of an upload of `size` bytes when it is outside the stack's range: 413 over the
/// maximum, 400 under the minimum.
fn outside_limits(cfg: &Config, size: u64) -> Option<Failure> {
    let (min, max) = limits(cfg);
    if size > max {
        Some(fail(
            413,
            "too_large",
            format!("{size} bytes is over the limit of {max}"),
        ))
    } else if size < min {
        Some(fail(
            400,
            "too_small",
            format!("{size} bytes is under the minimum of {min}"),
        ))
    } else {
        None
    }
}

fn limits(cfg: &Config) -> (u64, u64) {
    (
        cfg.min_size_bytes.unwrap_or(0),
        cfg.max_size_bytes.unwrap_or(MULTIPART_MAX_BYTES),
    )
}

/// The largest object a multipart upload makes, when the stack sets no limit: S3's documented
/// 5 TiB (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html).
pub const MULTIPART_MAX_BYTES: u64 = 5 * 1024 * 1024 * 1024 * 1024;

async fn create(cfg: &Config, s3: &S3<'_>, req: &Request<'_, '_>) -> Result<Reply, Failure> {
    let body: CreateBody = json_body(req.body)?;
    let content_type = if body.file_type.is_empty() {
        return Err(fail(
            400,
            "missing_type",
            "add \"type\": <the file's MIME type> to the body",
        ));
    } else {
        validate::content_type(cfg, &body.file_type)?
    };
    if let Some(size) = body.size {
        if let Some(f) = outside_limits(cfg, size) {
            return Err(f);
        }
    }
    let metadata = body_metadata(body.metadata.as_ref())?;
    let key = server_key(cfg, req.user, &random_id()?, &body.filename)?;
    let algorithm = cfg.checksum.map(|c| c.algorithm());
    let upload_id = s3
        .create(&key, &content_type, algorithm, &metadata, req.now)
        .await
        .map_err(from_s3)?;
    ok(
        to_json(&serde_json::json!({"key": key, "uploadId": upload_id, "bucket": cfg.bucket})),
        "multipart_created",
    )
}

/// The `key` parameter, if it is one this signer could have given this caller:
/// `<prefix>[<user>/]<32 hex>/<sanitised name>`.
fn owned_key<'q>(cfg: &Config, req: &Request<'_, 'q>) -> Result<&'q str, Failure> {
    let key = (req.param)("key")
        .filter(|k| !k.is_empty())
        .ok_or_else(|| fail(400, "missing_key", "add ?key=<the key create answered>"))?;
    let mut folder = cfg.prefix.clone();
    if let Some(user) = req.user {
        folder.push_str(user);
        folder.push('/');
    }
    let shaped = key.strip_prefix(folder.as_str()).is_some_and(|rest| {
        rest.split_once('/').is_some_and(|(id, name)| {
            id.len() == 32
                && id
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                && !name.is_empty()
                && sanitise_name(name) == name
        })
    });
    if !shaped {
        return Err(fail(
            403,
            "not_yours",
            "this key is not one this signer handed to you",
        ));
    }
    Ok(key)
}

/// The upload id from the path, decoded; S3's ids are URL-safe text.
fn upload_id(raw: &str) -> Result<String, Failure> {
    let id = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .unwrap_or_default();
    let safe = !id.is_empty()
        && id.len() <= 1024
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-~+=/".contains(&b));
    if !safe {
        return Err(fail(
            400,
            "invalid_upload_id",
            "the upload id is not one S3 gives",
        ));
    }
    Ok(id)
}

fn sign_part(
    cfg: &Config,
    s3: &S3<'_>,
    req: &Request<'_, '_>,
    up: &Upload<'_>,
    part: &str,
) -> Result<Reply, Failure> {
    let number: u32 = part
        .parse()
        .ok()
        .filter(|n| (1..=MAX_PARTS).contains(n))
        .ok_or_else(|| {
            fail(
                400,
                "invalid_part_number",
                format!("part numbers run from 1 to {MAX_PARTS}"),
            )
        })?;
    let size = match (req.param)("size").filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => {
            let n: u64 = raw.parse().map_err(|_| {
                fail(
                    400,
                    "invalid_size",
                    format!("size {raw:?} is not a number of bytes"),
                )
            })?;
            let max = limits(cfg).1.min(MAX_SINGLE_UPLOAD_BYTES);
            if n > max {
                return Err(fail(
                    413,
                    "too_large",
                    format!("a part of {n} bytes is over the limit of {max}"),
                ));
            }
            Some(n)
        }
    };
    let checksum = validate::checksum(cfg, (req.param)("checksum"), size)?;
    let size = size.map(|n| n.to_string());
    let number = number.to_string();
    let mut headers = vec![];
    if let Some(n) = &size {
        headers.push(("content-length", n.as_str()));
    }
    if let Some((name, value)) = &checksum {
        headers.push((name, value.as_str()));
    }
    let url = s3.signer().presign(&PresignRequest {
        method: "PUT",
        key: up.key,
        expires_seconds: cfg.expires_seconds,
        headers: &headers,
        query: &[("partNumber", &number), ("uploadId", &up.id)],
        time: SigningTime { unix: req.now },
    });
    // Uppy reads `url`; a client that declared a checksum also learns the header to send.
    let mut answer = serde_json::json!({"url": url, "expires": cfg.expires_seconds});
    if let Some((name, value)) = checksum {
        answer["headers"] = serde_json::json!({ name: value });
    }
    ok(to_json(&answer), "signed_part")
}

async fn list(s3: &S3<'_>, req: &Request<'_, '_>, up: &Upload<'_>) -> Result<Reply, Failure> {
    let parts = s3
        .list_parts(up.key, &up.id, req.now)
        .await
        .map_err(from_s3)?;
    let listed: Vec<serde_json::Value> = parts
        .iter()
        .map(|p| serde_json::json!({"PartNumber": p.number, "ETag": p.etag, "Size": p.size}))
        .collect();
    ok(to_json(&listed), "listed_parts")
}

#[derive(Deserialize)]
struct CompleteBody {
    parts: Vec<CompletePart>,
}

#[derive(Deserialize)]
struct CompletePart {
    #[serde(rename = "PartNumber")]
    number: u32,
    #[serde(rename = "ETag")]
    etag: String,
}

async fn complete(
    cfg: &Config,
    s3: &S3<'_>,
    req: &Request<'_, '_>,
    up: &Upload<'_>,
) -> Result<Reply, Failure> {
    let (key, id) = (up.key, &up.id);
    let body: CompleteBody = json_body(req.body)?;
    if body.parts.is_empty() || body.parts.len() > MAX_PARTS as usize {
        return Err(fail(
            400,
            "invalid_parts",
            format!("list between 1 and {MAX_PARTS} parts"),
        ));
    }
    if body.parts.windows(2).any(|w| w[0].number >= w[1].number)
        || body
            .parts
            .iter()
            .any(|p| p.number == 0 || p.number > MAX_PARTS)
    {
        return Err(fail(
            400,
            "invalid_parts",
            "list the parts once each, in ascending order of PartNumber (1 to 10000)",
        ));
    }
    // S3 knows what was uploaded: the total of the listed parts is what the object will be.
    let held = s3.list_parts(key, id, req.now).await.map_err(from_s3)?;
    let total: u64 = body
        .parts
        .iter()
        .filter_map(|p| held.iter().find(|h| h.number == p.number).map(|h| h.size))
        .sum();
    if let Some(mut refused) = outside_limits(cfg, total) {
        // The parts are of no use to anyone: free them now rather than at the lifecycle rule.
        refused
            .message
            .push_str(match s3.abort(key, id, req.now).await {
                Ok(()) => "; the upload was aborted",
                Err(_) => {
                    "; the upload was not aborted (it expires with the bucket's lifecycle rule)"
                }
            });
        return Err(refused);
    }
    // An upload created with a checksum algorithm needs each part's checksum: S3 lists them.
    let element = cfg.checksum.map(|c| c.part_element());
    let parts: Vec<Completed<'_>> = body
        .parts
        .iter()
        .map(|p| Completed {
            number: p.number,
            etag: &p.etag,
            checksum: element.zip(
                held.iter()
                    .find(|h| h.number == p.number)
                    .and_then(|h| h.checksum.as_deref()),
            ),
        })
        .collect();
    s3.complete(key, id, &parts, req.now)
        .await
        .map_err(from_s3)?;
    let mut location = s3.signer().bucket_url();
    crate::sign::uri_encode(&mut location, key, true);
    ok(
        to_json(&serde_json::json!({"location": location, "key": key, "bucket": cfg.bucket})),
        "multipart_completed",
    )
}

async fn abort(s3: &S3<'_>, req: &Request<'_, '_>, up: &Upload<'_>) -> Result<Reply, Failure> {
    s3.abort(up.key, &up.id, req.now).await.map_err(from_s3)?;
    ok("{}".into(), "multipart_aborted")
}
