//! `presign-stack diff`: read-only drift and pending-change report.

use anyhow::Context;

use super::{read_live, report_calls, ExitStatus, Session};
use crate::cli::Global;
use crate::output::{render, Printer};
use crate::plan;

pub async fn run(
    global: &Global,
    printer: &Printer,
    clients: Option<crate::aws::Clients>,
) -> anyhow::Result<ExitStatus> {
    let session = Session::open(global, clients).await?;
    let recorded = session.recorded();
    let targets = recorded
        .iter()
        .map(|(id, r)| (id.clone(), r.kind, r.physical_id.clone()))
        .collect();
    let live = read_live(&session.clients, targets)
        .await
        .context("reading the stack's resources from AWS")?;
    let report = plan::diff(&session.desired, &recorded, &live);
    printer.result(&format!(
        "Stack {:?} in {} (state: {})\n\n",
        session.stack.name,
        session.region,
        session.store.path().display()
    ));
    printer.result(&render::diff(printer, &session.stack.name, &report));
    report_calls(printer, &session.clients);
    Ok(if report.in_sync() {
        ExitStatus::Success
    } else {
        ExitStatus::Differences
    })
}
