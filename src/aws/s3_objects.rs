//! The objects in the stack's bucket, for `destroy`: whether there are any, and emptying it of
//! every object version and delete marker (a bucket must be empty before S3 deletes it).
//!
//! Emptying overlaps listing and deleting: the listing walks the versions page by page (1,000
//! entries, the most S3 returns, continuing from its markers), and each page goes at once to a
//! `DeleteObjects` call (1,000 keys, the most it takes) while the next page is listed, with at
//! most [`DELETE_PARALLELISM`] calls in flight. At most that many pages and the one being listed
//! are held, so memory stays bounded whatever the bucket holds. Deletes are idempotent: a run
//! stopped half way leaves a bucket the next `destroy` empties from where it is.

use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use aws_sdk_s3::Client;
use tokio::task::JoinSet;

use super::errors::{has_code, AwsError};
use super::{build_error, NOT_FOUND_BUCKET};

/// How many `DeleteObjects` calls may run at once while the listing goes on.
pub const DELETE_PARALLELISM: usize = 8;

fn what(bucket: &str) -> String {
    format!("bucket {bucket}")
}

/// What one listing call found: the object versions and delete markers of the first page
/// (`max_keys` at most), and whether there are more.
pub struct FirstPage {
    pub versions: u64,
    pub more: bool,
}

/// Whether the bucket holds object versions or delete markers: one listing call.
pub async fn first_page(s3: &Client, bucket: &str) -> Result<FirstPage, AwsError> {
    match s3.list_object_versions().bucket(bucket).send().await {
        Ok(page) => Ok(FirstPage {
            versions: (page.versions().len() + page.delete_markers().len()) as u64,
            more: page.is_truncated() == Some(true),
        }),
        Err(e) if has_code(&e, NOT_FOUND_BUCKET) => Ok(FirstPage {
            versions: 0,
            more: false,
        }),
        Err(e) => Err(AwsError::from_sdk("ListObjectVersions", what(bucket), e)),
    }
}

/// Deletes every object version and delete marker; returns how many. `progress` hears the
/// running total after each batch.
///
/// Rounds of listing-while-deleting, each from the start of the bucket, until one finds nothing:
/// on AWS the first round lists everything (S3 continues from a marker whether or not that
/// version still exists) and the second is one empty listing call; it also catches objects
/// written while the bucket was being emptied. moto answers an empty page when the marker's
/// version was deleted meanwhile (docs/architecture.md), so there the rounds make up for it.
pub async fn empty(
    s3: &Client,
    bucket: &str,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<u64, AwsError> {
    let mut deleted = 0u64;
    loop {
        let round = empty_round(s3, bucket, deleted, progress).await?;
        if round == 0 {
            return Ok(deleted);
        }
        deleted += round;
    }
}

/// One listing of the bucket from its start, each page deleted while the next is listed;
/// returns how many were deleted (`before`: the total so far, for `progress`).
async fn empty_round(
    s3: &Client,
    bucket: &str,
    before: u64,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<u64, AwsError> {
    let mut deletes: JoinSet<Result<u64, AwsError>> = JoinSet::new();
    let mut deleted = 0u64;
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
            Err(e) if has_code(&e, NOT_FOUND_BUCKET) => break,
            Err(e) => return Err(AwsError::from_sdk("ListObjectVersions", what(bucket), e)),
        };
        let ids: Vec<ObjectIdentifier> = page
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
            .collect();
        if !ids.is_empty() {
            while deletes.len() >= DELETE_PARALLELISM {
                deleted += joined(deletes.join_next().await, bucket)?;
                progress(before + deleted);
            }
            let (s3, bucket) = (s3.clone(), bucket.to_string());
            deletes.spawn(async move { delete_batch(&s3, &bucket, ids).await });
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_string);
        version_marker = page.next_version_id_marker().map(str::to_string);
        if key_marker.is_none() && version_marker.is_none() {
            break;
        }
    }
    while let Some(done) = deletes.join_next().await {
        deleted += joined(Some(done), bucket)?;
        progress(before + deleted);
    }
    Ok(deleted)
}

fn joined(
    done: Option<Result<Result<u64, AwsError>, tokio::task::JoinError>>,
    bucket: &str,
) -> Result<u64, AwsError> {
    match done {
        None => Ok(0),
        Some(Ok(result)) => result,
        Some(Err(e)) => Err(AwsError::new(
            "DeleteObjects",
            what(bucket),
            format!("a delete task failed: {e}"),
            "this is a bug in presign-stack; please report it",
        )),
    }
}

/// One `DeleteObjects` call of up to 1,000 versions (quiet: only failures come back).
async fn delete_batch(
    s3: &Client,
    bucket: &str,
    ids: Vec<ObjectIdentifier>,
) -> Result<u64, AwsError> {
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
    Ok(n)
}
