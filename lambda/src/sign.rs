//! SigV4 query-string pre-signing for S3, written for the hot path: the signing key (four
//! HMACs over the secret, date, region and service) is derived once per day and reused, so a URL
//! costs one SHA-256 of the canonical request and one HMAC. Checked against the `aws-sigv4`
//! crate in tests, and against a signature-checking S3 server end to end.

use std::fmt::Write;
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Credentials to sign with. Debug output never shows the secret or the token.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .finish()
    }
}

/// A UTC instant broken down for SigV4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigningTime {
    pub unix: u64,
}

impl SigningTime {
    /// Year, month, day, hour, minute, second (UTC).
    fn civil(self) -> (u64, u64, u64, u64, u64, u64) {
        let days = (self.unix / 86_400) as i64;
        let rem = self.unix % 86_400;
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        (
            year as u64,
            month as u64,
            day as u64,
            rem / 3600,
            rem % 3600 / 60,
            rem % 60,
        )
    }

    /// `20261128T143039Z` (SigV4's `X-Amz-Date`); its first 8 bytes are the scope's date.
    pub fn stamp(self) -> String {
        let (y, mo, d, h, mi, s) = self.civil();
        let mut stamp = String::with_capacity(16);
        push_digits(&mut stamp, y, 4);
        push_digits(&mut stamp, mo, 2);
        push_digits(&mut stamp, d, 2);
        stamp.push('T');
        push_digits(&mut stamp, h, 2);
        push_digits(&mut stamp, mi, 2);
        push_digits(&mut stamp, s, 2);
        stamp.push('Z');
        stamp
    }

    /// `2026-11-28T14:30:39Z`.
    pub fn rfc3339(self) -> String {
        let (y, mo, d, h, mi, s) = self.civil();
        let mut out = String::with_capacity(20);
        for (n, width, sep) in [
            (y, 4, '-'),
            (mo, 2, '-'),
            (d, 2, 'T'),
            (h, 2, ':'),
            (mi, 2, ':'),
            (s, 2, 'Z'),
        ] {
            push_digits(&mut out, n, width);
            out.push(sep);
        }
        out
    }
}

/// `n` as exactly `width` decimal digits (zero-padded).
fn push_digits(out: &mut String, n: u64, width: u32) {
    for i in (0..width).rev() {
        out.push(char::from(b'0' + ((n / 10u64.pow(i)) % 10) as u8));
    }
}

/// Signs URLs for one bucket with one set of credentials.
pub struct Presigner {
    credentials: Credentials,
    bucket: String,
    region: String,
    /// `bucket.s3.region.amazonaws.com`, or the endpoint's host for path-style URLs.
    host: String,
    scheme: &'static str,
    /// `""` (virtual-hosted) or `/bucket` (path-style).
    path_prefix: String,
    /// `&X-Amz-Security-Token=<encoded>` or empty.
    token_param: String,
    day: Mutex<Option<Arc<Day>>>,
}

/// What changes only with the date: the signing key and the credential scope.
struct Day {
    date: String,
    /// HMAC-SHA256 keyed with the signing key: its inner and outer pads are already hashed,
    /// so each URL pays only for the string to sign.
    mac: HmacSha256,
    /// `<date>/<region>/s3/aws4_request`.
    scope: String,
    /// The `X-Amz-Credential` value, encoded.
    credential: String,
}

/// One URL to sign.
pub struct PresignRequest<'a> {
    pub method: &'a str,
    pub key: &'a str,
    pub expires_seconds: u64,
    /// Headers the client must send exactly as given (lower-case names), besides `host`.
    pub headers: &'a [(&'a str, &'a str)],
    /// Sub-resources and parameters of the operation (`partNumber`, `uploadId`, `uploads`), in
    /// order of name; each name starts with a lower-case letter, so they sort after the
    /// `X-Amz-*` parameters in the canonical query. Values are encoded here.
    pub query: &'a [(&'a str, &'a str)],
    pub time: SigningTime,
}

/// Percent-encodes by SigV4's rules: unreserved characters stay, everything else is `%XX`;
/// `/` stays only when `keep_slash`.
pub fn uri_encode(out: &mut String, s: &str, keep_slash: bool) {
    for b in s.bytes() {
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
        if unreserved || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// SigV4's signing key: four HMACs over the secret, the date (`YYYYMMDD`), region and service.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac(&k, region.as_bytes());
    let k = hmac(&k, service.as_bytes());
    hmac(&k, b"aws4_request")
}

/// The hex SigV4 signature of `string_to_sign` under a signing key.
pub fn signature_hex(key: &[u8; 32], string_to_sign: &str) -> String {
    let digits = hex_digits(&hmac(key, string_to_sign.as_bytes()));
    String::from_utf8_lossy(&digits).into_owned()
}

/// The hex SHA-256 of `data` (as in the string to sign).
pub fn sha256_hex(data: &[u8]) -> String {
    String::from_utf8_lossy(&hex_digits(&Sha256::digest(data))).into_owned()
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The lower-case hex digits of a SHA-256 digest.
fn hex_digits(digest: &[u8]) -> [u8; 64] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (pair, b) in out.chunks_exact_mut(2).zip(digest) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 15)];
    }
    out
}

impl Presigner {
    /// `endpoint`: `None` for AWS (virtual-hosted URLs), or e.g. `http://127.0.0.1:9000`.
    pub fn new(
        credentials: Credentials,
        region: &str,
        bucket: &str,
        endpoint: Option<&str>,
    ) -> Presigner {
        let (scheme, host, path_prefix) = match endpoint {
            Some(e) => {
                let (scheme, rest) = match e.split_once("://") {
                    Some(("http", rest)) => ("http", rest),
                    Some((_, rest)) => ("https", rest),
                    None => ("https", e),
                };
                (
                    scheme,
                    rest.trim_end_matches('/').to_string(),
                    format!("/{bucket}"),
                )
            }
            None => (
                "https",
                format!("{bucket}.s3.{region}.amazonaws.com"),
                String::new(),
            ),
        };
        let mut token_param = String::new();
        if let Some(token) = &credentials.session_token {
            token_param.push_str("&X-Amz-Security-Token=");
            uri_encode(&mut token_param, token, false);
        }
        Presigner {
            credentials,
            bucket: bucket.to_string(),
            region: region.to_string(),
            host,
            scheme,
            path_prefix,
            token_param,
            day: Mutex::new(None),
        }
    }

    fn day(&self, date: &str) -> Arc<Day> {
        if let Ok(cache) = self.day.lock() {
            if let Some(day) = cache.as_ref().filter(|d| d.date == date) {
                return Arc::clone(day);
            }
        }
        let key = signing_key(
            &self.credentials.secret_access_key,
            date,
            &self.region,
            "s3",
        );
        let mac = HmacSha256::new_from_slice(&key).unwrap_or_else(|_| unreachable!());
        let scope = format!("{date}/{}/s3/aws4_request", self.region);
        let mut credential = String::new();
        uri_encode(
            &mut credential,
            &format!("{}/{scope}", self.credentials.access_key_id),
            false,
        );
        let day = Arc::new(Day {
            date: date.to_string(),
            mac,
            scope,
            credential,
        });
        if let Ok(mut cache) = self.day.lock() {
            *cache = Some(Arc::clone(&day));
        }
        day
    }

    /// The pre-signed URL. The canonical request and the string to sign are hashed piece by
    /// piece as they are produced, never assembled: the URL is the only string built.
    pub fn presign(&self, req: &PresignRequest<'_>) -> String {
        let stamp = req.time.stamp();
        let day = self.day(&stamp[..8]);

        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(req.headers.len() + 1);
        headers.push(("host", &self.host));
        headers.extend_from_slice(req.headers);
        headers.sort_unstable_by(|a, b| a.0.cmp(b.0));

        let mut url = String::with_capacity(
            self.host.len()
                + self.path_prefix.len()
                + req.key.len() * 3 / 2
                + 300
                + self.token_param.len(),
        );
        url.push_str(self.scheme);
        url.push_str("://");
        url.push_str(&self.host);
        let path_start = url.len();
        url.push_str(&self.path_prefix);
        url.push('/');
        uri_encode(&mut url, req.key, true);
        let query_start = url.len() + 1;
        url.push_str("?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=");
        url.push_str(&day.credential);
        url.push_str("&X-Amz-Date=");
        url.push_str(&stamp);
        let _ = write!(url, "&X-Amz-Expires={}", req.expires_seconds);
        url.push_str(&self.token_param);
        url.push_str("&X-Amz-SignedHeaders=");
        for (i, (name, _)) in headers.iter().enumerate() {
            if i > 0 {
                url.push_str("%3B");
            }
            url.push_str(name);
        }
        for (name, value) in req.query {
            debug_assert!(name.starts_with(|c: char| c.is_ascii_lowercase()));
            url.push('&');
            url.push_str(name);
            url.push('=');
            uri_encode(&mut url, value, false);
        }

        // The canonical request: method, path, query, headers, signed header names, payload.
        let mut canonical = Sha256::new();
        canonical.update(req.method);
        canonical.update("\n");
        canonical.update(&url[path_start..query_start - 1]);
        canonical.update("\n");
        canonical.update(&url[query_start..]);
        canonical.update("\n");
        for (name, value) in &headers {
            canonical.update(name);
            canonical.update(":");
            canonical.update(value.trim());
            canonical.update("\n");
        }
        canonical.update("\n");
        for (i, (name, _)) in headers.iter().enumerate() {
            if i > 0 {
                canonical.update(";");
            }
            canonical.update(name);
        }
        canonical.update("\nUNSIGNED-PAYLOAD");

        // The string to sign, straight into the keyed HMAC.
        let mut mac = day.mac.clone();
        mac.update(b"AWS4-HMAC-SHA256\n");
        mac.update(stamp.as_bytes());
        mac.update(b"\n");
        mac.update(day.scope.as_bytes());
        mac.update(b"\n");
        mac.update(&hex_digits(&canonical.finalize()));

        url.push_str("&X-Amz-Signature=");
        url.push_str(
            std::str::from_utf8(&hex_digits(&mac.finalize().into_bytes())).unwrap_or_default(),
        );
        url
    }
}

/// S3's limit for one `PutObject` or POST upload: 5 GiB.
pub const MAX_SINGLE_UPLOAD_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// One browser form upload to sign: S3's `POST Object` with a SigV4-signed policy
/// (<https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html>).
/// S3 itself then enforces every condition: the exact key, the content type, the size range.
pub struct PostRequest<'a> {
    pub key: &'a str,
    pub content_type: &'a str,
    /// The smallest and largest body S3 accepts, inclusive (`content-length-range`).
    pub size_range: (u64, u64),
    /// User metadata, as checked by [`crate::upload::metadata`]: `(x-amz-meta-<name>, value)`,
    /// each an exact condition of the policy.
    pub metadata: &'a [(String, String)],
    pub expires_seconds: u64,
    pub time: SigningTime,
}

/// A signed form: where to POST it, and the fields to send, in this order, before the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostForm {
    pub url: String,
    pub fields: Vec<(std::borrow::Cow<'static, str>, String)>,
}

impl Presigner {
    /// The bucket's URL: virtual-hosted on AWS, path-style on a configured endpoint.
    pub fn bucket_url(&self) -> String {
        format!("{}://{}{}/", self.scheme, self.host, self.path_prefix)
    }

    /// A form for one upload whose policy names the bucket, the exact key, the content type, the
    /// size range, `success_action_status` 201 and the signature's own fields; the policy
    /// (base64) is signed with the day's key. The string to sign is the policy itself.
    pub fn presign_post(&self, req: &PostRequest<'_>) -> PostForm {
        use base64::Engine as _;
        let stamp = req.time.stamp();
        let day = self.day(&stamp[..8]);
        let credential = format!("{}/{}", self.credentials.access_key_id, day.scope);
        let expiration = SigningTime {
            unix: req.time.unix + req.expires_seconds,
        }
        .rfc3339()
        .replace('Z', ".000Z");
        use std::borrow::Cow;
        let mut fields: Vec<(Cow<'static, str>, String)> =
            Vec::with_capacity(9 + req.metadata.len());
        fields.extend([
            ("key".into(), req.key.to_string()),
            ("Content-Type".into(), req.content_type.to_string()),
            ("success_action_status".into(), "201".to_string()),
        ]);
        fields.extend(
            req.metadata
                .iter()
                .map(|(name, value)| (Cow::Owned(name.clone()), value.clone())),
        );
        fields.extend([
            ("x-amz-algorithm".into(), "AWS4-HMAC-SHA256".to_string()),
            ("x-amz-credential".into(), credential),
            ("x-amz-date".into(), stamp),
        ]);
        if let Some(token) = &self.credentials.session_token {
            fields.push(("x-amz-security-token".into(), token.clone()));
        }
        // The policy's JSON is written straight into one buffer (strings escaped by serde_json)
        // rather than built as a tree of `Value`s: a third of the form's cost.
        let mut json = Vec::with_capacity(512);
        let string = |out: &mut Vec<u8>, s: &str| {
            serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail")
        };
        json.extend_from_slice(b"{\"expiration\":");
        string(&mut json, &expiration);
        json.extend_from_slice(b",\"conditions\":[{\"bucket\":");
        string(&mut json, &self.bucket);
        json.extend_from_slice(
            format!(
                "}},[\"content-length-range\",{},{}]",
                req.size_range.0, req.size_range.1
            )
            .as_bytes(),
        );
        for (name, value) in &fields {
            json.extend_from_slice(b",{");
            string(&mut json, name);
            json.push(b':');
            string(&mut json, value);
            json.push(b'}');
        }
        json.extend_from_slice(b"]}");
        let policy = base64::engine::general_purpose::STANDARD.encode(&json);
        let mut mac = day.mac.clone();
        mac.update(policy.as_bytes());
        let signature =
            String::from_utf8_lossy(&hex_digits(&mac.finalize().into_bytes())).into_owned();
        fields.push(("policy".into(), policy));
        fields.push(("x-amz-signature".into(), signature));
        PostForm {
            url: self.bucket_url(),
            fields,
        }
    }
}
