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

/// Characters that look like `/` or `\\` but are not folded to them by NFKC (the fullwidth
/// forms are, and are caught by the NFKC check below; they are listed too, to say why).
const SLASH_LOOKALIKES: [char; 14] = [
    '\u{2044}', // FRACTION SLASH
    '\u{2215}', // DIVISION SLASH
    '\u{2216}', // SET MINUS
    '\u{2571}', // BOX DRAWINGS LIGHT DIAGONAL UPPER RIGHT TO LOWER LEFT
    '\u{2572}', // BOX DRAWINGS LIGHT DIAGONAL UPPER LEFT TO LOWER RIGHT
    '\u{27CB}', // MATHEMATICAL RISING DIAGONAL
    '\u{27CD}', // MATHEMATICAL FALLING DIAGONAL
    '\u{29F5}', // REVERSE SOLIDUS OPERATOR
    '\u{29F8}', // BIG SOLIDUS
    '\u{29F9}', // BIG REVERSE SOLIDUS
    '\u{FE68}', // SMALL REVERSE SOLIDUS
    '\u{FF0F}', // FULLWIDTH SOLIDUS
    '\u{FF3C}', // FULLWIDTH REVERSE SOLIDUS
    '\u{0338}', // COMBINING LONG SOLIDUS OVERLAY
];

/// Unicode's format characters (general category Cf, Unicode 15.1): bidirectional controls,
/// zero-width joiners and spaces, the byte order mark, invisible operators and tags. Written out
/// by hand rather than pulling in a Unicode tables crate for one category: the list is short and
/// changes rarely, and the signer's size matters (cold start).
pub fn is_format_character(c: char) -> bool {
    matches!(
        c as u32,
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

/// Types a browser may run as a page or script when served from the bucket: admitted only when
/// the spec lists them by name, never through a family such as `image/*` or `text/*`.
pub const ACTIVE_CONTENT_TYPES: [&str; 13] = [
    "image/svg+xml",
    "text/html",
    "application/xhtml+xml",
    "text/xml",
    "application/xml",
    "text/xsl",
    "text/javascript",
    "application/javascript",
    "application/x-javascript",
    "text/ecmascript",
    "application/ecmascript",
    "application/x-shockwave-flash",
    "multipart/x-mixed-replace",
];

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
    if !filekey.is_ascii() {
        if let Some(c) = filekey.chars().find(|&c| c == char::REPLACEMENT_CHARACTER) {
            return Err(reject(
                "invalid_filekey",
                format!(
                    "filekey is not valid UTF-8 (U+{:04X} stands for bytes that were not text)",
                    c as u32
                ),
            ));
        }
        if let Some(c) = filekey.chars().find(|&c| is_format_character(c)) {
            return Err(reject(
                "invalid_filekey",
                format!(
                    "filekey contains the invisible format character U+{:04X} (bidirectional or zero-width text hides the real name)",
                    c as u32
                ),
            ));
        }
        if let Some(c) = filekey.chars().find(|&c| SLASH_LOOKALIKES.contains(&c)) {
            return Err(reject(
                "invalid_filekey",
                format!(
                    "filekey contains U+{:04X}, which looks like a slash or backslash",
                    c as u32
                ),
            ));
        }
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
    let active = ACTIVE_CONTENT_TYPES.contains(&t.as_str());
    let allowed = cfg
        .allowed_content_types
        .iter()
        .any(|a| a == &t || (!active && a.strip_suffix("/*").is_some_and(|f| f == family)));
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

/// The declared size, checked against the limits. With a limit configured the size is required:
/// it is signed as `Content-Length`, so S3 refuses a body of any other length; a URL that does
/// not sign the length is never issued.
pub fn size(cfg: &Config, raw: Option<&str>) -> Result<Option<u64>, Rejection> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return match (cfg.max_size_bytes, cfg.min_size_bytes) {
            (Some(max), _) => Err(reject(
                "missing_size",
                format!("uploads are limited to {max} bytes: add &size=<the file's size in bytes>, and send exactly that many"),
            )),
            (None, Some(min)) => Err(reject(
                "missing_size",
                format!("uploads must be at least {min} bytes: add &size=<the file's size in bytes>, and send exactly that many"),
            )),
            (None, None) => Ok(None),
        };
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
    if let Some(min) = cfg.min_size_bytes {
        if n < min {
            return Err(reject(
                "too_small",
                format!("{n} bytes is under the minimum of {min}"),
            ));
        }
    }
    Ok(Some(n))
}

/// The checksum header a URL signs: the caller's `checksum` (base64 of the body's digest) when
/// the stack signs checksums. Never one the caller did not give, and never the checksum of an
/// empty body for a body that is not declared empty (`size=0`): that value is what a client
/// sends when it hashed before the body was attached (aws-sdk-js-v3#6810), and S3 would refuse
/// every real file with it.
pub fn checksum(
    cfg: &Config,
    declared: Option<&str>,
    size: Option<u64>,
) -> Result<Option<(&'static str, String)>, Rejection> {
    let declared = declared.filter(|d| !d.is_empty());
    let Some(alg) = cfg.checksum else {
        return match declared {
            None => Ok(None),
            Some(_) => Err(reject(
                "checksum_not_enabled",
                "this stack signs no checksums (uploads.checksum is none): leave out &checksum=",
            )),
        };
    };
    let Some(value) = declared else {
        return Err(reject(
            "missing_checksum",
            format!(
                "uploads carry a {} checksum S3 verifies: add &checksum=<base64 of the body's {}>",
                alg.name(),
                alg.algorithm()
            ),
        ));
    };
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD;
    let digest = engine
        .decode(value)
        .ok()
        .filter(|d| d.len() == alg.digest_len());
    let Some(digest) = digest else {
        return Err(reject(
            "invalid_checksum",
            format!(
                "checksum must be the base64 of a {}-byte {} digest",
                alg.digest_len(),
                alg.algorithm()
            ),
        ));
    };
    let canonical = engine.encode(digest);
    if canonical == alg.of_empty_body() && size != Some(0) {
        return Err(reject(
            "empty_body_checksum",
            "this is the checksum of an empty body: compute it over the file's bytes (or declare &size=0 for an empty file)",
        ));
    }
    Ok(Some((alg.header(), canonical)))
}
