//! One file per subcommand; this module holds what they share: opening a session (spec, region,
//! state, clients), reading live resources in parallel, and asking for confirmation.

pub mod bootstrap;
pub mod deploy;
pub mod destroy;
pub mod dev;
pub mod diff;
pub mod output;
pub mod state;
pub mod url;
pub mod validate;

pub use validate::validate;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::task::JoinSet;

use crate::aws::{self, clients, AwsError, Clients};
use crate::cli::Global;
use crate::output::Printer;
use crate::plan::{desired, Kind, Props, Resource};
use crate::spec::Backend;
use crate::spec::{self, names, Stack};
use crate::state::local::LocalStore;
use crate::state::s3::S3Store;
use crate::state::{RecordedResource, State, Store};

/// How a command ended, as scripts see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: done (for diff: in sync).
    Success,
    /// 1: an error; the message says what and what to do.
    Failure,
    /// 2: diff found differences.
    Differences,
    /// 130: stopped by SIGINT / SIGTERM.
    Interrupted,
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Differences => 2,
            ExitStatus::Interrupted => 130,
        }
    }
}

/// A run stopped by SIGINT / SIGTERM (exit status 130); the message says what was done.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Interrupted(pub String);

/// SIGINT and SIGTERM, caught from before a changing command takes its lock until it exits.
pub struct Signals {
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    pub fn install() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        Signals {
            streams: signal(SignalKind::interrupt())
                .ok()
                .zip(signal(SignalKind::terminate()).ok()),
        }
    }

    /// The next signal (never, if they could not be caught).
    async fn recv(&mut self) {
        match &mut self.streams {
            Some((int, term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            None => std::future::pending().await,
        }
    }

    /// Resolves when the run should stop where it is: a signal while no change is being
    /// applied. During changes the first signal asks the executor to finish those under way and
    /// start no more (the command then ends with [`Interrupted`]); a second one exits at once.
    async fn until_stop(&mut self, interrupt: &crate::aws::clients::Interrupt, printer: &Printer) {
        loop {
            self.recv().await;
            if !interrupt.applying() {
                return;
            }
            if interrupt.request() {
                printer.info("Stopping at once: changes under way may be unrecorded; the next run finds and finishes them.");
                std::process::exit(ExitStatus::Interrupted.code());
            }
            printer.info("Interrupted: finishing the changes under way, then stopping (the state records them and the lock is released). Interrupt again to stop at once.");
        }
    }
}

/// Takes the stack's lock for a changing command, unless a signal comes first.
pub async fn lock_or_interrupt(
    session: &Session,
    global: &Global,
    printer: &Printer,
    command: &str,
    signals: &mut Signals,
) -> anyhow::Result<crate::state::Lock> {
    tokio::select! {
        lock = lock(session, global, printer, command) => lock,
        _ = signals.recv() => Err(Interrupted(format!(
            "{command} interrupted while waiting for the stack's lock; nothing was changed"
        )).into()),
    }
}

/// Runs a changing command's locked body until it ends or is interrupted, then releases the
/// lock either way.
pub async fn with_lock<F>(
    lock: crate::state::Lock,
    mut signals: Signals,
    interrupt: Arc<crate::aws::clients::Interrupt>,
    printer: &Printer,
    command: &str,
    body: F,
) -> anyhow::Result<ExitStatus>
where
    F: std::future::Future<Output = anyhow::Result<ExitStatus>>,
{
    let result = tokio::select! {
        r = body => r,
        _ = signals.until_stop(&interrupt, printer) => Err(Interrupted(format!(
            "{command} interrupted before any change was applied; nothing was changed"
        )).into()),
    };
    lock.release().await;
    result
}

/// The spec's warnings, one per line, on stderr (they never fail a command).
pub fn print_warnings(printer: &Printer, stack: &spec::Stack) {
    for w in &stack.warnings {
        printer.info(&format!("warning: {w}"));
    }
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

/// Everything a command works with.
pub struct Session {
    pub stack: Stack,
    pub region: String,
    /// The folder of the spec (relative paths in it start here).
    pub spec_dir: PathBuf,
    pub store: Store,
    pub state: Option<State>,
    pub clients: Clients,
    account_id: Option<String>,
}

impl Session {
    /// Parses the spec (before anything touches AWS), resolves the region, loads the state and
    /// builds the clients (unless `clients` are given, as tests do). Makes no AWS call.
    pub async fn open(
        global: &Global,
        printer: &Printer,
        clients: Option<Clients>,
    ) -> anyhow::Result<Session> {
        let stack = spec::load_env(&global.file, global.env.as_deref())?;
        print_warnings(printer, &stack);
        let sdk = match &clients {
            Some(_) => None,
            None => Some(
                clients::load_sdk_config(&clients::Target {
                    profile: global.profile.clone(),
                    region: None,
                })
                .await?,
            ),
        };
        let region = resolve_region(global, &stack, sdk.as_ref())?;
        let spec_dir = spec_dir(global);
        let mut clients = match (clients, &sdk) {
            (Some(c), _) => c,
            (None, Some(config)) => Clients::new(config, &region, &stack.name),
            (None, None) => unreachable!("the SDK config is loaded whenever no clients are given"),
        };
        // The state bucket may be in another region, so it gets its own client: from the SDK
        // settings (its calls are not counted with the stack's), or from the clients tests gave.
        let state_client = |r: &str| match &sdk {
            Some(config) => clients::state_s3_client(config, r),
            None => aws_sdk_s3::Client::from_conf(
                clients
                    .s3
                    .config()
                    .to_builder()
                    .region(aws_config::Region::new(r.to_string()))
                    .build(),
            ),
        };
        let access = StateAccess {
            client_for: &state_client,
            plain_http: (clients.s3_endpoint.as_deref()).is_some_and(|e| e.starts_with("http://")),
        };
        let store = open_store(global, &stack, stack.state.backend, &region, access)?;
        let state = load_checked(&store, global, &stack).await?;
        if let Some(s) = &state {
            if s.region != region && !s.resources.is_empty() {
                bail!(
                    "stack {:?} was deployed to {}, but this run targets {region}\n  hint: pass --region {} (or destroy it there first to move it)",
                    stack.name,
                    s.region,
                    s.region
                );
            }
        }
        clients.stack = stack.name.clone();
        clients.region = region.clone();
        // The API's id from the last deploy's URL: a hint that saves looking it up by name
        // (aws::http_api verifies name and ownership tag before trusting it).
        if let Some(id) = state
            .as_ref()
            .and_then(|s| s.outputs.get("api_url"))
            .and_then(|u| api_id_from_url(u))
        {
            if let Ok(mut ids) = clients.api_ids.lock() {
                ids.insert(crate::plan::desired::api_name(&stack), id);
            }
        }
        clients.propagation_budget = Duration::from_secs(global.propagation_timeout);
        let progress = printer.clone();
        clients.notify = Arc::new(move |m: &str| progress.progress(m));
        Ok(Session {
            stack,
            region,
            spec_dir,
            store,
            state,
            clients,
            account_id: None,
        })
    }

    /// The account the credentials belong to (one STS call, then remembered).
    pub async fn account_id(&self) -> anyhow::Result<String> {
        match &self.account_id {
            Some(a) => Ok(a.clone()),
            None => Ok(crate::aws::sts::account_id(&self.clients).await?),
        }
    }

    /// Every resource the spec wants. Reads the account id (one STS call) and loads the
    /// signer's artifact, which later steps upload; `may_build`: build a checkout's signer
    /// first when its sources changed (deploy does; diff, which is read-only, does not).
    pub async fn desired(
        &mut self,
        printer: &Printer,
        may_build: bool,
    ) -> anyhow::Result<Vec<Resource>> {
        let account_id = self.account_id().await?;
        self.account_id = Some(account_id.clone());
        let notify = self.clients.notify.clone();
        let artifact = crate::artifact::load(
            &self.spec_dir,
            self.stack.function.artifact.as_deref(),
            may_build,
            &|m: &str| notify(m),
        )?;
        if artifact.placeholder && may_build {
            printer.info(&format!(
                "warning: no signer build found for {}: the function gets the built-in placeholder, which answers every request with 503 \"not built yet\"\n  hint: build the signer in a presign-stack checkout (scripts/build-signer) and set function.artifact to its bootstrap.zip",
                self.spec_dir.display()
            ));
        }
        if artifact.stale {
            printer.info(
                "note: the signer's sources changed since its last build: deploy will build it and update the function's code (diff compares the last build)",
            );
        }
        let target = desired::Target {
            region: self.region.clone(),
            account_id,
            code_sha256: artifact.sha256.clone(),
        };
        self.clients.artifact = Some(Arc::new(artifact.bytes));
        Ok(desired::whole_stack(&self.stack, &target))
    }

    /// The first line of a plan or report: stack, region and state file.
    pub fn header(&self) -> String {
        format!(
            "Stack {:?} in {} (state: {})",
            self.stack.name,
            self.region,
            self.store.location()
        )
    }

    pub fn recorded(&self) -> BTreeMap<String, RecordedResource> {
        self.state
            .as_ref()
            .map(|s| s.resources.clone())
            .unwrap_or_default()
    }

    /// The state to write to: the loaded one, or a new one for a first deploy.
    pub fn state_or_new(&self) -> State {
        self.state
            .clone()
            .unwrap_or_else(|| State::new(&self.stack.name, &self.region))
    }
}

/// `https://<id>.execute-api.<region>.amazonaws.com/...` → `<id>`.
fn api_id_from_url(url: &str) -> Option<String> {
    let host = url.split("://").nth(1)?.split('/').next()?;
    let (id, rest) = host.split_once('.')?;
    (rest.starts_with("execute-api.")
        && !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_alphanumeric()))
    .then(|| id.to_string())
}

/// The region: `--region`, the spec's `region:`, the profile's, then `AWS_REGION`.
fn resolve_region(
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
async fn load_checked(
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

/// Takes the stack's lock for a changing command (waiting `--lock-timeout`), saying so when
/// it takes over a stale one. Release it with [`crate::state::Lock::release`].
pub async fn lock(
    session: &Session,
    global: &Global,
    printer: &Printer,
    command: &str,
) -> anyhow::Result<crate::state::Lock> {
    let notify = session.clients.notify.clone();
    let guard = session
        .store
        .lock(
            &session.stack.name,
            command,
            Duration::from_secs(global.lock_timeout),
            notify,
        )
        .await?;
    if let Some(h) = guard.took_over() {
        printer.info(&match h.lease_seconds {
            Some(lease) => format!(
                "Took over a stale lock: {} did not renew its {lease} s lease (last renewed {}).",
                h.describe(),
                h.renewed.as_deref().unwrap_or("never")
            ),
            None => format!(
                "Took over a stale lock: {} is no longer running.",
                h.describe()
            ),
        });
    }
    Ok(guard)
}

/// Test hook (inert unless set): a run that holds the lock and has read the state waits here
/// until the named file exists, so a test can act while it is certainly inside its lock.
pub async fn test_hold_point() {
    if let Some(go) = std::env::var_os("PRESIGN_STACK_TEST_HOLD_LOCK_UNTIL") {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !std::path::Path::new(&go).exists() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Reads every `(id, kind, physical id)` at once; `None` for what does not exist.
pub async fn read_live(
    clients: &Clients,
    targets: Vec<(String, Kind, String)>,
) -> Result<BTreeMap<String, Option<Props>>, AwsError> {
    let mut set = JoinSet::new();
    for (id, kind, physical) in targets {
        let clients = clients.clone();
        set.spawn(async move { (id, aws::read(&clients, kind, &physical).await) });
    }
    let mut live = BTreeMap::new();
    let mut first_error = None;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((id, Ok(props))) => {
                live.insert(id, props);
            }
            Ok((_, Err(e))) => {
                first_error.get_or_insert(e);
            }
            Err(e) => {
                first_error.get_or_insert(AwsError::new(
                    "read",
                    "the stack's resources",
                    format!("a read task failed: {e}"),
                    "this is a bug in presign-stack; please report it",
                ));
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(live),
    }
}

/// Reads every recorded resource at the physical id the state records for it.
pub async fn read_recorded(
    clients: &Clients,
    recorded: &BTreeMap<String, RecordedResource>,
) -> anyhow::Result<BTreeMap<String, Option<Props>>> {
    let targets = recorded
        .iter()
        .map(|(id, r)| (id.clone(), r.kind, r.physical_id.clone()))
        .collect();
    read_live(clients, targets)
        .await
        .context("reading the stack's resources from AWS")
}

/// Runs `plan`; when any step failed or was skipped, an error listing them (the state already
/// records every step that completed).
pub async fn apply(
    command: &str,
    plan: &crate::plan::Plan,
    session: &Session,
    state: &mut State,
    printer: &Printer,
    parallelism: u16,
) -> anyhow::Result<usize> {
    let interrupt = &session.clients.interrupt;
    interrupt.set_applying(true);
    let outcome = crate::exec::execute(
        plan,
        &session.clients,
        state,
        &session.store,
        printer,
        usize::from(parallelism),
    )
    .await;
    interrupt.set_applying(false);
    let outcome = outcome?;
    report_calls(printer, &session.clients);
    if interrupt.requested() {
        return Err(Interrupted(format!(
            "{command} interrupted: {} done, {} failed, {} not started (the state records what was done; run {command} again to finish)",
            outcome.done.len(),
            outcome.failed.len(),
            outcome.skipped.len()
        ))
        .into());
    }
    if outcome.succeeded() {
        return Ok(outcome.done.len());
    }
    let mut msg = format!(
        "{command} incomplete: {} done, {} failed, {} skipped (the state records what was done; run {command} again to finish)",
        outcome.done.len(),
        outcome.failed.len(),
        outcome.skipped.len()
    );
    for (id, e) in &outcome.failed {
        msg.push_str(&format!("\n- failed {id}: {e}"));
    }
    if !outcome.skipped.is_empty() {
        msg.push_str(&format!(
            "\n- skipped (they depend on what failed): {}",
            outcome.skipped.join(", ")
        ));
    }
    if !outcome.done.is_empty() {
        msg.push_str(&format!("\n- done: {}", outcome.done.join(", ")));
    }
    bail!(msg)
}

/// Asks "yes" on a terminal; without one, refuses unless `yes` was given.
pub async fn confirm(
    printer: &Printer,
    yes: bool,
    question: &str,
    flag: &str,
) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "refusing to apply without confirmation: standard input is not a terminal\n  hint: review the plan above, then run again with {flag}"
        );
    }
    printer.info(&format!("{question}\n  Only 'yes' will be accepted: "));
    let answer = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await??;
    Ok(answer.trim() == "yes")
}

/// Prints the calls made, with `-v`.
pub fn report_calls(printer: &Printer, clients: &Clients) {
    let calls = clients.calls.snapshot();
    let reads = clients.calls.reads();
    let mutations: u64 = clients.calls.mutations().values().sum();
    printer.debug(&format!(
        "AWS calls: {reads} reads, {mutations} mutations, {} retries {:?}",
        clients.calls.retries(),
        calls
    ));
}
