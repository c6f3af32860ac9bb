//! `presign-stack deploy`: plan, confirm, apply, print outputs.

use std::collections::BTreeMap;

use anyhow::Context;

use super::{apply, confirm, report_calls, ExitStatus, Session};
use crate::aws::http_api;
use crate::aws::read_all;
use crate::cli::{DeployArgs, Global};
use crate::output::{render, Printer};
use crate::plan::{desired, reconcile};

pub async fn run(
    global: &Global,
    args: &DeployArgs,
    printer: &Printer,
    clients: Option<crate::aws::Clients>,
) -> anyhow::Result<ExitStatus> {
    let mut session = Session::open(global, printer, clients).await?;
    let mut signals = super::Signals::install();
    let lock = super::lock_or_interrupt(&session, global, printer, "deploy", &mut signals).await?;
    let interrupt = session.interrupt.clone();
    let body = locked(&mut session, global, args, printer);
    super::with_lock(lock, signals, interrupt, printer, "deploy", body).await
}

/// The deploy itself, under the stack's lock.
async fn locked(
    session: &mut Session,
    global: &Global,
    args: &DeployArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let mut state = session.state_under_lock().await?;
    crate::hooks::hold_point().await;
    if let Some(m) = crate::plan::adopt::unfinished_import(&state.pending) {
        anyhow::bail!(m);
    }
    let recorded = state.resources.clone();
    // Read every resource while the account id (STS) and the artifact are fetched, in one
    // parallel wave.
    let provisional = session.read_targets();
    let run = session.run.clone();
    let (wanted, live) = tokio::join!(
        session.desired(printer, true),
        read_all(&run, provisional.clone())
    );
    let wanted = wanted?;
    let mut live = live.context("reading the stack's resources from AWS")?;
    if super::targets(&wanted) != provisional {
        // Cannot happen while physical ids do not depend on the account; read again if so.
        live = read_all(&session.run, super::targets(&wanted))
            .await
            .context("reading the stack's resources from AWS")?;
    }

    // Never adopt what the stack did not create (or what another stack owns): decided in the
    // core, from the state, the journal and what AWS holds.
    let decided = reconcile::reconcile_deploy(
        &session.stack.name,
        &wanted,
        &recorded,
        &live,
        &state.pending,
    )?;
    if !decided.resumed.is_empty() {
        printer.info(&format!(
            "An earlier run was interrupted during: {}. Resuming from what AWS holds now.",
            decided.resumed.join(", ")
        ));
    }
    let plan = decided.plan;
    // Resources already as wanted: make sure the state records them (adoption after a crash,
    // or a state written by an older run), without any AWS call.
    let adopted = !decided.records.is_empty();
    state.resources.extend(decided.records);

    let header = session.header();
    if plan.is_empty() {
        if adopted || state.outputs.is_empty() || !state.pending.is_empty() {
            state.pending.clear();
            state.outputs = outputs(session).await?;
            state.serial += 1;
            session.store.save(&state).await?;
        }
        printer.result(&format!("{header}\n\nNo changes. AWS matches the spec.\n"));
        print_outputs(session, printer, &state.outputs);
        printer.json_result(serde_json::json!({
            "stack": session.stack.name, "region": session.region,
            "changed": false, "plan": [], "applied": 0, "outputs": state.outputs,
        }));
        report_calls(printer, &session.run.clients);
        return Ok(ExitStatus::Success);
    }
    if adopted {
        state.serial += 1;
        session.store.save(&state).await?;
    }

    printer.result(&render::plan(printer, &header, &plan));
    if !confirm(printer, args.yes, "Apply these changes?", "--yes").await? {
        printer.info("Deploy cancelled; nothing was changed.");
        return Ok(ExitStatus::Failure);
    }

    let done = apply(
        "deploy",
        &plan,
        session,
        &mut state,
        printer,
        global.parallelism,
    )
    .await?;
    // Everything planned is done: what an interrupted run left in the journal is settled too.
    state.pending.clear();
    state.outputs = outputs(session).await?;
    state.serial += 1;
    session.store.save(&state).await?;
    printer.result(&format!("\nDeploy complete: {done} changes applied.\n"));
    print_outputs(session, printer, &state.outputs);
    printer.json_result(serde_json::json!({
        "stack": session.stack.name, "region": session.region,
        "changed": true, "plan": render::plan_json(&plan), "applied": done, "outputs": state.outputs,
    }));
    Ok(ExitStatus::Success)
}

/// What users need from the stack: the API URL, bucket, function and role.
async fn outputs(session: &Session) -> anyhow::Result<BTreeMap<String, String>> {
    let stack = &session.stack;
    let region = &session.region;
    let mut out = BTreeMap::from([
        ("bucket".to_string(), desired::bucket_name(stack, region)),
        ("region".to_string(), region.clone()),
    ]);
    let target = desired::Target {
        region: region.clone(),
        account_id: session.account_id().await?,
        code_sha256: String::new(),
    };
    out.insert("function_arn".into(), desired::function_arn(stack, &target));
    out.insert("role_arn".into(), desired::role_arn(stack, &target));
    let api_name = desired::api_name(stack);
    if let Some(endpoint) = http_api::endpoint(&session.run, &api_name).await? {
        out.insert(
            "api_url".into(),
            format!("{}{}", endpoint.trim_end_matches('/'), stack.api.route),
        );
    }
    Ok(out)
}

fn print_outputs(session: &Session, printer: &Printer, outputs: &BTreeMap<String, String>) {
    let mut text = String::from("\nOutputs:\n");
    for (k, v) in outputs {
        text.push_str(&format!("  {k} = {v}\n"));
    }
    printer.result(&text);
    // An emulator keeps API Gateway's resources but serves no HTTP through them.
    if let (Some(endpoint), true) = (
        &session.run.clients.s3_endpoint,
        outputs.contains_key("api_url"),
    ) {
        printer.info(&format!(
            "note: api_url is where AWS would serve the API; the emulator at {endpoint} does not serve API Gateway: `presign-stack dev` serves the same API, with the signer's code, on 127.0.0.1"
        ));
    }
}
