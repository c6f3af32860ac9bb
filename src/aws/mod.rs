//! EFFECTS: reading and changing AWS resources, one module per resource kind.
//!
//! Contract of every resource module (tested against the emulator): `find` returns `None` for a
//! missing resource and is the one place that decides "not found"; `create`/`put` may be
//! repeated with the same input and converge; `delete` of a missing resource (or of a resource
//! whose bucket is gone) succeeds. So applying a step twice, or after a crash, is safe.

pub mod adopt;
pub mod clients;
pub mod errors;
pub mod http_api;
pub mod iam_role;
pub mod iam_role_policy;
pub mod lambda_function;
pub mod log_group;
pub mod retry;
pub mod run;
pub mod s3_bucket;
pub mod s3_cors;
pub mod s3_encryption;
pub mod s3_lifecycle;
pub mod s3_objects;
pub mod s3_ownership_controls;
pub mod s3_policy;
pub mod s3_public_access_block;
pub mod s3_versioning;
pub mod sts;

pub use clients::{CallCounter, Clients};
pub use errors::AwsError;
pub use run::Run;

use std::collections::BTreeMap;

use tokio::task::JoinSet;

use crate::plan::{Action, Kind, Props, Step};

/// Error codes meaning the bucket itself is gone (a code: S3's model declares `NoSuchBucket` for
/// only a few operations).
pub(crate) const NOT_FOUND_BUCKET: &[&str] = &["NoSuchBucket"];

/// A request the SDK would not build: a bug of ours, not the user's.
pub(crate) fn build_error(
    operation: &'static str,
    resource: String,
    err: aws_sdk_s3::error::BuildError,
) -> AwsError {
    AwsError::new(
        operation,
        resource,
        format!("could not build the request: {err}"),
        "this is a bug in presign-stack; please report it with the stack.yaml that caused it",
    )
}

/// Tag keys set before and gone from `wanted`: to remove with the service's untag call.
pub(crate) fn stale_tag_keys(
    before: Option<&std::collections::BTreeMap<String, String>>,
    wanted: &std::collections::BTreeMap<String, String>,
) -> Vec<String> {
    before
        .map(|b| {
            b.keys()
                .filter(|k| !wanted.contains_key(*k))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// Reads every `(id, kind, physical id)` at once; `None` for what does not exist.
pub async fn read_all(
    run: &Run,
    targets: Vec<(String, Kind, String)>,
) -> Result<BTreeMap<String, Option<Props>>, AwsError> {
    let mut set = JoinSet::new();
    for (id, kind, physical) in targets {
        let run = run.clone();
        set.spawn(async move { (id, read(&run, kind, &physical).await) });
    }
    let mut live = BTreeMap::new();
    let mut first_error = None;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((id, Ok(props))) => {
                live.insert(id, props);
            }
            Ok((_, Err(e))) => {
                first_error.get_or_insert(e);
            }
            Err(e) => {
                first_error.get_or_insert(AwsError::new(
                    "read",
                    "the stack's resources",
                    format!("a read task failed: {e}"),
                    "this is a bug in presign-stack; please report it",
                ));
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(live),
    }
}

/// Reads one resource of `kind` at `physical_id`; `None` when it does not exist.
pub async fn read(run: &Run, kind: Kind, physical_id: &str) -> Result<Option<Props>, AwsError> {
    let clients = &run.clients;
    let s3 = &clients.s3;
    Ok(match kind {
        Kind::S3Bucket => s3_bucket::find(s3, physical_id, s3_bucket::STACK_BUCKET)
            .await?
            .map(Props::S3Bucket),
        Kind::S3BucketOwnershipControls => s3_ownership_controls::find(s3, physical_id)
            .await?
            .map(Props::S3BucketOwnershipControls),
        Kind::S3BucketPublicAccessBlock => s3_public_access_block::find(s3, physical_id)
            .await?
            .map(Props::S3BucketPublicAccessBlock),
        Kind::S3BucketEncryption => s3_encryption::find(s3, physical_id)
            .await?
            .map(Props::S3BucketEncryption),
        Kind::S3BucketVersioning => s3_versioning::find(s3, physical_id)
            .await?
            .map(Props::S3BucketVersioning),
        Kind::S3BucketCors => s3_cors::find(s3, physical_id)
            .await?
            .map(Props::S3BucketCors),
        Kind::S3BucketLifecycle => s3_lifecycle::find(s3, physical_id)
            .await?
            .map(Props::S3BucketLifecycle),
        Kind::S3BucketPolicy => s3_policy::find(s3, physical_id)
            .await?
            .map(Props::S3BucketPolicy),
        Kind::IamRole => iam_role::find(&clients.iam, physical_id)
            .await?
            .map(Props::IamRole),
        Kind::IamRolePolicy => iam_role_policy::find(&clients.iam, physical_id, physical_id)
            .await?
            .map(Props::IamRolePolicy),
        Kind::LogGroup => log_group::find(run, physical_id)
            .await?
            .map(Props::LogGroup),
        Kind::LambdaFunction => lambda_function::find(run, physical_id)
            .await?
            .map(Props::LambdaFunction),
        Kind::HttpApi => http_api::find(run, physical_id).await?.map(Props::HttpApi),
    })
}

/// What a step made: everything it planned, or only part of it (an API whose invoke permission
/// waited for a step that did not succeed: `props` is what it now is, `missing` why).
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    All,
    Part { props: Box<Props>, missing: String },
}

/// Makes one planned change.
pub async fn apply(run: &Run, step: &Step) -> Result<Applied, AwsError> {
    let clients = &run.clients;
    if matches!(step.action, Action::Delete | Action::Replace) {
        if let Some(old) = &step.delete_physical_id {
            delete(run, step.kind, old, step.before.as_ref()).await?;
        }
    }
    // What is live when the step updates in place (a replace starts from nothing).
    let live = match step.action {
        Action::Update => step.before.as_ref(),
        _ => None,
    };
    let Some(after) = &step.after else {
        return Ok(Applied::All);
    };
    let s3 = &clients.s3;
    let whole = match after {
        Props::S3Bucket(p) => match step.action {
            Action::Update => s3_bucket::put_tags(s3, p).await,
            _ => s3_bucket::create(s3, p, s3_bucket::STACK_BUCKET).await,
        },
        Props::S3BucketOwnershipControls(p) => s3_ownership_controls::put(s3, p).await,
        Props::S3BucketPublicAccessBlock(p) => s3_public_access_block::put(s3, p).await,
        Props::S3BucketEncryption(p) => s3_encryption::put(s3, p).await,
        // A bucket created in this run has never had versioning: nothing to suspend.
        Props::S3BucketVersioning(p) if !p.enabled && step.action == Action::Create => Ok(()),
        Props::S3BucketVersioning(p) => s3_versioning::put(s3, p).await,
        Props::S3BucketCors(p) => s3_cors::put(s3, p).await,
        Props::S3BucketLifecycle(p) => s3_lifecycle::put(s3, p).await,
        Props::S3BucketPolicy(p) => s3_policy::put(s3, p).await,
        Props::IamRole(p) => match live {
            Some(Props::IamRole(before)) => iam_role::update(&clients.iam, Some(before), p).await,
            _ => iam_role::create(&clients.iam, p).await,
        },
        Props::IamRolePolicy(p) => iam_role_policy::put(&clients.iam, p).await,
        Props::LogGroup(p) => match live {
            Some(Props::LogGroup(before)) => {
                log_group::update(&clients.logs, before, p, &run.stack).await
            }
            _ => log_group::create(&clients.logs, p, &run.stack).await,
        },
        Props::LambdaFunction(p) => match live {
            Some(Props::LambdaFunction(before)) => {
                lambda_function::update(run, Some(before), p).await
            }
            _ => lambda_function::create(run, p).await,
        },
        Props::HttpApi(p) => {
            let before = match live {
                Some(Props::HttpApi(b)) => Some(b),
                _ => None,
            };
            let missing = match before {
                Some(b) => http_api::update(run, Some(b), p, &step.late_steps).await?,
                None => http_api::create(run, p, &step.late_steps).await?,
            };
            return Ok(match missing {
                None => Applied::All,
                // The permission stays as it was: the next deploy adds it.
                Some(missing) => Applied::Part {
                    props: Box::new(Props::HttpApi(crate::plan::resources::HttpApiProps {
                        invoke_permission: before.and_then(|b| b.invoke_permission.clone()),
                        other_permissions: before
                            .map(|b| b.other_permissions.clone())
                            .unwrap_or_default(),
                        ..p.clone()
                    })),
                    missing: format!("without its invoke permission: {missing} did not finish"),
                },
            });
        }
    };
    whole.map(|()| Applied::All)
}

/// Deletes one resource; a missing one is success. `recorded`: what the state holds for it.
pub async fn delete(
    run: &Run,
    kind: Kind,
    physical_id: &str,
    recorded: Option<&Props>,
) -> Result<(), AwsError> {
    let clients = &run.clients;
    let s3 = &clients.s3;
    match kind {
        Kind::S3Bucket => s3_bucket::delete(s3, physical_id).await,
        Kind::S3BucketOwnershipControls => s3_ownership_controls::delete(s3, physical_id).await,
        Kind::S3BucketPublicAccessBlock => s3_public_access_block::delete(s3, physical_id).await,
        Kind::S3BucketEncryption => s3_encryption::delete(s3, physical_id).await,
        // Versioning cannot be removed; it goes with the bucket.
        Kind::S3BucketVersioning => Ok(()),
        Kind::S3BucketCors => s3_cors::delete(s3, physical_id).await,
        Kind::S3BucketLifecycle => s3_lifecycle::delete(s3, physical_id).await,
        Kind::S3BucketPolicy => s3_policy::delete(s3, physical_id).await,
        Kind::IamRole => {
            let recorded = match recorded {
                Some(Props::IamRole(r)) => Some(r),
                _ => None,
            };
            iam_role::delete(&clients.iam, physical_id, recorded).await
        }
        Kind::IamRolePolicy => {
            iam_role_policy::delete(&clients.iam, physical_id, physical_id).await
        }
        Kind::LogGroup => log_group::delete(run, physical_id).await,
        Kind::LambdaFunction => lambda_function::delete(&clients.lambda, physical_id).await,
        Kind::HttpApi => {
            let recorded = match recorded {
                Some(Props::HttpApi(p)) => Some(p),
                _ => None,
            };
            http_api::delete(run, physical_id, recorded).await
        }
    }
}
