//! Opening a session: the spec, the region, the state store and its state, and the clients.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};

use super::stores::{load_checked, open_store, resolve_region, spec_dir, StateAccess};
use crate::aws::{clients, http_api, Clients, Run};
use crate::cli::Global;
use crate::exec::Interrupt;
use crate::output::Printer;
use crate::plan::{desired, Kind, Props, Resource};
use crate::spec::{self, Stack};
use crate::state::{RecordedResource, State, Store};

/// The spec's warnings, one per line, on stderr (they never fail a command).
pub fn print_warnings(printer: &Printer, stack: &spec::Stack) {
    for w in &stack.warnings {
        printer.info(&format!("warning: {w}"));
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
    /// The clients and what this run's resource operations carry.
    pub run: Run,
    /// SIGINT / SIGTERM during changes, shared with the executor.
    pub interrupt: Arc<Interrupt>,
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
        let clients = match (clients, &sdk) {
            (Some(c), _) => c,
            (None, Some(config)) => Clients::new(config, &region),
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
        let mut run = Run::new(clients, &stack.name, &region);
        // The API's endpoint from the last deploy: a hint that saves looking the API up by name
        // (aws::http_api verifies name and ownership tag before trusting it).
        if let Some(url) = state.as_ref().and_then(|s| s.outputs.get("api_url")) {
            http_api::hint_endpoint(&run, &crate::plan::desired::api_name(&stack), url);
        }
        run.account_hint = state
            .as_ref()
            .and_then(|s| crate::plan::record::recorded_account(&s.resources));
        run.budgets.propagation = Duration::from_secs(global.propagation_timeout);
        let progress = printer.clone();
        run.notify = Arc::new(move |m: &str| progress.progress(m));
        Ok(Session {
            stack,
            region,
            spec_dir,
            store,
            state,
            run,
            interrupt: Arc::default(),
            account_id: None,
        })
    }

    /// The account the credentials belong to (one STS call, then remembered).
    pub async fn account_id(&self) -> anyhow::Result<String> {
        match &self.account_id {
            Some(a) => Ok(a.clone()),
            None => Ok(crate::aws::sts::account_id(&self.run.clients.sts).await?),
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
        // Building, reading, zipping and hashing the artifact block: on the blocking pool, so
        // the STS call and the read wave the caller started beside this go on meanwhile.
        let notify = self.run.notify.clone();
        let (dir, configured) = (self.spec_dir.clone(), self.stack.function.artifact.clone());
        let loading = tokio::task::spawn_blocking(move || {
            crate::artifact::load(&dir, configured.as_deref(), may_build, &|m: &str| notify(m))
        });
        let (account_id, artifact) = tokio::join!(self.account_id(), loading);
        let account_id = account_id?;
        self.account_id = Some(account_id.clone());
        let artifact =
            artifact.context("loading the signer's artifact (a bug in presign-stack)")??;
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
        self.run.artifact = Some(Arc::new(artifact.bytes));
        Ok(desired::whole_stack(&self.stack, &target))
    }

    /// The state read again under the stack's lock (another run may have finished since the
    /// session opened it), or a new one for a first run.
    pub async fn state_under_lock(&self) -> anyhow::Result<State> {
        Ok(self
            .store
            .load(&self.stack.name)
            .await?
            .unwrap_or_else(|| self.state_or_new()))
    }

    /// Where every resource the spec wants lives, as `(id, kind, physical id)` to read. Physical
    /// ids are names, known without the account id or the artifact: the reads need not wait
    /// for either.
    pub fn read_targets(&self) -> Vec<(String, Kind, String)> {
        targets(&desired::whole_stack(
            &self.stack,
            &desired::Target {
                region: self.region.clone(),
                account_id: String::new(),
                code_sha256: String::new(),
            },
        ))
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

/// `(id, kind, physical id)` of each resource, to read.
pub fn targets(resources: &[Resource]) -> Vec<(String, Kind, String)> {
    resources
        .iter()
        .map(|r| {
            (
                r.id.clone(),
                r.props.kind(),
                r.props.physical_id().to_string(),
            )
        })
        .collect()
}

/// Reads every recorded resource at the physical id the state records for it.
pub async fn read_recorded(
    run: &Run,
    recorded: &BTreeMap<String, RecordedResource>,
) -> anyhow::Result<BTreeMap<String, Option<Props>>> {
    let targets = recorded
        .iter()
        .map(|(id, r)| (id.clone(), r.kind, r.physical_id.clone()))
        .collect();
    crate::aws::read_all(run, targets)
        .await
        .context("reading the stack's resources from AWS")
}
