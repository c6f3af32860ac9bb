//! The bucket policy. AWS rewrites policies (key order, whitespace, one-element arrays); the
//! document is compared in its canonical form.

use aws_sdk_s3::Client;

use super::errors::{absent_as_none, s3_code, AwsError};
use crate::plan::normalize;
use crate::plan::resources::PolicyProps;

fn what(bucket: &str) -> String {
    format!("policy of bucket {bucket}")
}

/// `None` when the bucket or its policy is missing.
pub async fn find(s3: &Client, bucket: &str) -> Result<Option<PolicyProps>, AwsError> {
    let found = absent_as_none(
        s3.get_bucket_policy().bucket(bucket).send().await,
        s3_code("NoSuchBucketPolicy"),
        "GetBucketPolicy",
        &what(bucket),
    )?;
    let Some(out) = found else {
        return Ok(None);
    };
    let text = out.policy().unwrap_or("{}");
    let document: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        AwsError::new(
            "GetBucketPolicy",
            what(bucket),
            format!("the policy AWS returned is not JSON: {e}"),
            "run deploy to write the policy again",
        )
    })?;
    Ok(Some(PolicyProps {
        bucket: bucket.to_string(),
        document: normalize::policy_document(&document),
    }))
}

pub async fn put(s3: &Client, p: &PolicyProps) -> Result<(), AwsError> {
    s3.put_bucket_policy()
        .bucket(&p.bucket)
        .policy(p.document.to_string())
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutBucketPolicy", what(&p.bucket), e))?;
    Ok(())
}

pub async fn delete(s3: &Client, bucket: &str) -> Result<(), AwsError> {
    absent_as_none(
        s3.delete_bucket_policy().bucket(bucket).send().await,
        s3_code("NoSuchBucketPolicy"),
        "DeleteBucketPolicy",
        &what(bucket),
    )?;
    Ok(())
}
