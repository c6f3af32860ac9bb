//! One file per subcommand; beside them what they share, each in a file named after it: the
//! session (spec, region, state, clients), signals, the lock, applying a plan. This module holds
//! the exit status and the confirmation prompt.

mod apply;
mod locking;
mod session;
mod signals;
mod stores;

pub mod bootstrap;
pub mod deploy;
pub mod destroy;
pub mod dev;
pub mod diff;
pub mod import;
pub mod output;
pub mod smoke;
pub mod state;
pub mod url;
pub mod validate;

pub use apply::{apply, report_calls};
pub use locking::{lock, lock_or_interrupt, with_lock};
pub use session::*;
pub use signals::Signals;
pub use stores::*;
pub use validate::validate;

use std::io::IsTerminal;

use anyhow::bail;

use crate::output::Printer;

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
