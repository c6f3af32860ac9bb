//! The function's invoke permission for the API: one statement under this stack's own statement
//! id, read, replaced and removed without touching any other statement of the function's policy.

use super::super::errors::AwsError;
use super::super::run::Run;
use crate::plan::resources::{
    route_source, HttpApiProps, InvokePermission, OWN_STATEMENT_PREFIX, UPPY_ROUTE_KEYS,
};

/// The statement id of the stack's invoke permission on its function: fixed per stack, so
/// adding it is idempotent, and unique per stack, so one stack's repair can never remove
/// another stack's statement (they may share a function only by misconfiguration, but a route
/// pointed at another stack's integration must not make us touch that stack's permission).
pub fn permission_sid(stack: &str) -> String {
    format!("{OWN_STATEMENT_PREFIX}{stack}-apigw")
}

/// The statement id of the permission of one of Uppy's routes (`p` names it by its source ARN):
/// the stack's id with the route, so each route has its own statement.
pub fn route_sid(stack: &str, p: &InvokePermission) -> String {
    let route: String = p
        .route()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{}-{route}", permission_sid(stack))
}

/// The function's permission statements for this API, in the `{api}` form of
/// [`InvokePermission`]: the signing route's, and those of Uppy's routes (in route order).
pub(super) async fn find(
    run: &Run,
    function_arn: &str,
    api_id: &str,
) -> Result<(Option<InvokePermission>, Vec<InvokePermission>), AwsError> {
    let policy = run.policies.get(&run.clients.lambda, function_arn).await?;
    let Some(text) = policy else {
        return Ok((None, Vec::new()));
    };
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let statements: Vec<&serde_json::Value> =
        doc["Statement"].as_array().into_iter().flatten().collect();
    // AWS keeps one statement per id; moto appends another on a repeated AddPermission, so
    // the last one is the one in force.
    let read = |sid: &str| {
        statements.iter().rfind(|s| s["Sid"] == sid).map(|s| {
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
        })
    };
    let main = read(&permission_sid(&run.stack));
    let mut keys = UPPY_ROUTE_KEYS.to_vec();
    keys.sort_unstable();
    let others = keys
        .iter()
        .filter_map(|key| {
            let wanted = InvokePermission::api_gateway(function_arn, route_source(key));
            read(&route_sid(&run.stack, &wanted))
        })
        .collect();
    Ok((main, others))
}

/// Brings the permissions of API `id` to `p`'s: the signing route's statement and one per
/// other route. A live statement (read under this stack's own statement ids, so removing it
/// never touches another stack's permission) is replaced when it differs, removed when no
/// longer wanted.
pub(super) async fn converge(
    run: &Run,
    id: &str,
    live: Option<&HttpApiProps>,
    p: &HttpApiProps,
) -> Result<(), AwsError> {
    let main = permission_sid(&run.stack);
    put(
        run,
        id,
        &main,
        live.and_then(|l| l.invoke_permission.as_ref()),
        p.invoke_permission.as_ref(),
    )
    .await?;
    let by_sid =
        |list: &[InvokePermission]| -> std::collections::BTreeMap<String, InvokePermission> {
            list.iter()
                .map(|x| (route_sid(&run.stack, x), x.clone()))
                .collect()
        };
    let (was, wanted) = (
        by_sid(live.map_or(&[][..], |l| &l.other_permissions)),
        by_sid(&p.other_permissions),
    );
    for sid in was
        .keys()
        .chain(wanted.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        put(run, id, sid, was.get(sid), wanted.get(sid)).await?;
    }
    Ok(())
}

/// Makes the statement `sid` be `wanted` (or nothing) where it is `live` now.
async fn put(
    run: &Run,
    id: &str,
    sid: &str,
    live: Option<&InvokePermission>,
    wanted: Option<&InvokePermission>,
) -> Result<(), AwsError> {
    if live.is_some() && live == wanted {
        return Ok(());
    }
    if let Some(old) = live {
        remove(run, &old.function_arn, sid).await?;
    }
    let Some(permission) = wanted else {
        return Ok(());
    };
    let function = permission.function_arn.as_str();
    let lambda = &run.clients.lambda;
    let add = || {
        lambda
            .add_permission()
            .function_name(function)
            .statement_id(sid)
            .action("lambda:InvokeFunction")
            .principal(&permission.principal)
            .source_arn(permission.source_arn_for(id))
            .send()
    };
    run.policies.forget(function);
    let added = match add().await {
        // A statement of ours for an API that is gone (deleted out of band, then this deploy
        // made a new one), or one the route no longer reached: replace it.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_conflict_exception()) =>
        {
            remove(run, function, sid).await?;
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

/// Removes this stack's statement `sid` (and only it) from `function`'s policy; a missing one
/// is success.
pub(super) async fn remove(run: &Run, function: &str, sid: &str) -> Result<(), AwsError> {
    run.policies.forget(function);
    match run
        .clients
        .lambda
        .remove_permission()
        .function_name(function)
        .statement_id(sid)
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
