//! Object ownership (`BucketOwnerEnforced`: ACLs disabled, so no URL can sign one in).

use aws_sdk_s3::types::{ObjectOwnership, OwnershipControls, OwnershipControlsRule};
use aws_sdk_s3::Client;

use super::errors::{has_code, AwsError};
use super::{build_error, NOT_FOUND_BUCKET};
use crate::plan::resources::OwnershipProps;

fn what(bucket: &str) -> String {
    format!("ownership controls of bucket {bucket}")
}

/// `None` when the bucket or its ownership controls are missing.
pub async fn find(s3: &Client, bucket: &str) -> Result<Option<OwnershipProps>, AwsError> {
    match s3
        .get_bucket_ownership_controls()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .ownership_controls()
            .and_then(|c| c.rules().first())
            .map(|r| OwnershipProps {
                bucket: bucket.to_string(),
                object_ownership: r.object_ownership().as_str().to_string(),
            })),
        Err(e)
            if has_code(&e, &["OwnershipControlsNotFoundError"])
                || has_code(&e, NOT_FOUND_BUCKET) =>
        {
            Ok(None)
        }
        Err(e) => Err(AwsError::from_sdk(
            "GetBucketOwnershipControls",
            what(bucket),
            e,
        )),
    }
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
    match s3
        .delete_bucket_ownership_controls()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if has_code(&e, &["OwnershipControlsNotFoundError"])
                || has_code(&e, NOT_FOUND_BUCKET) =>
        {
            Ok(())
        }
        Err(e) => Err(AwsError::from_sdk(
            "DeleteBucketOwnershipControls",
            what(bucket),
            e,
        )),
    }
}
