//! Uploads where the server chooses the key: Uppy's `@uppy/aws-s3` contract (the Companion S3
//! routes). The client's file name is a name, never a path: the key is
//! `<prefix>[<user>/]<random id>/<sanitised name>`, so no caller can overwrite another object
//! or leave the prefix by naming one.
//!
//! `GET /s3/params?filename=&type=&metadata[name]=value` → `{"method": "POST", "url", "fields",
//! "expires"}`: a form whose signed policy makes S3 itself check the key, the content type, the
//! metadata and the size range. With `uploads.uppy_method: put`, `{"method": "PUT", "url",
//! "headers", "key", "expires"}`: a URL that signs the same, the length exactly, and
//! `If-None-Match: *`.

use crate::config::Config;
use crate::handler::{to_json, Reply};
use crate::sign::{PostRequest, PresignRequest, Presigner, SigningTime, MAX_SINGLE_UPLOAD_BYTES};
use crate::validate::{self, Rejection};

/// The longest sanitised name kept (the whole key must stay under S3's 1024 bytes).
const MAX_NAME_BYTES: usize = 200;

/// `filename` as the last part of a key: its last path segment (either slash), with every
/// character outside `A-Z a-z 0-9 . _ -` replaced by `_`, no leading dots, at most 200 bytes
/// (the extension kept); `file` when nothing is left.
pub fn sanitise_name(filename: &str) -> String {
    let last = filename.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut name: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = name.trim_start_matches('.').len();
    name.replace_range(..name.len() - trimmed, "");
    if name.len() > MAX_NAME_BYTES {
        let ext = name
            .rfind('.')
            .map(|i| name[i..].to_string())
            .filter(|e| e.len() <= 16)
            .unwrap_or_default();
        name.truncate(MAX_NAME_BYTES - ext.len());
        name.push_str(&ext);
    }
    if name.is_empty() || name.bytes().all(|b| b == b'_') {
        return "file".to_string();
    }
    name
}

/// 128 random bits as 32 hex digits, from the operating system.
pub fn random_id() -> Result<String, Rejection> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| Rejection {
        code: "unavailable",
        message: "no randomness available to choose a key; try again".into(),
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The key for a file named `filename`: `<prefix>[<user>/]<id>/<sanitised name>`. `user` is the
/// JWT's `sub` when the route has an authorizer; it must itself be a safe path segment.
pub fn server_key(
    cfg: &Config,
    user: Option<&str>,
    id: &str,
    filename: &str,
) -> Result<String, Rejection> {
    if filename.is_empty() {
        return Err(Rejection {
            code: "missing_filename",
            message: "add ?filename=<the file's name>".into(),
        });
    }
    let mut key = cfg.prefix.clone();
    if let Some(user) = user {
        let safe = !user.is_empty()
            && user.len() <= 128
            && user
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@' | '|'))
            && !user.starts_with('.');
        if !safe {
            return Err(Rejection {
                code: "invalid_user",
                message: "the token's subject cannot name a folder".into(),
            });
        }
        key.push_str(user);
        key.push('/');
    }
    key.push_str(id);
    key.push('/');
    key.push_str(&sanitise_name(filename));
    Ok(key)
}

/// The size range S3 is told to enforce: the configured minimum (default 0) to the maximum
/// (default S3's own 5 GiB).
pub fn size_range(cfg: &Config) -> (u64, u64) {
    (
        cfg.min_size_bytes.unwrap_or(0),
        cfg.max_size_bytes.unwrap_or(MAX_SINGLE_UPLOAD_BYTES),
    )
}

/// S3's limit on user-defined metadata: the bytes of every name and value together
/// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html).
pub const MAX_METADATA_BYTES: usize = 2048;

/// The longest metadata name taken (S3 sets none of its own but the 2 KB total).
const MAX_METADATA_NAME: usize = 128;

/// The caller's metadata (Uppy's `metadata[name]=value`, or the multipart create body's
/// `metadata`) as `(x-amz-meta-<name>, value)`: names lower case, of letters, digits, `-` and
/// `_`, each once; values trimmed, without control characters, and RFC 2047-encoded
/// (`=?UTF-8?B?...?=`) when they are not ASCII, as the AWS SDKs and Companion send them; at
/// most [`MAX_METADATA_BYTES`] in all.
pub fn metadata<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Vec<(String, String)>, Rejection> {
    let refuse = |code, message: String| Rejection { code, message };
    let mut out: Vec<(String, String)> = Vec::new();
    let mut total = 0usize;
    for (name, value) in pairs {
        let name = name.to_ascii_lowercase();
        let name_ok = !name.is_empty()
            && name.len() <= MAX_METADATA_NAME
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(refuse(
                "invalid_metadata",
                format!(
                    "metadata name {name:?} must be 1 to {MAX_METADATA_NAME} letters, digits, - or _"
                ),
            ));
        }
        let header = format!("x-amz-meta-{name}");
        if out.iter().any(|(h, _)| *h == header) {
            return Err(refuse(
                "invalid_metadata",
                format!("metadata {name:?} is given twice (names are not case-sensitive)"),
            ));
        }
        let value = value.trim();
        if let Some(c) = value.chars().find(|c| c.is_control()) {
            return Err(refuse(
                "invalid_metadata",
                format!(
                    "metadata {name:?} contains the control character U+{:04X}",
                    c as u32
                ),
            ));
        }
        let value = if value.is_ascii() {
            value.to_string()
        } else {
            use base64::Engine as _;
            format!(
                "=?UTF-8?B?{}?=",
                base64::engine::general_purpose::STANDARD.encode(value)
            )
        };
        total += name.len() + value.len();
        if total > MAX_METADATA_BYTES {
            return Err(refuse(
                "metadata_too_large",
                format!("the metadata is over S3's {MAX_METADATA_BYTES} bytes (names and values together)"),
            ));
        }
        out.push((header, value));
    }
    Ok(out)
}

/// `GET /s3/params`: a signed POST form for one file (or, with `uploads.uppy_method: put`, a
/// signed PUT). `param` looks a query parameter up; `meta` are the `metadata[name]=value` ones.
pub fn params<'q>(
    cfg: &Config,
    signer: &Presigner,
    param: impl Fn(&str) -> Option<&'q str>,
    meta: &[(&str, &str)],
    user: Option<&str>,
    now: u64,
) -> Result<Reply, Rejection> {
    let filename = param("filename").unwrap_or_default();
    let content_type = match param("type") {
        Some(t) if !t.is_empty() => validate::content_type(cfg, t)?,
        _ => {
            return Err(Rejection {
                code: "missing_type",
                message: "add &type=<the file's MIME type>, e.g. image/jpeg".into(),
            })
        }
    };
    let metadata = metadata(meta.iter().copied())?;
    if cfg.uppy_put {
        let size = validate::size(cfg, param("size"))?;
        let checksum = validate::checksum(cfg, param("checksum"), size)?;
        let key = server_key(cfg, user, &random_id()?, filename)?;
        return Ok(put_params(
            cfg,
            signer,
            &key,
            &content_type,
            size,
            checksum,
            &metadata,
            now,
        ));
    }
    if param("checksum").is_some_and(|c| !c.is_empty()) {
        return Err(Rejection {
            code: "checksum_not_supported",
            message: "a POST form carries no checksum S3 verifies: leave out &checksum=, or have the stack answer PUT (uploads.uppy_method: put)".into(),
        });
    }
    let key = server_key(cfg, user, &random_id()?, filename)?;
    let form = signer.presign_post(&PostRequest {
        key: &key,
        content_type: &content_type,
        size_range: size_range(cfg),
        metadata: &metadata,
        expires_seconds: cfg.expires_seconds,
        time: SigningTime { unix: now },
    });
    let fields: serde_json::Map<String, serde_json::Value> = form
        .fields
        .into_iter()
        .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v)))
        .collect();
    Ok(Reply {
        status: 200,
        body: to_json(&serde_json::json!({
            "method": "POST",
            "url": form.url,
            "fields": fields,
            "expires": cfg.expires_seconds,
        })),
        outcome: "signed_post",
    })
}

/// The PUT answer of `/s3/params`: a URL that signs the content type, the exact length (when
/// declared; required when the stack has limits), the checksum (when on), the metadata and
/// `If-None-Match: *` (S3 refuses to replace an object), and the headers to send with it.
#[allow(clippy::too_many_arguments)]
fn put_params(
    cfg: &Config,
    signer: &Presigner,
    key: &str,
    content_type: &str,
    size: Option<u64>,
    checksum: Option<(&'static str, String)>,
    metadata: &[(String, String)],
    now: u64,
) -> Reply {
    let size = size.map(|n| n.to_string());
    let mut signed: Vec<(&str, &str)> =
        vec![("content-type", content_type), ("if-none-match", "*")];
    let mut sent: Vec<(&str, &str)> = vec![("Content-Type", content_type), ("If-None-Match", "*")];
    if let Some(n) = &size {
        signed.push(("content-length", n));
        sent.push(("Content-Length", n));
    }
    if let Some((name, value)) = &checksum {
        signed.push((name, value));
        sent.push((name, value));
    }
    for (name, value) in metadata {
        signed.push((name, value));
        sent.push((name, value));
    }
    let url = signer.presign(&PresignRequest {
        method: "PUT",
        key,
        expires_seconds: cfg.expires_seconds,
        headers: &signed,
        query: &[],
        time: SigningTime { unix: now },
    });
    let headers: serde_json::Map<String, serde_json::Value> = sent
        .into_iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
        .collect();
    Reply {
        status: 200,
        body: to_json(&serde_json::json!({
            "method": "PUT",
            "url": url,
            "headers": headers,
            "key": key,
            "expires": cfg.expires_seconds,
        })),
        outcome: "signed_put",
    }
}
