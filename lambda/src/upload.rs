//! Uploads where the server chooses the key: Uppy's `@uppy/aws-s3` contract (the Companion S3
//! routes). The client's file name is a name, never a path: the key is
//! `<prefix>[<user>/]<random id>/<sanitised name>`, so no caller can overwrite another object
//! or leave the prefix by naming one.
//!
//! `GET /s3/params?filename=&type=` → `{"method": "POST", "url", "fields", "expires"}`: a form
//! whose signed policy makes S3 itself check the key, the content type and the size range.

use crate::config::Config;
use crate::handler::{to_json, Reply};
use crate::sign::{PostRequest, Presigner, SigningTime, MAX_SINGLE_UPLOAD_BYTES};
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

/// `GET /s3/params`: a signed POST form for one file. `param` looks a query parameter up.
pub fn params<'q>(
    cfg: &Config,
    signer: &Presigner,
    param: impl Fn(&str) -> Option<&'q str>,
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
    let key = server_key(cfg, user, &random_id()?, filename)?;
    let form = signer.presign_post(&PostRequest {
        key: &key,
        content_type: &content_type,
        size_range: size_range(cfg),
        expires_seconds: cfg.expires_seconds,
        time: SigningTime { unix: now },
    });
    let fields: serde_json::Map<String, serde_json::Value> = form
        .fields
        .into_iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v)))
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
