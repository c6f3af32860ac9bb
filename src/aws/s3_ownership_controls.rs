//! Object ownership (`BucketOwnerEnforced`: ACLs disabled, so no URL can sign one in).

use aws_sdk_s3::types::{ObjectOwnership, OwnershipControls, OwnershipControlsRule};
use aws_sdk_s3::Client;

use super::build_error;
use super::errors::{absent_as_none, s3_code, AwsError};
use crate::plan::resources::OwnershipProps;

fn what(bucket: &str) -> String {
    format!("ownership controls of bucket {bucket}")
}

/// `None` when the bucket or its ownership controls are missing.
pub async fn find(s3: &Client, bucket: &str) -> Result<Option<OwnershipProps>, AwsError> {
    let found = absent_as_none(
        s3.get_bucket_ownership_controls()
            .bucket(bucket)
            .send()
            .await,
        s3_code("OwnershipControlsNotFoundError"),
        "GetBucketOwnershipControls",
        &what(bucket),
    )?;
    Ok(found.and_then(|out| {
        let rule = out.ownership_controls()?.rules().first()?;
        Some(OwnershipProps {
            bucket: bucket.to_string(),
            object_ownership: rule.object_ownership().as_str().to_string(),
        })
    }))
}

pub async fn put(s3: &Client, p: &OwnershipProps) -> Result<(), AwsError> {
    let rule = OwnershipControlsRule::builder()
        .object_ownership(ObjectOwnership::from(p.object_ownership.as_str()))
        .build()
        .map_err(|e| build_error("PutBucketOwnershipControls", what(&p.bucket), e))?;
    let controls = OwnershipControls::builder()
        .rules(rule)
        .build()
        .map_err(|e| build_error("PutBucketOwnershipControls", what(&p.bucket), e))?;
    s3.put_bucket_ownership_controls()
        .bucket(&p.bucket)
        .ownership_controls(controls)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutBucketOwnershipControls", what(&p.bucket), e))?;
    Ok(())
}

pub async fn delete(s3: &Client, bucket: &str) -> Result<(), AwsError> {
    absent_as_none(
        s3.delete_bucket_ownership_controls()
            .bucket(bucket)
            .send()
            .await,
        s3_code("OwnershipControlsNotFoundError"),
        "DeleteBucketOwnershipControls",
        &what(bucket),
    )?;
    Ok(())
}
