//! Human rendering of plans and diffs, Terraform style: `+` create, `~` update, `-/+` replace,
//! `-` delete, attribute by attribute.

use std::fmt::Write;

use serde_json::Value;

use super::Printer;
use crate::plan::{Action, AttrChange, DiffReport, Plan, Step};

fn show(v: &Value) -> String {
    match v {
        Value::Null => "(none)".into(),
        other => other.to_string(),
    }
}

fn color_of(action: Action) -> &'static str {
    match action {
        Action::Create => "32",
        Action::Update => "33",
        Action::Replace => "35",
        Action::Delete => "31",
    }
}

fn changes(p: &Printer, out: &mut String, changes: &[AttrChange], kind: crate::plan::Kind) {
    for c in changes {
        let forces = if kind.forces_replacement(&c.attribute) {
            p.paint("31", "  # forces replacement")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "        {}: {} → {}{forces}",
            c.attribute,
            show(&c.before),
            show(&c.after)
        );
    }
}

fn step_line(p: &Printer, out: &mut String, s: &Step) {
    let physical = s
        .after
        .as_ref()
        .map(|a| a.physical_id().to_string())
        .or_else(|| s.delete_physical_id.clone())
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  {} {} ({} {})",
        p.paint(color_of(s.action), &format!("{:>3}", s.action.symbol())),
        s.id,
        s.kind,
        physical
    );
    changes(p, out, &s.changes, s.kind);
}

/// The one-line summary of a plan.
pub fn summary(plan: &Plan) -> String {
    format!(
        "Plan: {} to create, {} to update, {} to replace, {} to delete.",
        plan.count(Action::Create),
        plan.count(Action::Update),
        plan.count(Action::Replace),
        plan.count(Action::Delete)
    )
}

/// A plan, with a header naming the stack and region, and the summary line.
pub fn plan(p: &Printer, header: &str, plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{header}\n");
    for s in &plan.steps {
        step_line(p, &mut out, s);
    }
    let _ = writeln!(out, "\n{}", summary(plan));
    out
}

/// A diff report: drift first, then pending changes.
pub fn diff(p: &Printer, stack: &str, report: &DiffReport) -> String {
    let mut out = String::new();
    if report.in_sync() {
        let _ = writeln!(
            out,
            "No differences: stack {stack:?} matches both the spec and AWS."
        );
        return out;
    }
    if report.drift.is_empty() {
        let _ = writeln!(out, "Drift: none (AWS matches what was last applied).");
    } else {
        let _ = writeln!(
            out,
            "{}",
            p.paint("1", "Drift: AWS differs from what was last applied")
        );
        for d in &report.drift {
            if d.deleted {
                let _ = writeln!(
                    out,
                    "  {} {} ({} {}) was deleted outside presign-stack",
                    p.paint("31", "  !"),
                    d.id,
                    d.kind,
                    d.physical_id
                );
            } else {
                let _ = writeln!(
                    out,
                    "  {} {} ({} {}) was changed outside presign-stack",
                    p.paint("33", "  !"),
                    d.id,
                    d.kind,
                    d.physical_id
                );
                changes(p, &mut out, &d.changes, d.kind);
            }
        }
    }
    out.push('\n');
    if report.pending.is_empty() {
        let _ = writeln!(
            out,
            "Pending changes: none (the spec matches what was last applied)."
        );
    } else {
        let _ = writeln!(
            out,
            "{}",
            p.paint(
                "1",
                "Pending changes: the spec differs from what was last applied"
            )
        );
        for s in &report.pending {
            step_line(p, &mut out, s);
        }
    }
    let _ = writeln!(
        out,
        "\nRun `presign-stack deploy` to make AWS match the spec."
    );
    out
}

/// A plan for `--json`: one entry per step, with the attributes it changes.
pub fn plan_json(plan: &Plan) -> serde_json::Value {
    serde_json::Value::Array(
        plan.steps
            .iter()
            .map(|s| {
                serde_json::json!({
                    "id": s.id,
                    "kind": s.kind,
                    "action": s.action,
                    "physical_id": s
                        .after
                        .as_ref()
                        .map(|a| a.physical_id().to_string())
                        .or_else(|| s.delete_physical_id.clone()),
                    "changes": s.changes,
                })
            })
            .collect(),
    )
}

/// A diff report for `--json`.
pub fn diff_json(report: &DiffReport) -> serde_json::Value {
    serde_json::json!({
        "in_sync": report.in_sync(),
        "drift": report.drift,
        "pending": plan_json(&Plan { steps: report.pending.clone() }),
    })
}
