//! Applying a plan for a command, and what the run then reports.

use anyhow::bail;

use crate::aws::Clients;
use crate::output::Printer;
use crate::state::State;

use super::{Interrupted, Session};

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
    let interrupt = &session.interrupt;
    interrupt.set_applying(true);
    let outcome = crate::exec::execute(
        plan,
        &session.run,
        interrupt,
        state,
        &session.store,
        printer,
        usize::from(parallelism),
    )
    .await;
    interrupt.set_applying(false);
    let outcome = outcome?;
    report_calls(printer, &session.run.clients);
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
