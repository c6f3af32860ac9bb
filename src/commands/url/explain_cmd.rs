//! `url explain`: a pre-signed URL, the request that failed and S3's answer taken apart, with
//! the bucket's facts read with the caller's credentials.

use anyhow::Context as _;

use super::super::ExitStatus;
use super::{parse_at, parse_header, read_input, resolve_credentials};
use crate::aws::errors::code_of;
use crate::aws::{s3_cors, s3_ownership_controls};
use crate::aws::{AwsError, Clients};
use crate::cli::{ExplainArgs, Global};
use crate::output::Printer;
use crate::presigned::explain::{self, BucketFacts, Context, Report, Request, Severity};
use crate::presigned::{s3error, PresignedUrl};

/// What `url explain` was given: the URL, and what the signer said about it.
struct UrlInput {
    url: String,
    /// Headers the signer said to send.
    headers: Vec<(String, String)>,
    method: Option<String>,
}

/// The URL, and the headers the signer said to send, from a URL or the signer's JSON response.
fn url_input(text: &str) -> anyhow::Result<UrlInput> {
    let text = text.trim();
    if !text.starts_with('{') {
        return Ok(UrlInput {
            url: text.to_string(),
            headers: Vec::new(),
            method: None,
        });
    }
    let v: serde_json::Value = serde_json::from_str(text)
        .context("the input starts with { but is not JSON\n  hint: pass the URL, or the signer's whole JSON response")?;
    let url = v["signed_url"]
        .as_str()
        .or_else(|| v["url"].as_str())
        .context("the JSON has no signed_url\n  hint: pass the signer's response ({\"signed_url\": ...}) or the URL itself")?;
    let headers = v["headers"]
        .as_object()
        .map(|h| {
            h.iter()
                .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Ok(UrlInput {
        url: url.to_string(),
        headers,
        method: v["method"].as_str().map(str::to_string),
    })
}

/// One failed read, for the report's notes.
fn describe<E>(
    operation: &'static str,
    resource: &str,
    e: aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = e.raw_response().map(|r| r.status().as_u16());
    match (code_of(&e), status) {
        (None, Some(status)) => {
            format!("{operation} {resource}: HTTP {status} without an error code")
        }
        _ => AwsError::from_sdk(operation, resource, e).to_string(),
    }
}

/// What S3 says about the bucket (and the object), read with the caller's credentials.
async fn bucket_facts(
    clients: &Clients,
    bucket: &str,
    key: Option<&str>,
    notes: &mut Vec<String>,
) -> BucketFacts {
    let mut facts = BucketFacts::default();
    let exists = match clients.s3.head_bucket().bucket(bucket).send().await {
        Ok(out) => {
            facts.region = out.bucket_region().map(str::to_string);
            true
        }
        Err(e) => {
            notes.push(describe("HeadBucket", bucket, e));
            false
        }
    };
    if exists {
        // The same readers deploy uses; `None` here means "not configured".
        let (ownership, cors, policy) = tokio::join!(
            s3_ownership_controls::find(&clients.s3, bucket),
            s3_cors::find(&clients.s3, bucket),
            crate::aws::s3_policy::find(&clients.s3, bucket),
        );
        match policy {
            Ok(p) => facts.policy = Some(p.map(|p| p.document).unwrap_or_default()),
            Err(e) => notes.push(e.to_string()),
        }
        match ownership {
            Ok(o) => {
                facts.acls_disabled =
                    Some(o.is_some_and(|o| o.object_ownership == "BucketOwnerEnforced"))
            }
            Err(e) => notes.push(e.to_string()),
        }
        match cors {
            Ok(c) => facts.cors = Some(c.map(|c| c.rules).unwrap_or_default()),
            Err(e) => notes.push(e.to_string()),
        }
    }
    if let Some(key) = key {
        match clients
            .s3
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => facts.object_exists = Some(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {
                facts.object_exists = Some(false)
            }
            Err(e) => notes.push(describe("HeadObject", key, e)),
        }
    }
    facts
}

pub(super) async fn run(
    global: &Global,
    args: &ExplainArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let text = if args.url == "-" {
        read_input("-")?
    } else {
        args.url.clone()
    };
    let UrlInput {
        url: url_text,
        headers: expected_headers,
        method: signer_method,
    } = url_input(&text)?;
    let url = PresignedUrl::parse(&url_text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let now = match &args.at {
        Some(at) => parse_at(at)?,
        None => crate::clock::now_unix(),
    };
    let mut request = Request {
        method: args
            .method
            .clone()
            .or(signer_method)
            .map(|m| m.to_ascii_uppercase()),
        headers: Vec::new(),
    };
    for h in &args.header {
        request.headers.push(parse_header(h)?);
    }
    let s3_error = match &args.s3_error {
        // A 403 with nothing in it is an answer too (an emulator's policy refusal, or a HEAD).
        Some(path) => Some(match read_input(path)? {
            body if body.trim().is_empty() => s3error::S3Error::empty(),
            body => s3error::parse(&body).context(
                "the --s3-error input is not an S3 XML error body (<Error><Code>...); an empty file stands for an empty answer",
            )?,
        }),
        None => None,
    };

    // The caller's credentials (to recompute the signature) and, on request, the bucket.
    let region = url
        .scope
        .as_ref()
        .map(|s| s.region.clone())
        .unwrap_or_else(|| "us-east-1".into());
    let sdk = crate::aws::clients::load_sdk_config(&crate::aws::clients::Target {
        profile: global.profile.clone(),
        region: Some(region.clone()),
    })
    .await?;
    let credentials = resolve_credentials(sdk.credentials_provider()).await;
    let mut notes = Vec::new();
    let check_bucket = args.check_bucket || args.origin.is_some();
    let bucket = match (&url.bucket, check_bucket) {
        (Some(b), true) => {
            let clients = Clients::new(&sdk, &region);
            let key = request
                .method
                .as_deref()
                .filter(|m| *m == "GET" || *m == "HEAD")
                .and(url.key.as_deref());
            Some(bucket_facts(&clients, b, key, &mut notes).await)
        }
        _ => None,
    };
    let content_type_candidates = crate::spec::load_env(&global.file, global.env.as_deref())
        .map(|s| s.uploads.allowed_content_types)
        .unwrap_or_default();
    let ctx = Context {
        now,
        request,
        credentials: credentials
            .as_ref()
            .map(|c| (c.access_key_id.clone(), c.secret_access_key.clone())),
        expected_headers,
        s3_error,
        bucket,
        origin: args.origin.clone(),
        content_type_candidates,
    };
    let mut report = explain::explain(&url, &ctx);
    for n in notes {
        report.facts.push(("bucket check".into(), n));
    }
    print_report(printer, &report);
    Ok(if report.problems() > 0 {
        ExitStatus::Differences
    } else {
        ExitStatus::Success
    })
}

/// Each finding as `✗ code: problem` (`!` for a warning) and its `fix:` line, under `indent`.
pub fn finding_lines(findings: &[explain::Finding], indent: &str) -> String {
    let mut out = String::new();
    for f in findings {
        let mark = match f.severity {
            Severity::Problem => "✗",
            Severity::Warning => "!",
        };
        out.push_str(&format!(
            "{indent}{mark} {}: {}\n{indent}  fix: {}\n",
            f.code, f.problem, f.fix
        ));
    }
    out
}

fn print_report(printer: &Printer, report: &Report) {
    if printer.json {
        let facts: serde_json::Map<String, serde_json::Value> = report
            .facts
            .iter()
            .map(|(k, v)| (k.replace(' ', "_"), v.clone().into()))
            .collect();
        printer.json_result(serde_json::json!({
            "format_version": 1,
            "url": facts,
            "findings": report.findings,
            "problems": report.problems(),
        }));
        return;
    }
    let mut out = String::from("Pre-signed URL\n");
    for (k, v) in &report.facts {
        out.push_str(&format!("  {k:<17} {v}\n"));
    }
    out.push('\n');
    if report.findings.is_empty() {
        out.push_str("No problem found with this URL and request.\n");
    }
    out.push_str(&finding_lines(&report.findings, ""));
    let warnings = report.findings.len() - report.problems();
    if !report.findings.is_empty() {
        out.push_str(&format!(
            "\n{} problem(s), {warnings} warning(s).\n",
            report.problems()
        ));
    }
    printer.result(&out);
}
