//! `presign-stack destroy`: delete what the state records, in reverse dependency order.

use std::collections::BTreeMap;

use anyhow::bail;

use super::{
    apply, check_owner, confirm, read_live, read_recorded, report_calls, ExitStatus, Session,
};
use crate::aws::{iam_role, s3_bucket};
use crate::cli::{DestroyArgs, Global};
use crate::output::{render, Printer};
use crate::plan::{self, Action, Kind, Props};
use crate::state::RecordedResource;

pub async fn run(
    global: &Global,
    args: &DestroyArgs,
    printer: &Printer,
    clients: Option<crate::aws::Clients>,
) -> anyhow::Result<ExitStatus> {
    let session = Session::open(global, printer, clients).await?;
    let mut signals = super::Signals::install();
    let lock = super::lock_or_interrupt(&session, global, printer, "destroy", &mut signals).await?;
    let interrupt = session.clients.interrupt.clone();
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
    super::test_hold_point().await;
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
    let half_made: Vec<(String, Kind, String)> = state
        .pending
        .iter()
        .filter(|p| matches!(p.action, Action::Create | Action::Replace))
        .filter(|p| !state.resources.contains_key(&p.id))
        .map(|p| (p.id.clone(), p.kind, p.physical_id.clone()))
        .collect();
    if !half_made.is_empty() {
        for (id, found) in read_live(&session.clients, half_made.clone()).await? {
            if let Some(props) = found {
                state.resources.insert(
                    id,
                    RecordedResource {
                        kind: props.kind(),
                        physical_id: props.physical_id().to_string(),
                        depends_on: Vec::new(),
                        props,
                    },
                );
            }
        }
    }
    let live = read_recorded(&session.clients, &state.resources).await?;

    // What the state records but AWS no longer has: forget it, nothing to delete.
    let gone: Vec<String> = state
        .resources
        .keys()
        .filter(|id| !live.get(*id).is_some_and(|l| l.is_some()))
        .cloned()
        .collect();
    if !gone.is_empty() {
        for id in &gone {
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
        report_calls(printer, &session.clients);
        return Ok(ExitStatus::Success);
    }

    // A resource that no longer carries the stack's tag is not deleted, nor is anything that
    // lives on it (a bucket's CORS or policy): it is reported, and the rest is destroyed.
    let mut refused: Vec<(String, String)> = Vec::new();
    for id in state.resources.keys() {
        if let Some(Some(found)) = live.get(id) {
            if let Err(e) = check_owner(&session.stack.name, found) {
                refused.push((id.clone(), format!("{e:#}")));
            }
        }
    }
    loop {
        let more: Vec<String> = state
            .resources
            .iter()
            .filter(|(id, rec)| {
                !refused.iter().any(|(r, _)| r == *id)
                    && rec
                        .depends_on
                        .iter()
                        .any(|d| refused.iter().any(|(r, _)| r == d))
            })
            .map(|(id, _)| id.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        refused.extend(more.into_iter().map(|id| {
            (
                id,
                "it belongs to a resource that is not the stack's".into(),
            )
        }));
    }
    // A role with policies the stack did not put there is left too (IAM would refuse to delete
    // it, and removing them is not destroy's to do); what depends on it goes as usual.
    for (id, found) in &live {
        if let Some(Props::IamRole(role)) = found {
            if refused.iter().any(|(r, _)| r == id) {
                continue;
            }
            if let Some((names, steps)) = iam_role::foreign_policies(role) {
                refused.push((
                    id.clone(),
                    format!(
                        "it has policies presign-stack did not attach ({names})\n    next: run `presign-stack deploy` (it removes them), or remove them yourself:\n      {}\n    then run destroy again",
                        steps.join("\n      ")
                    ),
                ));
            }
        }
    }
    for (id, why) in &refused {
        printer.info(&format!("Not destroying {id}: {why}"));
    }
    let mut to_empty = None;
    for (id, rec) in &state.resources {
        if rec.kind != Kind::S3Bucket || refused.iter().any(|(r, _)| r == id) {
            continue;
        }
        if session.stack.bucket.protect {
            bail!(
                "bucket {} is protected (bucket.protect: true in {}); nothing was deleted\n  hint: remove protect from the spec to destroy the stack",
                rec.physical_id,
                global.file.display()
            );
        }
        let objects = s3_bucket::count_objects(&session.clients.s3, &rec.physical_id).await?;
        if objects > 0 {
            if !(args.force_empty || session.stack.bucket.force_destroy) {
                bail!(
                    "bucket {} holds {objects} object versions (including delete markers); nothing was deleted\n  hint: run destroy with --force-empty, or set bucket.force_destroy: true, to delete them with the bucket",
                    rec.physical_id
                );
            }
            to_empty = Some((rec.physical_id.clone(), objects));
        }
    }

    let existing: BTreeMap<_, _> = state
        .resources
        .iter()
        .filter(|(id, _)| !refused.iter().any(|(r, _)| r == *id))
        .map(|(id, r)| (id.clone(), r.clone()))
        .collect();
    let plan = plan::plan_destroy(&existing);
    let header = session.header();
    let mut text = render::plan(printer, &header, &plan);
    if let Some((bucket, n)) = &to_empty {
        text.push_str(&format!(
            "\nThe bucket {bucket} will be emptied first: {n} object versions will be deleted for good.\n"
        ));
    }
    printer.result(&text);
    if !confirm(printer, args.yes, "Destroy these resources?", "--yes").await? {
        printer.info("Destroy cancelled; nothing was deleted.");
        return Ok(ExitStatus::Failure);
    }
    if let Some((bucket, n)) = &to_empty {
        printer.progress(&format!(
            "emptying bucket {bucket} ({n} object versions)..."
        ));
        let deleted = s3_bucket::empty(&session.clients.s3, bucket)
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
        for (id, why) in &refused {
            msg.push_str(&format!("\n- {id}: {why}"));
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
