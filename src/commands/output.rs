//! `presign-stack output [NAME] [--json]`: the outputs recorded by the last deploy.

use anyhow::{bail, Context};

use super::ExitStatus;
use crate::cli::{Global, OutputArgs};
use crate::output::Printer;

pub async fn run(
    global: &Global,
    args: &OutputArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let (stack, store) = super::open_spec_store(global).await?;
    let outputs = store
        .load(&stack.name)
        .await?
        .map(|s| s.outputs)
        .filter(|o| !o.is_empty())
        .with_context(|| {
            format!(
                "stack {:?} has no outputs: it has not been deployed (state: {})\n  hint: run presign-stack deploy",
                stack.name,
                store.location()
            )
        })?;
    match &args.name {
        Some(name) => {
            let Some(value) = outputs.get(name) else {
                let known: Vec<&str> = outputs.keys().map(String::as_str).collect();
                bail!(
                    "no output named {name:?}\n  hint: the outputs are {}",
                    known.join(", ")
                );
            };
            printer.result(&format!("{value}\n"));
            printer.json_result(
                serde_json::json!({"stack": stack.name, "name": name, "value": value}),
            );
        }
        None => {
            let width = outputs.keys().map(String::len).max().unwrap_or(0);
            for (k, v) in &outputs {
                printer.result(&format!("{k:width$} = {v}\n"));
            }
            printer.json_result(serde_json::json!({"stack": stack.name, "outputs": outputs}));
        }
    }
    Ok(ExitStatus::Success)
}
