//! The role's inline policy, generated from the spec (least privilege).

use aws_sdk_iam::Client;

use super::errors::{absent_as_none, AwsError};
use super::iam_role::decode_document;
use crate::plan::resources::RolePolicyProps;

fn what(role: &str, name: &str) -> String {
    format!("inline policy {name} of IAM role {role}")
}

/// `role`: the role's name (the resource's physical id); the policy name is the stack's.
pub async fn find(
    iam: &Client,
    role: &str,
    name: &str,
) -> Result<Option<RolePolicyProps>, AwsError> {
    let found = absent_as_none(
        iam.get_role_policy()
            .role_name(role)
            .policy_name(name)
            .send()
            .await,
        |e| e.is_no_such_entity_exception(),
        "GetRolePolicy",
        &what(role, name),
    )?;
    let Some(out) = found else { return Ok(None) };
    let document = decode_document(out.policy_document()).map_err(|m| {
        AwsError::new(
            "GetRolePolicy",
            what(role, name),
            m,
            "run deploy to write it again",
        )
    })?;
    Ok(Some(RolePolicyProps {
        role: role.to_string(),
        name: name.to_string(),
        document,
    }))
}

pub async fn put(iam: &Client, p: &RolePolicyProps) -> Result<(), AwsError> {
    iam.put_role_policy()
        .role_name(&p.role)
        .policy_name(&p.name)
        .policy_document(p.document.to_string())
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutRolePolicy", what(&p.role, &p.name), e))?;
    Ok(())
}

pub async fn delete(iam: &Client, role: &str, name: &str) -> Result<(), AwsError> {
    absent_as_none(
        iam.delete_role_policy()
            .role_name(role)
            .policy_name(name)
            .send()
            .await,
        |e| e.is_no_such_entity_exception(),
        "DeleteRolePolicy",
        &what(role, name),
    )?;
    Ok(())
}
