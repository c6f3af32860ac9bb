//! `presign-stack import`: adopt resources built by hand into the stack. Reads what is named,
//! plans (the core decides what may be adopted: plan::adopt), confirms, then journals, tags and
//! records. Nothing else changes until `deploy`.

use anyhow::{bail, Context};

use super::{confirm, report_calls, ExitStatus, Interrupted, Session};
use crate::aws::{adopt as aws_adopt, read_all};
use crate::cli::{Global, ImportArgs};
use crate::output::{render, Printer};
use crate::plan::adopt::{self, Found, Seen, Wanted, BUCKET_PARTS};
use crate::plan::{desired, Action, Kind, PendingOperation};

pub async fn run(
    global: &Global,
    args: &ImportArgs,
    printer: &Printer,
    clients: Option<crate::aws::Clients>,
) -> anyhow::Result<ExitStatus> {
    // What is named is checked before anything touches AWS.
    let wanted = parse(&args.resources)?;
    let mut session = Session::open(global, printer, clients).await?;
    let mut signals = super::Signals::install();
    let lock = super::lock_or_interrupt(&session, global, printer, "import", &mut signals).await?;
    let interrupt = session.interrupt.clone();
    let body = locked(&mut session, wanted, args.yes, printer);
    super::with_lock(lock, signals, interrupt, printer, "import", body).await
}

/// Every `KIND=NAME`, or every problem with them.
fn parse(args: &[String]) -> anyhow::Result<Vec<Wanted>> {
    let mut wanted: Vec<Wanted> = Vec::new();
    let mut problems = Vec::new();
    for arg in args {
        match adopt::parse_wanted(arg) {
            Ok(w) if wanted.iter().any(|o| o.kind == w.kind) => {
                problems.push(format!("{arg}: a stack holds one {}; name it once", w.kind))
            }
            Ok(w) => wanted.push(w),
            Err(m) => problems.push(m),
        }
    }
    if !problems.is_empty() {
        bail!(
            "{}\n  hint: presign-stack import --help; nothing was imported",
            problems.join("\n")
        );
    }
    Ok(wanted)
}

async fn locked(
    session: &mut Session,
    mut wanted: Vec<Wanted>,
    yes: bool,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let mut state = session.state_under_lock().await?;
    let unfinished = adopt::interrupted(&state.pending);
    if wanted.is_empty() {
        if unfinished.is_empty() {
            bail!("nothing to import: name what to adopt as KIND=NAME (bucket=NAME, role=NAME, function=NAME, api=ID)\n  hint: presign-stack import --help");
        }
        let names: Vec<String> = unfinished
            .iter()
            .map(|w| format!("{} {}", w.kind, w.name))
            .collect();
        printer.info(&format!(
            "An earlier import was interrupted while adopting {}: finishing it.",
            names.join(", ")
        ));
        wanted = unfinished;
    }
    let seen = read(session, printer, &wanted).await?;
    let wanted_desired = session.desired(printer, false).await?;
    let decided = adopt::reconcile_import(
        &session.stack.name,
        &wanted_desired,
        &state.resources,
        &seen,
        &state.pending,
    )?;
    let header = session.header();
    printer.result(&render::import_plan(printer, &header, &decided));
    let json = |done: bool| {
        serde_json::json!({
            "stack": session.stack.name, "region": session.region, "changed": done,
            "adopted": decided.adopt, "already": decided.already,
            "findings": decided.findings,
            "next_deploy": decided.next.as_ref().map_or(serde_json::json!([]), |n| render::plan_json(&n.plan)),
            "next_deploy_refuses": decided.next.as_ref().err().map_or(Vec::new(), |r| r.0.iter().map(|x| x.to_string()).collect::<Vec<_>>()),
        })
    };
    if decided.adopt.is_empty() {
        printer.json_result(json(false));
        report_calls(printer, &session.run.clients);
        return Ok(ExitStatus::Success);
    }
    if !confirm(printer, yes, "Adopt these resources?", "--yes").await? {
        printer.info("Import cancelled; nothing was changed.");
        return Ok(ExitStatus::Failure);
    }

    // The journal first: an interrupted import is finished by the next `import`.
    let since = crate::clock::now_rfc3339();
    state.pending.retain(|p| p.action != Action::Adopt);
    state
        .pending
        .extend(
            decided
                .adopt
                .iter()
                .filter(|a| a.with.is_none())
                .map(|a| PendingOperation {
                    id: a.id.clone(),
                    kind: a.kind,
                    action: Action::Adopt,
                    physical_id: a.named.clone(),
                    since: since.clone(),
                }),
        );
    state.serial += 1;
    session.store.save(&state).await?;
    let account_id = session.account_id().await?;
    session.interrupt.set_applying(true);
    for (done, a) in decided.adopt.iter().enumerate() {
        if session.interrupt.requested() {
            session.interrupt.set_applying(false);
            return Err(Interrupted(format!(
                "import interrupted after adopting {done} of {}: run `presign-stack import` to finish it",
                decided.adopt.len()
            ))
            .into());
        }
        if a.tag {
            aws_adopt::tag(&session.run, a, &account_id)
                .await
                .with_context(|| format!("adopting {} {}", a.kind, a.physical_id))?;
        }
        printer.progress(&format!("adopted {} ({} {})", a.id, a.kind, a.physical_id));
    }
    session.interrupt.set_applying(false);
    for a in &decided.adopt {
        state.resources.insert(a.id.clone(), a.record.clone());
    }
    state.pending.retain(|p| p.action != Action::Adopt);
    state.serial += 1;
    session.store.save(&state).await?;
    printer.result(&format!(
        "\nImport complete: {} resources adopted. `presign-stack deploy` makes the changes above; until then nothing else changes.\n",
        decided.adopt.len()
    ));
    printer.json_result(json(true));
    Ok(ExitStatus::Success)
}

/// Reads, in one wave: what is named, what AWS holds at the spec's physical ids, and every
/// part of a named bucket; then the managed policies on a named role.
async fn read(session: &Session, printer: &Printer, wanted: &[Wanted]) -> anyhow::Result<Seen> {
    let stack = &session.stack;
    let mut targets = session.read_targets();
    if wanted.iter().any(|w| w.kind == Kind::S3Bucket) {
        let bucket = desired::bucket_name(stack, &session.region);
        for (id, kind) in BUCKET_PARTS {
            if !targets.iter().any(|(t, _, _)| t == id) {
                targets.push((id.to_string(), kind, bucket.clone()));
            }
        }
    }
    let run = session.run.clone();
    let mut set = tokio::task::JoinSet::new();
    for (i, w) in wanted.iter().cloned().enumerate() {
        let run = run.clone();
        set.spawn(async move { (i, aws_adopt::read_named(&run, &w).await) });
    }
    let named = async {
        let mut out = Vec::new();
        while let Some(joined) = set.join_next().await {
            out.push(joined.context("a read task failed (a bug in presign-stack)")?);
        }
        out.sort_by_key(|(i, _)| *i);
        anyhow::Ok(out)
    };
    let (live, named) = tokio::join!(read_all(&run, targets), named);
    let live = live.context("reading the stack's resources from AWS")?;
    let mut found = Vec::new();
    for (w, (_, live)) in wanted.iter().zip(named?) {
        let live = live.with_context(|| format!("reading {} {}", w.kind, w.name))?;
        found.push(Found {
            wanted: w.clone(),
            live,
        });
    }
    let arns: Vec<String> = found
        .iter()
        .filter_map(|f| match &f.live {
            Some(crate::plan::Props::IamRole(r)) => Some(r.attached_policies.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    let managed = aws_adopt::managed_policies(&run, &arns).await.unwrap_or_else(|e| {
        printer.info(&format!(
            "note: could not read the role's managed policies ({e}); the plan names them without what they grant"
        ));
        Default::default()
    });
    Ok(Seen {
        found,
        live,
        managed,
    })
}
