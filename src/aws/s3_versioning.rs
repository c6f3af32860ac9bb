//! Versioning. It cannot be removed, only suspended; "disabled" and "suspended" both read as
//! `enabled: false`.

use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use aws_sdk_s3::Client;

use super::errors::{absent_as_none, AwsError};
use crate::plan::resources::VersioningProps;

fn what(bucket: &str) -> String {
    format!("versioning of bucket {bucket}")
}

/// `None` when the bucket is missing.
pub async fn find(s3: &Client, bucket: &str) -> Result<Option<VersioningProps>, AwsError> {
    let found = absent_as_none(
        s3.get_bucket_versioning().bucket(bucket).send().await,
        |_| false,
        "GetBucketVersioning",
        &what(bucket),
    )?;
    let Some(out) = found else {
        return Ok(None);
    };
    Ok(Some(VersioningProps {
        bucket: bucket.to_string(),
        enabled: out.status() == Some(&BucketVersioningStatus::Enabled),
    }))
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
