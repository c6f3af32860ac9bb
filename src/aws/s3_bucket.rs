//! The S3 bucket itself: existence, region and tags.
//!
//! Contract, as for every resource module: [`find`] answers `None` for a missing bucket (the
//! one place that decides "not found"); [`create`] and [`put_tags`] may be repeated; [`delete`]
//! of a missing bucket succeeds. Sub-resources live in their own modules.

use std::collections::BTreeMap;

use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration, Tag, Tagging};
use aws_sdk_s3::Client;

use super::errors::{has_code, AwsError};
use super::{build_error, NOT_FOUND_BUCKET};
use crate::plan::resources::BucketProps;

/// The spec key naming the stack's bucket.
pub const STACK_BUCKET: &str = "bucket.name";

fn what(bucket: &str) -> String {
    format!("bucket {bucket}")
}

/// Reads the bucket's region and tags; `None` when there is no such bucket.
///
/// A bucket that exists but is not readable by us (403 from `HeadBucket`: another account's)
/// is reported as an error, never as absent.
/// `setting` is the spec key that names the bucket (`bucket.name`, or `state.bucket` for the
/// state bucket): hints tell the user to change it.
pub async fn find(
    s3: &Client,
    bucket: &str,
    setting: &str,
) -> Result<Option<BucketProps>, AwsError> {
    // The tags are asked for beside the head (one round trip, not two): their answer counts
    // only once the head has said the bucket is ours to read.
    let (head, tagging) = tokio::join!(
        s3.head_bucket().bucket(bucket).send(),
        s3.get_bucket_tagging().bucket(bucket).send()
    );
    let head = match head {
        Ok(h) => h,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => return Ok(None),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => {
            return Err(AwsError::new(
                "HeadBucket",
                what(bucket),
                "the bucket exists but belongs to someone else (403 Forbidden)",
                format!(
                    "bucket names are global: set {setting} in stack.yaml to a name of your own"
                ),
            ))
        }
        Err(e) => return Err(AwsError::from_sdk("HeadBucket", what(bucket), e)),
    };
    let region = match head.bucket_region() {
        Some(r) => r.to_string(),
        None => {
            let loc = s3
                .get_bucket_location()
                .bucket(bucket)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("GetBucketLocation", what(bucket), e))?;
            match loc.location_constraint().map(|c| c.as_str()) {
                None | Some("") => "us-east-1".to_string(),
                Some("EU") => "eu-west-1".to_string(),
                Some(r) => r.to_string(),
            }
        }
    };
    let tags = match tagging {
        Ok(t) => t
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
        // Codes: S3's model declares neither of these answers.
        Err(e) if has_code(&e, &["NoSuchTagSet"]) => BTreeMap::new(),
        Err(e) if has_code(&e, NOT_FOUND_BUCKET) => return Ok(None),
        Err(e) => return Err(AwsError::from_sdk("GetBucketTagging", what(bucket), e)),
    };
    Ok(Some(BucketProps {
        name: bucket.to_string(),
        region,
        tags,
    }))
}

/// Creates the bucket, then tags it (the ownership tag is what lets a later run adopt it).
/// `setting`: as for [`find`].
pub async fn create(s3: &Client, props: &BucketProps, setting: &str) -> Result<(), AwsError> {
    let mut req = s3.create_bucket().bucket(&props.name);
    if props.region != "us-east-1" {
        req = req.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(props.region.as_str()))
                .build(),
        );
    }
    match req.send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_bucket_already_exists()) =>
        {
            return Err(AwsError::new(
                "CreateBucket",
                what(&props.name),
                "the name is taken by a bucket of another AWS account",
                format!(
                    "bucket names are global: set {setting} in stack.yaml to a name of your own"
                ),
            ))
        }
        // Ours already (the read before the plan checked the ownership tag): carry on.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_bucket_already_owned_by_you()) => {}
        Err(e) => return Err(AwsError::from_sdk("CreateBucket", what(&props.name), e)),
    }
    put_tags(s3, props).await
}

/// Replaces the bucket's tags with `props.tags`.
pub async fn put_tags(s3: &Client, props: &BucketProps) -> Result<(), AwsError> {
    let tags = props
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| build_error("PutBucketTagging", what(&props.name), e))?;
    let tagging = Tagging::builder()
        .set_tag_set(Some(tags))
        .build()
        .map_err(|e| build_error("PutBucketTagging", what(&props.name), e))?;
    s3.put_bucket_tagging()
        .bucket(&props.name)
        .tagging(tagging)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutBucketTagging", what(&props.name), e))?;
    Ok(())
}

/// Deletes the (empty) bucket; a missing bucket is success.
pub async fn delete(s3: &Client, bucket: &str) -> Result<(), AwsError> {
    match s3.delete_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(e) if has_code(&e, NOT_FOUND_BUCKET) => Ok(()),
        // A code: S3's model does not declare BucketNotEmpty.
        Err(e) if has_code(&e, &["BucketNotEmpty"]) => Err(AwsError::new(
            "DeleteBucket",
            what(bucket),
            "the bucket is not empty",
            "run destroy with --force-empty, or set bucket.force_destroy: true, to delete every object version first",
        )),
        Err(e) => Err(AwsError::from_sdk("DeleteBucket", what(bucket), e)),
    }
}
