//! The signer's IAM execution role. IAM returns policy documents URL-encoded: they are decoded
//! and compared in canonical form.

use std::collections::BTreeMap;

use aws_sdk_iam::types::Tag;
use aws_sdk_iam::Client;

use super::errors::{absent_as_none, AwsError};
use crate::plan::normalize;
use crate::plan::resources::RoleProps;

fn what(name: &str) -> String {
    format!("IAM role {name}")
}

/// Decodes a URL-encoded policy document (as IAM returns them) into canonical JSON.
pub fn decode_document(text: &str) -> Result<serde_json::Value, String> {
    let decoded = crate::presigned::percent_decode(text);
    let value: serde_json::Value = serde_json::from_str(&decoded)
        .or_else(|_| serde_json::from_str(text))
        .map_err(|e| format!("not a JSON policy document: {e}"))?;
    Ok(normalize::policy_document(&value))
}

/// The role with its trust policy, tags and the policies on it, read in one parallel wave.
pub async fn find(iam: &Client, name: &str) -> Result<Option<RoleProps>, AwsError> {
    // GetRole shows neither kind of policy: both lists are read too, every page.
    let (found, attached, inline) = tokio::join!(
        iam.get_role().role_name(name).send(),
        attached_policies(iam, name),
        inline_policies(iam, name)
    );
    let found = absent_as_none(
        found,
        |e| e.is_no_such_entity_exception(),
        "GetRole",
        &what(name),
    )?;
    let Some(out) = found else { return Ok(None) };
    let Some(role) = out.role() else {
        return Ok(None);
    };
    let trust = role.assume_role_policy_document().unwrap_or("{}");
    let assume_role_policy = decode_document(trust)
        .map_err(|m| AwsError::new("GetRole", what(name), m, "run deploy to write it again"))?;
    let tags = role
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    let (Some(attached_policies), Some(inline)) = (attached?, inline?) else {
        return Ok(None); // deleted while it was being read
    };
    Ok(Some(RoleProps {
        name: name.to_string(),
        assume_role_policy,
        tags,
        attached_policies,
        other_inline_policies: inline.into_iter().filter(|p| p != name).collect(),
    }))
}

/// The managed policies attached to the role (ARNs, sorted), every page; `None` when the role
/// is gone.
async fn attached_policies(iam: &Client, name: &str) -> Result<Option<Vec<String>>, AwsError> {
    let pages = iam
        .list_attached_role_policies()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await;
    let found = absent_as_none(
        pages,
        |e| e.is_no_such_entity_exception(),
        "ListAttachedRolePolicies",
        &what(name),
    )?;
    Ok(found.map(|policies| {
        sorted(
            policies
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_string)),
        )
    }))
}

fn sorted(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut names: Vec<String> = names.collect();
    names.sort();
    names
}

/// The names of the role's inline policies (sorted), every page; `None` when the role is gone.
async fn inline_policies(iam: &Client, name: &str) -> Result<Option<Vec<String>>, AwsError> {
    let pages = iam
        .list_role_policies()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await;
    let found = absent_as_none(
        pages,
        |e| e.is_no_such_entity_exception(),
        "ListRolePolicies",
        &what(name),
    )?;
    Ok(found.map(|names| sorted(names.into_iter())))
}

fn tags(tags: &BTreeMap<String, String>, name: &str) -> Result<Vec<Tag>, AwsError> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<_, _>>()
        .map_err(|e| {
            AwsError::new(
                "CreateRole",
                what(name),
                format!("could not build tags: {e}"),
                "this is a bug in presign-stack; please report it",
            )
        })
}

pub async fn create(iam: &Client, p: &RoleProps) -> Result<(), AwsError> {
    let result = iam
        .create_role()
        .role_name(&p.name)
        .description("presign-stack signer execution role")
        .assume_role_policy_document(p.assume_role_policy.to_string())
        .set_tags(Some(tags(&p.tags, &p.name)?))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        // Ours already (ownership was checked when it was read): converge instead.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_entity_already_exists_exception()) =>
        {
            update(iam, None, p).await
        }
        Err(e) => Err(AwsError::from_sdk("CreateRole", what(&p.name), e)),
    }
}

/// Brings the trust policy, tags and policies to `p` (`before`: what is live, if known):
/// managed policies and inline policies the spec does not declare are detached and deleted.
pub async fn update(
    iam: &Client,
    before: Option<&RoleProps>,
    p: &RoleProps,
) -> Result<(), AwsError> {
    let live = match before {
        Some(b) => Some(b.clone()),
        None => find(iam, &p.name).await?,
    };
    if let Some(live) = &live {
        let attached = live
            .attached_policies
            .iter()
            .filter(|a| !p.attached_policies.contains(a));
        let inline = live
            .other_inline_policies
            .iter()
            .filter(|n| !p.other_inline_policies.contains(n));
        remove_policies(iam, &p.name, attached, inline).await?;
    }
    let before = live.as_ref().or(before);
    if before.is_none_or(|b| b.assume_role_policy != p.assume_role_policy) {
        iam.update_assume_role_policy()
            .role_name(&p.name)
            .policy_document(p.assume_role_policy.to_string())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("UpdateAssumeRolePolicy", what(&p.name), e))?;
    }
    if before.is_none_or(|b| b.tags != p.tags) {
        let stale = super::stale_tag_keys(before.map(|x| &x.tags), &p.tags);
        if !stale.is_empty() {
            iam.untag_role()
                .role_name(&p.name)
                .set_tag_keys(Some(stale))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("UntagRole", what(&p.name), e))?;
        }
        iam.tag_role()
            .role_name(&p.name)
            .set_tags(Some(tags(&p.tags, &p.name)?))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("TagRole", what(&p.name), e))?;
    }
    Ok(())
}

/// Detaches the managed policies `attached` from role `name` and deletes its inline policies
/// `inline`; one already gone is fine.
async fn remove_policies<'a>(
    iam: &Client,
    name: &str,
    attached: impl Iterator<Item = &'a String>,
    inline: impl Iterator<Item = &'a String>,
) -> Result<(), AwsError> {
    for arn in attached {
        absent_as_none(
            iam.detach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await,
            |e| e.is_no_such_entity_exception(),
            "DetachRolePolicy",
            &format!("managed policy {arn} on IAM role {name}"),
        )?;
    }
    for policy in inline {
        absent_as_none(
            iam.delete_role_policy()
                .role_name(name)
                .policy_name(policy)
                .send()
                .await,
            |e| e.is_no_such_entity_exception(),
            "DeleteRolePolicy",
            &format!("inline policy {policy} of IAM role {name}"),
        )?;
    }
    Ok(())
}

/// Deletes the role and its own inline policy (named like the role; IAM refuses to delete a
/// role that still has policies). Other policies are removed only when the state records them
/// on the role (`recorded`: an imported role, adopted with them after the user saw them named
/// in the import plan); any other is never removed here: `destroy` leaves such a role in place
/// ([`crate::plan::reconcile::foreign_policies`]), and if one appears in between, IAM's
/// `DeleteConflict` is reported with the step that resolves it.
pub async fn delete(
    iam: &Client,
    name: &str,
    recorded: Option<&RoleProps>,
) -> Result<(), AwsError> {
    let attached = recorded
        .map(|r| r.attached_policies.as_slice())
        .unwrap_or_default();
    let inline = recorded
        .map(|r| r.other_inline_policies.as_slice())
        .unwrap_or_default();
    // Usually the role's own policy went just before, in its own step: try the role first, and
    // remove policies only when IAM says some remain (one call fewer on destroy's chain).
    if attached.is_empty() && inline.is_empty() {
        match delete_role(iam, name).await? {
            Deleted::Yes => return Ok(()),
            Deleted::Conflict(_) => {}
        }
    }
    let own = name.to_string();
    remove_policies(iam, name, attached.iter(), inline.iter().chain([&own])).await?;
    match delete_role(iam, name).await? {
        Deleted::Yes => Ok(()),
        Deleted::Conflict(mut err) => {
            err.hint = Some(format!(
                "the role has policies presign-stack did not put there; list them with `aws iam list-attached-role-policies --role-name {name}` and `aws iam list-role-policies --role-name {name}`, detach or delete them (or run `presign-stack deploy`, which removes them), then destroy again"
            ));
            Err(err)
        }
    }
}

/// What `DeleteRole` did: deleted it (or it was gone), or refused while policies remain.
enum Deleted {
    Yes,
    Conflict(AwsError),
}

async fn delete_role(iam: &Client, name: &str) -> Result<Deleted, AwsError> {
    match iam.delete_role().role_name(name).send().await {
        Ok(_) => Ok(Deleted::Yes),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            Ok(Deleted::Yes)
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_delete_conflict_exception()) =>
        {
            Ok(Deleted::Conflict(AwsError::from_sdk(
                "DeleteRole",
                what(name),
                e,
            )))
        }
        Err(e) => Err(AwsError::from_sdk("DeleteRole", what(name), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encoded_documents_decode_to_the_same_canonical_form() {
        let plain = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole"],"Principal":{"Service":"lambda.amazonaws.com"}}]}"#;
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22sts%3AAssumeRole%22%2C%22Principal%22%3A%7B%22Service%22%3A%22lambda.amazonaws.com%22%7D%7D%5D%7D";
        assert_eq!(
            decode_document(plain).unwrap(),
            decode_document(encoded).unwrap()
        );
        assert!(decode_document("%7Bnot json").is_err());
        assert_eq!(crate::presigned::percent_decode("a%2"), "a%2");
        assert_eq!(crate::presigned::percent_decode("a%2F%zz%"), "a/%zz%");
    }
}
