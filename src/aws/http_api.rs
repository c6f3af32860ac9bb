//! The HTTP API and its parts: CORS, the `AWS_PROXY` integration to the function (payload 2.0),
//! the route with its optional JWT authorizer, the auto-deployed `$default` stage with
//! throttling, and the Lambda permission that lets this API (and only its route) invoke the
//! function.
//!
//! The resource's physical id is the API's name; the API is found by that name *and* the
//! stack's ownership tag (API names are not unique), and its id is remembered for the run.

use std::collections::HashMap;

use aws_sdk_apigatewayv2::types::{
    Api, AuthorizationType, AuthorizerType, Cors, IntegrationType, JwtConfiguration, ProtocolType,
    RouteSettings,
};

use super::clients::Clients;
use super::errors::{absent_as_none, AwsError};
use crate::plan::resources::{ApiCors, ApiRoute, ApiStage, HttpApiProps, JwtAuthorizer};
use crate::spec::OWNERSHIP_TAG;

const NOT_FOUND: &[&str] = &["NotFoundException"];
const STAGE: &str = "$default";
const AUTHORIZER_NAME: &str = "presign-stack-jwt";
/// The statement id of the stack's invoke permission on its function: fixed per stack, so
/// adding it is idempotent, and unique per stack, so one stack's repair can never remove
/// another stack's statement (they may share a function only by misconfiguration, but a route
/// pointed at another stack's integration must not make us touch that stack's permission).
pub fn permission_sid(stack: &str) -> String {
    format!("presign-stack-{stack}-apigw")
}

fn what(name: &str) -> String {
    format!("HTTP API {name}")
}

/// The API's id and endpoint, or `None` when no API of this stack has that name.
pub async fn resolve(clients: &Clients, name: &str) -> Result<Option<(String, String)>, AwsError> {
    let mut token = None;
    loop {
        let page = clients
            .apigw
            .get_apis()
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetApis", what(name), e))?;
        let ours = |a: &&Api| {
            a.name() == Some(name)
                && a.tags()
                    .and_then(|t| t.get(OWNERSHIP_TAG))
                    .map(String::as_str)
                    == Some(clients.stack.as_str())
        };
        if let Some(api) = page.items().iter().find(ours) {
            let id = api.api_id().unwrap_or_default().to_string();
            remember(clients, name, &id);
            return Ok(Some((
                id,
                api.api_endpoint().unwrap_or_default().to_string(),
            )));
        }
        match page.next_token() {
            Some(t) => token = Some(t.to_string()),
            None => return Ok(None),
        }
    }
}

fn remember(clients: &Clients, name: &str, id: &str) {
    if let Ok(mut ids) = clients.api_ids.lock() {
        ids.insert(name.to_string(), id.to_string());
    }
}

async fn api_id(clients: &Clients, name: &str) -> Result<Option<String>, AwsError> {
    let known = clients
        .api_ids
        .lock()
        .ok()
        .and_then(|ids| ids.get(name).cloned());
    match known {
        Some(id) => Ok(Some(id)),
        None => Ok(resolve(clients, name).await?.map(|(id, _)| id)),
    }
}

fn api_cors(c: &Cors) -> ApiCors {
    let sorted = |v: &[String], f: fn(&str) -> String| {
        let mut v: Vec<String> = v.iter().map(|s| f(s)).collect();
        v.sort();
        v.dedup();
        v
    };
    ApiCors {
        allow_origins: sorted(c.allow_origins(), str::to_string),
        allow_methods: sorted(c.allow_methods(), str::to_ascii_uppercase),
        allow_headers: sorted(c.allow_headers(), str::to_ascii_lowercase),
        max_age: c.max_age().unwrap_or(0),
    }
}

fn cors_config(c: &ApiCors) -> Cors {
    Cors::builder()
        .set_allow_origins(Some(c.allow_origins.clone()))
        .set_allow_methods(Some(c.allow_methods.clone()))
        .set_allow_headers(Some(c.allow_headers.clone()))
        .max_age(c.max_age)
        .build()
}

fn forget(clients: &Clients, name: &str) {
    if let Ok(mut ids) = clients.api_ids.lock() {
        ids.remove(name);
    }
}

/// Reads the API and every part of it, in two waves of parallel calls after the id is known:
/// the API, its routes, integrations and stage; then the route's authorizer and the function's
/// permission, which those name. A remembered id (from this run, or the state's `api_url`) is
/// only a hint: the API must still carry this name and the stack's tag, or it is looked up by
/// name again.
pub async fn find(clients: &Clients, name: &str) -> Result<Option<HttpApiProps>, AwsError> {
    let hinted = clients
        .api_ids
        .lock()
        .ok()
        .and_then(|ids| ids.get(name).cloned());
    if let Some(id) = hinted {
        match find_by_id(clients, name, &id).await? {
            Some(found) => return Ok(Some(found)),
            None => forget(clients, name),
        }
    }
    let Some(id) = api_id(clients, name).await? else {
        return Ok(None);
    };
    find_by_id(clients, name, &id).await
}

/// The API with this id, if it exists and is this stack's API of this name.
async fn find_by_id(
    clients: &Clients,
    name: &str,
    id: &str,
) -> Result<Option<HttpApiProps>, AwsError> {
    let gw = &clients.apigw;
    let (api, routes, integrations, stage) = tokio::join!(
        gw.get_api().api_id(id).send(),
        gw.get_routes().api_id(id).send(),
        gw.get_integrations().api_id(id).send(),
        gw.get_stage().api_id(id).stage_name(STAGE).send(),
    );
    let Some(api) = absent_as_none(api, NOT_FOUND, "GetApi", &what(name))? else {
        return Ok(None);
    };
    // Another API under this id (ids are not reused, but a hint may be stale): not this
    // resource. An API of this name whose tag was removed or changed is still returned, with
    // the tags it has: the caller's ownership check refuses it by name, and destroy reports it
    // as left in place instead of dropping it from the state.
    if api.name() != Some(name) {
        return Ok(None);
    }
    let Some(routes) = absent_as_none(routes, NOT_FOUND, "GetRoutes", &what(name))? else {
        return Ok(None);
    };
    let Some(integrations) =
        absent_as_none(integrations, NOT_FOUND, "GetIntegrations", &what(name))?
    else {
        return Ok(None);
    };
    let stage = absent_as_none(stage, NOT_FOUND, "GetStage", &what(name))?;
    let route = routes.items().first();
    // What the route reaches, as a chain: route → its target integration → that integration's
    // function. A route without a target, or a target that does not exist, reaches nothing.
    let target = route
        .and_then(|r| r.target())
        .and_then(|t| t.strip_prefix("integrations/"));
    let integration = target.and_then(|t| {
        integrations
            .items()
            .iter()
            .find(|i| i.integration_id() == Some(t))
            .and_then(|i| i.integration_uri())
            .map(str::to_string)
    });
    let authorizer_id = route.and_then(|r| {
        r.authorizer_id()
            .filter(|_| r.authorization_type() == Some(&AuthorizationType::Jwt))
    });
    let (authorizer, invoke_permission) = tokio::join!(
        async {
            match authorizer_id {
                Some(auth_id) => absent_as_none(
                    gw.get_authorizer()
                        .api_id(id)
                        .authorizer_id(auth_id)
                        .send()
                        .await,
                    NOT_FOUND,
                    "GetAuthorizer",
                    &what(name),
                ),
                None => Ok(None),
            }
        },
        async {
            match &integration {
                Some(function_arn) => find_permission(clients, function_arn, id).await,
                None => Ok(None),
            }
        },
    );
    let authorizer = authorizer?.and_then(|a| {
        a.jwt_configuration().map(|j| JwtAuthorizer {
            issuer: j.issuer().unwrap_or_default().to_string(),
            audience: j.audience().to_vec(),
        })
    });
    let invoke_permission = invoke_permission?;
    let route = route.map(|r| ApiRoute {
        route_key: r.route_key().unwrap_or_default().to_string(),
        authorizer,
    });
    let stage = stage.map(|s| {
        let settings = s.default_route_settings();
        ApiStage {
            throttle_rate_limit: settings
                .and_then(|r| r.throttling_rate_limit())
                .unwrap_or(0.0),
            throttle_burst_limit: settings
                .and_then(|r| r.throttling_burst_limit())
                .unwrap_or(0),
        }
    });
    Ok(Some(HttpApiProps {
        name: name.to_string(),
        tags: api
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        cors: api.cors_configuration().map(api_cors),
        integration,
        route,
        stage,
        invoke_permission,
    }))
}

/// The function's permission statement for this API, in the `{api}` form of
/// [`HttpApiProps::invoke_permission`].
async fn find_permission(
    clients: &Clients,
    function_arn: &str,
    api_id: &str,
) -> Result<Option<String>, AwsError> {
    let policy = absent_as_none(
        clients
            .lambda
            .get_policy()
            .function_name(function_arn)
            .send()
            .await,
        &["ResourceNotFoundException"],
        "GetPolicy",
        &format!("permissions of Lambda function {function_arn}"),
    )?;
    let Some(text) = policy.as_ref().and_then(|p| p.policy()) else {
        return Ok(None);
    };
    let doc: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    // AWS keeps one statement per id; moto appends another on a repeated AddPermission, so
    // the last one is the one in force.
    let sid = permission_sid(&clients.stack);
    let statement = doc["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .rfind(|s| s["Sid"] == sid.as_str());
    Ok(statement.map(|s| {
        let source = s["Condition"]["ArnLike"]["AWS:SourceArn"]
            .as_str()
            .unwrap_or("(none)");
        let principal = s["Principal"]["Service"].as_str().unwrap_or("(none)");
        let source = source.replace(&format!(":{api_id}/"), ":{api}/");
        if principal == "apigateway.amazonaws.com" {
            format!("{function_arn} {source}")
        } else {
            format!("{function_arn} {source} principal={principal}")
        }
    }))
}

/// Creates the API, then every part.
pub async fn create(clients: &Clients, p: &HttpApiProps) -> Result<(), AwsError> {
    if let Some(id) = api_id(clients, &p.name).await? {
        // Ours already (found by name and ownership tag): converge instead.
        let live = find(clients, &p.name).await?;
        return converge(clients, &id, live.as_ref(), p, false).await;
    }
    let out = clients
        .apigw
        .create_api()
        .name(&p.name)
        .protocol_type(ProtocolType::Http)
        .set_cors_configuration(p.cors.as_ref().map(cors_config))
        .set_tags(Some(p.tags.clone().into_iter().collect::<HashMap<_, _>>()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateApi", what(&p.name), e))?;
    let id = out.api_id().unwrap_or_default().to_string();
    remember(clients, &p.name, &id);
    let bare = HttpApiProps {
        cors: p.cors.clone(),
        tags: p.tags.clone(),
        integration: None,
        route: None,
        stage: None,
        invoke_permission: None,
        name: p.name.clone(),
    };
    converge(clients, &id, Some(&bare), p, true).await
}

/// Brings the live API to `p`, part by part (`live`: what was read).
pub async fn update(
    clients: &Clients,
    live: Option<&HttpApiProps>,
    p: &HttpApiProps,
) -> Result<(), AwsError> {
    let Some(id) = api_id(clients, &p.name).await? else {
        return create(clients, p).await;
    };
    converge(clients, &id, live, p, false).await
}

async fn converge(
    clients: &Clients,
    id: &str,
    live: Option<&HttpApiProps>,
    p: &HttpApiProps,
    fresh: bool,
) -> Result<(), AwsError> {
    let gw = &clients.apigw;
    let w = what(&p.name);
    if live.is_none_or(|l| l.cors != p.cors) {
        match &p.cors {
            Some(c) => {
                gw.update_api()
                    .api_id(id)
                    .cors_configuration(cors_config(c))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("UpdateApi", w.clone(), e))?;
            }
            None => {
                absent_as_none(
                    gw.delete_cors_configuration().api_id(id).send().await,
                    NOT_FOUND,
                    "DeleteCorsConfiguration",
                    &w,
                )?;
            }
        }
    }
    if live.is_none_or(|l| l.tags != p.tags) {
        let arn = format!("arn:aws:apigateway:{}::/apis/{id}", clients.region);
        let stale = super::stale_tag_keys(live.map(|x| &x.tags), &p.tags);
        if !stale.is_empty() {
            gw.untag_resource()
                .resource_arn(&arn)
                .set_tag_keys(Some(stale))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("UntagResource", w.clone(), e))?;
        }
        gw.tag_resource()
            .resource_arn(&arn)
            .set_tags(Some(p.tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("TagResource", w.clone(), e))?;
    }

    // Three independent branches, in parallel: integration → authorizer → route; the stage;
    // the function's invoke permission.
    let integration_and_route = async {
        // The chain route → integration → function, repaired as a chain. The stack's own
        // integration is the one in this (tag-proven) API that invokes the stack's function;
        // an integration pointing anywhere else is never updated, only no longer targeted.
        // A fresh API has none: no need to ask.
        let (integrations, routes) = if fresh {
            (Vec::new(), Vec::new())
        } else {
            let (integrations, routes) = tokio::join!(
                gw.get_integrations().api_id(id).send(),
                gw.get_routes().api_id(id).send()
            );
            (
                integrations
                    .map_err(|e| AwsError::from_sdk("GetIntegrations", w.clone(), e))?
                    .items()
                    .to_vec(),
                routes
                    .map_err(|e| AwsError::from_sdk("GetRoutes", w.clone(), e))?
                    .items()
                    .to_vec(),
            )
        };
        let mut integration_id = None;
        if let Some(uri) = &p.integration {
            let own = integrations
                .iter()
                .find(|i| i.integration_uri() == Some(uri.as_str()))
                .and_then(|i| i.integration_id())
                .map(str::to_string);
            integration_id = Some(match own {
                Some(iid) => {
                    if live.is_none_or(|l| l.integration != p.integration) {
                        // Ours (it invokes our function): make sure of its type and format.
                        gw.update_integration()
                            .api_id(id)
                            .integration_id(&iid)
                            .integration_type(IntegrationType::AwsProxy)
                            .integration_uri(uri)
                            .payload_format_version("2.0")
                            .send()
                            .await
                            .map_err(|e| AwsError::from_sdk("UpdateIntegration", w.clone(), e))?;
                    }
                    iid
                }
                None => gw
                    .create_integration()
                    .api_id(id)
                    .integration_type(IntegrationType::AwsProxy)
                    .integration_uri(uri)
                    .payload_format_version("2.0")
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("CreateIntegration", w.clone(), e))?
                    .integration_id()
                    .map(str::to_string)
                    .unwrap_or_default(),
            });
        }
        let reaches_differs = live.is_none_or(|l| l.integration != p.integration);
        if live.is_none_or(|l| l.route != p.route) || reaches_differs {
            let authorizer_id = match p.route.as_ref().and_then(|r| r.authorizer.as_ref()) {
                Some(jwt) => Some(put_authorizer(clients, id, jwt, &w).await?),
                None => None,
            };
            if let Some(route) = &p.route {
                let existing = routes
                    .iter()
                    .find(|r| r.route_key() == Some(route.route_key.as_str()))
                    .or_else(|| routes.first())
                    .and_then(|r| r.route_id())
                    .map(str::to_string);
                let target = integration_id.as_ref().map(|i| format!("integrations/{i}"));
                let auth_type = if authorizer_id.is_some() {
                    AuthorizationType::Jwt
                } else {
                    AuthorizationType::None
                };
                match existing {
                    Some(route_id) => {
                        gw.update_route()
                            .api_id(id)
                            .route_id(route_id)
                            .route_key(&route.route_key)
                            .set_target(target)
                            .authorization_type(auth_type)
                            .set_authorizer_id(authorizer_id.clone())
                            .send()
                            .await
                            .map_err(|e| AwsError::from_sdk("UpdateRoute", w.clone(), e))?;
                    }
                    None => {
                        gw.create_route()
                            .api_id(id)
                            .route_key(&route.route_key)
                            .set_target(target)
                            .authorization_type(auth_type)
                            .set_authorizer_id(authorizer_id.clone())
                            .send()
                            .await
                            .map_err(|e| AwsError::from_sdk("CreateRoute", w.clone(), e))?;
                    }
                }
            }
            let had_authorizer = live
                .and_then(|l| l.route.as_ref())
                .is_some_and(|r| r.authorizer.is_some());
            if authorizer_id.is_none() && had_authorizer {
                delete_authorizers(clients, id, &w).await?;
            }
        }
        Ok::<(), AwsError>(())
    };
    let stage = async {
        if let Some(stage) = &p.stage {
            if live.is_none_or(|l| l.stage != p.stage) {
                let settings = RouteSettings::builder()
                    .throttling_rate_limit(stage.throttle_rate_limit)
                    .throttling_burst_limit(stage.throttle_burst_limit)
                    .build();
                if live.is_some_and(|l| l.stage.is_some()) {
                    gw.update_stage()
                        .api_id(id)
                        .stage_name(STAGE)
                        .auto_deploy(true)
                        .default_route_settings(settings)
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("UpdateStage", w.clone(), e))?;
                } else {
                    gw.create_stage()
                        .api_id(id)
                        .stage_name(STAGE)
                        .auto_deploy(true)
                        .default_route_settings(settings)
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("CreateStage", w.clone(), e))?;
                }
            }
        }
        Ok::<(), AwsError>(())
    };
    let permission = async {
        if live.is_none_or(|l| l.invoke_permission != p.invoke_permission) {
            // The live statement was read under this stack's own statement id: removing it
            // never touches another stack's permission.
            if let Some(old) = live.and_then(|l| l.invoke_permission.as_deref()) {
                remove_permission(clients, old.split(' ').next().unwrap_or_default()).await?;
            }
            if let Some(permission) = &p.invoke_permission {
                let (function, source) = permission.split_once(' ').unwrap_or((permission, ""));
                let sid = permission_sid(&clients.stack);
                let add = || {
                    clients
                        .lambda
                        .add_permission()
                        .function_name(function)
                        .statement_id(&sid)
                        .action("lambda:InvokeFunction")
                        .principal("apigateway.amazonaws.com")
                        .source_arn(source.replace("{api}", id))
                        .send()
                };
                let added = match add().await {
                    // A statement of ours for an API that is gone (deleted out of band, then this
                    // deploy made a new one), or one the route no longer reached: replace it.
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_resource_conflict_exception()) =>
                    {
                        remove_permission(clients, function).await?;
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
            }
        }
        Ok::<(), AwsError>(())
    };
    tokio::try_join!(integration_and_route, stage, permission)?;
    Ok(())
}

async fn put_authorizer(
    clients: &Clients,
    id: &str,
    jwt: &JwtAuthorizer,
    w: &str,
) -> Result<String, AwsError> {
    let gw = &clients.apigw;
    let existing = gw
        .get_authorizers()
        .api_id(id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetAuthorizers", w, e))?;
    let config = JwtConfiguration::builder()
        .issuer(&jwt.issuer)
        .set_audience(Some(jwt.audience.clone()))
        .build();
    match existing
        .items()
        .iter()
        .find(|a| a.name() == Some(AUTHORIZER_NAME))
        .and_then(|a| a.authorizer_id())
    {
        Some(auth_id) => {
            gw.update_authorizer()
                .api_id(id)
                .authorizer_id(auth_id)
                .jwt_configuration(config)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("UpdateAuthorizer", w, e))?;
            Ok(auth_id.to_string())
        }
        None => {
            let out = gw
                .create_authorizer()
                .api_id(id)
                .name(AUTHORIZER_NAME)
                .authorizer_type(AuthorizerType::Jwt)
                .identity_source("$request.header.Authorization")
                .jwt_configuration(config)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CreateAuthorizer", w, e))?;
            Ok(out.authorizer_id().unwrap_or_default().to_string())
        }
    }
}

async fn delete_authorizers(clients: &Clients, id: &str, w: &str) -> Result<(), AwsError> {
    let gw = &clients.apigw;
    let existing = gw
        .get_authorizers()
        .api_id(id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetAuthorizers", w, e))?;
    for a in existing
        .items()
        .iter()
        .filter(|a| a.name() == Some(AUTHORIZER_NAME))
    {
        if let Some(auth_id) = a.authorizer_id() {
            absent_as_none(
                gw.delete_authorizer()
                    .api_id(id)
                    .authorizer_id(auth_id)
                    .send()
                    .await,
                NOT_FOUND,
                "DeleteAuthorizer",
                w,
            )?;
        }
    }
    Ok(())
}

/// Removes this stack's statement (and only it) from `function`'s policy; a missing one is
/// success.
async fn remove_permission(clients: &Clients, function: &str) -> Result<(), AwsError> {
    match clients
        .lambda
        .remove_permission()
        .function_name(function)
        .statement_id(permission_sid(&clients.stack))
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

/// Deletes the function's permission for the API, then the API (its routes, integrations,
/// authorizers and stages go with it). `recorded`: what the state holds, to find the function.
pub async fn delete(
    clients: &Clients,
    name: &str,
    recorded: Option<&HttpApiProps>,
) -> Result<(), AwsError> {
    if let Some(function) = recorded
        .and_then(|r| r.invoke_permission.as_deref())
        .and_then(|p| p.split(' ').next())
    {
        remove_permission(clients, function).await?;
    }
    let Some(id) = api_id(clients, name).await? else {
        return Ok(());
    };
    absent_as_none(
        clients.apigw.delete_api().api_id(&id).send().await,
        NOT_FOUND,
        "DeleteApi",
        &what(name),
    )?;
    if let Ok(mut ids) = clients.api_ids.lock() {
        ids.remove(name);
    }
    Ok(())
}
