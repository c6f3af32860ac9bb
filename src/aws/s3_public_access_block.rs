//! The bucket's public access block.

use aws_sdk_s3::types::PublicAccessBlockConfiguration;
use aws_sdk_s3::Client;

use super::errors::{absent_as_none, s3_code, AwsError};
use crate::plan::resources::PublicAccessBlockProps;

fn what(bucket: &str) -> String {
    format!("public access block of bucket {bucket}")
}

/// `None` when the bucket or its public access block is missing.
pub async fn find(s3: &Client, bucket: &str) -> Result<Option<PublicAccessBlockProps>, AwsError> {
    let found = absent_as_none(
        s3.get_public_access_block().bucket(bucket).send().await,
        s3_code("NoSuchPublicAccessBlockConfiguration"),
        "GetPublicAccessBlock",
        &what(bucket),
    )?;
    let Some(out) = found else {
        return Ok(None);
    };
    Ok(out
        .public_access_block_configuration()
        .map(|c| PublicAccessBlockProps {
            bucket: bucket.to_string(),
            block_public_acls: c.block_public_acls().unwrap_or(false),
            ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
            block_public_policy: c.block_public_policy().unwrap_or(false),
            restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
        }))
}

pub async fn put(s3: &Client, p: &PublicAccessBlockProps) -> Result<(), AwsError> {
    let config = PublicAccessBlockConfiguration::builder()
        .block_public_acls(p.block_public_acls)
        .ignore_public_acls(p.ignore_public_acls)
        .block_public_policy(p.block_public_policy)
        .restrict_public_buckets(p.restrict_public_buckets)
        .build();
    s3.put_public_access_block()
        .bucket(&p.bucket)
        .public_access_block_configuration(config)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutPublicAccessBlock", what(&p.bucket), e))?;
    Ok(())
}

pub async fn delete(s3: &Client, bucket: &str) -> Result<(), AwsError> {
    absent_as_none(
        s3.delete_public_access_block().bucket(bucket).send().await,
        s3_code("NoSuchPublicAccessBlockConfiguration"),
        "DeletePublicAccessBlock",
        &what(bucket),
    )?;
    Ok(())
}
