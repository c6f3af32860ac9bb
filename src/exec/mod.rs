//! The executor: walks a plan's dependency graph with bounded parallelism. A step starts as soon
//! as the steps it waits for are done; a failure skips the steps that depend on it and lets
//! independent work finish. The state is written after every completed step.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::aws::{self, AwsError, Run};
use crate::output::Printer;
use crate::plan::{Action, Plan, Step};
use crate::state::{PendingOperation, State, StateError, Store};

/// A request to stop (SIGINT, SIGTERM), shared by the command and the executor: while changes
/// are being applied, the executor starts no more of them and lets those under way finish.
#[derive(Debug, Default)]
pub struct Interrupt {
    requested: AtomicBool,
    applying: AtomicBool,
}

impl Interrupt {
    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// Records a request; `true` when one was already made.
    pub fn request(&self) -> bool {
        self.requested.swap(true, Ordering::SeqCst)
    }

    pub fn applying(&self) -> bool {
        self.applying.load(Ordering::SeqCst)
    }

    pub fn set_applying(&self, on: bool) {
        self.applying.store(on, Ordering::SeqCst);
    }
}

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
        Action::Adopt => ("adopting", "adopted"),
    }
}

fn label(step: &Step) -> String {
    let physical = step.physical_id().unwrap_or_default();
    format!("{} ({} {physical})", step.id, step.kind)
}

/// A node's work, as the graph runner runs it.
pub type Work<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// What the graph runner asks of its caller: start a node's work, take its result. `start` and
/// `finish` may await (the executor writes the state there); the runner calls them one at a
/// time, while started work keeps running.
pub trait Driver {
    type Output: Send + 'static;
    type Error;
    /// Node `i` is ready (everything it waits for succeeded): its work, as a future.
    fn start(
        &mut self,
        i: usize,
    ) -> impl std::future::Future<Output = Result<Work<Self::Output>, Self::Error>> + Send;
    /// Node `i`'s work ended; `Ok(true)` when it succeeded (its dependents may start).
    fn finish(
        &mut self,
        i: usize,
        output: Self::Output,
    ) -> impl std::future::Future<Output = Result<bool, Self::Error>> + Send;
    /// Node `i` will not run: something it waits for failed or was skipped.
    fn skip(&mut self, i: usize);
    /// Node `i`'s work panicked (a bug): it counts as failed.
    fn lost(&mut self, i: usize);
    /// Whether to stop starting work (an interrupt): running work still finishes, and the
    /// nodes not started are skipped.
    fn stopping(&self) -> bool {
        false
    }
}

/// Runs a dependency graph (`after[i]`: the nodes node `i` waits for) with at most `parallelism`
/// nodes at once. A node starts the moment the nodes it waits for have succeeded, not when a
/// whole "level" is done; a failure skips its dependents and lets independent work finish. An
/// error from the driver, or the driver [stopping](Driver::stopping), stops starting work: it
/// ends once running work has ended (an error is then returned; when stopping, the nodes not
/// started are skipped).
pub async fn run_graph<D: Driver>(
    after: &[Vec<usize>],
    parallelism: usize,
    driver: &mut D,
) -> Result<(), D::Error> {
    let parallelism = parallelism.max(1);
    let n = after.len();
    let mut succeeded = vec![false; n];
    let mut blocked = vec![false; n];
    let mut started = vec![false; n];
    let mut running: JoinSet<(usize, D::Output)> = JoinSet::new();
    let mut tasks: std::collections::HashMap<tokio::task::Id, usize> = Default::default();
    let mut error = None;
    loop {
        if error.is_some() || driver.stopping() {
            // Nothing more starts: skip the rest now, not after the running work ends, since a
            // running step may be waiting for one of them part of the way in (its gate opens
            // when it is skipped).
            for i in 0..n {
                if !started[i] {
                    started[i] = true;
                    blocked[i] = true;
                    driver.skip(i);
                }
            }
        } else {
            // Skip whatever waits on a failed or skipped node (transitively, in one pass each
            // round: a skipped node blocks its own dependents next round).
            let mut changed = true;
            while changed {
                changed = false;
                for i in 0..n {
                    if !started[i] && after[i].iter().any(|&d| blocked[d]) {
                        started[i] = true;
                        blocked[i] = true;
                        changed = true;
                        driver.skip(i);
                    }
                }
            }
            for i in 0..n {
                if running.len() >= parallelism {
                    break;
                }
                if started[i] || !after[i].iter().all(|&d| succeeded[d]) {
                    continue;
                }
                started[i] = true;
                match driver.start(i).await {
                    Ok(work) => {
                        let handle = running.spawn(async move { (i, work.await) });
                        tasks.insert(handle.id(), i);
                    }
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (i, output) = match joined {
            Ok(done) => done,
            // A panicking task is a bug: its node counts as failed.
            Err(e) => {
                if let Some(&i) = tasks.get(&e.id()) {
                    blocked[i] = true;
                    driver.lost(i);
                }
                continue;
            }
        };
        match driver.finish(i, output).await {
            Ok(true) => succeeded[i] = true,
            Ok(false) => blocked[i] = true,
            Err(e) => {
                blocked[i] = true;
                error.get_or_insert(e);
            }
        }
    }
    if error.is_none() {
        for (i, _) in started.iter().enumerate().filter(|(_, s)| !**s) {
            driver.skip(i);
        }
    }
    match error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Drives a plan's steps: journal, AWS call, record, progress.
struct PlanDriver<'a> {
    plan: &'a Plan,
    run: &'a Run,
    interrupt: &'a Interrupt,
    state: &'a mut State,
    store: &'a Store,
    printer: &'a Printer,
    outcome: Outcome,
}

impl Driver for PlanDriver<'_> {
    type Output = (Result<aws::Applied, AwsError>, Duration);
    type Error = StateError;

    async fn start(&mut self, i: usize) -> Result<Work<Self::Output>, StateError> {
        let step = &self.plan.steps[i];
        // Journal first: a crash after the AWS call but before the record leaves this.
        self.state.pending.push(PendingOperation {
            id: step.id.clone(),
            kind: step.kind,
            action: step.action,
            physical_id: step.physical_id().unwrap_or_default().to_string(),
            since: crate::clock::now_rfc3339(),
        });
        self.state.serial += 1;
        self.store.save(self.state).await?;
        self.printer.step_started(
            &step.id,
            &format!("{} {}...", verb(step.action).0, label(step)),
        );
        let run = self.run.clone();
        let step = step.clone();
        Ok(Box::pin(async move {
            let t0 = Instant::now();
            let result = aws::apply(&run, &step).await;
            (result, t0.elapsed())
        }))
    }

    async fn finish(
        &mut self,
        i: usize,
        (result, elapsed): Self::Output,
    ) -> Result<bool, StateError> {
        let step = &self.plan.steps[i];
        match result {
            Ok(applied) => {
                let mut note = String::new();
                match (&step.record, applied) {
                    (Some(rec), aws::Applied::All) => {
                        self.state.resources.insert(step.id.clone(), rec.clone());
                    }
                    // What was made, as it is: the next deploy makes the rest.
                    (Some(rec), aws::Applied::Part { props, missing }) => {
                        let mut rec = rec.clone();
                        rec.props = *props;
                        self.state.resources.insert(step.id.clone(), rec);
                        note = format!(", {missing}");
                    }
                    (None, _) => {
                        self.state.resources.remove(&step.id);
                    }
                }
                self.state.pending.retain(|p| p.id != step.id);
                self.state.serial += 1;
                // Recorded first; then the steps waiting for this one part of the way in go on
                // (and stop, if it cannot be recorded).
                let saved = self.store.save(self.state).await;
                self.run.gates.open(&step.id, saved.is_ok());
                saved?;
                self.printer.step_finished(
                    &step.id,
                    &format!(
                        "{} {} in {}{note}",
                        verb(step.action).1,
                        label(step),
                        crate::output::duration(elapsed)
                    ),
                );
                self.outcome.done.push(step.id.clone());
                Ok(true)
            }
            Err(e) => {
                self.run.gates.open(&step.id, false);
                self.printer
                    .step_finished(&step.id, &format!("failed {}", label(step)));
                self.outcome.failed.push((step.id.clone(), e));
                Ok(false)
            }
        }
    }

    fn lost(&mut self, i: usize) {
        let step = &self.plan.steps[i];
        self.run.gates.open(&step.id, false);
        self.printer
            .step_finished(&step.id, &format!("failed {}", label(step)));
        self.outcome.failed.push((
            step.id.clone(),
            AwsError::new(
                "apply",
                step.id.clone(),
                "the step's task panicked",
                "this is a bug in presign-stack; please report it (the state records what was done)",
            ),
        ));
    }

    fn skip(&mut self, i: usize) {
        let step = &self.plan.steps[i];
        self.run.gates.open(&step.id, false);
        self.outcome.skipped.push(step.id.clone());
        let why = if self.stopping() {
            "interrupted"
        } else {
            "a step it depends on failed"
        };
        self.printer
            .progress(&format!("skipped {}: {why}", label(step)));
    }

    fn stopping(&self) -> bool {
        self.interrupt.requested()
    }
}

/// Runs `plan`, starting no more steps once `interrupt` is requested, recording every completed step in `state` and saving it through `store`.
/// Returns an error only when the state cannot be written (then nothing more is started).
pub async fn execute(
    plan: &Plan,
    run: &Run,
    interrupt: &Interrupt,
    state: &mut State,
    store: &Store,
    printer: &Printer,
    parallelism: usize,
) -> Result<Outcome, StateError> {
    let index: std::collections::BTreeMap<&str, usize> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let after: Vec<Vec<usize>> = plan
        .steps
        .iter()
        .map(|s| {
            s.after_steps
                .iter()
                .filter_map(|d| index.get(d.as_str()).copied())
                .collect()
        })
        .collect();
    run.gates.register(plan.steps.iter().map(|s| s.id.as_str()));
    let mut driver = PlanDriver {
        plan,
        run,
        interrupt,
        state,
        store,
        printer,
        outcome: Outcome::default(),
    };
    run_graph(&after, parallelism, &mut driver).await?;
    Ok(driver.outcome)
}

#[cfg(test)]
mod tests;
