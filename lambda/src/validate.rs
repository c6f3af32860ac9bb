//! What a caller may ask for. Every rule answers with a code and a message that says what to fix.

use unicode_normalization::UnicodeNormalization;

use crate::config::Config;

/// S3's limit on key length, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// A refused request: `400 {"error": code, "message": message}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: &'static str,
    pub message: String,
}

fn reject(code: &'static str, message: impl Into<String>) -> Rejection {
    Rejection {
        code,
        message: message.into(),
    }
}

/// The final object key for the caller's `filekey`: the configured prefix plus the key.
pub fn key(cfg: &Config, filekey: &str) -> Result<String, Rejection> {
    if filekey.is_empty() {
        return Err(reject(
            "missing_filekey",
            "add ?filekey=<name of the file to upload>",
        ));
    }
    if filekey.starts_with('/') {
        return Err(reject("invalid_filekey", "filekey must not start with /"));
    }
    if let Some(c) = filekey.chars().find(|c| c.is_control()) {
        return Err(reject(
            "invalid_filekey",
            format!("filekey contains the control character U+{:04X}", c as u32),
        ));
    }
    let encoded_escape = filekey.as_bytes().windows(3).any(|w| {
        w[0] == b'%'
            && matches!(
                [w[1], w[2].to_ascii_lowercase()],
                [b'2', b'e'] | [b'2', b'f'] | [b'5', b'c'] | [b'0', b'0']
            )
    });
    if encoded_escape || filekey.contains('\\') {
        return Err(reject(
            "invalid_filekey",
            "filekey must not contain encoded dots or slashes (%2e, %2f), backslashes or %00",
        ));
    }
    // Compatibility forms (fullwidth dots and slashes, one-dot leaders...) must not smuggle in
    // a path segment either: check the NFKC form too (ASCII is its own NFKC form).
    let normalised: std::borrow::Cow<str> = if filekey.is_ascii() {
        filekey.into()
    } else {
        filekey.nfkc().collect::<String>().into()
    };
    for candidate in [filekey, normalised.as_ref()] {
        if candidate.split('/').any(|s| s == ".." || s == ".") {
            return Err(reject(
                "invalid_filekey",
                "filekey must not contain . or .. path segments",
            ));
        }
    }
    if normalised.matches('/').count() != filekey.matches('/').count() {
        return Err(reject(
            "invalid_filekey",
            "filekey contains a character that normalises to /",
        ));
    }
    let mut full = String::with_capacity(cfg.prefix.len() + filekey.len());
    full.push_str(&cfg.prefix);
    full.push_str(filekey);
    if full.len() > MAX_KEY_BYTES {
        return Err(reject(
            "invalid_filekey",
            format!(
                "the key is {} bytes with the prefix; S3 allows {MAX_KEY_BYTES}",
                full.len()
            ),
        ));
    }
    Ok(full)
}

/// The content type to sign, lower case, if the allow-list admits it.
pub fn content_type(cfg: &Config, raw: &str) -> Result<String, Rejection> {
    let t = raw.trim().to_ascii_lowercase();
    if t.is_empty() {
        return Err(reject(
            "missing_content_type",
            "add &contentType=<the file's MIME type>, e.g. image/jpeg",
        ));
    }
    if t.contains(';') {
        return Err(reject(
            "invalid_content_type",
            "contentType must be a bare type without parameters (e.g. image/png, not image/png; charset=...)",
        ));
    }
    let shape_ok = t
        .split_once('/')
        .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty() && !b.contains('/'))
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/.+-_".contains(c));
    if !shape_ok {
        return Err(reject(
            "invalid_content_type",
            format!("{raw:?} is not a MIME type"),
        ));
    }
    let family = t.split('/').next().unwrap_or_default();
    let allowed = cfg
        .allowed_content_types
        .iter()
        .any(|a| a == &t || a.strip_suffix("/*").is_some_and(|f| f == family));
    if !allowed {
        return Err(reject(
            "content_type_not_allowed",
            format!(
                "{t} is not accepted; allowed: {}",
                cfg.allowed_content_types.join(", ")
            ),
        ));
    }
    Ok(t)
}

/// The declared size, if the caller sent one, checked against the limit.
pub fn size(cfg: &Config, raw: Option<&str>) -> Result<Option<u64>, Rejection> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let n: u64 = raw.parse().map_err(|_| {
        reject(
            "invalid_size",
            format!("size {raw:?} is not a number of bytes"),
        )
    })?;
    if let Some(max) = cfg.max_size_bytes {
        if n > max {
            return Err(reject(
                "too_large",
                format!("{n} bytes is over the limit of {max}"),
            ));
        }
    }
    Ok(Some(n))
}
