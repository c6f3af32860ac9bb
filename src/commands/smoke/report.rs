//! What `smoke` prints: a line per step, url explain's findings, the verdict; or the JSON.

use super::Smoke;
use crate::output::Printer;

pub(super) fn report(printer: &Printer, api_url: &str, origin: Option<&str>, smoke: &Smoke) {
    let ok = smoke.steps.iter().all(|s| s.ok);
    let failed = smoke.steps.iter().find(|s| !s.ok).map(|s| s.step);
    if printer.json {
        printer.json_result(serde_json::json!({
            "api_url": api_url,
            "origin": origin,
            "ok": ok,
            "failed_step": failed,
            "steps": smoke.steps,
            "explain": smoke.explain.as_ref().map(|r| serde_json::json!({
                "findings": r.findings,
                "problems": r.problems(),
            })),
        }));
        return;
    }
    let mut out = String::new();
    for s in &smoke.steps {
        let mark = if s.ok { "✓" } else { "✗" };
        let status = s
            .status
            .map(|c| c.to_string())
            .unwrap_or_else(|| "-".into());
        let ms =
            s.ms.map(|m| format!("{m} ms"))
                .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{mark} {:<12} {status:>4} {ms:>8}  {}\n",
            s.step, s.detail
        ));
    }
    if let Some(r) = &smoke.explain {
        out.push_str("\nurl explain on the refused URL:\n");
        out.push_str(&crate::commands::url::finding_lines(&r.findings, "  "));
        if r.findings.is_empty() {
            out.push_str("  no finding\n");
        }
    }
    match failed {
        None => out.push_str("\nThe upload path works.\n"),
        Some(step) => out.push_str(&format!(
            "\nThe upload path is broken at step \"{step}\".\n"
        )),
    }
    printer.result(&out);
}
