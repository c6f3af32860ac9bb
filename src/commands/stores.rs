//! Where a command's files and state live (the spec's folder, the state folder, the local file
//! or the S3 object the spec names, opened with the right client and region), and the refusal
//! to start from nothing on S3 while a local state exists.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};

use crate::aws::clients;
use crate::cli::Global;
use crate::spec::{self, names, Backend, Stack};
use crate::state::local::LocalStore;
use crate::state::s3::S3Store;
use crate::state::{State, Store};

/// The local store of `stack`: `<state dir>/<stack>.json`.
pub fn local_store(global: &Global, stack: &Stack) -> LocalStore {
    LocalStore::new(&state_dir(global), &stack.name)
}

/// How runs reach the state bucket: an S3 client for a region, and whether the endpoint is
/// plain HTTP (an emulator).
pub struct StateAccess<'a> {
    pub client_for: &'a dyn Fn(&str) -> aws_sdk_s3::Client,
    pub plain_http: bool,
}

/// The store of `backend` for `stack`: a local file, or the S3 object the spec's `state:` names
/// (in `state.region`, default `region`).
pub fn open_store(
    global: &Global,
    stack: &Stack,
    backend: Backend,
    region: &str,
    access: StateAccess<'_>,
) -> anyhow::Result<Store> {
    match backend {
        Backend::Local => Ok(Store::Local(local_store(global, stack))),
        Backend::S3 => {
            let Some(s3) = &stack.state.s3 else {
                bail!(
                    "{}: no state bucket: set state.bucket in the spec\n  hint: `presign-stack state bootstrap` creates one",
                    global.file.display()
                );
            };
            let client = (access.client_for)(s3.region.as_deref().unwrap_or(region));
            let mut store = S3Store::new(
                client,
                &s3.bucket,
                &s3.key,
                s3.kms_key_id.clone(),
                Duration::from_secs(stack.state.lock_lease_seconds),
            );
            store.plain_http = access.plain_http;
            Ok(Store::S3(store))
        }
    }
}

/// Loads the state; on S3, refuses to start from nothing while a local state of the stack
/// exists (it has not been migrated: `state migrate --to s3`).
pub(super) async fn load_checked(
    store: &Store,
    global: &Global,
    stack: &Stack,
) -> anyhow::Result<Option<State>> {
    let state = store.load(&stack.name).await?;
    if state.is_none() && matches!(store, Store::S3(_)) {
        let local = local_store(global, stack);
        if let Ok(Some(s)) = local.load(&stack.name) {
            if !s.resources.is_empty() {
                bail!(
                    "stack {:?} has no state at {} but has a local state at {} (serial {}, {} resources)\n  hint: move it with `presign-stack state migrate --to s3` before deploying with backend: s3",
                    stack.name,
                    store.location(),
                    local.location(),
                    s.serial,
                    s.resources.len()
                );
            }
        }
    }
    Ok(state)
}

/// Opens the spec's state store for commands that only need the state (`output`, `state`):
/// for `backend: s3` this loads the AWS settings, for a local state nothing.
pub async fn open_spec_store(global: &Global) -> anyhow::Result<(Stack, Store)> {
    let stack = spec::load_env(&global.file, global.env.as_deref())?;
    let store = spec_store(global, &stack, stack.state.backend).await?;
    Ok((stack, store))
}

/// The store of `backend` for `stack`, loading the AWS settings only when it is on S3.
pub async fn spec_store(global: &Global, stack: &Stack, backend: Backend) -> anyhow::Result<Store> {
    if backend == Backend::Local {
        return Ok(Store::Local(local_store(global, stack)));
    }
    let sdk = clients::load_sdk_config(&clients::Target {
        profile: global.profile.clone(),
        region: None,
    })
    .await?;
    let region = match stack.state.s3.as_ref().and_then(|s| s.region.clone()) {
        Some(r) => r,
        None => resolve_region(global, stack, Some(&sdk))?,
    };
    let access = StateAccess {
        client_for: &|r: &str| clients::state_s3_client(&sdk, r),
        plain_http: clients::s3_endpoint(&sdk).is_some_and(|e| e.starts_with("http://")),
    };
    open_store(global, stack, backend, &region, access)
}

/// The folder of the spec: relative paths in it start here.
pub fn spec_dir(global: &Global) -> PathBuf {
    match global.file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Where state and lock files live: `--state-dir`, or `.presign-stack/` next to the spec.
pub fn state_dir(global: &Global) -> PathBuf {
    match &global.state_dir {
        Some(d) => d.clone(),
        None => spec_dir(global).join(".presign-stack"),
    }
}

/// The region: `--region`, the spec's `region:`, the profile's, then `AWS_REGION`.
pub(super) fn resolve_region(
    global: &Global,
    stack: &Stack,
    sdk: Option<&aws_config::SdkConfig>,
) -> anyhow::Result<String> {
    let region = global
        .region
        .clone()
        .or_else(|| stack.region.clone())
        .or_else(|| sdk.and_then(|c| c.region()).map(|r| r.to_string()))
        .or_else(|| std::env::var("AWS_REGION").ok())
        .context("no AWS region: set region: in stack.yaml, pass --region, or set AWS_REGION")?;
    if let Err(m) = names::check_region(&region) {
        bail!("{m}\n  hint: pass a valid --region");
    }
    Ok(region)
}
