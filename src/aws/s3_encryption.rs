//! Default encryption (SSE-S3, or SSE-KMS with a key).

use aws_sdk_s3::types::{
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};
use aws_sdk_s3::Client;

use super::build_error;
use super::errors::{absent_as_none, s3_code, AwsError};
use crate::plan::resources::EncryptionProps;

fn what(bucket: &str) -> String {
    format!("default encryption of bucket {bucket}")
}

/// `None` when the bucket or its encryption configuration is missing.
pub async fn find(s3: &Client, bucket: &str) -> Result<Option<EncryptionProps>, AwsError> {
    let found = absent_as_none(
        s3.get_bucket_encryption().bucket(bucket).send().await,
        s3_code("ServerSideEncryptionConfigurationNotFoundError"),
        "GetBucketEncryption",
        &what(bucket),
    )?;
    let Some(out) = found else {
        return Ok(None);
    };
    Ok(out
        .server_side_encryption_configuration()
        .and_then(|c| c.rules().first())
        .and_then(|rule| {
            let default = rule.apply_server_side_encryption_by_default()?;
            Some(EncryptionProps {
                bucket: bucket.to_string(),
                sse_algorithm: default.sse_algorithm().as_str().to_string(),
                kms_master_key_id: default
                    .kms_master_key_id()
                    .filter(|k| !k.is_empty())
                    .map(str::to_string),
                bucket_key_enabled: rule.bucket_key_enabled().unwrap_or(false),
            })
        }))
}

pub async fn put(s3: &Client, p: &EncryptionProps) -> Result<(), AwsError> {
    let default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::from(p.sse_algorithm.as_str()))
        .set_kms_master_key_id(p.kms_master_key_id.clone())
        .build()
        .map_err(|e| build_error("PutBucketEncryption", what(&p.bucket), e))?;
    let config = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(default)
                .bucket_key_enabled(p.bucket_key_enabled)
                .build(),
        )
        .build()
        .map_err(|e| build_error("PutBucketEncryption", what(&p.bucket), e))?;
    s3.put_bucket_encryption()
        .bucket(&p.bucket)
        .server_side_encryption_configuration(config)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutBucketEncryption", what(&p.bucket), e))?;
    Ok(())
}

/// Removes the configuration (S3 then applies its own SSE-S3 default).
pub async fn delete(s3: &Client, bucket: &str) -> Result<(), AwsError> {
    absent_as_none(
        s3.delete_bucket_encryption().bucket(bucket).send().await,
        s3_code("ServerSideEncryptionConfigurationNotFoundError"),
        "DeleteBucketEncryption",
        &what(bucket),
    )?;
    Ok(())
}
