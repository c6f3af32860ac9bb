//! `presign-stack state bootstrap`: creates the state bucket (or brings an existing one of ours
//! to these settings) with the same resource operations as the stack's own bucket, outside the
//! plan: the state bucket is not part of any stack, and must exist before a state can be written.

use anyhow::bail;

use super::{spec_store, ExitStatus};
use crate::aws::{
    s3_bucket, s3_encryption, s3_ownership_controls, s3_policy, s3_public_access_block,
    s3_versioning, AwsError,
};
use crate::cli::Global;
use crate::output::Printer;
use crate::plan::resources::{
    BucketProps, EncryptionProps, OwnershipProps, PolicyProps, PublicAccessBlockProps,
    VersioningProps,
};
use crate::spec::Backend;
use crate::state::s3::S3Store;
use crate::state::Store;

/// The spec key naming the state bucket, for hints.
const STATE_BUCKET: &str = "state.bucket";

/// `state bootstrap`: the state bucket, with versioning, encryption and public access blocked.
pub async fn run(global: &Global, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let stack = crate::spec::load_env(&global.file, global.env.as_deref())?;
    let Some(settings) = stack.state.s3.clone() else {
        bail!(
            "{}: no state bucket to create: the spec has no state.bucket\n  hint: add `state:` with `bucket: <a globally unique name>` (and `backend: s3`), then run this again",
            global.file.display()
        );
    };
    let Store::S3(store) = spec_store(global, &stack, Backend::S3).await? else {
        unreachable!("an S3 store was asked for")
    };
    let notify = |m: &str| printer.progress(m);
    let report = provision(&store, &notify).await?;
    printer.result(&format!(
        "State bucket {} is ready in {}: {}.\n  The state of stack {:?} goes to {}, its lock to {}.lock.\n",
        settings.bucket,
        report.region,
        report.settings.join(", "),
        stack.name,
        store.location(),
        store.location(),
    ));
    if stack.state.backend == Backend::Local {
        printer.info(
            "Next: set `backend: s3` under state: in the spec, and move an existing local state there with `presign-stack state migrate --to s3`.",
        );
    }
    printer.json_result(serde_json::json!({
        "bucket": settings.bucket, "region": report.region, "created": report.created,
        "settings": report.settings, "state": store.location(),
    }));
    Ok(ExitStatus::Success)
}

/// What `state bootstrap` did.
#[derive(Debug)]
pub struct BootstrapReport {
    pub region: String,
    /// The bucket was created now (not found already there).
    pub created: bool,
    /// The settings it holds, in words.
    pub settings: Vec<String>,
}

/// Creates the state bucket (or, when it is already there and ours, brings it to these
/// settings): public access blocked, ACLs disabled, versioning, default encryption, and a
/// policy refusing plain HTTP (unless the endpoint itself is plain HTTP). It uses the same
/// resource operations as the stack's own bucket, so every call may be repeated.
pub async fn provision(
    store: &S3Store,
    notify: &dyn Fn(&str),
) -> Result<BootstrapReport, AwsError> {
    let s3 = store.client();
    let bucket = store.bucket().to_string();
    let region = s3
        .config()
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".into());
    let ours = |mut e: AwsError| {
        e.resource = format!("state {}", e.resource);
        e
    };
    let created = match s3_bucket::find(s3, &bucket, STATE_BUCKET)
        .await
        .map_err(ours)?
    {
        Some(found) if found.region != region => {
            return Err(AwsError::new(
                "HeadBucket",
                format!("state bucket {bucket}"),
                format!("the bucket is in {}, not {region}", found.region),
                format!("set state.region: {} in stack.yaml", found.region),
            ))
        }
        Some(_) => false,
        None => {
            notify(&format!("creating state bucket {bucket} in {region}..."));
            // Tagged only here: an existing bucket's tags are its owner's.
            let tags = [("presign-stack:purpose".to_string(), "state".to_string())];
            let props = BucketProps {
                name: bucket.clone(),
                region: region.clone(),
                tags: tags.into_iter().collect(),
            };
            s3_bucket::create(s3, &props, STATE_BUCKET)
                .await
                .map_err(ours)?;
            true
        }
    };
    let mut settings = Vec::new();
    let block = PublicAccessBlockProps {
        bucket: bucket.clone(),
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };
    s3_public_access_block::put(s3, &block)
        .await
        .map_err(ours)?;
    settings.push("public access blocked".to_string());
    let ownership = OwnershipProps {
        bucket: bucket.clone(),
        object_ownership: "BucketOwnerEnforced".into(),
    };
    s3_ownership_controls::put(s3, &ownership)
        .await
        .map_err(ours)?;
    settings.push("ACLs disabled".to_string());
    let versioning = VersioningProps {
        bucket: bucket.clone(),
        enabled: true,
    };
    s3_versioning::put(s3, &versioning).await.map_err(ours)?;
    settings.push("versioning enabled".to_string());
    let encryption = EncryptionProps {
        bucket: bucket.clone(),
        sse_algorithm: if store.kms_key_id().is_some() {
            "aws:kms"
        } else {
            "AES256"
        }
        .into(),
        kms_master_key_id: store.kms_key_id().map(str::to_string),
        bucket_key_enabled: store.kms_key_id().is_some(),
    };
    s3_encryption::put(s3, &encryption).await.map_err(ours)?;
    settings.push(match store.kms_key_id() {
        Some(k) => format!("encrypted with KMS key {k}"),
        None => "encrypted (SSE-S3)".to_string(),
    });
    if store.plain_http {
        // The policy would refuse every call made through this endpoint.
        settings.push("HTTPS not enforced (the S3 endpoint is plain HTTP)".to_string());
    } else {
        let policy = PolicyProps {
            bucket: bucket.clone(),
            document: serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [crate::plan::desired::deny_insecure_transport(&bucket)],
            }),
        };
        s3_policy::put(s3, &policy).await.map_err(ours)?;
        settings.push("HTTPS only".to_string());
    }
    Ok(BootstrapReport {
        region,
        created,
        settings,
    })
}
