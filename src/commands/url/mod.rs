//! `url explain` and `url sign`: the pre-signed URL debugger (`explain.rs`), and a signer on the
//! command line (the Lambda's own code, with the caller's credentials).

mod explain_cmd;
pub use explain_cmd::finding_lines;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Context as _};
use aws_sdk_s3::config::ProvideCredentials;
use presign_signer::{handler, Config, Credentials, Presigner};

use super::{ExitStatus, Session};
use crate::cli::{Global, SignArgs, UrlCommand};
use crate::output::Printer;
use crate::plan::desired;

pub async fn run(
    global: &Global,
    cmd: &UrlCommand,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    match cmd {
        UrlCommand::Explain(args) => explain_cmd::run(global, args, printer).await,
        UrlCommand::Sign(args) => sign_cmd(global, args, printer).await,
    }
}

/// The caller's credentials from the standard chain, if it yields any within a few seconds.
pub async fn resolve_credentials(
    provider: Option<aws_sdk_s3::config::SharedCredentialsProvider>,
) -> Option<Credentials> {
    let provider = provider?;
    let creds = tokio::time::timeout(Duration::from_secs(5), provider.provide_credentials())
        .await
        .ok()?
        .ok()?;
    Some(Credentials {
        access_key_id: creds.access_key_id().to_string(),
        secret_access_key: creds.secret_access_key().to_string(),
        session_token: creds.session_token().map(str::to_string),
    })
}

/// The signer's configuration for this stack, exactly as deploy hands it to the function
/// (same environment variables, same parser), pointed at the configured S3 endpoint.
pub fn signer_config(session: &Session) -> anyhow::Result<Config> {
    let mut env: BTreeMap<String, String> =
        desired::signer_environment(&session.stack, &session.region);
    env.insert("AWS_REGION".into(), session.region.clone());
    if let Some(e) = &session.run.clients.s3_endpoint {
        env.insert("PRESIGN_S3_ENDPOINT".into(), e.clone());
    }
    Config::from_env(|name| env.get(name).cloned()).map_err(|e| {
        anyhow::anyhow!("the stack's upload settings do not make a signer configuration: {e}")
    })
}

/// A presigner with the caller's credentials, for this stack's bucket.
pub async fn local_presigner(session: &Session, cfg: &Config) -> anyhow::Result<Presigner> {
    let credentials = resolve_credentials(session.run.clients.credentials.clone())
        .await
        .context("no AWS credentials found\n  hint: set AWS_PROFILE (or --profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")?;
    Ok(Presigner::new(
        credentials,
        &cfg.region,
        &cfg.bucket,
        cfg.endpoint.as_deref(),
    ))
}

async fn sign_cmd(
    global: &Global,
    args: &SignArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let session = Session::open(global, printer, None).await?;
    let mut cfg = signer_config(&session)?;
    if let Some(e) = args.expires {
        if e == 0 || e > crate::presigned::MAX_EXPIRES_SECONDS {
            bail!("--expires {e} is out of range\n  hint: give 1 to 604800 seconds (S3's 7-day limit)");
        }
        cfg.expires_seconds = e;
    }
    let now = match &args.at {
        Some(at) => {
            let t = parse_at(at)?;
            // SigV4 dates have four-digit years: the URL's expiry must still have one.
            if t + cfg.expires_seconds > LAST_SIGNABLE {
                bail!(
                    "--at {at}: the URL would expire after 9999-12-31T23:59:59Z, which SigV4 dates cannot express\n  hint: give an earlier --at (or a shorter --expires)"
                );
            }
            t
        }
        None => crate::clock::now_unix(),
    };
    let signer = local_presigner(&session, &cfg).await?;
    let size = args.size.map(|s| s.to_string());
    let reply = handler::sign(
        &cfg,
        &signer,
        |name| match name {
            "filekey" => Some(args.key.as_str()),
            "contentType" => args.content_type.as_deref(),
            "method" => Some(args.method.as_str()),
            "size" => size.as_deref(),
            _ => None,
        },
        now,
    );
    let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap_or_default();
    if reply.status != 200 {
        bail!(
            "the signer refuses: {}\n  hint: {}",
            body["error"].as_str().unwrap_or_default(),
            body["message"].as_str().unwrap_or_default()
        );
    }
    if printer.json {
        printer.json_result(body);
    } else {
        printer.result(&format!(
            "{}\n",
            serde_json::to_string_pretty(&body).unwrap_or_default()
        ));
    }
    Ok(ExitStatus::Success)
}

/// 9999-12-31T23:59:59Z, the last instant with a four-digit year.
const LAST_SIGNABLE: u64 = 253_402_300_799;

/// `--at TIME`.
pub(super) fn parse_at(at: &str) -> anyhow::Result<u64> {
    crate::clock::parse_rfc3339(at).with_context(|| {
        format!("--at {at:?} is not an RFC 3339 UTC time\n  hint: e.g. --at 2026-11-28T14:30:39Z")
    })
}

/// Reads `-` as standard input, anything else as a file.
pub(super) fn read_input(path: &str) -> anyhow::Result<String> {
    if path == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .context("reading standard input")?;
        Ok(s)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))
    }
}

/// `Name: value` → (lower-case name, trimmed value).
pub fn parse_header(h: &str) -> anyhow::Result<(String, String)> {
    match h.split_once(':') {
        Some((n, v)) if !n.trim().is_empty() => {
            Ok((n.trim().to_ascii_lowercase(), v.trim().to_string()))
        }
        _ => bail!(
            "--header {h:?} is not 'Name: value'\n  hint: e.g. --header 'Content-Type: image/jpeg'"
        ),
    }
}
