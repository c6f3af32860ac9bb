//! Bringing an API's parts to what the spec wants, each only when it differs from what was read:
//! its settings (CORS, tags); the chain route → integration → function with the route's JWT
//! authorizer; the `$default` stage; and the invoke permission (`permission.rs`). The last
//! three are independent and run in parallel.

use aws_sdk_apigatewayv2::types::{
    AuthorizationType, AuthorizerType, Integration, IntegrationType, JwtConfiguration, Route,
    RouteSettings,
};

use super::super::errors::{absent_as_none, AwsError};
use super::super::run::Run;
use super::{cors_config, permission, AUTHORIZER_NAME, STAGE};
use crate::plan::resources::{HttpApiProps, JwtAuthorizer, UPPY_ROUTE_KEYS};

/// Brings API `id` to `p`. `live`: what was read (`fresh`: the API was just created, so it has
/// no integrations or routes to look up). The invoke permission waits for the plan's steps in
/// `late` (the function must exist, and its role's policy and log group be in place, before
/// API Gateway may invoke it); everything else goes on meanwhile. `Ok(Some(step))`: all was done but the
/// permission, since `step` did not succeed (it stays as it was).
pub(super) async fn converge(
    run: &Run,
    id: &str,
    live: Option<&HttpApiProps>,
    p: &HttpApiProps,
    fresh: bool,
    late: &[String],
) -> Result<Option<String>, AwsError> {
    let w = super::what(&p.name);
    settings(run, id, live, p, &w).await?;
    let permission = async {
        for step in late {
            if !run.gates.wait(step).await {
                return Ok(Some(step.clone()));
            }
        }
        permission::converge(run, id, live, p).await.map(|()| None)
    };
    let (_, _, missing) = tokio::try_join!(
        integration_and_route(run, id, live, p, fresh, &w),
        stage(run, id, live, p, &w),
        permission,
    )?;
    Ok(missing)
}

/// The API's own settings: CORS and tags.
async fn settings(
    run: &Run,
    id: &str,
    live: Option<&HttpApiProps>,
    p: &HttpApiProps,
    w: &str,
) -> Result<(), AwsError> {
    let gw = &run.clients.apigw;
    if live.is_none_or(|l| l.cors != p.cors) {
        match &p.cors {
            Some(c) => {
                gw.update_api()
                    .api_id(id)
                    .cors_configuration(cors_config(c))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("UpdateApi", w, e))?;
            }
            None => {
                absent_as_none(
                    gw.delete_cors_configuration().api_id(id).send().await,
                    |e| e.is_not_found_exception(),
                    "DeleteCorsConfiguration",
                    w,
                )?;
            }
        }
    }
    if live.is_none_or(|l| l.tags != p.tags) {
        let arn = format!("arn:aws:apigateway:{}::/apis/{id}", run.region);
        let stale = super::super::stale_tag_keys(live.map(|x| &x.tags), &p.tags);
        if !stale.is_empty() {
            gw.untag_resource()
                .resource_arn(&arn)
                .set_tag_keys(Some(stale))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("UntagResource", w, e))?;
        }
        gw.tag_resource()
            .resource_arn(&arn)
            .set_tags(Some(p.tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("TagResource", w, e))?;
    }
    Ok(())
}

/// The chain route → integration → function, repaired as a chain. The stack's own integration
/// is the one in this (tag-proven) API that invokes the stack's function; an integration
/// pointing anywhere else is never updated, only no longer targeted.
async fn integration_and_route(
    run: &Run,
    id: &str,
    live: Option<&HttpApiProps>,
    p: &HttpApiProps,
    fresh: bool,
    w: &str,
) -> Result<(), AwsError> {
    let gw = &run.clients.apigw;
    // A fresh API has no integrations or routes: no need to ask.
    let (integrations, routes) = if fresh {
        (Vec::new(), Vec::new())
    } else {
        let (integrations, routes) = tokio::join!(
            gw.get_integrations().api_id(id).send(),
            gw.get_routes().api_id(id).send()
        );
        (
            integrations
                .map_err(|e| AwsError::from_sdk("GetIntegrations", w, e))?
                .items()
                .to_vec(),
            routes
                .map_err(|e| AwsError::from_sdk("GetRoutes", w, e))?
                .items()
                .to_vec(),
        )
    };
    let integration_id = match &p.integration {
        Some(uri) => Some(integration(run, id, &integrations, live, p, uri, w).await?),
        None => None,
    };
    let reaches_differs = live.is_none_or(|l| l.integration != p.integration);
    let main_differs = reaches_differs || live.is_none_or(|l| l.route != p.route);
    let others_differ = main_differs || live.is_none_or(|l| l.other_routes != p.other_routes);
    if !others_differ {
        return Ok(());
    }
    let authorizer_id = match p.route.as_ref().and_then(|r| r.authorizer.as_ref()) {
        Some(jwt) => Some(put_authorizer(run, id, jwt, w).await?),
        None => None,
    };
    let reach = Reach {
        target: integration_id.map(|i| format!("integrations/{i}")),
        authorizer_id: authorizer_id.clone(),
    };
    if let (Some(wanted), true) = (&p.route, main_differs) {
        route(run, id, &routes, &wanted.route_key, true, &reach, w).await?;
    }
    // Uppy's routes reach the same integration with the same authorizer; those not wanted
    // (the spec turned them off) are deleted: the API is the stack's, proven by its tag.
    for key in UPPY_ROUTE_KEYS {
        if p.other_routes.iter().any(|k| k == key) {
            route(run, id, &routes, key, false, &reach, w).await?;
        } else if let Some(old) = routes
            .iter()
            .find(|r| r.route_key() == Some(key))
            .and_then(|r| r.route_id())
        {
            absent_as_none(
                gw.delete_route().api_id(id).route_id(old).send().await,
                |e| e.is_not_found_exception(),
                "DeleteRoute",
                w,
            )?;
        }
    }
    let had_authorizer = live
        .and_then(|l| l.route.as_ref())
        .is_some_and(|r| r.authorizer.is_some());
    if authorizer_id.is_none() && had_authorizer {
        delete_authorizers(run, id, w).await?;
    }
    Ok(())
}

/// The id of the stack's integration invoking `uri` (the function): the one there, made sure of
/// its type and format when the live API did not reach the function, or a new one.
async fn integration(
    run: &Run,
    id: &str,
    integrations: &[Integration],
    live: Option<&HttpApiProps>,
    p: &HttpApiProps,
    uri: &str,
    w: &str,
) -> Result<String, AwsError> {
    let gw = &run.clients.apigw;
    let own = integrations
        .iter()
        .find(|i| i.integration_uri() == Some(uri))
        .and_then(|i| i.integration_id())
        .map(str::to_string);
    // The create and update builders are different types taking the same settings.
    macro_rules! wanted {
        ($builder:expr) => {
            $builder
                .api_id(id)
                .integration_type(IntegrationType::AwsProxy)
                .integration_uri(uri)
                .payload_format_version("2.0")
                .send()
                .await
        };
    }
    match own {
        Some(iid) => {
            if live.is_none_or(|l| l.integration != p.integration) {
                // Ours (it invokes our function): make sure of its type and format.
                wanted!(gw.update_integration().integration_id(&iid))
                    .map_err(|e| AwsError::from_sdk("UpdateIntegration", w, e))?;
            }
            Ok(iid)
        }
        None => Ok(wanted!(gw.create_integration())
            .map_err(|e| AwsError::from_sdk("CreateIntegration", w, e))?
            .integration_id()
            .map(str::to_string)
            .unwrap_or_default()),
    }
}

/// What every route of the stack's reaches: its integration, through its authorizer (if any).
struct Reach {
    target: Option<String>,
    authorizer_id: Option<String>,
}

/// The route `key`, targeting `target` with the authorizer (if any): the route of that key
/// (else, `or_the_signing_route`, the signing route under its old key) updated, or a new one.
async fn route(
    run: &Run,
    id: &str,
    routes: &[Route],
    key: &str,
    or_the_signing_route: bool,
    reach: &Reach,
    w: &str,
) -> Result<(), AwsError> {
    let (target, authorizer_id) = (reach.target.clone(), reach.authorizer_id.clone());
    let gw = &run.clients.apigw;
    let existing = routes
        .iter()
        .find(|r| r.route_key() == Some(key))
        .or_else(|| {
            // The signing route under another key (the spec's `api.route` changed): moved.
            routes
                .iter()
                .filter(|_| or_the_signing_route)
                .find(|r| r.route_key().is_some_and(|k| !UPPY_ROUTE_KEYS.contains(&k)))
        })
        .and_then(|r| r.route_id());
    let auth_type = if authorizer_id.is_some() {
        AuthorizationType::Jwt
    } else {
        AuthorizationType::None
    };
    // The create and update builders are different types taking the same settings.
    macro_rules! wanted {
        ($builder:expr) => {
            $builder
                .api_id(id)
                .route_key(key)
                .set_target(target)
                .authorization_type(auth_type)
                .set_authorizer_id(authorizer_id)
                .send()
                .await
        };
    }
    match existing {
        Some(route_id) => wanted!(gw.update_route().route_id(route_id))
            .map_err(|e| AwsError::from_sdk("UpdateRoute", w, e))
            .map(drop),
        None => wanted!(gw.create_route())
            .map_err(|e| AwsError::from_sdk("CreateRoute", w, e))
            .map(drop),
    }
}

/// The auto-deployed `$default` stage with the spec's throttling.
async fn stage(
    run: &Run,
    id: &str,
    live: Option<&HttpApiProps>,
    p: &HttpApiProps,
    w: &str,
) -> Result<(), AwsError> {
    let Some(stage) = &p.stage else {
        return Ok(());
    };
    if live.is_some_and(|l| l.stage == p.stage) {
        return Ok(());
    }
    let gw = &run.clients.apigw;
    let settings = RouteSettings::builder()
        .throttling_rate_limit(stage.throttle_rate_limit)
        .throttling_burst_limit(stage.throttle_burst_limit)
        .build();
    // The create and update builders are different types taking the same settings.
    macro_rules! wanted {
        ($builder:expr) => {
            $builder
                .api_id(id)
                .stage_name(STAGE)
                .auto_deploy(true)
                .default_route_settings(settings)
                .send()
                .await
        };
    }
    if live.is_some_and(|l| l.stage.is_some()) {
        wanted!(gw.update_stage())
            .map_err(|e| AwsError::from_sdk("UpdateStage", w, e))
            .map(drop)
    } else {
        wanted!(gw.create_stage())
            .map_err(|e| AwsError::from_sdk("CreateStage", w, e))
            .map(drop)
    }
}

async fn put_authorizer(
    run: &Run,
    id: &str,
    jwt: &JwtAuthorizer,
    w: &str,
) -> Result<String, AwsError> {
    let gw = &run.clients.apigw;
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

async fn delete_authorizers(run: &Run, id: &str, w: &str) -> Result<(), AwsError> {
    let gw = &run.clients.apigw;
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
                |e| e.is_not_found_exception(),
                "DeleteAuthorizer",
                w,
            )?;
        }
    }
    Ok(())
}
