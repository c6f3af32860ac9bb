//! What one run's resource operations carry besides the SDK clients: whose resources they are
//! and where, how long they may wait, where they say what they wait for, the signer's artifact,
//! and the API ids learned so far. Built by the command's session; the clients know none of it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, OnceCell};

use super::clients::Clients;
use super::errors::{absent_as_none, AwsError};

/// Where the resource operations say what they are waiting for.
pub type Notify = Arc<dyn Fn(&str) + Send + Sync>;

/// How long a run waits for AWS's eventual consistency and asynchronous states.
#[derive(Debug, Clone, Copy)]
pub struct Budgets {
    /// For IAM changes to reach Lambda (`--propagation-timeout`).
    pub propagation: Duration,
    /// For a function to become Active or finish an update.
    pub function_wait: Duration,
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets {
            propagation: Duration::from_secs(300),
            function_wait: Duration::from_secs(300),
        }
    }
}

/// The ids of HTTP APIs by name, as this run found or created them (an API's name is not unique:
/// only `aws::http_api` writes here, after checking the name and the ownership tag). A hint from
/// the state is only a hint: `http_api::find` verifies it before trusting it.
/// A name this run listed every API for and found none of the stack's under is remembered as
/// absent (`None`), so creating it does not list them all again (the run holds the lock).
#[derive(Debug, Clone, Default)]
pub struct ApiIds(Arc<Mutex<BTreeMap<String, Option<String>>>>);

impl ApiIds {
    pub fn get(&self, name: &str) -> Option<String> {
        self.0
            .lock()
            .ok()
            .and_then(|ids| ids.get(name).cloned().flatten())
    }

    /// Whether this run found no API of the stack under `name`.
    pub(super) fn known_absent(&self, name: &str) -> bool {
        self.0
            .lock()
            .is_ok_and(|ids| matches!(ids.get(name), Some(None)))
    }

    pub(super) fn remember(&self, name: &str, id: &str) {
        if let Ok(mut ids) = self.0.lock() {
            ids.insert(name.to_string(), Some(id.to_string()));
        }
    }

    pub(super) fn remember_absent(&self, name: &str) {
        if let Ok(mut ids) = self.0.lock() {
            ids.insert(name.to_string(), None);
        }
    }

    pub(super) fn forget(&self, name: &str) {
        if let Ok(mut ids) = self.0.lock() {
            ids.remove(name);
        }
    }
}

/// Each function's resource policy as this run read it: the function's read and its API's
/// both need it, and one `GetPolicy` serves both, even when they run at once. Forgotten
/// whenever the run changes the policy.
#[derive(Debug, Clone, Default)]
pub struct FunctionPolicies(Arc<Mutex<BTreeMap<String, PolicyCell>>>);

/// One function's policy document, read once (`None`: it has none).
type PolicyCell = Arc<OnceCell<Option<String>>>;

impl FunctionPolicies {
    /// A function's name, whether given as a name or an ARN.
    fn key(function: &str) -> String {
        function.rsplit(':').next().unwrap_or(function).to_string()
    }

    /// The policy document of `function` (name or ARN); `None` when it has none.
    pub(super) async fn get(
        &self,
        lambda: &aws_sdk_lambda::Client,
        function: &str,
    ) -> Result<Option<String>, AwsError> {
        let cell = match self.0.lock() {
            Ok(mut cells) => cells.entry(Self::key(function)).or_default().clone(),
            Err(_) => Arc::default(),
        };
        cell.get_or_try_init(|| async {
            let policy = absent_as_none(
                lambda.get_policy().function_name(function).send().await,
                |e| e.is_resource_not_found_exception(),
                "GetPolicy",
                &format!("permissions of Lambda function {function}"),
            )?;
            Ok(policy.and_then(|p| p.policy().map(str::to_string)))
        })
        .await
        .cloned()
    }

    pub(super) fn forget(&self, function: &str) {
        if let Ok(mut cells) = self.0.lock() {
            cells.remove(&Self::key(function));
        }
    }
}

/// The steps of the plan being applied, as other steps wait for them part of the way in
/// ([`crate::plan::Step::late_steps`]): each opens when its step has succeeded, failed or been
/// skipped. A step the plan does not hold is not waited for.
#[derive(Debug, Clone, Default)]
pub struct Gates(Arc<Mutex<BTreeMap<String, watch::Sender<Option<bool>>>>>);

impl Gates {
    /// The plan's steps, none open yet.
    pub fn register<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        if let Ok(mut gates) = self.0.lock() {
            for id in ids {
                gates.insert(id.to_string(), watch::channel(None).0);
            }
        }
    }

    /// Step `id` ended: `ok` when it succeeded.
    pub fn open(&self, id: &str, ok: bool) {
        if let Ok(gates) = self.0.lock() {
            if let Some(gate) = gates.get(id) {
                gate.send_replace(Some(ok));
            }
        }
    }

    /// Waits until step `id` has ended; whether it succeeded (`true` for a step not in the plan).
    pub async fn wait(&self, id: &str) -> bool {
        let receiver = match self.0.lock() {
            Ok(gates) => gates.get(id).map(|g| g.subscribe()),
            Err(_) => None,
        };
        let Some(mut receiver) = receiver else {
            return true;
        };
        let ended = receiver.wait_for(Option::is_some).await;
        matches!(ended.as_deref(), Ok(Some(true)))
    }
}

/// One run of a command against one stack.
#[derive(Clone)]
pub struct Run {
    pub clients: Clients,
    /// The stack's name: resources are found by it through the ownership tag.
    pub stack: String,
    pub region: String,
    pub budgets: Budgets,
    pub notify: Notify,
    /// The signer's deployment zip, when this run deploys the function.
    pub artifact: Option<Arc<Vec<u8>>>,
    pub api_ids: ApiIds,
    pub policies: FunctionPolicies,
    pub gates: Gates,
    /// The account the state's resources were made in, when it records one
    /// ([`crate::plan::record::recorded_account`]): reads that need an ARN (a log group's
    /// tags) start beside the read that would name it. Only a hint: when it turns out wrong,
    /// the read takes the ARN AWS names and asks again.
    pub account_hint: Option<String>,
}

impl Run {
    /// A run for `stack` in `region` with the default budgets, saying nothing.
    pub fn new(clients: Clients, stack: &str, region: &str) -> Run {
        Run {
            clients,
            stack: stack.to_string(),
            region: region.to_string(),
            budgets: Budgets::default(),
            notify: Arc::new(|_| {}),
            artifact: None,
            api_ids: ApiIds::default(),
            policies: FunctionPolicies::default(),
            gates: Gates::default(),
            account_hint: None,
        }
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("stack", &self.stack)
            .field("region", &self.region)
            .field("budgets", &self.budgets)
            .finish_non_exhaustive()
    }
}
