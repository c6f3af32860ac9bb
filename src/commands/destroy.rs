//! `presign-stack destroy`: delete what the state records, in reverse dependency order.

use anyhow::bail;

use super::{apply, confirm, read_recorded, report_calls, ExitStatus, Session};
use crate::aws::read_all;
use crate::aws::s3_objects;
use crate::cli::{DestroyArgs, Global};
use crate::output::{render, Printer};
use crate::plan::reconcile;

pub async fn run(
    global: &Global,
    args: &DestroyArgs,
    printer: &Printer,
    clients: Option<crate::aws::Clients>,
) -> anyhow::Result<ExitStatus> {
    let session = Session::open(global, printer, clients).await?;
    let mut signals = super::Signals::install();
    let lock = super::lock_or_interrupt(&session, global, printer, "destroy", &mut signals).await?;
    let interrupt = session.interrupt.clone();
    let body = locked(&session, global, args, printer);
    super::with_lock(lock, signals, interrupt, printer, "destroy", body).await
}

/// The destroy itself, under the stack's lock.
async fn locked(
    session: &Session,
    global: &Global,
    args: &DestroyArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let loaded = session.store.load(&session.stack.name).await?;
    crate::hooks::hold_point().await;
    if let Some(m) = loaded
        .as_ref()
        .and_then(|s| crate::plan::adopt::unfinished_import(&s.pending))
    {
        anyhow::bail!(m);
    }
    let Some(mut state) = loaded else {
        printer.result(&format!(
            "Nothing to destroy: stack {:?} has no state (it was never deployed here, or was destroyed).\n",
            session.stack.name
        ));
        printer.json_result(serde_json::json!({
            "stack": session.stack.name, "region": session.region, "plan": [], "deleted": 0,
        }));
        return Ok(ExitStatus::Success);
    };
    // A run killed after creating something but before recording it left a journal entry:
    // what it made is the stack's, so destroy takes it too.
    let half_made = reconcile::half_made(&state.resources, &state.pending);
    if !half_made.is_empty() {
        let found = read_all(&session.run, half_made).await?;
        reconcile::recover(&mut state.resources, found);
    }
    // Whether each recorded bucket holds anything: one listing call, asked beside the reads
    // and used only for a bucket the reads show is the stack's to delete.
    let s3 = &session.run.clients.s3;
    let recorded_buckets: Vec<String> = state
        .resources
        .values()
        .filter(|r| r.kind == crate::plan::Kind::S3Bucket)
        .map(|r| r.physical_id.clone())
        .collect();
    let listings = async {
        let mut pages = Vec::new();
        for bucket in &recorded_buckets {
            pages.push((bucket.clone(), s3_objects::first_page(s3, bucket).await));
        }
        pages
    };
    let (live, mut pages) = tokio::join!(read_recorded(&session.run, &state.resources), listings);
    let live = live?;
    let decided = reconcile::reconcile_destroy(
        &session.stack.name,
        &state.resources,
        &live,
        session.stack.bucket.protect,
    );

    // What the state records but AWS no longer has: forget it, nothing to delete.
    let gone = &decided.gone;
    if !gone.is_empty() {
        for id in gone {
            state.resources.remove(id);
        }
        state.serial += 1;
        session.store.save(&state).await?;
        printer.debug(&format!("already gone from AWS: {}", gone.join(", ")));
    }
    if state.resources.is_empty() {
        printer.result(&format!(
            "Nothing to destroy: stack {:?} has no resources left.\n",
            session.stack.name
        ));
        printer.json_result(serde_json::json!({
            "stack": session.stack.name, "region": session.region, "plan": [], "deleted": 0,
        }));
        report_calls(printer, &session.run.clients);
        return Ok(ExitStatus::Success);
    }
    for r in &decided.refused {
        printer.info(&format!("Not destroying {}: {r}", r.id));
    }
    if let Some(bucket) = &decided.protected {
        bail!(
            "bucket {bucket} is protected (bucket.protect: true in {}); nothing was deleted\n  hint: remove protect from the spec to destroy the stack",
            global.file.display()
        );
    }
    let mut to_empty = None;
    for bucket in &decided.buckets {
        // The emptying itself counts them all.
        let first = match pages.iter().position(|(b, _)| b == bucket) {
            Some(i) => pages.swap_remove(i).1?,
            None => s3_objects::first_page(s3, bucket).await?,
        };
        if first.versions > 0 {
            let objects = match first.more {
                true => format!("more than {} object versions", first.versions),
                false => format!("{} object versions", first.versions),
            };
            if !(args.force_empty || session.stack.bucket.force_destroy) {
                bail!(
                    "bucket {bucket} holds {objects} (including delete markers); nothing was deleted\n  hint: run destroy with --force-empty, or set bucket.force_destroy: true, to delete them with the bucket"
                );
            }
            to_empty = Some((bucket.clone(), objects));
        }
    }
    let plan = decided.plan;
    let refused = decided.refused;

    let header = session.header();
    let mut text = render::plan(printer, &header, &plan);
    if let Some((bucket, n)) = &to_empty {
        text.push_str(&format!(
            "\nThe bucket {bucket} will be emptied first: {n} will be deleted for good.\n"
        ));
    }
    printer.result(&text);
    if !confirm(printer, args.yes, "Destroy these resources?", "--yes").await? {
        printer.info("Destroy cancelled; nothing was deleted.");
        return Ok(ExitStatus::Failure);
    }
    if let Some((bucket, n)) = &to_empty {
        printer.progress(&format!("emptying bucket {bucket} ({n})..."));
        let said = |deleted: u64| {
            printer.progress(&format!(
                "emptying bucket {bucket}: {deleted} object versions deleted so far"
            ))
        };
        let deleted = s3_objects::empty(&session.run.clients.s3, bucket, &said)
            .await
            .map_err(|mut e| {
                let denying = deny_statements_on_deletes(&session.stack);
                if !denying.is_empty() {
                    e.hint = Some(format!(
                        "the spec's own bucket policy denies deleting objects ({}): remove that statement from bucket.policy_statements (or narrow its Condition to spare this identity), run deploy, then destroy again",
                        denying.join(", ")
                    ));
                }
                e
            })?;
        printer.progress(&format!(
            "emptied bucket {bucket}: {deleted} object versions deleted"
        ));
    }
    let done = apply(
        "destroy",
        &plan,
        session,
        &mut state,
        printer,
        global.parallelism,
    )
    .await?;
    state.pending.clear();
    if refused.is_empty() {
        state.outputs.clear();
    }
    state.serial += 1;
    session.store.save(&state).await?;
    if !refused.is_empty() {
        let mut msg = format!(
            "destroy left {} resource(s) in place ({} deleted):",
            refused.len(),
            done
        );
        for r in &refused {
            msg.push_str(&format!("\n- {}: {r}", r.id));
        }
        msg.push_str("\n  hint: the state still records them; for one without the stack's tag: if it is yours, run deploy to restore the ownership tags, then destroy again");
        bail!(msg);
    }
    printer.result(&format!(
        "\nDestroy complete: {} resources deleted.\n",
        done
    ));
    printer.json_result(serde_json::json!({
        "stack": session.stack.name, "region": session.region,
        "plan": render::plan_json(&plan), "deleted": done,
    }));
    Ok(ExitStatus::Success)
}

/// The Sids of the spec's own Deny statements that cover deleting objects (`s3:DeleteObject`,
/// `s3:DeleteObjectVersion`, `s3:Delete*`, `s3:*`, `*`): when emptying the bucket is refused,
/// they are the likely reason, and the hint names them.
fn deny_statements_on_deletes(stack: &crate::spec::Stack) -> Vec<String> {
    stack
        .bucket
        .policy_statements
        .iter()
        .filter(|st| st["Effect"] == "Deny")
        .filter(|st| {
            crate::spec::validate::strings(Some(&st["Action"]))
                .iter()
                .any(|a| {
                    let a = a.to_ascii_lowercase();
                    ["s3:deleteobject", "s3:deleteobjectversion"]
                        .iter()
                        .any(|d| crate::presigned::cors::wildcard_match(&a, d))
                })
        })
        .map(|st| st["Sid"].as_str().unwrap_or("(no Sid)").to_string())
        .collect()
}
