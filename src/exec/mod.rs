//! The executor: walks a plan's dependency graph with bounded parallelism. A step starts as soon
//! as the steps it waits for are done; a failure skips the steps that depend on it and lets
//! independent work finish. The state is written before steps start (their journal entries)
//! and after they end (their records), once for all that start or end together.

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

/// What the graph runner asks of its caller: start nodes' work, take their results. The runner
/// hands over everything that is ready, or has ended, at once, so the executor writes the state
/// once per batch instead of once per step: with the state on S3 every write is a call.
pub trait Driver {
    type Output: Send + 'static;
    type Error;
    /// Nodes `ready` may start (everything each waits for succeeded): their work, in the same
    /// order. Called after every batch of [`finish`](Driver::finish)es, with the nodes that
    /// became ready, possibly none: the driver writes there, in one go, what it recorded when
    /// they finished and what the nodes it starts journal. It may await; started work keeps
    /// running meanwhile.
    fn start(
        &mut self,
        ready: &[usize],
    ) -> impl std::future::Future<Output = Result<Vec<Work<Self::Output>>, Self::Error>> + Send;
    /// Nodes' work ended: for each, whether it succeeded (its dependents may start).
    fn finish(&mut self, ended: Vec<(usize, Self::Output)>) -> Vec<bool>;
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
        let mut ready = Vec::new();
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
                if running.len() + ready.len() >= parallelism {
                    break;
                }
                if !started[i] && after[i].iter().all(|&d| succeeded[d]) {
                    started[i] = true;
                    ready.push(i);
                }
            }
        }
        // Called even with nothing ready: the driver writes what the last batch recorded.
        match driver.start(&ready).await {
            Ok(works) => {
                for (i, work) in ready.into_iter().zip(works) {
                    let handle = running.spawn(async move { (i, work.await) });
                    tasks.insert(handle.id(), i);
                }
            }
            Err(e) => {
                error.get_or_insert(e);
                for i in ready {
                    blocked[i] = true;
                    driver.skip(i);
                }
            }
        }
        let Some(first) = running.join_next().await else {
            break;
        };
        // Everything else that has ended too, so that it is recorded in the same write.
        let mut joined = vec![first];
        while let Some(more) = running.try_join_next() {
            joined.push(more);
        }
        let mut ended = Vec::with_capacity(joined.len());
        for j in joined {
            match j {
                Ok(done) => ended.push(done),
                // A panicking task is a bug: its node counts as failed.
                Err(e) => {
                    if let Some(&i) = tasks.get(&e.id()) {
                        blocked[i] = true;
                        driver.lost(i);
                    }
                }
            }
        }
        let ids: Vec<usize> = ended.iter().map(|(i, _)| *i).collect();
        for (i, ok) in ids.into_iter().zip(driver.finish(ended)) {
            if ok {
                succeeded[i] = true;
            } else {
                blocked[i] = true;
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
    /// Steps recorded in `state` but not yet written: their gates open once it is.
    unsaved: Vec<String>,
}

impl Driver for PlanDriver<'_> {
    type Output = (Result<aws::Applied, AwsError>, Duration);
    type Error = StateError;

    async fn start(&mut self, ready: &[usize]) -> Result<Vec<Work<Self::Output>>, StateError> {
        if ready.is_empty() && self.unsaved.is_empty() {
            return Ok(Vec::new());
        }
        // Journal first: a crash after an AWS call but before its record leaves the entry. The
        // records of the steps that just ended go in the same write.
        for &i in ready {
            let step = &self.plan.steps[i];
            self.state.pending.push(PendingOperation {
                id: step.id.clone(),
                kind: step.kind,
                action: step.action,
                physical_id: step.physical_id().unwrap_or_default().to_string(),
                since: crate::clock::now_rfc3339(),
            });
        }
        self.state.serial += 1;
        let saved = self.store.save(self.state).await;
        // Recorded first; then the steps waiting for these part of the way in go on (and
        // stop, if they could not be recorded).
        for id in std::mem::take(&mut self.unsaved) {
            self.run.gates.open(&id, saved.is_ok());
        }
        saved?;
        Ok(ready
            .iter()
            .map(|&i| {
                let step = &self.plan.steps[i];
                self.printer.step_started(
                    &step.id,
                    &format!("{} {}...", verb(step.action).0, label(step)),
                );
                let run = self.run.clone();
                let step = step.clone();
                Box::pin(async move {
                    let t0 = Instant::now();
                    let result = aws::apply(&run, &step).await;
                    (result, t0.elapsed())
                }) as Work<Self::Output>
            })
            .collect())
    }

    fn finish(&mut self, ended: Vec<(usize, Self::Output)>) -> Vec<bool> {
        ended
            .into_iter()
            .map(|(i, (result, elapsed))| self.finish_one(i, result, elapsed))
            .collect()
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

impl PlanDriver<'_> {
    /// Records one ended step in the state (written by the next [`Driver::start`]).
    fn finish_one(
        &mut self,
        i: usize,
        result: Result<aws::Applied, AwsError>,
        elapsed: Duration,
    ) -> bool {
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
                self.unsaved.push(step.id.clone());
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
                true
            }
            Err(e) => {
                self.run.gates.open(&step.id, false);
                self.printer
                    .step_finished(&step.id, &format!("failed {}", label(step)));
                self.outcome.failed.push((step.id.clone(), e));
                false
            }
        }
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
        unsaved: Vec::new(),
    };
    run_graph(&after, parallelism, &mut driver).await?;
    Ok(driver.outcome)
}

#[cfg(test)]
mod tests;
