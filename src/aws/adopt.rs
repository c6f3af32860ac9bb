//! `import`'s calls: read what the user names (an HTTP API by its id), the documents of the
//! managed policies on a named role, and the one change an import makes, the ownership tag.
//! What may be adopted is decided in [`crate::plan::adopt`].

use std::collections::BTreeMap;

use serde_json::Value;

use super::errors::AwsError;
use super::run::Run;
use super::{http_api, iam_role, s3_bucket};
use crate::plan::adopt::{Adoption, Wanted};
use crate::plan::{Kind, Props};
use crate::spec::OWNERSHIP_TAG;

/// What AWS holds under the name the user gave; `None` when there is nothing.
pub async fn read_named(run: &Run, w: &Wanted) -> Result<Option<Props>, AwsError> {
    match w.kind {
        Kind::HttpApi => Ok(http_api::find_id(run, &w.name).await?.map(Props::HttpApi)),
        kind => super::read(run, kind, &w.name).await,
    }
}

/// The default version's document of each managed policy, by ARN (to say what a console
/// policy grants beyond the stack's own).
pub async fn managed_policies(
    run: &Run,
    arns: &[String],
) -> Result<BTreeMap<String, Value>, AwsError> {
    let iam = &run.clients.iam;
    let mut out = BTreeMap::new();
    for arn in arns {
        let what = format!("managed policy {arn}");
        let policy = iam
            .get_policy()
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetPolicy", &what, e))?;
        let Some(version) = policy.policy().and_then(|p| p.default_version_id()) else {
            continue;
        };
        let doc = iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetPolicyVersion", &what, e))?;
        if let Some(text) = doc.policy_version().and_then(|v| v.document()) {
            if let Ok(doc) = iam_role::decode_document(text) {
                out.insert(arn.clone(), doc);
            }
        }
    }
    Ok(out)
}

/// Gives an adopted resource the stack's ownership tag, keeping the tags it has.
pub async fn tag(run: &Run, a: &Adoption, account_id: &str) -> Result<(), AwsError> {
    let owner = BTreeMap::from([(OWNERSHIP_TAG.to_string(), run.stack.clone())]);
    let what = format!("{} {}", a.kind, a.physical_id);
    let name = &a.physical_id;
    let region = &run.region;
    match &a.record.props {
        Props::S3Bucket(p) => s3_bucket::put_tags(&run.clients.s3, p).await,
        Props::IamRole(_) => {
            let tag = aws_sdk_iam::types::Tag::builder()
                .key(OWNERSHIP_TAG)
                .value(&run.stack)
                .build()
                .map_err(|e| {
                    AwsError::new(
                        "TagRole",
                        &what,
                        e.to_string(),
                        "this is a bug in presign-stack",
                    )
                })?;
            run.clients
                .iam
                .tag_role()
                .role_name(name)
                .tags(tag)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("TagRole", &what, e))?;
            Ok(())
        }
        Props::LambdaFunction(_) => {
            run.clients
                .lambda
                .tag_resource()
                .resource(format!(
                    "arn:aws:lambda:{region}:{account_id}:function:{name}"
                ))
                .set_tags(Some(owner.into_iter().collect()))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("TagResource", &what, e))?;
            Ok(())
        }
        Props::LogGroup(_) => {
            run.clients
                .logs
                .tag_resource()
                .resource_arn(super::log_group::arn(region, account_id, name))
                .set_tags(Some(owner.into_iter().collect()))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("TagResource", &what, e))?;
            Ok(())
        }
        Props::HttpApi(_) => http_api::add_tags(run, name, &a.named, &owner).await,
        // The bucket's parts carry no tags: they are the stack's with the bucket.
        _ => Ok(()),
    }
}
