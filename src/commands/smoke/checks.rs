//! The steps of `smoke` after the URL: the API's CORS answer, the bucket's preflight (or its
//! rules), the upload with the signer's headers, and the read-back and delete.

use std::time::Instant;

use super::{header, timed, Smoke};
use crate::presigned::cors::{self, Verdict};
use crate::presigned::explain::{self, BucketFacts, Context, Request};
use crate::presigned::{s3error, PresignedUrl};

/// The API's CORS answer: with an origin, the signer's answer must allow it or the page never
/// sees the URL.
pub(super) fn check_api_cors(
    smoke: &mut Smoke,
    origin: Option<&str>,
    headers: &[(String, String)],
) -> bool {
    let Some(origin) = origin else {
        return smoke.push(
            "api cors",
            true,
            None,
            None,
            "not checked: no origin (api.cors_origins is empty; pass --origin)".into(),
        );
    };
    match header(headers, "access-control-allow-origin") {
        Some(a) if a == "*" || a.eq_ignore_ascii_case(origin) => smoke.push(
            "api cors",
            true,
            None,
            None,
            format!("access-control-allow-origin: {a}"),
        ),
        other => smoke.push(
            "api cors",
            false,
            None,
            None,
            format!(
                "the API's answer allows {} where the page is {origin}, so the browser hides it; add the origin to api.cors_origins and deploy",
                other.map(|a| format!("the origin {a}")).unwrap_or_else(|| "no origin".into())
            ),
        ),
    }
}

/// The headers a browser sets on the upload itself (what the preflight asks for).
fn upload_headers(signer_json: &serde_json::Value) -> Vec<(String, String)> {
    signer_json["headers"]
        .as_object()
        .map(|h| {
            h.iter()
                .filter(|(k, _)| {
                    !k.eq_ignore_ascii_case("content-length") && !k.eq_ignore_ascii_case("host")
                })
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The bucket's preflight for the upload, as a browser sends it. A store that answers no
/// preflight at all (s3s-fs) is judged by the bucket's CORS rules (GetBucketCors), or, when it
/// cannot say those either, by the spec's.
pub(super) async fn check_bucket_cors(
    smoke: &mut Smoke,
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    stack: &crate::spec::Stack,
    origin: Option<&str>,
    url: &str,
    signer_json: &serde_json::Value,
) -> bool {
    let Some(origin) = origin else {
        return smoke.push(
            "bucket cors",
            true,
            None,
            None,
            "not checked: no origin".into(),
        );
    };
    let method = signer_json["method"].as_str().unwrap_or("PUT").to_string();
    let asked: Vec<String> = upload_headers(signer_json)
        .into_iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .collect();
    let asked_line = asked.join(",");
    let mut headers = vec![
        ("Origin", origin),
        ("Access-Control-Request-Method", method.as_str()),
    ];
    if !asked.is_empty() {
        headers.push(("Access-Control-Request-Headers", &asked_line));
    }
    let (answer, ms) = timed("OPTIONS", url, &headers, Vec::new()).await;
    let (status, answered) = match &answer {
        Ok((status, h, _)) => (
            Some(*status),
            header(h, "access-control-allow-origin").map(str::to_string),
        ),
        Err(_) => (None, None),
    };
    if let Some(allowed) = answered {
        let ok = (200..300).contains(&status.unwrap_or(0))
            && (allowed == "*" || allowed.eq_ignore_ascii_case(origin));
        return smoke.push(
            "bucket cors",
            ok,
            status,
            Some(ms),
            format!("preflight {method} from {origin}: access-control-allow-origin: {allowed}"),
        );
    }
    // S3 refuses a preflight no rule allows with 403 "CORSResponse: ..."; any other answer
    // without CORS headers (s3s-fs refuses an unsigned OPTIONS) says nothing about CORS.
    let cors_refusal = matches!(&answer, Ok((403, _, text)) if text.contains("CORS"));
    if cors_refusal {
        return smoke.push("bucket cors", false, status, Some(ms), format!("preflight {method} from {origin} refused: no rule of the bucket's CORS allows it (bucket.cors in stack.yaml, then deploy)"));
    }
    // No CORS answer at all: judge the rules S3 holds, or the spec's.
    let (rules, source) = match crate::aws::s3_cors::find(s3, bucket).await {
        Ok(c) => (
            c.map(|c| c.rules).unwrap_or_default(),
            "the bucket's CORS rules (GetBucketCors)",
        ),
        Err(_) => (
            stack.bucket.cors.clone(),
            "the spec's bucket.cors (this S3 answers neither preflights nor GetBucketCors)",
        ),
    };
    match cors::evaluate(&rules, origin, &method, &asked) {
        Verdict::Allowed { index } => smoke.push(
            "bucket cors",
            true,
            status,
            Some(ms),
            format!(
                "{method} from {origin}: allowed by rule {} of {source}",
                index + 1
            ),
        ),
        Verdict::Refused { reason, fix } => smoke.push(
            "bucket cors",
            false,
            status,
            Some(ms),
            format!("{method} from {origin}: {reason} ({source}); fix: {fix}"),
        ),
    }
}

/// The upload with the signer's headers, then HEAD and DELETE with the deployer's credentials.
#[allow(clippy::too_many_arguments)]
pub(super) async fn upload_and_back(
    smoke: &mut Smoke,
    s3: &aws_sdk_s3::Client,
    credentials: Option<aws_sdk_s3::config::SharedCredentialsProvider>,
    bucket: &str,
    origin: Option<&str>,
    url: &str,
    signer_json: &serde_json::Value,
    body: &[u8],
    ctype: &str,
) {
    let sent = upload_headers(signer_json);
    let mut headers: Vec<(&str, &str)> =
        sent.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    if let Some(o) = origin {
        headers.push(("Origin", o));
    }
    let method = signer_json["method"].as_str().unwrap_or("PUT");
    let key = signer_json["key"]
        .as_str()
        .map(str::to_string)
        .or_else(|| PresignedUrl::parse(url).ok()?.key);
    let (answer, ms) = timed(method, url, &headers, body.to_vec()).await;
    match answer {
        Ok((status, _, _)) if (200..300).contains(&status) => {
            smoke.push(
                "upload",
                true,
                Some(status),
                Some(ms),
                format!("{method} {} bytes as {ctype}", body.len()),
            );
        }
        Ok((status, _, text)) => {
            let error = s3error::parse(&text);
            let what = error
                .as_ref()
                .map(|e| format!("{} {}", e.code, e.message))
                .unwrap_or_else(|| match text.trim() {
                    "" => "(no error body)".to_string(),
                    t => t.chars().take(200).collect(),
                });
            smoke.push(
                "upload",
                false,
                Some(status),
                Some(ms),
                format!("S3 refused the {method}: {what}"),
            );
            // What went on the wire: the signer's headers, and the length hyper adds.
            let mut on_wire = sent.clone();
            on_wire.push(("content-length".into(), body.len().to_string()));
            smoke.explain =
                explain_refusal(credentials, url, method, &on_wire, error, origin).await;
            return;
        }
        Err(e) => {
            smoke.push(
                "upload",
                false,
                None,
                Some(ms),
                format!("{method} to the bucket: {e}"),
            );
            return;
        }
    }
    let Some(key) = key else {
        smoke.push(
            "read back",
            false,
            None,
            None,
            "the URL names no key".into(),
        );
        return;
    };
    let start = Instant::now();
    let head = s3.head_object().bucket(bucket).key(&key).send().await;
    let ms = start.elapsed().as_millis();
    match head {
        Ok(h) => {
            let length = h.content_length().unwrap_or(-1);
            let same = length == body.len() as i64;
            smoke.push(
                "read back",
                same,
                Some(200),
                Some(ms),
                format!(
                    "HEAD {key}: {length} bytes{}",
                    if same { "" } else { ", not what was sent" }
                ),
            )
        }
        Err(e) => smoke.push(
            "read back",
            false,
            e.raw_response().map(|r| r.status().as_u16()),
            Some(ms),
            format!(
                "HEAD {key}: {}",
                crate::aws::AwsError::from_sdk("HeadObject", &key, e)
            ),
        ),
    };
    let start = Instant::now();
    let deleted = s3.delete_object().bucket(bucket).key(&key).send().await;
    let ms = start.elapsed().as_millis();
    match deleted {
        Ok(_) => smoke.push("delete", true, Some(204), Some(ms), format!("DELETE {key}")),
        Err(e) => smoke.push(
            "delete",
            false,
            e.raw_response().map(|r| r.status().as_u16()),
            Some(ms),
            format!(
                "DELETE {key}: {} (the smoke object stays; delete it by hand)",
                crate::aws::AwsError::from_sdk("DeleteObject", &key, e)
            ),
        ),
    };
}

/// `url explain` on a refused URL, with the caller's credentials and the bucket's facts.
async fn explain_refusal(
    credentials: Option<aws_sdk_s3::config::SharedCredentialsProvider>,
    url: &str,
    method: &str,
    sent: &[(String, String)],
    error: Option<s3error::S3Error>,
    origin: Option<&str>,
) -> Option<explain::Report> {
    let parsed = PresignedUrl::parse(url).ok()?;
    let credentials = crate::commands::url::resolve_credentials(credentials).await;
    let headers: Vec<(String, String)> = sent
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    let ctx = Context {
        now: crate::clock::now_unix(),
        request: Request {
            method: Some(method.to_string()),
            headers: headers.clone(),
        },
        credentials: credentials.map(|c| (c.access_key_id, c.secret_access_key)),
        expected_headers: headers,
        s3_error: error,
        bucket: None::<BucketFacts>,
        origin: origin.map(str::to_string),
        content_type_candidates: Vec::new(),
    };
    Some(explain::explain(&parsed, &ctx))
}
