//! The bucket's CORS configuration: what lets browser JavaScript `PUT` to a pre-signed URL.

use aws_sdk_s3::types::{CorsConfiguration, CorsRule as SdkCorsRule};
use aws_sdk_s3::Client;

use super::build_error;
use super::errors::{absent_as_none, s3_code, AwsError};
use crate::plan::normalize;
use crate::plan::resources::{CorsProps, CorsRule};

fn what(bucket: &str) -> String {
    format!("CORS configuration of bucket {bucket}")
}

/// `None` when the bucket or its CORS configuration is missing.
pub async fn find(s3: &Client, bucket: &str) -> Result<Option<CorsProps>, AwsError> {
    let found = absent_as_none(
        s3.get_bucket_cors().bucket(bucket).send().await,
        s3_code("NoSuchCORSConfiguration"),
        "GetBucketCors",
        &what(bucket),
    )?;
    let Some(out) = found else {
        return Ok(None);
    };
    Ok(Some(CorsProps {
        bucket: bucket.to_string(),
        rules: out
            .cors_rules()
            .iter()
            .map(|r| {
                normalize::cors_rule(CorsRule {
                    id: r.id().map(str::to_string),
                    allowed_origins: r.allowed_origins().to_vec(),
                    allowed_methods: r.allowed_methods().to_vec(),
                    allowed_headers: r.allowed_headers().to_vec(),
                    expose_headers: r.expose_headers().to_vec(),
                    max_age_seconds: r.max_age_seconds(),
                })
            })
            .collect(),
    }))
}

pub async fn put(s3: &Client, p: &CorsProps) -> Result<(), AwsError> {
    let rules = p
        .rules
        .iter()
        .map(|r| {
            SdkCorsRule::builder()
                .set_id(r.id.clone())
                .set_allowed_origins(Some(r.allowed_origins.clone()))
                .set_allowed_methods(Some(r.allowed_methods.clone()))
                .set_allowed_headers(Some(r.allowed_headers.clone()).filter(|h| !h.is_empty()))
                .set_expose_headers(Some(r.expose_headers.clone()).filter(|h| !h.is_empty()))
                .set_max_age_seconds(r.max_age_seconds)
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| build_error("PutBucketCors", what(&p.bucket), e))?;
    let config = CorsConfiguration::builder()
        .set_cors_rules(Some(rules))
        .build()
        .map_err(|e| build_error("PutBucketCors", what(&p.bucket), e))?;
    s3.put_bucket_cors()
        .bucket(&p.bucket)
        .cors_configuration(config)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutBucketCors", what(&p.bucket), e))?;
    Ok(())
}

pub async fn delete(s3: &Client, bucket: &str) -> Result<(), AwsError> {
    absent_as_none(
        s3.delete_bucket_cors().bucket(bucket).send().await,
        s3_code("NoSuchCORSConfiguration"),
        "DeleteBucketCors",
        &what(bucket),
    )?;
    Ok(())
}
