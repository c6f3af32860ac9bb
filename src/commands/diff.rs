//! `presign-stack diff`: read-only drift and pending-change report.

use super::{read_recorded, report_calls, ExitStatus, Session};
use crate::cli::Global;
use crate::output::{render, Printer};
use crate::plan;

pub async fn run(
    global: &Global,
    printer: &Printer,
    clients: Option<crate::aws::Clients>,
) -> anyhow::Result<ExitStatus> {
    let mut session = Session::open(global, printer, clients).await?;
    let recorded = session.recorded();
    // The reads and the account id (STS) in one parallel wave.
    let run = session.run.clone();
    let (live, wanted) = tokio::join!(
        read_recorded(&run, &recorded),
        session.desired(printer, false)
    );
    let (live, wanted) = (live?, wanted?);
    let report = plan::diff(&wanted, &recorded, &live);
    printer.result(&format!("{}\n\n", session.header()));
    printer.result(&render::diff(printer, &session.stack.name, &report));
    let mut json = render::diff_json(&report);
    json["stack"] = session.stack.name.clone().into();
    json["region"] = session.region.clone().into();
    printer.json_result(json);
    report_calls(printer, &session.run.clients);
    Ok(if report.in_sync() {
        ExitStatus::Success
    } else {
        ExitStatus::Differences
    })
}
