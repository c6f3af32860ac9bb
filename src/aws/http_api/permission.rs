//! The function's invoke permission for the API: one statement under this stack's own statement
//! id, read, replaced and removed without touching any other statement of the function's policy.

use super::super::errors::{absent_as_none, AwsError};
use super::super::run::Run;
use crate::plan::resources::{HttpApiProps, InvokePermission};

/// The statement id of the stack's invoke permission on its function: fixed per stack, so
/// adding it is idempotent, and unique per stack, so one stack's repair can never remove
/// another stack's statement (they may share a function only by misconfiguration, but a route
/// pointed at another stack's integration must not make us touch that stack's permission).
pub fn permission_sid(stack: &str) -> String {
    format!("presign-stack-{stack}-apigw")
}

/// The function's permission statement for this API, in the `{api}` form of
/// [`InvokePermission`].
pub(super) async fn find(
    run: &Run,
    function_arn: &str,
    api_id: &str,
) -> Result<Option<InvokePermission>, AwsError> {
    let policy = absent_as_none(
        run.clients
            .lambda
            .get_policy()
            .function_name(function_arn)
            .send()
            .await,
        |e| e.is_resource_not_found_exception(),
        "GetPolicy",
        &format!("permissions of Lambda function {function_arn}"),
    )?;
    let Some(text) = policy.as_ref().and_then(|p| p.policy()) else {
        return Ok(None);
    };
    let doc: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    // AWS keeps one statement per id; moto appends another on a repeated AddPermission, so
    // the last one is the one in force.
    let sid = permission_sid(&run.stack);
    let statement = doc["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .rfind(|s| s["Sid"] == sid.as_str());
    Ok(statement.map(|s| {
        let source = s["Condition"]["ArnLike"]["AWS:SourceArn"]
            .as_str()
            .unwrap_or("(none)");
        InvokePermission {
            function_arn: function_arn.to_string(),
            source_arn: source.replace(&format!(":{api_id}/"), ":{api}/"),
            principal: s["Principal"]["Service"]
                .as_str()
                .unwrap_or("(none)")
                .to_string(),
        }
    }))
}

/// Brings the permission of API `id` to `p`'s: the live statement (read under this stack's own
/// statement id, so removing it never touches another stack's permission) is replaced when it
/// differs.
pub(super) async fn converge(
    run: &Run,
    id: &str,
    live: Option<&HttpApiProps>,
    p: &HttpApiProps,
) -> Result<(), AwsError> {
    if live.is_some_and(|l| l.invoke_permission == p.invoke_permission) {
        return Ok(());
    }
    if let Some(old) = live.and_then(|l| l.invoke_permission.as_ref()) {
        remove(run, &old.function_arn).await?;
    }
    let Some(permission) = &p.invoke_permission else {
        return Ok(());
    };
    let function = permission.function_arn.as_str();
    let sid = permission_sid(&run.stack);
    let lambda = &run.clients.lambda;
    let add = || {
        lambda
            .add_permission()
            .function_name(function)
            .statement_id(&sid)
            .action("lambda:InvokeFunction")
            .principal(&permission.principal)
            .source_arn(permission.source_arn_for(id))
            .send()
    };
    let added = match add().await {
        // A statement of ours for an API that is gone (deleted out of band, then this deploy
        // made a new one), or one the route no longer reached: replace it.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_conflict_exception()) =>
        {
            remove(run, function).await?;
            add().await
        }
        other => other,
    };
    added.map_err(|e| {
        AwsError::from_sdk(
            "AddPermission",
            format!("invoke permission of {function}"),
            e,
        )
    })?;
    Ok(())
}

/// Removes this stack's statement (and only it) from `function`'s policy; a missing one is
/// success.
pub(super) async fn remove(run: &Run, function: &str) -> Result<(), AwsError> {
    match run
        .clients
        .lambda
        .remove_permission()
        .function_name(function)
        .statement_id(permission_sid(&run.stack))
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(AwsError::from_sdk(
            "RemovePermission",
            format!("invoke permission of {function}"),
            e,
        )),
    }
}
