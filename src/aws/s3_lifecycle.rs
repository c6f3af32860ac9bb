//! The bucket's lifecycle configuration: the rule that aborts multipart uploads left incomplete,
//! so abandoned parts stop costing storage. S3 keeps one configuration per bucket and replaces it
//! whole, so every rule found there is read (a rule added by hand is drift, like a CORS rule).

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus,
    LifecycleRule as SdkRule, LifecycleRuleFilter,
};
use aws_sdk_s3::Client;

use super::build_error;
use super::errors::{absent_as_none, s3_code, AwsError};
use crate::plan::normalize;
use crate::plan::resources::{LifecycleProps, LifecycleRule};

fn what(bucket: &str) -> String {
    format!("lifecycle configuration of bucket {bucket}")
}

/// `None` when the bucket or its lifecycle configuration is missing.
pub async fn find(s3: &Client, bucket: &str) -> Result<Option<LifecycleProps>, AwsError> {
    let found = absent_as_none(
        s3.get_bucket_lifecycle_configuration()
            .bucket(bucket)
            .send()
            .await,
        s3_code("NoSuchLifecycleConfiguration"),
        "GetBucketLifecycleConfiguration",
        &what(bucket),
    )?;
    let Some(out) = found else {
        return Ok(None);
    };
    Ok(Some(normalize::lifecycle(LifecycleProps {
        bucket: bucket.to_string(),
        rules: out.rules().iter().map(rule).collect(),
    })))
}

/// What the stack compares of a rule S3 holds: the parts it sets, and the names of any others.
fn rule(r: &SdkRule) -> LifecycleRule {
    let filter = r.filter();
    let mut other = Vec::new();
    let mut note = |present: bool, name: &str| {
        if present {
            other.push(name.to_string());
        }
    };
    note(r.expiration().is_some(), "expiration");
    note(!r.transitions().is_empty(), "transitions");
    note(
        r.noncurrent_version_expiration().is_some(),
        "noncurrent_version_expiration",
    );
    note(
        !r.noncurrent_version_transitions().is_empty(),
        "noncurrent_version_transitions",
    );
    note(
        filter.is_some_and(|f| f.tag().is_some() || f.and().is_some()),
        "filter_tags",
    );
    note(
        filter.is_some_and(|f| {
            f.object_size_greater_than().is_some() || f.object_size_less_than().is_some()
        }),
        "filter_sizes",
    );
    #[allow(deprecated)] // the rule-level Prefix: still what older rules carry
    let prefix = filter
        .and_then(|f| f.prefix())
        .or(r.prefix())
        .unwrap_or_default();
    LifecycleRule {
        id: r.id().unwrap_or_default().to_string(),
        prefix: prefix.to_string(),
        enabled: r.status() == &ExpirationStatus::Enabled,
        abort_incomplete_after_days: r
            .abort_incomplete_multipart_upload()
            .and_then(|a| a.days_after_initiation()),
        other,
    }
}

/// Replaces the configuration with the stack's rules.
pub async fn put(s3: &Client, p: &LifecycleProps) -> Result<(), AwsError> {
    let op = "PutBucketLifecycleConfiguration";
    let rules = p
        .rules
        .iter()
        .map(|r| {
            SdkRule::builder()
                .id(&r.id)
                .filter(LifecycleRuleFilter::builder().prefix(&r.prefix).build())
                .status(if r.enabled {
                    ExpirationStatus::Enabled
                } else {
                    ExpirationStatus::Disabled
                })
                .set_abort_incomplete_multipart_upload(r.abort_incomplete_after_days.map(|d| {
                    AbortIncompleteMultipartUpload::builder()
                        .days_after_initiation(d)
                        .build()
                }))
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| build_error(op, what(&p.bucket), e))?;
    let config = BucketLifecycleConfiguration::builder()
        .set_rules(Some(rules))
        .build()
        .map_err(|e| build_error(op, what(&p.bucket), e))?;
    s3.put_bucket_lifecycle_configuration()
        .bucket(&p.bucket)
        .lifecycle_configuration(config)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(op, what(&p.bucket), e))?;
    Ok(())
}

pub async fn delete(s3: &Client, bucket: &str) -> Result<(), AwsError> {
    absent_as_none(
        s3.delete_bucket_lifecycle().bucket(bucket).send().await,
        s3_code("NoSuchLifecycleConfiguration"),
        "DeleteBucketLifecycle",
        &what(bucket),
    )?;
    Ok(())
}
