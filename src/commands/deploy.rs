//! `presign-stack deploy`: plan, confirm, apply, print outputs.

use anyhow::Context;

use super::{apply, check_bucket_owner, confirm, read_live, report_calls, ExitStatus, Session};
use crate::cli::{DeployArgs, Global};
use crate::output::{render, Printer};
use crate::plan::{self, desired::ids, record_of};
use crate::state::lock::LockGuard;

pub async fn run(
    global: &Global,
    args: &DeployArgs,
    printer: &Printer,
    clients: Option<crate::aws::Clients>,
) -> anyhow::Result<ExitStatus> {
    let session = Session::open(global, clients).await?;
    let _lock = LockGuard::acquire(session.store.dir(), &session.stack.name, "deploy")?;
    // Read the state again under the lock: another run may have finished since we opened it.
    let mut state = session
        .store
        .load(&session.stack.name)?
        .unwrap_or_else(|| session.state_or_new());
    let recorded = state.resources.clone();

    let targets = session
        .desired
        .iter()
        .map(|r| {
            (
                r.id.clone(),
                r.props.kind(),
                r.props.physical_id().to_string(),
            )
        })
        .collect();
    let live = read_live(&session.clients, targets)
        .await
        .context("reading the stack's resources from AWS")?;

    // Never adopt a bucket the stack did not create (or one another stack owns).
    if let Some(Some(bucket)) = live.get(ids::BUCKET) {
        let ours_by_state = recorded
            .get(ids::BUCKET)
            .is_some_and(|r| r.physical_id == bucket.physical_id());
        if !ours_by_state {
            check_bucket_owner(&session.stack.name, bucket)?;
        }
    }

    let plan = plan::plan_deploy(&session.desired, &recorded, &live);

    // Resources already as wanted: make sure the state records them (adoption after a crash,
    // or a state written by an older run), without any AWS call.
    let planned: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
    let mut adopted = false;
    for r in &session.desired {
        if planned.contains(&r.id.as_str()) || !live.get(&r.id).is_some_and(|l| l.is_some()) {
            continue;
        }
        let record = record_of(r);
        if state.resources.get(&r.id) != Some(&record) {
            state.resources.insert(r.id.clone(), record);
            adopted = true;
        }
    }
    if adopted {
        state.serial += 1;
        session.store.save(&state)?;
    }

    let header = format!(
        "Stack {:?} in {} (state: {})",
        session.stack.name,
        session.region,
        session.store.path().display()
    );
    if plan.is_empty() {
        printer.result(&format!("{header}\n\nNo changes. AWS matches the spec.\n"));
        print_outputs(printer, &session);
        report_calls(printer, &session.clients);
        return Ok(ExitStatus::Success);
    }

    printer.result(&render::plan(printer, &header, &plan));
    if !confirm(printer, args.yes, "Apply these changes?", "--yes").await? {
        printer.info("Deploy cancelled; nothing was changed.");
        return Ok(ExitStatus::Failure);
    }

    let done = apply(
        "deploy",
        &plan,
        &session,
        &mut state,
        printer,
        global.parallelism,
    )
    .await?;
    state.outputs.insert(
        "bucket".into(),
        plan::desired::bucket_name(&session.stack, &session.region),
    );
    state
        .outputs
        .insert("region".into(), session.region.clone());
    state.serial += 1;
    session.store.save(&state)?;
    printer.result(&format!("\nDeploy complete: {} changes applied.\n", done));
    print_outputs(printer, &session);
    Ok(ExitStatus::Success)
}

fn print_outputs(printer: &Printer, session: &Session) {
    printer.result(&format!(
        "\nOutputs:\n  bucket = {}\n  region = {}\n",
        plan::desired::bucket_name(&session.stack, &session.region),
        session.region
    ));
}
