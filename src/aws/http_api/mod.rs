//! The HTTP API and its parts: CORS, the `AWS_PROXY` integration to the function (payload 2.0),
//! the route with its optional JWT authorizer, the auto-deployed `$default` stage with
//! throttling, and the Lambda permission that lets this API (and only its route) invoke the
//! function.
//!
//! The resource's physical id is the API's name; the API is found by that name *and* the
//! stack's ownership tag (API names are not unique), and its id is remembered for the run
//! ([`super::run::ApiIds`]). This file finds and reads the API; `converge.rs` brings its parts
//! to the spec; `permission.rs` holds the function's invoke permission.

use std::collections::HashMap;

use aws_sdk_apigatewayv2::types::{Api, AuthorizationType, Cors, ProtocolType, Route};

mod converge;
mod permission;

pub use permission::permission_sid;

use super::errors::{absent_as_none, AwsError};
use super::run::Run;
use crate::plan::resources::{
    ApiCors, ApiRoute, ApiStage, HttpApiProps, JwtAuthorizer, UPPY_ROUTE_KEYS,
};
use crate::spec::OWNERSHIP_TAG;

const STAGE: &str = "$default";
const AUTHORIZER_NAME: &str = "presign-stack-jwt";
fn what(name: &str) -> String {
    format!("HTTP API {name}")
}

/// Remembers, as a hint for this run, the id in the endpoint API Gateway gave API `name` (an
/// earlier deploy's `api_url`): `https://<id>.execute-api.<region>.amazonaws.com[/...]`, the
/// form of the API's `ApiEndpoint`. [`find`] checks name and tag before trusting it.
pub fn hint_endpoint(run: &Run, name: &str, endpoint: &str) {
    if let Some(id) = id_of_endpoint(endpoint) {
        run.api_ids.remember(name, &id);
    }
}

/// `https://<id>.execute-api.<region>.amazonaws.com/...` → `<id>`.
fn id_of_endpoint(url: &str) -> Option<String> {
    let host = url.split("://").nth(1)?.split('/').next()?;
    let (id, rest) = host.split_once('.')?;
    (rest.starts_with("execute-api.")
        && !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_alphanumeric()))
    .then(|| id.to_string())
}

/// The endpoint of this stack's API `name`, or `None` when there is none. An API's endpoint is
/// `https://<id>.execute-api.<region>.amazonaws.com`: no need to ask for it when this run knows
/// the id (it created or verified it), except in China, whose endpoints end otherwise.
pub async fn endpoint(run: &Run, name: &str) -> Result<Option<String>, AwsError> {
    match run.api_ids.get(name) {
        Some(id) if !run.region.starts_with("cn-") => Ok(Some(format!(
            "https://{id}.execute-api.{}.amazonaws.com",
            run.region
        ))),
        _ => Ok(resolve(run, name).await?.map(|(_, endpoint)| endpoint)),
    }
}

/// The API's id and endpoint, or `None` when no API of this stack has that name.
pub async fn resolve(run: &Run, name: &str) -> Result<Option<(String, String)>, AwsError> {
    let mut token = None;
    loop {
        let page = run
            .clients
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
                    == Some(run.stack.as_str())
        };
        if let Some(api) = page.items().iter().find(ours) {
            let id = api.api_id().unwrap_or_default().to_string();
            run.api_ids.remember(name, &id);
            return Ok(Some((
                id,
                api.api_endpoint().unwrap_or_default().to_string(),
            )));
        }
        match page.next_token() {
            Some(t) => token = Some(t.to_string()),
            None => {
                run.api_ids.remember_absent(name);
                return Ok(None);
            }
        }
    }
}

async fn api_id(run: &Run, name: &str) -> Result<Option<String>, AwsError> {
    match run.api_ids.get(name) {
        Some(id) => Ok(Some(id)),
        None if run.api_ids.known_absent(name) => Ok(None),
        None => Ok(resolve(run, name).await?.map(|(id, _)| id)),
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

/// Reads the API and every part of it, in two waves of parallel calls after the id is known:
/// the API, its routes, integrations and stage; then the route's authorizer and the function's
/// permission, which those name. A remembered id (from this run, or the state's `api_url`) is
/// only a hint: the API must still carry this name and the stack's tag, or it is looked up by
/// name again.
pub async fn find(run: &Run, name: &str) -> Result<Option<HttpApiProps>, AwsError> {
    if let Some(id) = run.api_ids.get(name) {
        match find_by_id(run, name, &id).await? {
            Some(found) => return Ok(Some(found)),
            None => run.api_ids.forget(name),
        }
    }
    let Some(id) = api_id(run, name).await? else {
        return Ok(None);
    };
    find_by_id(run, name, &id).await
}

/// The HTTP API with this id, whatever its name and tags (`import` names an API by its id):
/// `None` when there is none, or when it is not an HTTP API (a WebSocket API).
pub async fn find_id(run: &Run, id: &str) -> Result<Option<HttpApiProps>, AwsError> {
    let api = absent_as_none(
        run.clients.apigw.get_api().api_id(id).send().await,
        |e| e.is_not_found_exception(),
        "GetApi",
        &what(id),
    )?;
    match api.filter(|a| a.protocol_type() == Some(&ProtocolType::Http)) {
        Some(api) => find_by_id(run, api.name().unwrap_or_default(), id).await,
        None => Ok(None),
    }
}

/// Adds `tags` to the API with this id (`name`: its name, remembered with the id for the run).
pub async fn add_tags(
    run: &Run,
    name: &str,
    id: &str,
    tags: &std::collections::BTreeMap<String, String>,
) -> Result<(), AwsError> {
    run.clients
        .apigw
        .tag_resource()
        .resource_arn(format!("arn:aws:apigateway:{}::/apis/{id}", run.region))
        .set_tags(Some(tags.clone().into_iter().collect()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("TagResource", what(name), e))?;
    run.api_ids.remember(name, id);
    Ok(())
}

/// The API with this id, if it exists and is this stack's API of this name.
async fn find_by_id(run: &Run, name: &str, id: &str) -> Result<Option<HttpApiProps>, AwsError> {
    let gw = &run.clients.apigw;
    let (api, routes, integrations, stage) = tokio::join!(
        gw.get_api().api_id(id).send(),
        gw.get_routes().api_id(id).send(),
        gw.get_integrations().api_id(id).send(),
        gw.get_stage().api_id(id).stage_name(STAGE).send(),
    );
    let Some(api) = absent_as_none(api, |e| e.is_not_found_exception(), "GetApi", &what(name))?
    else {
        return Ok(None);
    };
    // Another API under this id (ids are not reused, but a hint may be stale): not this
    // resource. An API of this name whose tag was removed or changed is still returned, with
    // the tags it has: the caller's ownership check refuses it by name, and destroy reports it
    // as left in place instead of dropping it from the state.
    if api.name() != Some(name) {
        return Ok(None);
    }
    let Some(routes) = absent_as_none(
        routes,
        |e| e.is_not_found_exception(),
        "GetRoutes",
        &what(name),
    )?
    else {
        return Ok(None);
    };
    let Some(integrations) = absent_as_none(
        integrations,
        |e| e.is_not_found_exception(),
        "GetIntegrations",
        &what(name),
    )?
    else {
        return Ok(None);
    };
    let stage = absent_as_none(
        stage,
        |e| e.is_not_found_exception(),
        "GetStage",
        &what(name),
    )?;
    // The signing route is the first one that is not one of Uppy's.
    let route = routes.items().iter().find(|r| !is_uppy_route(r));
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
                    |e| e.is_not_found_exception(),
                    "GetAuthorizer",
                    &what(name),
                ),
                None => Ok(None),
            }
        },
        async {
            match &integration {
                Some(function_arn) => permission::find(run, function_arn, id).await,
                None => Ok((None, Vec::new())),
            }
        },
    );
    let authorizer = authorizer?.and_then(|a| {
        a.jwt_configuration().map(|j| JwtAuthorizer {
            issuer: j.issuer().unwrap_or_default().to_string(),
            audience: j.audience().to_vec(),
        })
    });
    let (invoke_permission, other_permissions) = invoke_permission?;
    // Uppy's routes count only when they reach what the signing route reaches, as it does.
    let same_as_signing = |r: &&Route| {
        route.is_some_and(|main| {
            (r.target(), r.authorization_type(), r.authorizer_id())
                == (
                    main.target(),
                    main.authorization_type(),
                    main.authorizer_id(),
                )
        })
    };
    let mut other_routes: Vec<String> = routes
        .items()
        .iter()
        .filter(|r| is_uppy_route(r))
        .filter(same_as_signing)
        .filter_map(|r| r.route_key().map(str::to_string))
        .collect();
    other_routes.sort();
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
        other_routes,
        other_permissions,
    }))
}

/// Whether `r` is one of Uppy's routes ([`UPPY_ROUTE_KEYS`]).
fn is_uppy_route(r: &Route) -> bool {
    r.route_key().is_some_and(|k| UPPY_ROUTE_KEYS.contains(&k))
}

/// Creates the API, then every part; the invoke permission once the plan's steps in `late`
/// (the function, its role's policy) are done.
///
/// `Ok(Some(step))`: made, but without the invoke permission, since `step` did not succeed.
pub async fn create(
    run: &Run,
    p: &HttpApiProps,
    late: &[String],
) -> Result<Option<String>, AwsError> {
    if let Some(id) = api_id(run, &p.name).await? {
        // Ours already (found by name and ownership tag): converge instead.
        let live = find(run, &p.name).await?;
        return converge::converge(run, &id, live.as_ref(), p, false, late).await;
    }
    let out = run
        .clients
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
    run.api_ids.remember(&p.name, &id);
    let bare = HttpApiProps {
        cors: p.cors.clone(),
        tags: p.tags.clone(),
        integration: None,
        route: None,
        stage: None,
        invoke_permission: None,
        other_routes: Vec::new(),
        other_permissions: Vec::new(),
        name: p.name.clone(),
    };
    converge::converge(run, &id, Some(&bare), p, true, late).await
}

/// Brings the live API to `p`, part by part (`live`: what was read).
pub async fn update(
    run: &Run,
    live: Option<&HttpApiProps>,
    p: &HttpApiProps,
    late: &[String],
) -> Result<Option<String>, AwsError> {
    let Some(id) = api_id(run, &p.name).await? else {
        return create(run, p, late).await;
    };
    converge::converge(run, &id, live, p, false, late).await
}

/// Deletes the function's permission for the API, then the API (its routes, integrations,
/// authorizers and stages go with it). `recorded`: what the state holds, to find the function.
pub async fn delete(
    run: &Run,
    name: &str,
    recorded: Option<&HttpApiProps>,
) -> Result<(), AwsError> {
    // The function's permission statements (one after another: they edit one policy) and the
    // API itself go at once: neither needs the other gone first.
    let permissions = async {
        if let Some(recorded) = recorded {
            if let Some(p) = &recorded.invoke_permission {
                permission::remove(run, &p.function_arn, &permission_sid(&run.stack)).await?;
            }
            for p in &recorded.other_permissions {
                permission::remove(run, &p.function_arn, &permission::route_sid(&run.stack, p))
                    .await?;
            }
        }
        Ok::<(), AwsError>(())
    };
    let api = async {
        let Some(id) = api_id(run, name).await? else {
            return Ok(());
        };
        absent_as_none(
            run.clients.apigw.delete_api().api_id(&id).send().await,
            |e| e.is_not_found_exception(),
            "DeleteApi",
            &what(name),
        )?;
        run.api_ids.forget(name);
        Ok::<(), AwsError>(())
    };
    tokio::try_join!(permissions, api).map(|_| ())
}
