//! Human rendering of plans and diffs, Terraform style: `+` create, `~` update, `-/+` replace,
//! `-` delete, attribute by attribute.

use std::fmt::Write;

use serde_json::Value;

use super::Printer;
use crate::plan::adopt::ImportPlan;
use crate::plan::{Action, AttrChange, DiffReport, Kind, Plan, Step};

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
        Action::Adopt => "36",
    }
}

/// Values too long for one line are shown as a line diff of their pretty JSON.
const INLINE_WIDTH: usize = 60;

fn changes(p: &Printer, out: &mut String, changes: &[AttrChange], kind: crate::plan::Kind) {
    for c in changes {
        let forces = if kind.forces_replacement(&c.attribute) {
            p.paint("31", "  # forces replacement")
        } else {
            String::new()
        };
        let (before, after) = (show(&c.before), show(&c.after));
        let structured = |v: &Value| v.is_object() || v.is_array();
        if (structured(&c.before) || structured(&c.after))
            && before.len() + after.len() > INLINE_WIDTH
        {
            let _ = writeln!(out, "        {}:{forces}", c.attribute);
            for line in json_line_diff(&c.before, &c.after) {
                let painted = match line.as_bytes().first() {
                    Some(b'-') => p.paint("31", &line),
                    Some(b'+') => p.paint("32", &line),
                    _ => line,
                };
                let _ = writeln!(out, "          {painted}");
            }
        } else {
            let _ = writeln!(out, "        {}: {before} → {after}{forces}", c.attribute);
        }
    }
}

/// Lines of unchanged context shown around each change of a long value.
const CONTEXT_LINES: usize = 3;

/// A line diff of two JSON values pretty-printed (`-` before only, `+` after only, `  ` both), by
/// `similar`: the changed lines with up to three lines of context around each, `  ...` where
/// unchanged lines are left out (a one-statement change in a long policy shows that statement,
/// not the whole policy).
fn json_line_diff(before: &Value, after: &Value) -> Vec<String> {
    let text = |v: &Value| match v {
        Value::Null => String::new(),
        other => serde_json::to_string_pretty(other).unwrap_or_default() + "\n",
    };
    let (a, b) = (text(before), text(after));
    let diff = similar::TextDiff::from_lines(&a, &b);
    let old_lines = a.lines().count();
    let mut out = Vec::new();
    let mut shown_to = 0;
    for group in diff.grouped_ops(CONTEXT_LINES) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        if first.old_range().start > shown_to {
            out.push("  ...".to_string());
        }
        shown_to = last.old_range().end;
        for op in &group {
            for change in diff.iter_changes(op) {
                let sign = match change.tag() {
                    similar::ChangeTag::Delete => "- ",
                    similar::ChangeTag::Insert => "+ ",
                    similar::ChangeTag::Equal => "  ",
                };
                out.push(format!("{sign}{}", change.value().trim_end_matches('\n')));
            }
        }
    }
    if !out.is_empty() && shown_to < old_lines {
        out.push("  ...".to_string());
    }
    out
}

fn step_line(p: &Printer, out: &mut String, s: &Step) {
    let physical = s.physical_id().unwrap_or_default();
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

/// An import's plan: what it adopts (`<=`), the unsafe settings it found, then the changes the
/// next deploy makes to match the spec.
pub fn import_plan(p: &Printer, header: &str, plan: &ImportPlan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{header}\n");
    if plan.adopt.is_empty() {
        let _ = writeln!(
            out,
            "Nothing to import: {} already the stack's (its state records them).",
            plan.already.join(", ")
        );
        return out;
    }
    let _ = writeln!(
        out,
        "Adopt: tag with the stack's ownership tag and record in the state (nothing else changes until deploy):"
    );
    for a in &plan.adopt {
        let id = match a.kind {
            Kind::HttpApi => format!(", id {}", a.named),
            _ => String::new(),
        };
        let with = a
            .with
            .as_ref()
            .map(|w| format!("  (with {w})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {} {} ({} {}{id}){with}",
            p.paint(
                color_of(Action::Adopt),
                &format!("{:>3}", Action::Adopt.symbol())
            ),
            a.id,
            a.kind,
            a.physical_id
        );
    }
    for (unsafe_setting, title, mark) in [
        (
            true,
            "Unsafe settings found (the next deploy removes them):",
            "!",
        ),
        (false, "Also:", "*"),
    ] {
        let found: Vec<_> = plan
            .findings
            .iter()
            .filter(|f| f.unsafe_setting == unsafe_setting)
            .collect();
        if found.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{title}");
        for f in found {
            let mark = if unsafe_setting {
                p.paint("31", mark)
            } else {
                mark.to_string()
            };
            let _ = writeln!(
                out,
                "  {mark} {} ({} {}): {}",
                f.id, f.kind, f.physical_id, f.text
            );
        }
    }
    match &plan.next {
        Ok(next) => {
            let _ = writeln!(
                out,
                "\nThen `presign-stack deploy` will make these changes:\n"
            );
            for s in &next.plan.steps {
                step_line(p, &mut out, s);
            }
            let _ = writeln!(
                out,
                "\nImport: {} to adopt. Then deploy's {}",
                plan.adopt.len(),
                summary(&next.plan).to_lowercase()
            );
        }
        Err(refused) => {
            let _ = writeln!(
                out,
                "\nThe next deploy would still refuse what the spec names and nobody adopted (name it to import as well):\n  {}\n\nImport: {} to adopt.",
                refused.to_string().replace('\n', "\n  "),
                plan.adopt.len()
            );
        }
    }
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
                    "physical_id": s.physical_id(),
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
