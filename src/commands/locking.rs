//! The stack's lock around a changing command: taken (or interrupted while waiting), held while
//! the body runs, released however it ends.

use std::sync::Arc;
use std::time::Duration;

use crate::cli::Global;
use crate::exec::Interrupt;
use crate::output::Printer;
use crate::state::Lock;

use super::{ExitStatus, Interrupted, Session, Signals};

/// Takes the stack's lock for a changing command, unless a signal comes first.
pub async fn lock_or_interrupt(
    session: &Session,
    global: &Global,
    printer: &Printer,
    command: &str,
    signals: &mut Signals,
) -> anyhow::Result<Lock> {
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
    lock: Lock,
    mut signals: Signals,
    interrupt: Arc<Interrupt>,
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

/// Takes the stack's lock for a changing command (waiting `--lock-timeout`), saying so when
/// it takes over a stale one. Release it with [`Lock::release`].
pub async fn lock(
    session: &Session,
    global: &Global,
    printer: &Printer,
    command: &str,
) -> anyhow::Result<Lock> {
    let notify = session.run.notify.clone();
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
