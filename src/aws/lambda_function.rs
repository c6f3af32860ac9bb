//! The signer function. Code comes from the zip artifact and is updated only when its SHA-256
//! differs from the live `CodeSha256`. Lambda is asynchronous: after a create we wait for
//! `State = Active`, after each update for `LastUpdateStatus = Successful`, before the next
//! change. A role that IAM has not propagated yet is retried within a time budget.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Architecture, Environment, FunctionCode, LastUpdateStatus, Runtime, State,
};
use aws_sdk_lambda::Client;

use super::errors::{absent_as_none, AwsError};
use super::retry::{is_role_propagation, retry_within, Backoff};
use super::run::Run;
use crate::plan::resources::{ForeignStatement, FunctionProps, OWN_STATEMENT_PREFIX};

fn what(name: &str) -> String {
    format!("Lambda function {name}")
}

pub async fn find(run: &Run, name: &str) -> Result<Option<FunctionProps>, AwsError> {
    let lambda = &run.clients.lambda;
    let (found, policy) = tokio::join!(
        lambda.get_function().function_name(name).send(),
        run.policies.get(lambda, name)
    );
    let found = absent_as_none(
        found,
        |e| e.is_resource_not_found_exception(),
        "GetFunction",
        &what(name),
    )?;
    let Some(out) = found else { return Ok(None) };
    let other_permissions = policy?
        .as_deref()
        .map(foreign_statements)
        .unwrap_or_default();
    let Some(c) = out.configuration() else {
        return Ok(None);
    };
    Ok(Some(FunctionProps {
        name: name.to_string(),
        runtime: c
            .runtime()
            .map(|r| r.as_str().to_string())
            .unwrap_or_default(),
        handler: c.handler().unwrap_or_default().to_string(),
        architecture: c
            .architectures()
            .first()
            .map(|a| a.as_str().to_string())
            .unwrap_or_else(|| "x86_64".into()),
        memory_mb: c.memory_size().unwrap_or(128),
        timeout_seconds: c.timeout().unwrap_or(3),
        role_arn: c.role().unwrap_or_default().to_string(),
        environment: c
            .environment()
            .and_then(|e| e.variables())
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        code_sha256: c.code_sha256().unwrap_or_default().to_string(),
        tags: out
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        other_permissions,
    }))
}

/// The statements of a function's resource policy whose Sid is not one of presign-stack's.
fn foreign_statements(text: &str) -> Vec<ForeignStatement> {
    let doc: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    let mut out: Vec<ForeignStatement> = doc["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            let sid = s["Sid"].as_str().unwrap_or_default();
            if sid.starts_with(OWN_STATEMENT_PREFIX) {
                return None;
            }
            let principal = match &s["Principal"] {
                serde_json::Value::String(p) => p.clone(),
                serde_json::Value::Object(m) => m
                    .values()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            let condition = &s["Condition"];
            let source_arn = ["ArnLike", "ArnEquals"]
                .iter()
                .find_map(|op| condition[op]["AWS:SourceArn"].as_str())
                .map(str::to_string);
            Some(ForeignStatement {
                sid: sid.to_string(),
                principal,
                source_arn,
            })
        })
        .collect();
    out.sort_by(|a, b| a.sid.cmp(&b.sid));
    out.dedup();
    out
}

fn artifact(run: &Run, name: &str) -> Result<Blob, AwsError> {
    run.artifact
        .as_ref()
        .map(|a| Blob::new(a.as_slice()))
        .ok_or_else(|| {
            AwsError::new(
                "CreateFunction",
                what(name),
                "no deployment artifact was prepared for this run",
                "this is a bug in presign-stack; please report it",
            )
        })
}

fn environment(p: &FunctionProps) -> Environment {
    Environment::builder()
        .set_variables(Some(p.environment.clone().into_iter().collect()))
        .build()
}

pub async fn create(run: &Run, p: &FunctionProps) -> Result<(), AwsError> {
    let lambda = &run.clients.lambda;
    let code = artifact(run, &p.name)?;
    let awaited = format!("role {} to be assumable by Lambda", p.role_arn);
    let created = retry_within(
        run.budgets.propagation,
        &awaited,
        is_role_propagation,
        run.notify.as_ref(),
        || async {
            let result = lambda
                .create_function()
                .function_name(&p.name)
                .runtime(Runtime::from(p.runtime.as_str()))
                .handler(&p.handler)
                .architectures(Architecture::from(p.architecture.as_str()))
                .memory_size(p.memory_mb)
                .timeout(p.timeout_seconds)
                .role(&p.role_arn)
                .environment(environment(p))
                .code(FunctionCode::builder().zip_file(code.clone()).build())
                .set_tags(Some(p.tags.clone().into_iter().collect::<HashMap<_, _>>()))
                .send()
                .await;
            match result {
                Ok(c) => Ok(Some(Status::of(c.state(), c.last_update_status()))),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_conflict_exception()) =>
                {
                    Ok(None)
                }
                Err(e) => Err(AwsError::from_sdk("CreateFunction", what(&p.name), e)),
            }
        },
    )
    .await?;
    let Some(status) = created else {
        // It exists already (ownership was checked when it was read): converge instead.
        let live = find(run, &p.name).await?;
        return update(run, live.as_ref(), p).await;
    };
    wait_until_ready(run, &p.name, status).await
}

/// Brings the function to `p`: configuration, code (only when the SHA-256 differs), tags.
pub async fn update(
    run: &Run,
    before: Option<&FunctionProps>,
    p: &FunctionProps,
) -> Result<(), AwsError> {
    let lambda = &run.clients.lambda;
    let config_differs = before.is_none_or(|b| {
        (
            &b.runtime,
            &b.handler,
            b.memory_mb,
            b.timeout_seconds,
            &b.role_arn,
            &b.environment,
        ) != (
            &p.runtime,
            &p.handler,
            p.memory_mb,
            p.timeout_seconds,
            &p.role_arn,
            &p.environment,
        )
    });
    if config_differs {
        let awaited = format!("role {} to be assumable by Lambda", p.role_arn);
        let updated = retry_within(
            run.budgets.propagation,
            &awaited,
            is_role_propagation,
            run.notify.as_ref(),
            || async {
                lambda
                    .update_function_configuration()
                    .function_name(&p.name)
                    .runtime(Runtime::from(p.runtime.as_str()))
                    .handler(&p.handler)
                    .memory_size(p.memory_mb)
                    .timeout(p.timeout_seconds)
                    .role(&p.role_arn)
                    .environment(environment(p))
                    .send()
                    .await
                    .map_err(|e| {
                        AwsError::from_sdk("UpdateFunctionConfiguration", what(&p.name), e)
                    })
            },
        )
        .await?;
        let status = Status::of(updated.state(), updated.last_update_status());
        wait_until_ready(run, &p.name, status).await?;
    }
    if before.is_none_or(|b| b.code_sha256 != p.code_sha256 || b.architecture != p.architecture) {
        let updated = lambda
            .update_function_code()
            .function_name(&p.name)
            .zip_file(artifact(run, &p.name)?)
            .architectures(Architecture::from(p.architecture.as_str()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("UpdateFunctionCode", what(&p.name), e))?;
        let status = Status::of(updated.state(), updated.last_update_status());
        wait_until_ready(run, &p.name, status).await?;
    }
    // Statements someone else added to the function's policy (a console trigger's): the
    // stack wants none of them.
    for stale in before.map_or(&[][..], |b| &b.other_permissions) {
        if p.other_permissions.contains(stale) {
            continue;
        }
        match lambda
            .remove_permission()
            .function_name(&p.name)
            .statement_id(&stale.sid)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) => {}
            Err(e) => return Err(AwsError::from_sdk("RemovePermission", what(&p.name), e)),
        }
        run.policies.forget(&p.name);
    }
    if before.is_none_or(|b| b.tags != p.tags) {
        let arn = format!(
            "arn:aws:lambda:{}:{}:function:{}",
            run.region,
            account_of(&p.role_arn),
            p.name
        );
        let stale = super::stale_tag_keys(before.map(|x| &x.tags), &p.tags);
        if !stale.is_empty() {
            lambda
                .untag_resource()
                .resource(&arn)
                .set_tag_keys(Some(stale))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("UntagResource", what(&p.name), e))?;
        }
        lambda
            .tag_resource()
            .resource(&arn)
            .set_tags(Some(p.tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("TagResource", what(&p.name), e))?;
    }
    Ok(())
}

/// The account id in an IAM ARN (`arn:aws:iam::<account>:role/...`).
fn account_of(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or_default()
}

/// Where a function stands, from a response or a `GetFunctionConfiguration`: `State` and
/// `LastUpdateStatus` (absent from emulators that have neither: ready).
#[derive(Debug, Clone, PartialEq)]
struct Status {
    state: Option<State>,
    update: Option<LastUpdateStatus>,
}

impl Status {
    fn of(state: Option<&State>, update: Option<&LastUpdateStatus>) -> Status {
        Status {
            state: state.cloned(),
            update: update.cloned(),
        }
    }

    fn failed(&self) -> bool {
        self.state == Some(State::Failed) || self.update == Some(LastUpdateStatus::Failed)
    }

    fn ready(&self) -> bool {
        matches!(self.state, None | Some(State::Active))
            && matches!(self.update, None | Some(LastUpdateStatus::Successful))
    }
}

/// Waits until the function is `Active` with its last update `Successful`; reports a failed
/// state with Lambda's reason. `first`: what the create or update call answered; when that
/// says ready already there is nothing to poll (AWS answers `Pending` / `InProgress` there, so
/// on AWS the first poll follows at once). Bounded by the run's function-wait budget.
///
/// Not the SDK's waiters (`wait_until_function_active_v2`, `wait_until_function_updated_v2`):
/// each waits on one of the two conditions, so "ready" would cost two polls where one
/// `GetFunctionConfiguration` answers both; they cannot say what they wait for while they wait
/// (the progress line below); and their failure carries the last response, not Lambda's reason
/// as a message, which would have to be dug out of it. The budget itself would fit.
async fn wait_until_ready(run: &Run, name: &str, first: Status) -> Result<(), AwsError> {
    if first.ready() {
        return Ok(());
    }
    let budget = run.budgets.function_wait;
    // A function is usually ready within a few seconds: 0.25 s at a time for the first 10 s.
    let mut backoff = Backoff::new(
        Duration::from_millis(250),
        Duration::from_secs(10),
        Duration::from_secs(5),
        budget,
    );
    let mut said = false;
    loop {
        let c = run
            .clients
            .lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetFunctionConfiguration", what(name), e))?;
        let status = Status::of(c.state(), c.last_update_status());
        if status.failed() {
            let reason = c
                .last_update_status_reason()
                .or(c.state_reason())
                .unwrap_or("no reason given");
            return Err(AwsError::new(
                "GetFunctionConfiguration",
                what(name),
                format!("the function failed to become ready: {reason}"),
                "fix the cause Lambda names, then run deploy again",
            ));
        }
        if status.ready() {
            return Ok(());
        }
        if backoff.expired() {
            return Err(AwsError::new(
                "GetFunctionConfiguration",
                what(name),
                format!(
                    "still not ready after {}s (state {:?}, last update {:?})",
                    budget.as_secs(),
                    status.state,
                    status.update
                ),
                "run deploy again; it continues from where it stopped",
            ));
        }
        if !said {
            (run.notify)(&format!(
                "waiting for {} to become ready (up to {}s)...",
                what(name),
                budget.as_secs()
            ));
            said = true;
        }
        backoff.wait().await;
    }
}

pub async fn delete(lambda: &Client, name: &str) -> Result<(), AwsError> {
    absent_as_none(
        lambda.delete_function().function_name(name).send().await,
        |e| e.is_resource_not_found_exception(),
        "DeleteFunction",
        &what(name),
    )?;
    Ok(())
}
