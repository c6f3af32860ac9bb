//! `url explain`: every problem that can be proven about a pre-signed URL from the URL itself,
//! the request the client intends to send, the caller's own credentials (when they signed it),
//! the bucket's configuration and S3's error body. Each finding names the problem and the fix;
//! the catalogue it covers is `docs/troubleshooting.md`.

use serde::Serialize;

use super::cors::{self, Verdict};
use super::s3error::S3Error;
use super::{canonical_header_value, PresignedUrl, MAX_EXPIRES_SECONDS};
use crate::clock::{human_duration, rfc3339};
use crate::plan::resources::CorsRule;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The request fails because of it.
    Problem,
    /// Works now, but will fail or surprise later.
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    pub problem: String,
    pub fix: String,
}

/// What the client intends to send.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: Option<String>,
    /// Header names lower-cased, values as given.
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What S3 and the bucket say, when the caller could read them.
#[derive(Debug, Clone, Default)]
pub struct BucketFacts {
    pub region: Option<String>,
    /// `BucketOwnerEnforced` ownership: ACLs are disabled.
    pub acls_disabled: Option<bool>,
    /// The bucket's CORS rules (`Some(vec![])`: none configured).
    pub cors: Option<Vec<CorsRule>>,
    pub object_exists: Option<bool>,
    /// The bucket policy (`Some(Null)`: none).
    pub policy: Option<serde_json::Value>,
}

/// Everything besides the URL.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Seconds since the epoch to judge expiry against.
    pub now: u64,
    pub request: Request,
    /// The caller's own credentials: (access key id, secret access key).
    pub credentials: Option<(String, String)>,
    /// Header values the signer said to send (from its JSON response).
    pub expected_headers: Vec<(String, String)>,
    pub s3_error: Option<S3Error>,
    pub bucket: Option<BucketFacts>,
    /// The page's origin, for a CORS check.
    pub origin: Option<String>,
    /// Content types worth trying when recomputing a signature (e.g. the stack's allow-list).
    pub content_type_candidates: Vec<String>,
}

impl Context {
    fn expected(&self, name: &str) -> Option<&str> {
        self.expected_headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The report: what the URL says, and what is wrong.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Labelled facts, in display order.
    pub facts: Vec<(String, String)>,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn problems(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Problem)
            .count()
    }
}

const METHODS: [&str; 5] = ["PUT", "GET", "HEAD", "POST", "DELETE"];

/// Content types people send most, tried when a signature does not match.
const COMMON_TYPES: [&str; 14] = [
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "image/heic",
    "image/svg+xml",
    "application/pdf",
    "application/json",
    "application/octet-stream",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "text/plain",
    "text/plain;charset=UTF-8",
    "video/mp4",
];

struct Findings(Vec<Finding>);

impl Findings {
    fn add(
        &mut self,
        code: &'static str,
        severity: Severity,
        problem: String,
        fix: impl Into<String>,
    ) {
        if !self
            .0
            .iter()
            .any(|f| f.code == code && f.problem == problem)
        {
            self.0.push(Finding {
                code,
                severity,
                problem,
                fix: fix.into(),
            });
        }
    }
    fn problem(&mut self, code: &'static str, problem: String, fix: impl Into<String>) {
        self.add(code, Severity::Problem, problem, fix);
    }
    fn warning(&mut self, code: &'static str, problem: String, fix: impl Into<String>) {
        self.add(code, Severity::Warning, problem, fix);
    }
}

/// Explains `url` in `ctx`: the URL's facts, ending with what recomputing its signature showed,
/// and the findings.
pub fn explain(url: &PresignedUrl, ctx: &Context) -> Report {
    let mut report = facts_and_findings(url, ctx);
    let signature = match (&ctx.credentials, &url.scope) {
        (Some((key_id, _)), Some(scope)) if *key_id == scope.access_key_id => {
            match verified_method(url, ctx) {
                Some(m) => format!("verified: your credentials sign this URL for {m}"),
                None => "recomputed with your credentials: does not match (see below)".into(),
            }
        }
        (Some(_), Some(_)) => "not recomputed: another access key signed it".into(),
        _ => "not recomputed: no credentials for its access key".into(),
    };
    report.facts.push(("signature".into(), signature));
    report
}

fn facts_and_findings(url: &PresignedUrl, ctx: &Context) -> Report {
    let mut facts: Vec<(String, String)> = Vec::new();
    let mut f = Findings(Vec::new());
    let mut fact = |k: &str, v: String| facts.push((k.to_string(), v));

    fact("endpoint", format!("{}://{}", url.scheme, url.host));
    let bucket = url
        .bucket
        .clone()
        .unwrap_or_else(|| "(not in the URL)".into());
    fact(
        "bucket",
        if url.addressing == super::Addressing::CustomDomain {
            format!("{bucket} (a custom domain: S3 serves it for the bucket named like the host)")
        } else {
            bucket
        },
    );
    fact("key", url.key.clone().unwrap_or_else(|| "(none)".into()));
    if let Some(scope) = &url.scope {
        fact("region", scope.region.clone());
        fact("service", scope.service.clone());
        fact("access key id", scope.access_key_id.clone());
    }
    if let Some(t) = url.signed_at {
        fact("signed at", rfc3339(t));
    }
    if let Some(e) = url.expires_seconds {
        fact("expires after", format!("{e} s ({})", human_duration(e)));
    }
    if let Some(at) = url.expires_at() {
        let state = if at <= ctx.now {
            format!("expired {} ago", human_duration(ctx.now - at))
        } else {
            format!("valid for {} more", human_duration(at - ctx.now))
        };
        fact("expires at", format!("{} ({state})", rfc3339(at)));
    }
    if !url.signed_headers.is_empty() {
        let must_send: Vec<String> = url
            .signed_headers
            .iter()
            .filter(|h| *h != "host")
            .map(|h| match ctx.expected(h) {
                Some(v) => format!("{h}: {v}"),
                None => h.clone(),
            })
            .collect();
        fact("signed headers", url.signed_headers.join(";"));
        fact(
            "client must send",
            if must_send.is_empty() {
                "no extra header (only host is signed)".into()
            } else {
                format!("{} (exactly as signed)", must_send.join(", "))
            },
        );
    }
    fact(
        "session token",
        if url.session_token {
            "yes: the URL also stops working when that session's credentials expire".into()
        } else {
            "no".into()
        },
    );

    if !url.is_presigned() {
        f.problem(
            "not-presigned",
            "the URL carries no SigV4 query parameters (X-Amz-Algorithm, X-Amz-Signature): it is not a pre-signed URL, so S3 treats it as an anonymous request".into(),
            "pass the URL exactly as the signer returned it (signed_url in its response), query string included",
        );
        return Report {
            facts,
            findings: f.0,
        };
    }
    for (name, present) in [
        ("X-Amz-Algorithm", url.param("X-Amz-Algorithm").is_some()),
        ("X-Amz-Credential", url.scope.is_some()),
        ("X-Amz-Date", url.signed_at.is_some()),
        ("X-Amz-Expires", url.expires_seconds.is_some()),
        ("X-Amz-SignedHeaders", !url.signed_headers.is_empty()),
        ("X-Amz-Signature", url.signature.is_some()),
    ] {
        if !present {
            f.problem(
                "malformed",
                format!("{name} is missing or malformed, so S3 rejects the URL (AuthorizationQueryParametersError)"),
                "pass the URL exactly as the signer returned it; a truncated or re-encoded copy loses parameters",
            );
        }
    }
    if let Some(alg) = url
        .param("X-Amz-Algorithm")
        .filter(|a| *a != "AWS4-HMAC-SHA256")
    {
        f.problem(
            "malformed",
            format!("X-Amz-Algorithm is {alg:?}; S3 accepts AWS4-HMAC-SHA256 only"),
            "sign with SigV4 (any current AWS SDK presigner)",
        );
    }

    check_time(url, ctx, &mut f);
    check_url_shape(url, ctx, &mut f);
    check_request(url, ctx, &mut f);
    let discovered = check_signature(url, ctx, &mut f);
    if let Some(e) = &ctx.s3_error {
        check_s3_error(url, ctx, e, discovered.as_ref(), &mut f);
    }
    let method = ctx.request.method.clone().unwrap_or_else(|| "PUT".into());
    check_policy(url, ctx, &method, &mut f);
    check_cors(url, ctx, &mut f);
    Report {
        facts,
        findings: f.0,
    }
}

fn check_time(url: &PresignedUrl, ctx: &Context, f: &mut Findings) {
    if let Some(e) = url.expires_seconds {
        if e > MAX_EXPIRES_SECONDS {
            f.problem(
                "expires-over-7-days",
                format!("X-Amz-Expires is {e} s ({}); SigV4 caps pre-signed URLs at {MAX_EXPIRES_SECONDS} s (7 days), so S3 refuses it (\"X-Amz-Expires must be less than a week\")", human_duration(e)),
                "sign with an expiry of at most 604800 seconds (uploads.expires_seconds in stack.yaml); for longer access, hand out a fresh URL when it is needed",
            );
        }
    }
    if let Some(signed) = url.signed_at {
        if signed > ctx.now + 60 {
            f.problem(
                "signed-in-future",
                format!("the URL was signed at {}, {} after now: the signer's clock is ahead (clock skew), and S3 refuses it until then (\"Request is not valid yet\")", rfc3339(signed), human_duration(signed - ctx.now)),
                "synchronise the signing machine's clock (NTP); Lambda's clock is correct, so this points at a laptop or container clock",
            );
        }
    }
    if let Some(at) = url.expires_at() {
        if at <= ctx.now {
            f.problem(
                "expired",
                format!("the URL expired at {}, {} ago (signed at {} for {} s); S3 answers 403 AccessDenied \"Request has expired\"", rfc3339(at), human_duration(ctx.now - at), url.signed_at.map(rfc3339).unwrap_or_default(), url.expires_seconds.unwrap_or_default()),
                "ask the signer for a new URL right before the upload starts; if uploads legitimately take longer, raise uploads.expires_seconds in stack.yaml (or check the signer's clock if the URL was fresh)",
            );
        }
    }
    if url.session_token {
        f.warning(
            "session-token",
            "the URL was signed with temporary credentials (X-Amz-Security-Token): it stops working when that session ends, even before X-Amz-Expires (S3 then answers ExpiredToken)".into(),
            "expect the real lifetime to be the shorter of the two; a Lambda role's credentials are refreshed for you, so sign right before the upload rather than caching URLs",
        );
    }
}

fn check_url_shape(url: &PresignedUrl, ctx: &Context, f: &mut Findings) {
    // Signed ACL (the original pattern's ACL: 'public-read'). Buckets with ACLs disabled
    // refuse every ACL but bucket-owner-full-control, which they accept (S3 User Guide,
    // "Controlling ownership of objects": BucketOwnerEnforced buckets "accept PUT requests that
    // specify bucket-owner-full-control"). An ACL in the query string (the JS SDK v3 hoists it
    // there) is part of the URL: the client sends nothing for it.
    let in_query = url.param("x-amz-acl");
    let acl_value = in_query
        .or_else(|| ctx.expected("x-amz-acl"))
        .or_else(|| ctx.request.header("x-amz-acl"));
    let signed_as_header = url.signed_headers.iter().any(|h| h == "x-amz-acl");
    if acl_value.is_some() || signed_as_header {
        let acl = acl_value
            .map(|v| format!("x-amz-acl: {v}"))
            .unwrap_or_else(|| {
                "an x-amz-acl header, such as the original pattern's public-read".into()
            });
        let owner_full_control = acl_value == Some("bucket-owner-full-control");
        let disabled = ctx.bucket.as_ref().and_then(|b| b.acls_disabled);
        let how = if in_query.is_some() {
            "in its query string"
        } else {
            "as a header the client must send exactly"
        };
        if !owner_full_control {
            let consequence = match disabled {
                Some(true) => "this bucket has ACLs disabled (BucketOwnerEnforced), so S3 refuses the upload with AccessControlListNotSupported",
                Some(false) => "this bucket still accepts ACLs, so the object gets a per-object grant the bucket policy does not show",
                None => "buckets with ACLs disabled (the default since April 2023) refuse it with AccessControlListNotSupported",
            };
            let message = format!("the URL was signed with an ACL ({acl}) {how}: {consequence}");
            let fix = "sign without an ACL; to make objects readable, grant it in the bucket policy (bucket.public_read.prefix in stack.yaml), never per object";
            if disabled == Some(false) {
                f.warning("signed-acl", message, fix);
            } else {
                f.problem("signed-acl", message, fix);
            }
        }
    }
    // Checksums signed as headers (the AWS SDKs' flexible checksums). Signed *and* sent with the
    // body's value, a checksum header is how S3 checks integrity: S3 answers BadDigest when the
    // body differs (S3 User Guide, "Checking object integrity", pre-signed URL uploads). Only a
    // client that does not send it fails (SignatureDoesNotMatch), as a browser's plain PUT does.
    for name in url.signed_headers.iter().filter(|h| {
        (h.starts_with("x-amz-checksum-") || *h == "x-amz-sdk-checksum-algorithm")
            && url.param(h).is_none()
            && ctx.request.header(h).is_none()
    }) {
        f.problem(
            "checksum-in-url",
            format!("the URL signs the header {name}, which the request does not send: S3 answers SignatureDoesNotMatch. A plain PUT of the file (a browser's fetch or XMLHttpRequest) does not add it"),
            "send the header with the base64 checksum of the body (S3 then verifies the upload), or presign without a checksum algorithm (AWS SDKs: request_checksum_calculation / requestChecksumCalculation = WHEN_REQUIRED)",
        );
    }
    // Checksums baked into the query (AWS SDK for JavaScript v3 >= 3.729.0). Whether S3 checks
    // a query checksum against the body is disputed in public reports; the empty-body value is
    // wrong for any real upload either way. `x-amz-checksum-mode=ENABLED` (a GET asking S3 to
    // return the stored checksum, the JS SDK's default) is neither.
    let has_checksum_value = url.params.iter().any(|(n, _)| {
        let n = n.to_ascii_lowercase();
        n.starts_with("x-amz-checksum-") && n != "x-amz-checksum-mode"
    });
    for (name, value) in &url.params {
        let lower = name.to_ascii_lowercase();
        if lower == "x-amz-checksum-mode" {
            continue;
        }
        let algorithm_only = lower == "x-amz-sdk-checksum-algorithm" && !has_checksum_value;
        let fix = "with the AWS SDK for JavaScript v3 (>= 3.729.0), create the S3 client with requestChecksumCalculation: \"WHEN_REQUIRED\"; for an integrity check, sign a checksum header and send it with the body's value";
        let empty_upload = ctx.request.header("content-length") == Some("0");
        if lower.starts_with("x-amz-checksum-") && value == "AAAAAA==" && !empty_upload {
            // A warning, not a problem: S3 itself accepted such uploads in public reports
            // (localstack/localstack#12164, aws/aws-sdk-go-v2#2610) and s3s-fs ignores it, but
            // stores that check query checksums refuse every non-empty upload.
            f.warning(
                "checksum-in-url",
                format!("the URL carries {name}={value}, the CRC32 of an EMPTY body: a store that checks query checksums against the body refuses every real upload with BadDigest / XAmzContentChecksumMismatch (reports differ on whether S3 itself checks it)"),
                fix,
            );
        } else if lower.starts_with("x-amz-checksum-") || algorithm_only {
            f.warning(
                "checksum-in-url",
                format!("the URL carries {name}={value} in its query: whether S3 checks a query checksum against the body is disputed (some report uploads failing, others S3 ignoring it), so the upload may fail unless the body matches it"),
                fix,
            );
        }
    }
    if let Some(scope) = &url.scope {
        if scope.service != "s3" {
            f.problem(
                "wrong-service",
                format!(
                    "the URL is signed for the service {:?}, not s3",
                    scope.service
                ),
                "sign with an S3 client (service s3)",
            );
        }
        if let Some(host_region) = &url.host_region {
            if host_region != &scope.region {
                f.problem(
                    "region-mismatch",
                    format!("the URL is signed for {} but its host {} is in {host_region}: S3 rejects it (AuthorizationQueryParametersError: the region is wrong)", scope.region, url.host),
                    format!("sign with the bucket's region ({host_region}) and its regional endpoint"),
                );
            }
        } else if url.host.ends_with("amazonaws.com") && scope.region != "us-east-1" {
            f.warning(
                "global-endpoint",
                format!("the URL uses the global endpoint {} but is signed for {}: S3 may answer 307 Temporary Redirect (new buckets) and the redirected request then fails", url.host, scope.region),
                format!("use the regional endpoint ({}.s3.{}.amazonaws.com); AWS SDKs do when the client has the bucket's region", url.bucket.as_deref().unwrap_or("<bucket>"), scope.region),
            );
        }
        if let Some(bucket_region) = ctx.bucket.as_ref().and_then(|b| b.region.as_ref()) {
            if bucket_region != &scope.region {
                f.problem(
                    "region-mismatch",
                    format!("the bucket is in {bucket_region} but the URL is signed for {}", scope.region),
                    format!("sign with region {bucket_region} (the signer's AWS_REGION, or region: in stack.yaml)"),
                );
            }
        }
    }
    // Key encoding: what S3 canonicalises vs what the URL says.
    let canonical = url.canonical_path();
    if canonical != url.raw_path {
        f.warning(
            "key-encoding",
            format!("the URL's path {} is not in SigV4's canonical form; S3 reads it as {canonical}. Unless the signer signed exactly that form, S3 answers SignatureDoesNotMatch (spaces written as +, a key encoded twice, or unescaped characters)", url.raw_path),
            "have the signer encode the key exactly once (space → %20, + → %2B) and pass the URL on unchanged; never build or re-encode it by hand",
        );
    }
    // %25 followed by two hex digits is an encoded escape (a key encoded twice: %2520 for a
    // space); a lone %25 is a key with a real % in it, encoded once, as it should be.
    let double_encoded = url
        .raw_path
        .as_bytes()
        .windows(5)
        .any(|w| &w[..3] == b"%25" && w[3].is_ascii_hexdigit() && w[4].is_ascii_hexdigit());
    if double_encoded {
        f.warning(
            "key-encoding",
            format!("the path {} contains %25 followed by hex digits (an encoded escape such as %2520): the key was probably encoded twice, so S3 stores a key with literal %XX in its name", url.raw_path),
            "pass the raw key to the signer (it encodes it once); do not encodeURIComponent it first",
        );
    }
}

/// The request the user described, against the URL.
fn check_request(url: &PresignedUrl, ctx: &Context, f: &mut Findings) {
    let req = &ctx.request;
    if let Some(host) = req.header("host") {
        if !host.eq_ignore_ascii_case(&url.host) {
            f.problem(
                "host-mismatch",
                format!("the request reaches S3 with Host: {host}, but the URL was signed for {}: S3 answers SignatureDoesNotMatch (a proxy or CDN rewrote Host)", url.host),
                "send the request to the URL's own host, or make the proxy forward Host unchanged",
            );
        }
    }
    if req.headers.is_empty() {
        return;
    }
    for name in url.signed_headers.iter().filter(|h| *h != "host") {
        match (req.header(name), ctx.expected(name)) {
            (None, expected) => f.problem(
                "signed-header-missing",
                format!("the URL signs {name}{}, but the request does not send it: S3 answers SignatureDoesNotMatch", expected.map(|v| format!(" (value {v:?})")).unwrap_or_default()),
                format!("send {name}: {} with the request", expected.unwrap_or("<the value the signer used>")),
            ),
            (Some(sent), Some(expected)) if canonical_header_value(sent) != canonical_header_value(expected) => {
                header_value_problem(f, name, sent, expected)
            }
            _ => {}
        }
    }
    let unsigned: Vec<&str> = req
        .headers
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| {
            n.starts_with("x-amz-")
                && !url.signed_headers.iter().any(|s| s == n)
                && url.param(n).is_none()
        })
        .collect();
    if !unsigned.is_empty() {
        f.problem(
            "unsigned-amz-header",
            format!("the request sends {} but the URL does not sign it: S3 answers 403 AccessDenied \"There were headers present in the request which were not signed\", naming them in HeadersNotSigned", unsigned.join(", ")),
            "stop sending it (check interceptors and upload libraries), or have the signer sign it",
        );
    }
}

fn header_value_problem(f: &mut Findings, name: &str, sent: &str, expected: &str) {
    let hint = if name == "content-type" {
        "; axios sends application/x-www-form-urlencoded by default, and browsers send the File's own type"
    } else {
        ""
    };
    f.problem(
        "signed-header-value",
        format!("the URL was signed for {name}: {expected}, but the request sends {name}: {sent}: S3 answers SignatureDoesNotMatch{hint}"),
        format!("send {name}: {expected} exactly (or ask the signer for a URL with the value you send)"),
    );
}

/// The caller's secret and the URL's signature, when the caller's own access key signed it.
fn own_signing<'a>(url: &'a PresignedUrl, ctx: &'a Context) -> Option<(&'a str, &'a str)> {
    let (Some(scope), Some(signature), Some((key_id, secret))) =
        (&url.scope, &url.signature, &ctx.credentials)
    else {
        return None;
    };
    (&scope.access_key_id == key_id).then_some((secret.as_str(), signature.as_str()))
}

/// A signed header's value as the user gave it: the request's, else the signer's.
fn given_header(ctx: &Context, name: &str) -> Option<String> {
    ctx.request
        .header(name)
        .or_else(|| ctx.expected(name))
        .map(str::to_string)
}

/// Whether `secret` signs this URL for `method` with these header values.
fn signs(
    url: &PresignedUrl,
    (secret, signature): (&str, &str),
    method: &str,
    header: &dyn Fn(&str) -> Option<String>,
) -> bool {
    url.signature_with(secret, &url.canonical_request(method, header))
        .is_some_and(|s| s.eq_ignore_ascii_case(signature))
}

/// The method the URL's signature verifies for with the caller's credentials and the header
/// values given, if any.
fn verified_method(url: &PresignedUrl, ctx: &Context) -> Option<&'static str> {
    let own = own_signing(url, ctx)?;
    let header = |name: &str| given_header(ctx, name);
    METHODS.into_iter().find(|m| signs(url, own, m, &header))
}

/// With the caller's own credentials: recompute the signature and say which part differs.
/// Returns a signed header's value it found by recomputing (e.g. the content type signed).
fn check_signature(
    url: &PresignedUrl,
    ctx: &Context,
    f: &mut Findings,
) -> Option<(String, String)> {
    let own = own_signing(url, ctx)?;
    let header_value = |name: &str| given_header(ctx, name);
    let matches =
        |method: &str, header: &dyn Fn(&str) -> Option<String>| signs(url, own, method, header);
    let asked = ctx.request.method.as_deref().map(str::to_ascii_uppercase);
    let signed_method = verified_method(url, ctx);
    match (signed_method, asked.as_deref()) {
        (Some(m), Some(a)) if m != a => {
            f.problem(
                "method-mismatch",
                format!("the URL was signed for {m} (checked with your credentials), but the request uses {a}: S3 answers SignatureDoesNotMatch"),
                format!("send a {m} request, or ask the signer for a {a} URL (downloads need uploads.allow_downloads: true)"),
            );
            return None;
        }
        (Some(_), _) => return None,
        (None, _) => {}
    }
    // No method matches with the values the user gave: maybe one signed header's value differs.
    if url.signed_headers.iter().any(|h| h == "content-type") {
        let sent = header_value("content-type");
        let mut candidates: Vec<String> = ctx.content_type_candidates.clone();
        candidates.extend(COMMON_TYPES.iter().map(|s| s.to_string()));
        if let Some(s) = &sent {
            // The same type written another way: case, the space after `;`, the parameter
            // added by a browser or left out (text/plain;charset=UTF-8 vs text/plain; charset=utf-8).
            let base = s.split(';').next().unwrap_or(s).trim().to_string();
            for v in [
                s.clone(),
                s.replace("; ", ";"),
                s.replace(';', "; ").replace(";  ", "; "),
                base.clone(),
                format!("{base}; charset=utf-8"),
                format!("{base};charset=UTF-8"),
                format!("{base};charset=utf-8"),
                format!("{base}; charset=UTF-8"),
            ] {
                candidates.push(v.to_ascii_lowercase());
                candidates.push(v);
            }
        }
        for candidate in candidates {
            let with = |name: &str| {
                if name == "content-type" {
                    Some(candidate.clone())
                } else {
                    header_value(name)
                }
            };
            if let Some(m) = METHODS.into_iter().find(|m| matches(m, &with)) {
                match &sent {
                    Some(s) => header_value_problem(f, "content-type", s, &candidate),
                    None => f.problem(
                        "signed-header-missing",
                        format!("the URL signs content-type (value {candidate:?}, found with your credentials), but the request does not send it"),
                        format!("send Content-Type: {candidate} with the {m} request"),
                    ),
                }
                return Some(("content-type".into(), candidate));
            }
        }
    }
    let unknown: Vec<&str> = url
        .signed_headers
        .iter()
        .filter(|h| *h != "host" && header_value(h).is_none())
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        f.warning(
            "signature-unchecked",
            format!("the URL signs {} and no value was given for it, so the signature could not be recomputed", unknown.join(", ")),
            format!("pass the values the client sends: --header '{}: ...'", unknown[0]),
        );
        return None;
    }
    // A signed header whose sent value already differs from the signed one explains the
    // mismatch: do not contradict that finding by blaming the URL.
    if f.0.iter().any(|x| x.code == "signed-header-value") {
        return None;
    }
    // Content-Type was searched above (the common ways of writing it); other signed values
    // (Content-Length, x-amz-meta-*) cannot be guessed, so they stay possible causes.
    let valued: Vec<&str> = url
        .signed_headers
        .iter()
        .filter(|h| *h != "host" && *h != "content-type")
        .map(String::as_str)
        .collect();
    if !valued.is_empty() {
        // The values sent for these headers are the first suspects: a URL is copied whole far
        // more often than a body keeps the size it was signed for.
        let sent: Vec<String> = valued
            .iter()
            .map(|h| format!("{h}: {}", header_value(h).unwrap_or_default()))
            .collect();
        let size_hint = if valued.contains(&"content-length") {
            " (for content-length: the body is not the size that was signed)"
        } else {
            ""
        };
        f.problem(
            "signed-value-differs",
            format!("the signature does not verify with the values sent for the headers it signs ({}): S3 compares each byte for byte, so one of them differs from the value signed{size_hint}. If they are right, the URL was changed after signing or another secret signed it", sent.join(", ")),
            "send each signed header with exactly the value the signer signed (upload the file whose size was signed), or ask the signer for a URL for what you send",
        );
        return None;
    }
    f.problem(
        "signature-mismatch",
        "the signature matches no request your credentials would sign for this URL (any method, the header values given): the URL was changed after signing (its signature, key or a parameter), or another secret signed it".into(),
        "use the URL exactly as the signer returned it, and send its signed headers with the values the signer returned; if it was copied through a tool, check nothing re-encoded or truncated it",
    );
    None
}

/// Labels for the lines of a canonical request.
fn line_label(index: usize, line: &str, header_lines: usize) -> String {
    match index {
        0 => "method".into(),
        1 => "path (the key, encoded)".into(),
        2 => "query".into(),
        i if i < 3 + header_lines => format!(
            "header {}",
            line.split_once(':').map(|(n, _)| n).unwrap_or(line)
        ),
        i if i == 3 + header_lines => "(blank line)".into(),
        i if i == 4 + header_lines => "signed header names".into(),
        _ => "payload hash".into(),
    }
}

fn check_s3_error(
    url: &PresignedUrl,
    ctx: &Context,
    e: &S3Error,
    discovered: Option<&(String, String)>,
    f: &mut Findings,
) {
    let method_received = e
        .canonical_request
        .as_deref()
        .and_then(|c| c.lines().next())
        .map(str::to_string)
        .or_else(|| ctx.request.method.clone())
        .unwrap_or_else(|| "PUT".into());
    match e.code.as_str() {
        "SignatureDoesNotMatch" => {
            let Some(received) = &e.canonical_request else {
                f.problem(
                    "signature-does-not-match",
                    "S3 answered SignatureDoesNotMatch; this error body has no CanonicalRequest to compare (S3 includes it in the XML body of the response)".into(),
                    "pass the whole XML body of S3's response with --s3-error",
                );
                return;
            };
            // What the URL was signed for: the values the signer said, else the one found by
            // recomputing the signature, else what was sent.
            let header = |name: &str| -> Option<String> {
                ctx.expected(name)
                    .or_else(|| discovered.filter(|(n, _)| n == name).map(|(_, v)| v.as_str()))
                    .or_else(|| ctx.request.header(name))
                    .map(str::to_string)
            };
            let expected = url.canonical_request(&method_received, &header);
            diff_canonical(url, ctx, &expected, received, f);
        }
        "AccessDenied" if e.message.contains("expired") => {
            if !f.0.iter().any(|x| x.code == "expired") {
                f.problem(
                    "expired",
                    format!("S3 says {:?}: the request arrived after X-Amz-Date + X-Amz-Expires{}", e.message, url.expires_at().map(|t| format!(" ({})", rfc3339(t))).unwrap_or_default()),
                    "ask for a new URL right before the upload; if URLs are fresh, check the signer's clock",
                );
            }
        }
        "AccessDenied" if e.message.contains("not valid yet") || e.message.contains("not yet valid") => f.problem(
            "signed-in-future",
            format!("S3 says {:?}: the URL's signing time is in S3's future (clock skew)", e.message),
            "synchronise the signing machine's clock (NTP)",
        ),
        // S3's code for unsigned x-amz-* headers is AccessDenied, with a HeadersNotSigned element
        // naming them (S3 API Reference, "Authenticating requests: using query parameters").
        "AccessDenied"
            if e.headers_not_signed.is_some()
                || e.message.contains("headers present in the request which were not signed") =>
        {
            f.problem(
                "unsigned-amz-header",
                format!("S3 says the request carried headers the URL does not sign: {}", e.headers_not_signed.clone().unwrap_or_else(|| e.message.clone())),
                "stop sending those x-amz-* headers, or have the signer sign them",
            )
        }
        "AccessDenied" if method_received == "GET" || method_received == "HEAD" => {
            let absent = ctx.bucket.as_ref().and_then(|b| b.object_exists) == Some(false);
            f.problem(
                "missing-key-403",
                format!("S3 answered AccessDenied to a {method_received}{}: without s3:ListBucket, S3 answers 403 instead of 404 for a key that does not exist, to hide what exists", if absent { " and the key does not exist (checked)" } else { "" }),
                "check the key (and its prefix) is right and the upload finished; the signer's role deliberately has no s3:ListBucket",
            );
        }
        "AccessDenied" => f.problem(
            "access-denied",
            format!("S3 answered AccessDenied ({:?}): the signing identity may not do this, or a bucket policy denies it (enforce_tls denies plain http://)", e.message),
            "check the signer's role policy allows s3:PutObject on the prefix, and that the URL is used over https",
        ),
        S3Error::EMPTY => f.problem(
            "refused-without-reason",
            "S3 answered without an error body: signature, expiry and key problems always come with one (SignatureDoesNotMatch, AccessDenied \"Request has expired\"), so this is a refusal by policy: a bucket policy's Deny (enforce_tls over plain http://, say), or the signing identity's permissions; moto over plain HTTP answers such refusals with an empty 403. It is not CORS: the browser blocks a response, S3 sent one".into(),
            "run url explain with --check-bucket to read the bucket policy; over http:// use the spec's local environment (enforce_tls: false) or https",
        ),
        "HeadersNotSigned" => f.problem(
            "unsigned-amz-header",
            format!("S3 says the request carried headers the URL does not sign: {}", e.headers_not_signed.clone().unwrap_or_else(|| e.message.clone())),
            "stop sending those x-amz-* headers, or have the signer sign them",
        ),
        "AccessControlListNotSupported" => f.problem(
            "signed-acl",
            "S3 refused an ACL: the bucket has ACLs disabled (BucketOwnerEnforced) and the request carries x-amz-acl".into(),
            "sign and send no ACL; grant reads in the bucket policy (bucket.public_read in stack.yaml)",
        ),
        "XAmzContentChecksumMismatch" | "BadDigest" => {
            // Which checksum S3 compared the body with: one in the query string (the JS SDK
            // v3's default, often of an empty body) or a signed checksum header.
            let in_query = url.params.iter().find(|(k, _)| {
                let k = k.to_ascii_lowercase();
                k.starts_with("x-amz-checksum-") && k != "x-amz-checksum-mode"
            });
            let signed_header = url
                .signed_headers
                .iter()
                .find(|h| h.starts_with("x-amz-checksum-") || *h == "content-md5");
            match (in_query, signed_header) {
                (Some((k, v)), _) => f.problem(
                    "checksum-in-url",
                    format!("S3 says the body does not match a checksum ({}): the URL carries {k}={v}{}", e.code, if v == "AAAAAA==" { ", the CRC32 of an empty body that the AWS SDK for JavaScript v3 signs by default" } else { "" }),
                    "create the JS v3 S3 client with requestChecksumCalculation: \"WHEN_REQUIRED\", or sign the checksum of the exact bytes uploaded",
                ),
                (None, Some(h)) => f.problem(
                    "checksum-mismatch",
                    format!("S3 says the body does not match the checksum signed in {h} ({}): the bytes sent are not the bytes whose checksum was signed (S3 checked integrity, as it should)", e.code),
                    "sign the checksum of the exact bytes the client uploads, and upload those bytes unchanged",
                ),
                (None, None) => f.problem(
                    "checksum-mismatch",
                    format!("S3 says the body does not match a checksum the request carries ({}): {}", e.code, e.message),
                    "send the checksum of the exact bytes uploaded, or none",
                ),
            }
        }
        "ExpiredToken" => f.problem(
            "session-token",
            "S3 says the security token expired: the temporary credentials that signed the URL ended before X-Amz-Expires did".into(),
            "sign right before the upload; the URL cannot outlive the signer's session",
        ),
        // A pre-signed URL for the wrong region: AuthorizationQueryParametersError ("the region
        // 'us-east-1' is wrong; expecting 'eu-west-1'"); header-signed requests get
        // AuthorizationHeaderMalformed.
        "AuthorizationQueryParametersError"
        | "AuthorizationHeaderMalformed"
        | "PermanentRedirect"
        | "TemporaryRedirect" => f.problem(
            "region-mismatch",
            format!("S3 answered {}: the URL was signed for or sent to the wrong region ({:?})", e.code, e.message),
            "sign with the bucket's region and use its regional endpoint",
        ),
        other => f.problem(
            "s3-error",
            format!("S3 answered {other}: {}", e.message),
            "see S3's error reference for this code; the checks above cover the URL itself",
        ),
    }
}

/// Line-by-line comparison of the canonical request the URL was signed for with the one S3
/// computed from what it received.
fn diff_canonical(
    url: &PresignedUrl,
    ctx: &Context,
    expected: &str,
    received: &str,
    f: &mut Findings,
) {
    let exp: Vec<&str> = expected.split('\n').collect();
    let rec: Vec<&str> = received.split('\n').collect();
    let headers_in = |lines: &[&str]| lines.iter().skip(3).take_while(|l| !l.is_empty()).count();
    let (he, hr) = (headers_in(&exp), headers_in(&rec));
    let mut differing = 0;
    for i in 0..exp.len().max(rec.len()) {
        let (a, b) = (exp.get(i).copied(), rec.get(i).copied());
        if a == b {
            continue;
        }
        differing += 1;
        let label = line_label(i, a.or(b).unwrap_or_default(), he.max(hr));
        let a_text = a.map_or("(no line)".to_string(), |s| format!("{s:?}"));
        let b_text = b.map_or("(no line)".to_string(), |s| format!("{s:?}"));
        let why = match i {
            0 => "the request's method is not the one the URL was signed for".to_string(),
            1 => "the path differs: the key was encoded differently, or a proxy rewrote the path".to_string(),
            2 => "the query differs: a parameter was added, dropped or re-encoded after signing".to_string(),
            _ if label.starts_with("header content-type") => {
                "the client sent another Content-Type than the one signed (axios defaults to application/x-www-form-urlencoded; browsers send the File's type)".to_string()
            }
            _ if label.starts_with("header host") => {
                "the request reached S3 with another Host (a proxy, CDN or wrong endpoint)".to_string()
            }
            _ if label.starts_with("header") => "a signed header was sent with another value".to_string(),
            _ => "the signed header list or payload differs".to_string(),
        };
        f.problem(
            "canonical-request-differs",
            format!("line {} of the canonical request ({label}) differs — signed: {a_text}, S3 received: {b_text}: {why}", i + 1),
            match i {
                0 => "send the method the URL was signed for (PUT for uploads)".to_string(),
                1 => "pass the URL on unchanged; do not re-encode the key".to_string(),
                2 => "use the URL exactly as returned, without adding or re-encoding parameters".to_string(),
                _ => format!("send the signed headers exactly as the signer returned them{}", ctx.expected("content-type").map(|v| format!(" (Content-Type: {v})")).unwrap_or_default()),
            },
        );
    }
    if differing == 0 {
        f.warning(
            "signature-does-not-match",
            format!("S3's canonical request equals the one the URL was signed for, so the signature itself is wrong: the URL's signature was altered or another secret key signed it (access key {})", url.scope.as_ref().map(|s| s.access_key_id.as_str()).unwrap_or("?")),
            "use the URL exactly as returned; check the signer's credentials belong to the access key id in the URL",
        );
    }
}

/// Deny statements of the bucket policy that refuse this request before S3 looks at anything
/// else: S3 answers them with a bare 403 (AccessDenied, or an empty body from an emulator over
/// plain HTTP), which browsers and users often read as a CORS or signature problem.
fn check_policy(url: &PresignedUrl, ctx: &Context, method: &str, f: &mut Findings) {
    let Some(policy) = ctx.bucket.as_ref().and_then(|b| b.policy.as_ref()) else {
        return;
    };
    let statements = match &policy["Statement"] {
        serde_json::Value::Array(items) => items.clone(),
        serde_json::Value::Null => return,
        one => vec![one.clone()],
    };
    let action = match method {
        "GET" | "HEAD" => "s3:GetObject",
        "DELETE" => "s3:DeleteObject",
        _ => "s3:PutObject",
    };
    for st in statements.iter().filter(|s| s["Effect"] == "Deny") {
        let actions = crate::spec::validate::strings(Some(&st["Action"]));
        let applies = actions.iter().any(|a| {
            super::cors::wildcard_match(&a.to_ascii_lowercase(), &action.to_ascii_lowercase())
        });
        if !applies {
            continue;
        }
        let sid = st["Sid"].as_str().unwrap_or("(no Sid)");
        let tls_only = st["Condition"]["Bool"]["aws:SecureTransport"]
            .as_str()
            .or_else(|| st["Condition"]["Bool"]["aws:SecureTransport"][0].as_str())
            == Some("false");
        if tls_only {
            if url.scheme == "http" {
                f.problem(
                    "policy-denies-plain-http",
                    format!("the bucket policy's statement {sid} denies every request without TLS, and this URL is http://: S3 answers 403 (an emulator over plain HTTP answers with an empty body), which is not a CORS or signature problem"),
                    "use an https:// endpoint; against a local emulator, deploy the spec's local environment (bucket.enforce_tls: false there: scripts/local does)",
                );
            }
            continue;
        }
        f.warning(
            "policy-deny",
            format!("the bucket policy's statement {sid} denies {} under some conditions: when they hold, S3 answers a bare 403 AccessDenied, not a signature or CORS error", actions.join(", ")),
            "check that statement's Condition against the identity that signed the URL",
        );
    }
}

fn check_cors(url: &PresignedUrl, ctx: &Context, f: &mut Findings) {
    let (Some(origin), Some(rules)) = (
        &ctx.origin,
        ctx.bucket.as_ref().and_then(|b| b.cors.as_ref()),
    ) else {
        return;
    };
    let method = ctx.request.method.clone().unwrap_or_else(|| "PUT".into());
    // Headers a browser asks the preflight for: everything but CORS-safelisted ones.
    let mut headers: Vec<String> = ctx
        .request
        .headers
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| {
            !matches!(
                n.as_str(),
                "host"
                    | "origin"
                    | "content-length"
                    | "accept"
                    | "accept-language"
                    | "content-language"
            )
        })
        .collect();
    if headers.is_empty() {
        headers = url
            .signed_headers
            .iter()
            .filter(|h| *h != "host")
            .cloned()
            .collect();
    }
    if let Verdict::Refused { reason, fix } = cors::evaluate(rules, origin, &method, &headers) {
        f.problem(
            "cors",
            format!("a browser on {origin} cannot {method} to this bucket: {reason}; S3 refuses the preflight and the browser reports \"blocked by CORS policy\""),
            fix,
        );
    }
}
