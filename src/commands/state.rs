//! `presign-stack state list | show <resource> | unlock [--force]`: look into the state without
//! touching AWS, and clear a lock a crashed run left.

use anyhow::{bail, Context};

use super::{state_dir, ExitStatus};
use crate::cli::{Global, StateCommand};
use crate::output::Printer;
use crate::spec;
use crate::state::local::LocalStore;
use crate::state::lock::{LockError, LockGuard};

pub async fn run(
    global: &Global,
    cmd: &StateCommand,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let stack = spec::load_env(&global.file, global.env.as_deref())?;
    let dir = state_dir(global);
    let store = LocalStore::new(&dir, &stack.name);
    let load = || -> anyhow::Result<crate::state::State> {
        store.load(&stack.name)?.with_context(|| {
            format!(
                "stack {:?} has no state at {}",
                stack.name,
                store.path().display()
            )
        })
    };
    match cmd {
        StateCommand::List => {
            let state = load()?;
            let mut text = format!(
                "state {} (serial {}, lineage {}, region {})\n",
                store.path().display(),
                state.serial,
                state.lineage,
                state.region
            );
            let width = state.resources.keys().map(String::len).max().unwrap_or(0);
            for (id, r) in &state.resources {
                text.push_str(&format!(
                    "{id:width$}  {:<30} {}\n",
                    r.kind.as_str(),
                    r.physical_id
                ));
            }
            for p in &state.pending {
                text.push_str(&format!(
                    "interrupted: {:?} of {} ({} {}) since {}\n",
                    p.action, p.id, p.kind, p.physical_id, p.since
                ));
            }
            printer.result(&text);
        }
        StateCommand::Show { resource } => {
            let state = load()?;
            let Some(r) = state.resources.get(resource) else {
                let known: Vec<&str> = state.resources.keys().map(String::as_str).collect();
                bail!(
                    "no resource {resource:?} in the state\n  hint: the resources are {}",
                    known.join(", ")
                );
            };
            printer.result(&format!("{}\n", serde_json::to_string_pretty(r)?));
        }
        StateCommand::Unlock { force } => {
            match LockGuard::acquire(&dir, &stack.name, "state unlock") {
                Ok(guard) => {
                    drop(guard);
                    printer.result(&format!("Stack {:?} was not locked.\n", stack.name));
                }
                Err(LockError::Held {
                    holder,
                    stale,
                    path,
                    ..
                }) => {
                    if !stale && !force {
                        bail!(
                        "the lock is held by {} on {} (pid {}, `{}` since {}), which may still be running\n  hint: make sure it is not, then run `presign-stack state unlock --force`",
                        holder.user, holder.host, holder.pid, holder.command, holder.since
                    );
                    }
                    std::fs::remove_file(&path)
                        .with_context(|| format!("removing the lock {}", path.display()))?;
                    printer.result(&format!(
                        "Removed the lock of {} (pid {} on {}, `{}` since {}).\n",
                        stack.name, holder.pid, holder.host, holder.command, holder.since
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(ExitStatus::Success)
}
