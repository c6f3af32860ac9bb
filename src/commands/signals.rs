//! SIGINT and SIGTERM during a changing command: before changes, stop where the run is; during
//! them, let the executor finish what is under way.

use crate::exec::Interrupt;
use crate::output::Printer;

use super::ExitStatus;

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
    pub(super) async fn recv(&mut self) {
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
    pub(super) async fn until_stop(&mut self, interrupt: &Interrupt, printer: &Printer) {
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
