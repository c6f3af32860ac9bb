//! Pre-signed S3 URLs, taken apart: what a URL says (bucket, key, region, signing time,
//! expiry, signed headers...), the canonical request it was signed for, and the problems that
//! can be proven from it, the request a client intends to send, the bucket's configuration and
//! S3's error body ([`explain`]). Pure code: the `url` command gathers the inputs (credentials,
//! bucket settings) and prints the report.

pub mod cors;
pub mod explain;
pub mod s3error;

use presign_signer::sign::uri_encode;

/// The SigV4 query parameters of a pre-signed URL.
const ALGORITHM: &str = "X-Amz-Algorithm";
const CREDENTIAL: &str = "X-Amz-Credential";
const DATE: &str = "X-Amz-Date";
const EXPIRES: &str = "X-Amz-Expires";
const SIGNED_HEADERS: &str = "X-Amz-SignedHeaders";
const SIGNATURE: &str = "X-Amz-Signature";
const SECURITY_TOKEN: &str = "X-Amz-Security-Token";

/// SigV4 caps a pre-signed URL's lifetime at 7 days.
pub const MAX_EXPIRES_SECONDS: u64 = 604_800;

/// `X-Amz-Credential`: `<access key id>/<date>/<region>/<service>/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub terminator: String,
}

impl Scope {
    fn parse(value: &str) -> Option<Scope> {
        let parts: Vec<&str> = value.split('/').collect();
        match parts.as_slice() {
            [key, date, region, service, terminator] => Some(Scope {
                access_key_id: key.to_string(),
                date: date.to_string(),
                region: region.to_string(),
                service: service.to_string(),
                terminator: terminator.to_string(),
            }),
            _ => None,
        }
    }

    /// `<date>/<region>/<service>/aws4_request`, as in the string to sign.
    pub fn credential_scope(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.date, self.region, self.service, self.terminator
        )
    }
}

/// How the bucket is addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// `https://<bucket>.s3.<region>.amazonaws.com/<key>`
    VirtualHosted,
    /// `https://s3.<region>.amazonaws.com/<bucket>/<key>` or an emulator's `http://host/<bucket>/<key>`.
    PathStyle,
    /// `https://uploads.example.com/<key>`: a custom domain (a CNAME to S3, or a CDN in front
    /// of it). S3 serves a CNAME only for the bucket named exactly like the host.
    CustomDomain,
}

/// A pre-signed URL taken apart. Nothing here fails on odd input: what is missing is `None`.
#[derive(Debug, Clone)]
pub struct PresignedUrl {
    pub scheme: String,
    /// Host, with the port when the URL has one.
    pub host: String,
    /// The path exactly as written in the URL (still percent-encoded).
    pub raw_path: String,
    /// Query parameters, decoded, in the URL's order.
    pub params: Vec<(String, String)>,
    pub addressing: Addressing,
    pub bucket: Option<String>,
    /// The object key, decoded.
    pub key: Option<String>,
    /// The region the host names, for AWS hosts (`None` for the global endpoint or others).
    pub host_region: Option<String>,
    pub scope: Option<Scope>,
    /// `X-Amz-Date` as written, and as seconds since the epoch.
    pub amz_date: Option<String>,
    pub signed_at: Option<u64>,
    pub expires_seconds: Option<u64>,
    /// Lower-case header names from `X-Amz-SignedHeaders`.
    pub signed_headers: Vec<String>,
    pub signature: Option<String>,
    pub session_token: bool,
}

/// Why a string is not a pre-signed URL at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotAUrl(pub String);

/// Decodes `%XX` escapes (bytes, then UTF-8 with replacement); `+` stays `+` (SigV4 and S3
/// treat it as a plain character in a query).
/// A `%` not followed by two hex digits stays as it is.
pub fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

impl PresignedUrl {
    pub fn parse(url: &str) -> Result<PresignedUrl, NotAUrl> {
        let url = url.trim();
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            NotAUrl(
                "this is not a URL (no scheme://); pass the whole pre-signed URL, quoted".into(),
            )
        })?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "https" && scheme != "http" {
            return Err(NotAUrl(format!(
                "{scheme}:// is not an HTTP URL; S3 pre-signed URLs start with https://"
            )));
        }
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (authority, path_and_query) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(NotAUrl("the URL has no host".into()));
        }
        let host = authority.to_ascii_lowercase();
        let (raw_path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, q),
            None => (path_and_query, ""),
        };
        let raw_path = if raw_path.is_empty() { "/" } else { raw_path };
        let params: Vec<(String, String)> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (percent_decode(k), percent_decode(v)),
                None => (percent_decode(p), String::new()),
            })
            .collect();

        let host_name = host.split(':').next().unwrap_or_default();
        let has_port = host
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()));
        let (addressing, bucket, key, host_region) = classify(host_name, raw_path, has_port);
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let amz_date = get(DATE);
        Ok(PresignedUrl {
            scheme,
            host: host.clone(),
            raw_path: raw_path.to_string(),
            addressing,
            bucket,
            key,
            host_region,
            scope: get(CREDENTIAL).as_deref().and_then(Scope::parse),
            signed_at: amz_date.as_deref().and_then(crate::clock::parse_amz_date),
            amz_date,
            expires_seconds: get(EXPIRES).and_then(|v| v.parse().ok()),
            signed_headers: get(SIGNED_HEADERS)
                .map(|v| {
                    v.split(';')
                        .filter(|h| !h.is_empty())
                        .map(|h| h.to_ascii_lowercase())
                        .collect()
                })
                .unwrap_or_default(),
            signature: get(SIGNATURE),
            session_token: get(SECURITY_TOKEN).is_some(),
            params,
        })
    }

    /// A query parameter's decoded value (names compare case-insensitively, as S3 does for
    /// the `X-Amz-*` ones).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether this looks like a SigV4 pre-signed URL at all.
    pub fn is_presigned(&self) -> bool {
        self.param(ALGORITHM).is_some() || self.param(SIGNATURE).is_some()
    }

    /// When it stops working (signing time + expiry), in seconds since the epoch.
    pub fn expires_at(&self) -> Option<u64> {
        Some(self.signed_at? + self.expires_seconds?)
    }

    /// The path as S3 canonicalises what it receives: decoded, then encoded by SigV4's rules.
    pub fn canonical_path(&self) -> String {
        let mut out = String::with_capacity(self.raw_path.len() + 8);
        uri_encode(&mut out, &percent_decode(&self.raw_path), true);
        out
    }

    /// The canonical query: every parameter but the signature, encoded and sorted.
    pub fn canonical_query(&self) -> String {
        let mut pairs: Vec<(String, String)> = self
            .params
            .iter()
            .filter(|(k, _)| k != SIGNATURE)
            .map(|(k, v)| {
                let (mut ek, mut ev) = (String::new(), String::new());
                uri_encode(&mut ek, k, false);
                uri_encode(&mut ev, v, false);
                (ek, ev)
            })
            .collect();
        pairs.sort();
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The canonical request this URL's signature covers, for `method` and the values of its
    /// signed headers (`host` comes from the URL; `header(name)` supplies the others, and a
    /// header it does not know is written with an empty value).
    pub fn canonical_request(
        &self,
        method: &str,
        header: &dyn Fn(&str) -> Option<String>,
    ) -> String {
        let mut out = format!(
            "{method}\n{}\n{}\n",
            self.canonical_path(),
            self.canonical_query()
        );
        for name in &self.signed_headers {
            let value = if name == "host" {
                Some(self.host.clone())
            } else {
                header(name)
            };
            let value = value.unwrap_or_default();
            out.push_str(&format!("{name}:{}\n", canonical_header_value(&value)));
        }
        out.push('\n');
        out.push_str(&self.signed_headers.join(";"));
        out.push('\n');
        out.push_str(
            self.param("X-Amz-Content-Sha256")
                .unwrap_or("UNSIGNED-PAYLOAD"),
        );
        out
    }

    /// The string to sign for a canonical request.
    pub fn string_to_sign(&self, canonical_request: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256\n{}\n{}\n{}",
            self.amz_date.as_deref().unwrap_or_default(),
            self.scope
                .as_ref()
                .map(Scope::credential_scope)
                .unwrap_or_default(),
            presign_signer::sign::sha256_hex(canonical_request.as_bytes())
        )
    }

    /// The signature the secret would give this URL for a canonical request.
    pub fn signature_with(&self, secret: &str, canonical_request: &str) -> Option<String> {
        let scope = self.scope.as_ref()?;
        let key =
            presign_signer::sign::signing_key(secret, &scope.date, &scope.region, &scope.service);
        Some(presign_signer::sign::signature_hex(
            &key,
            &self.string_to_sign(canonical_request),
        ))
    }
}

/// A header value as SigV4 canonicalises it: trimmed, inner runs of spaces folded to one.
pub fn canonical_header_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Works out bucket, key and region from an S3 host and path.
fn classify(
    host: &str,
    raw_path: &str,
    has_port: bool,
) -> (Addressing, Option<String>, Option<String>, Option<String>) {
    let path = raw_path.strip_prefix('/').unwrap_or(raw_path);
    let path_style = |region: Option<String>| {
        let (bucket, key) = match path.split_once('/') {
            Some((b, k)) => (percent_decode(b), Some(percent_decode(k))),
            None => (percent_decode(path), None),
        };
        let bucket = (!bucket.is_empty()).then_some(bucket);
        (
            Addressing::PathStyle,
            bucket,
            key.filter(|k| !k.is_empty()),
            region,
        )
    };
    let Some(rest) = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))
    else {
        // An emulator or S3-compatible server on an address (127.0.0.1, localhost, a LAN IP)
        // takes the bucket in the path; a domain name of its own is a custom domain, whose
        // bucket is named like the host (S3 User Guide, "Virtual hosting of buckets": CNAME).
        // A port, too, says "a server" (MinIO on :9000): a CNAME to S3 is on 80/443.
        let is_address = has_port
            || host == "localhost"
            || host.parse::<std::net::IpAddr>().is_ok()
            || host.starts_with('[')
            || !host.contains('.');
        if is_address {
            return path_style(None);
        }
        let key = percent_decode(path);
        return (
            Addressing::CustomDomain,
            Some(host.to_string()),
            (!key.is_empty()).then_some(key),
            None,
        );
    };
    // rest: "<bucket>.s3.<region>", "<bucket>.s3", "<bucket>.s3-<region>",
    // "<bucket>.s3.dualstack.<region>", "s3.<region>", "s3", "s3-<region>".
    let labels: Vec<&str> = rest.split('.').collect();
    let s3_at = labels
        .iter()
        .rposition(|l| *l == "s3" || l.starts_with("s3-"));
    let Some(i) = s3_at else {
        return path_style(None);
    };
    let region = labels[i]
        .strip_prefix("s3-")
        .map(str::to_string)
        .or_else(|| {
            labels[i + 1..]
                .iter()
                .rfind(|l| **l != "dualstack")
                .map(|l| l.to_string())
        });
    if i == 0 {
        return path_style(region);
    }
    let bucket = labels[..i].join(".");
    let key = percent_decode(path);
    (
        Addressing::VirtualHosted,
        Some(bucket),
        (!key.is_empty()).then_some(key),
        region,
    )
}

#[cfg(test)]
mod tests;
