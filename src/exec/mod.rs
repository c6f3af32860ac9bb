//! The executor: walks a plan's dependency graph with bounded parallelism. A step starts as soon
//! as the steps it waits for are done; a failure skips the steps that depend on it and lets
//! independent work finish. The state is written after every completed step.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::aws::{self, AwsError, Clients};
use crate::output::Printer;
use crate::plan::{Action, Plan, Step};
use crate::state::local::{LocalStore, StateError};
use crate::state::{PendingOperation, State};

/// What happened to each step.
#[derive(Debug, Default)]
pub struct Outcome {
    pub done: Vec<String>,
    pub failed: Vec<(String, AwsError)>,
    pub skipped: Vec<String>,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty()
    }
}

fn verb(action: Action) -> (&'static str, &'static str) {
    match action {
        Action::Create => ("creating", "created"),
        Action::Update => ("updating", "updated"),
        Action::Replace => ("replacing", "replaced"),
        Action::Delete => ("deleting", "deleted"),
    }
}

fn label(step: &Step) -> String {
    let physical = step.physical_id().unwrap_or_default();
    format!("{} ({} {physical})", step.id, step.kind)
}

/// Runs `plan`, recording every completed step in `state` and saving it through `store`.
/// Returns an error only when the state cannot be written (then nothing more is started).
pub async fn execute(
    plan: &Plan,
    clients: &Clients,
    state: &mut State,
    store: &LocalStore,
    printer: &Printer,
    parallelism: usize,
) -> Result<Outcome, StateError> {
    let parallelism = parallelism.max(1);
    let mut outcome = Outcome::default();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut blocked: BTreeSet<String> = BTreeSet::new();
    let mut started: BTreeSet<usize> = BTreeSet::new();
    let mut running: JoinSet<(usize, Result<(), AwsError>, Duration)> = JoinSet::new();

    loop {
        // Skip whatever waits on a failed or skipped step.
        for (i, step) in plan.steps.iter().enumerate() {
            if !started.contains(&i) && step.after_steps.iter().any(|d| blocked.contains(d)) {
                started.insert(i);
                blocked.insert(step.id.clone());
                outcome.skipped.push(step.id.clone());
                printer.progress(&format!(
                    "skipped {}: a step it depends on failed",
                    label(step)
                ));
            }
        }
        // Start every ready step, up to the parallelism bound.
        for (i, step) in plan.steps.iter().enumerate() {
            if running.len() >= parallelism {
                break;
            }
            if started.contains(&i) || !step.after_steps.iter().all(|d| finished.contains(d)) {
                continue;
            }
            started.insert(i);
            // Journal first: a crash after the AWS call but before the record leaves this.
            state.pending.push(PendingOperation {
                id: step.id.clone(),
                kind: step.kind,
                action: step.action,
                physical_id: step.physical_id().unwrap_or_default().to_string(),
                since: crate::clock::now_rfc3339(),
            });
            state.serial += 1;
            store.save(state)?;
            printer.step_started(
                &step.id,
                &format!("{} {}...", verb(step.action).0, label(step)),
            );
            let clients = clients.clone();
            let step = step.clone();
            running.spawn(async move {
                let t0 = Instant::now();
                let result = aws::apply(&clients, &step).await;
                (i, result, t0.elapsed())
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (i, result, elapsed) = match joined {
            Ok(r) => r,
            // A panicking task is a bug; stop starting work and report what we know.
            Err(e) => {
                printer.progress(&format!("internal error in a step: {e}"));
                break;
            }
        };
        let step = &plan.steps[i];
        match result {
            Ok(()) => {
                match &step.record {
                    Some(rec) => {
                        state.resources.insert(step.id.clone(), rec.clone());
                    }
                    None => {
                        state.resources.remove(&step.id);
                    }
                }
                state.pending.retain(|p| p.id != step.id);
                state.serial += 1;
                store.save(state)?;
                printer.step_finished(
                    &step.id,
                    &format!(
                        "{} {} in {:.1}s",
                        verb(step.action).1,
                        label(step),
                        elapsed.as_secs_f64()
                    ),
                );
                finished.insert(step.id.clone());
                outcome.done.push(step.id.clone());
            }
            Err(e) => {
                printer.step_finished(&step.id, &format!("failed {}", label(step)));
                blocked.insert(step.id.clone());
                outcome.failed.push((step.id.clone(), e));
            }
        }
    }
    Ok(outcome)
}
