//! Versioning. It cannot be removed, only suspended; "disabled" and "suspended" both read as
//! `enabled: false`.

use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::get_bucket_versioning::GetBucketVersioningError;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use aws_sdk_s3::Client;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use super::errors::{has_code, AwsError};
use super::NOT_FOUND_BUCKET;
use crate::plan::resources::VersioningProps;

fn what(bucket: &str) -> String {
    format!("versioning of bucket {bucket}")
}

/// `None` when the bucket is missing.
pub async fn find(s3: &Client, bucket: &str) -> Result<Option<VersioningProps>, AwsError> {
    match s3.get_bucket_versioning().bucket(bucket).send().await {
        Ok(out) => Ok(Some(VersioningProps {
            bucket: bucket.to_string(),
            enabled: out.status() == Some(&BucketVersioningStatus::Enabled),
        })),
        Err(e) if has_code(&e, NOT_FOUND_BUCKET) => Ok(None),
        Err(e) if is_empty_moto_answer(&e) => Ok(Some(VersioningProps {
            bucket: bucket.to_string(),
            enabled: false,
        })),
        Err(e) => Err(AwsError::from_sdk("GetBucketVersioning", what(bucket), e)),
    }
}

/// Enables or suspends versioning. Suspending a bucket that never had versioning is skipped by
/// the planner: a fresh bucket reads as `enabled: false` already.
pub async fn put(s3: &Client, p: &VersioningProps) -> Result<(), AwsError> {
    let status = if p.enabled {
        BucketVersioningStatus::Enabled
    } else {
        BucketVersioningStatus::Suspended
    };
    s3.put_bucket_versioning()
        .bucket(&p.bucket)
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutBucketVersioning", what(&p.bucket), e))?;
    Ok(())
}

/// The moto emulator answers a bucket that never had versioning with an empty
/// `<GetBucketVersioningResponse/>` (AWS sends `<VersioningConfiguration/>`), which the SDK
/// cannot parse. Both mean "never enabled"; this matches only that exact 200 answer.
fn is_empty_moto_answer(err: &SdkError<GetBucketVersioningError, HttpResponse>) -> bool {
    err.raw_response().is_some_and(|r| {
        r.status().as_u16() == 200
            && r.body().bytes().is_some_and(|b| {
                let text = String::from_utf8_lossy(b);
                text.contains("<GetBucketVersioningResponse") && !text.contains("<Status>")
            })
    })
}
