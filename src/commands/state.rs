//! `presign-stack state list | show <resource> | unlock [--force] | bootstrap | migrate --to`:
//! look into the state, clear a lock a crashed run left, create a state bucket, and move the
//! state between this machine and S3.

use anyhow::{bail, Context};

use super::{open_spec_store, spec_store, ExitStatus};
use crate::cli::{BackendArg, Global, StateCommand};
use crate::output::Printer;
use crate::spec::{Backend, Stack};
use crate::state::lock::LockError;
use crate::state::Lock;
use crate::state::{parse, Moved, Store, Stored, STATE_VERSION};

pub async fn run(
    global: &Global,
    cmd: &StateCommand,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    match cmd {
        StateCommand::Bootstrap => return super::bootstrap::run(global, printer).await,
        StateCommand::Migrate { to } => return migrate(global, *to, printer).await,
        _ => {}
    }
    let (stack, store) = open_spec_store(global).await?;
    let load = || async {
        store.load(&stack.name).await?.with_context(|| {
            format!(
                "stack {:?} has no state at {}",
                stack.name,
                store.location()
            )
        })
    };
    match cmd {
        StateCommand::List => {
            let state = load().await?;
            let mut text = format!(
                "state {} (serial {}, lineage {}, region {})\n",
                store.location(),
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
            let resources: Vec<_> = state
                .resources
                .iter()
                .map(|(id, r)| {
                    serde_json::json!({"id": id, "kind": r.kind, "physical_id": r.physical_id})
                })
                .collect();
            printer.json_result(serde_json::json!({
                "stack": stack.name,
                "location": store.location(),
                "serial": state.serial,
                "lineage": state.lineage,
                "region": state.region,
                "resources": resources,
                "pending": state.pending,
            }));
        }
        StateCommand::Show { resource } => {
            let state = load().await?;
            let Some(r) = state.resources.get(resource) else {
                let known: Vec<&str> = state.resources.keys().map(String::as_str).collect();
                bail!(
                    "no resource {resource:?} in the state\n  hint: the resources are {}",
                    known.join(", ")
                );
            };
            printer.result(&format!("{}\n", serde_json::to_string_pretty(r)?));
            printer.json_result(serde_json::json!({
                "stack": stack.name,
                "id": resource,
                "resource": r,
            }));
        }
        StateCommand::Unlock { force } => unlock(&stack, &store, *force, printer).await?,
        StateCommand::Bootstrap | StateCommand::Migrate { .. } => unreachable!("handled above"),
    }
    Ok(ExitStatus::Success)
}

async fn unlock(
    stack: &Stack,
    store: &Store,
    force: bool,
    printer: &Printer,
) -> anyhow::Result<()> {
    let not_locked = || {
        printer.result(&format!("Stack {:?} was not locked.\n", stack.name));
        printer.json_result(serde_json::json!({"stack": stack.name, "removed": false}));
    };
    let removed = |holder: &str| {
        printer.result(&format!(
            "Removed the lock of {} held by {holder}.\n",
            stack.name
        ));
        printer.json_result(
            serde_json::json!({"stack": stack.name, "removed": true, "holder": holder}),
        );
    };
    match store {
        Store::Local(local) => {
            let dir = local.dir();
            match crate::state::lock::LockGuard::acquire(dir, &stack.name, "state unlock") {
                Ok(guard) => {
                    drop(guard);
                    not_locked();
                }
                Err(LockError::Held { holder, stale, .. }) => {
                    if !stale && !force {
                        bail!(
                            "the lock is held by {}, which may still be running\n  hint: make sure it is not, then run `presign-stack state unlock --force`",
                            holder.describe()
                        );
                    }
                    let path = dir.join(format!("{}.lock", stack.name));
                    std::fs::remove_file(&path)
                        .with_context(|| format!("removing the lock {}", path.display()))?;
                    removed(&holder.describe());
                }
                Err(e) => return Err(e.into()),
            }
        }
        Store::S3(s3) => {
            let Some(seen) = s3.lock_holder().await? else {
                not_locked();
                return Ok(());
            };
            let (holder, etag, expires) = (seen.holder, seen.etag, seen.expires);
            let live = seen.now < expires;
            if live && !force {
                bail!(
                    "the lock is held by {}, whose lease runs until {} unless it renews it: it may still be running\n  hint: make sure it is not, then run `presign-stack state unlock --force` (or wait for the lease to run out: the next run takes it over)",
                    holder.describe(),
                    crate::clock::rfc3339(expires)
                );
            }
            if !s3.remove_lock(&etag).await? {
                bail!(
                    "the lock changed while it was being removed: another run holds it now\n  hint: run `presign-stack state unlock` again to see who"
                );
            }
            removed(&holder.describe());
        }
    }
    Ok(())
}

/// `state migrate --to`: the state moves unchanged; the source keeps a note of where it went.
async fn migrate(global: &Global, to: BackendArg, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let stack = crate::spec::load_env(&global.file, global.env.as_deref())?;
    if stack.state.s3.is_none() {
        bail!(
            "{}: the spec names no state bucket, so there is no S3 side to migrate {}\n  hint: add `state:` with `bucket:` (create it with `presign-stack state bootstrap`)",
            global.file.display(),
            if to == BackendArg::S3 { "to" } else { "from" }
        );
    }
    let s3 = spec_store(global, &stack, Backend::S3).await?;
    let local = spec_store(global, &stack, Backend::Local).await?;
    let (from, dest) = match to {
        BackendArg::S3 => (local, s3),
        BackendArg::Local => (s3, local),
    };
    let wait = std::time::Duration::from_secs(global.lock_timeout);
    let notify: std::sync::Arc<dyn Fn(&str) + Send + Sync> = {
        let p = printer.clone();
        std::sync::Arc::new(move |m: &str| p.progress(m))
    };
    let from_lock = from
        .lock(&stack.name, "state migrate", wait, notify.clone())
        .await?;
    let dest_lock = match dest.lock(&stack.name, "state migrate", wait, notify).await {
        Ok(l) => l,
        Err(e) => {
            from_lock.release().await;
            return Err(e.into());
        }
    };
    let result = move_state(&stack, &from, &dest, printer).await;
    release_both(from_lock, dest_lock).await;
    result?;
    let wanted = match to {
        BackendArg::S3 => Backend::S3,
        BackendArg::Local => Backend::Local,
    };
    if stack.state.backend != wanted {
        printer.info(&format!(
            "Next: set `backend: {}` under state: in {}; until then runs stop at the note left in {}.",
            if wanted == Backend::S3 { "s3" } else { "local" },
            global.file.display(),
            from.location()
        ));
    }
    Ok(ExitStatus::Success)
}

async fn release_both(a: Lock, b: Lock) {
    tokio::join!(a.release(), b.release());
}

async fn move_state(
    stack: &Stack,
    from: &Store,
    dest: &Store,
    printer: &Printer,
) -> anyhow::Result<()> {
    let Some(bytes) = from.read_bytes().await? else {
        bail!(
            "nothing to migrate: stack {:?} has no state at {}",
            stack.name,
            from.location()
        );
    };
    let source = match parse(
        &bytes,
        &from.location(),
        "the source was left as it is",
        &stack.name,
    )? {
        Stored::State(s) => *s,
        Stored::Moved(m) => bail!(
            "nothing to migrate: the state at {} already moved to {} on {}",
            from.location(),
            m.moved_to,
            m.moved_at
        ),
    };
    // Reading the destination also remembers its ETag: the write below is conditional on it.
    match dest.load_stored(&stack.name).await? {
        None => {}
        Some(found) if found.lineage() != source.lineage => bail!(
            "refusing to migrate: {} holds the state of another history of stack {:?} (lineage {}, not {})\n  hint: nothing was changed; if that state is obsolete, move it away first",
            dest.location(),
            stack.name,
            found.lineage(),
            source.lineage
        ),
        Some(Stored::State(found)) if found.serial > source.serial => bail!(
            "refusing to migrate: {} holds a newer state of this stack (serial {} > {}): it has been used since it was migrated there\n  hint: nothing was changed; run with the backend that holds the newer state",
            dest.location(),
            found.serial,
            source.serial
        ),
        // An older copy of the same history, or the note an earlier migration left.
        Some(_) => {}
    }
    dest.write_bytes(&bytes).await?;
    let written = dest.read_bytes().await?;
    if written.as_deref() != Some(&bytes[..]) {
        bail!(
            "the state written to {} does not read back the same; the source {} was left as it is",
            dest.location(),
            from.location()
        );
    }
    let note = Moved {
        version: STATE_VERSION,
        stack: stack.name.clone(),
        lineage: source.lineage.clone(),
        serial: source.serial,
        moved_to: dest.location(),
        moved_at: crate::clock::now_rfc3339(),
    };
    from.write_bytes(&crate::state::to_bytes(&note))
        .await
        .with_context(|| {
            format!(
                "the state is now at {}, but the note in {} could not be written: delete the old state there so no run uses it",
                dest.location(),
                from.location()
            )
        })?;
    printer.result(&format!(
        "Moved the state of stack {:?} (lineage {}, serial {}, {} resources) from {} to {}.\n",
        stack.name,
        source.lineage,
        source.serial,
        source.resources.len(),
        from.location(),
        dest.location()
    ));
    printer.json_result(serde_json::json!({
        "stack": stack.name, "from": from.location(), "to": dest.location(),
        "lineage": source.lineage, "serial": source.serial,
    }));
    Ok(())
}
