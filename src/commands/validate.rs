//! `presign-stack validate`: the spec's problems, offline. Every problem of the stack and of
//! each environment, with file, line, column and the YAML path; `--json` gives them as data.

use std::path::Path;

use serde_json::json;

use super::ExitStatus;
use crate::cli::Global;
use crate::output::Printer;
use crate::spec::{self, LoadError, SpecError, Stack};

/// One problem (or warning) as `validate --json` reports it.
fn diagnostic(
    text: &str,
    severity: &str,
    environment: Option<&str>,
    e: &SpecError,
) -> serde_json::Value {
    json!({
        "severity": severity,
        "environment": environment,
        "file": e.file.display().to_string(),
        "line": e.line,
        "column": e.column,
        "path": spec::path_at(text, e.line, e.column),
        "message": e.message,
        "hint": e.hint,
    })
}

fn valid_line(file: &Path, stack: &Stack) -> String {
    format!(
        "{} is valid: stack {:?}{}.\n",
        file.display(),
        stack.name,
        stack
            .region
            .as_deref()
            .map(|r| format!(" in {r}"))
            .unwrap_or_default()
    )
}

/// Validates the spec; without `--env`, every environment too (an error there would otherwise
/// wait for the first deploy of that environment), from one parse of the file.
pub fn validate(global: &Global, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let file = global.file.as_path();
    let text = match spec::read_spec(file) {
        Ok(text) => text,
        Err(LoadError::Invalid(errors)) if printer.json => {
            let diagnostics: Vec<_> = errors
                .0
                .iter()
                .map(|e| diagnostic("", "error", None, e))
                .collect();
            printer.json_result(json!({"valid": false, "diagnostics": diagnostics}));
            return Ok(ExitStatus::Failure);
        }
        Err(e) => return Err(e.into()),
    };
    // (environment, result) for the stack itself (None) and each environment checked.
    let mut results: Vec<(Option<String>, Result<Stack, spec::SpecErrors>)> = Vec::new();
    match global.env.as_deref() {
        Some(env) => results.push((
            Some(env.to_string()),
            spec::parse_env(file, &text, Some(env)),
        )),
        None => match spec::parse_with_environments(file, &text) {
            Ok((stack, environments)) => {
                results.push((None, stack));
                results.extend(environments.into_iter().map(|(n, r)| (Some(n), r)));
            }
            Err(e) => results.push((None, Err(e))),
        },
    }
    let valid = results.iter().all(|(_, r)| r.is_ok());

    if printer.json {
        let mut diagnostics = Vec::new();
        let mut environments = Vec::new();
        let mut stack_name = None;
        for (env, result) in &results {
            match result {
                Ok(s) => {
                    for w in &s.warnings {
                        diagnostics.push(diagnostic(&text, "warning", env.as_deref(), w));
                    }
                    match env {
                        Some(e) => {
                            environments.push(json!({"name": e, "stack": s.name, "valid": true}))
                        }
                        None => stack_name = Some(s.name.clone()),
                    }
                }
                Err(errors) => {
                    for e in &errors.0 {
                        // An environment inherits the stack's settings, and their problems:
                        // each is listed once, for the stack.
                        let inherited = env.is_some()
                            && results.iter().any(|(other, r)| {
                                other.is_none()
                                    && r.as_ref().err().is_some_and(|base| base.0.contains(e))
                            });
                        if !inherited {
                            diagnostics.push(diagnostic(&text, "error", env.as_deref(), e));
                        }
                    }
                    if let Some(e) = env {
                        environments.push(json!({"name": e, "stack": null, "valid": false}));
                    }
                }
            }
        }
        printer.json_result(json!({
            "valid": valid,
            "file": file.display().to_string(),
            "stack": stack_name,
            "environments": environments,
            "diagnostics": diagnostics,
        }));
        return Ok(if valid {
            ExitStatus::Success
        } else {
            ExitStatus::Failure
        });
    }

    let mut report = String::new();
    let mut errors = Vec::new();
    for (env, result) in results {
        match (env, result) {
            (env, Ok(s)) => {
                super::print_warnings(printer, &s);
                match env {
                    Some(e) if global.env.is_none() => {
                        report.push_str(&format!("  environment {e}: stack {:?}\n", s.name))
                    }
                    _ => report.insert_str(0, &valid_line(file, &s)),
                }
            }
            (None, Err(e)) => return Err(LoadError::Invalid(e).into()),
            (Some(_), Err(e)) if global.env.is_some() => return Err(LoadError::Invalid(e).into()),
            (Some(env), Err(e)) => errors.push(format!("environment {env}:\n{e}")),
        }
    }
    if !errors.is_empty() {
        anyhow::bail!("{}", errors.join("\n"));
    }
    printer.result(&report);
    Ok(ExitStatus::Success)
}
