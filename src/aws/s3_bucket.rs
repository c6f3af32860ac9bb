//! The S3 bucket itself: existence, region and tags.
//!
//! Contract, as for every resource module: [`find`] answers `None` for a missing bucket (the
//! one place that decides "not found"); [`create`] and [`put_tags`] may be repeated; [`delete`]
//! of a missing bucket succeeds. Sub-resources live in their own modules.

use std::collections::BTreeMap;

use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier, Tag, Tagging,
};
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
    let head = match s3.head_bucket().bucket(bucket).send().await {
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
    let tags = match s3.get_bucket_tagging().bucket(bucket).send().await {
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

/// Counts object versions and delete markers (every version must go before the bucket can).
pub async fn count_objects(s3: &Client, bucket: &str) -> Result<u64, AwsError> {
    let mut count = 0u64;
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let page = match s3
            .list_object_versions()
            .bucket(bucket)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) if has_code(&e, NOT_FOUND_BUCKET) => return Ok(0),
            Err(e) => return Err(AwsError::from_sdk("ListObjectVersions", what(bucket), e)),
        };
        count += (page.versions().len() + page.delete_markers().len()) as u64;
        if page.is_truncated() != Some(true) || page.next_key_marker().is_none() {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_string);
        version_marker = page.next_version_id_marker().map(str::to_string);
    }
    Ok(count)
}

/// Deletes every object version and delete marker, 1000 at a time; returns how many.
pub async fn empty(s3: &Client, bucket: &str) -> Result<u64, AwsError> {
    let mut deleted = 0u64;
    loop {
        let page = match s3.list_object_versions().bucket(bucket).send().await {
            Ok(p) => p,
            Err(e) if has_code(&e, NOT_FOUND_BUCKET) => return Ok(deleted),
            Err(e) => return Err(AwsError::from_sdk("ListObjectVersions", what(bucket), e)),
        };
        let ids = page
            .versions()
            .iter()
            .map(|v| (v.key(), v.version_id()))
            .chain(
                page.delete_markers()
                    .iter()
                    .map(|m| (m.key(), m.version_id())),
            )
            .filter_map(|(key, version)| {
                ObjectIdentifier::builder()
                    .set_key(key.map(str::to_string))
                    .set_version_id(version.map(str::to_string))
                    .build()
                    .ok()
            })
            .collect::<Vec<_>>();
        if ids.is_empty() {
            return Ok(deleted);
        }
        let n = ids.len() as u64;
        let delete = Delete::builder()
            .set_objects(Some(ids))
            .quiet(true)
            .build()
            .map_err(|e| build_error("DeleteObjects", what(bucket), e))?;
        let out = s3
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DeleteObjects", what(bucket), e))?;
        if let Some(first) = out.errors().first() {
            return Err(AwsError::new(
                "DeleteObjects",
                what(bucket),
                format!(
                    "{} objects could not be deleted, e.g. {}: {}",
                    out.errors().len(),
                    first.key().unwrap_or("?"),
                    first.message().unwrap_or("no message")
                ),
                "check the identity's s3:DeleteObjectVersion permission, and object lock settings",
            ));
        }
        deleted += n;
    }
}
