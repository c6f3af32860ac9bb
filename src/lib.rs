//! presign-stack: an infrastructure-as-code provisioner for browser uploads to a private S3
//! bucket through pre-signed URLs.
//!
//! Layout: [`spec`] (stack.yaml → validated `Stack`, pure), [`plan`] (desired resources,
//! normalisation, diff and plan, pure), [`aws`] (effects, one module per resource kind),
//! [`exec`] (the DAG executor), [`state`] (state file and lock), [`output`] (the printer),
//! [`commands`] (one module per subcommand).

pub mod artifact;
pub mod aws;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod exec;
pub mod hooks;
pub mod output;
pub mod plan;
pub mod presigned;
pub mod spec;
pub mod state;

use cli::{Cli, Command};
use commands::ExitStatus;
use output::Printer;

/// Runs a parsed command line. `clients` replaces the clients built from the AWS settings (tests
/// pass clients with their own interceptors); errors are printed with their whole chain.
pub async fn run(mut cli: Cli, printer: &Printer, clients: Option<aws::Clients>) -> ExitStatus {
    if cli.global.env.is_none() {
        cli.global.env = default_environment(&cli.global.file);
    }
    if cli.global.json && matches!(cli.command, Command::Completions { .. } | Command::Dev(_)) {
        // A usage error, refused before anything runs (exit 1, nothing on stdout).
        let what = if matches!(cli.command, Command::Dev(_)) {
            "dev serves HTTP until stopped; its log lines are for people"
        } else {
            "completions prints a shell script"
        };
        printer.info(&format!(
            "error: --json does not apply here: {what}\n  hint: run it without --json"
        ));
        return ExitStatus::Failure;
    }
    let result = match &cli.command {
        Command::Deploy(args) => commands::deploy::run(&cli.global, args, printer, clients).await,
        Command::Diff => commands::diff::run(&cli.global, printer, clients).await,
        Command::Destroy(args) => commands::destroy::run(&cli.global, args, printer, clients).await,
        Command::Import(args) => commands::import::run(&cli.global, args, printer, clients).await,
        Command::Output(args) => commands::output::run(&cli.global, args, printer).await,
        Command::State(cmd) => commands::state::run(&cli.global, cmd, printer).await,
        Command::Dev(args) => commands::dev::run(&cli.global, args, printer).await,
        Command::Url(cmd) => commands::url::run(&cli.global, cmd, printer).await,
        Command::Smoke(args) => commands::smoke::run(&cli.global, args, printer).await,
        Command::Validate => commands::validate(&cli.global, printer),
        Command::Schema => {
            let schema = schemars::schema_for!(spec::raw::RawStack);
            printer.result(&format!(
                "{}\n",
                serde_json::to_string_pretty(&schema).unwrap_or_default()
            ));
            printer.json_result(serde_json::json!({"schema": schema}));
            Ok(ExitStatus::Success)
        }
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(
                *shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "presign-stack",
                &mut out,
            );
            let mut script = String::from_utf8_lossy(&out).into_owned();
            if *shell == clap_complete::Shell::Bash {
                script = fix_bash_labels(&script, "presign-stack");
            }
            printer.result(&script);
            Ok(ExitStatus::Success)
        }
    };
    match result {
        Ok(status) => status,
        Err(e) => {
            let message = aws::errors::chain_for_people(&e);
            printer.info(&format!("error: {message}"));
            if let Some(detail) = aws::errors::sdk_detail(&e) {
                printer.debug(&format!("the AWS SDK's error: {detail}"));
            }
            printer.json_result(serde_json::json!({"error": message}));
            if e.is::<commands::Interrupted>() {
                ExitStatus::Interrupted
            } else {
                ExitStatus::Failure
            }
        }
    }
}

/// clap_complete's bash script spells a hyphenated binary's state two ways: the loop that walks
/// the words arrives at `presign__stack__subcmd__deploy`, the arms that list each subcommand's
/// flags are labelled `presign__subcmd__stack__subcmd__deploy`, so nothing below the top level
/// completes (clap-rs/clap#6421, open as of clap_complete 4.6.12). The arms are relabelled the
/// way the loop spells them.
fn fix_bash_labels(script: &str, bin: &str) -> String {
    let escaped = bin.replace('-', "__");
    let wrong = bin.replace('-', "__subcmd__");
    if escaped == wrong {
        return script.to_string();
    }
    script.replace(&wrong, &escaped)
}

/// `PRESIGN_STACK_DEFAULT_ENV`: the environment to use when none is chosen, if the spec defines
/// it. scripts/local sets it to `local`, so the example's `environments.local` (what the plain-HTTP
/// emulator needs relaxed) applies there and nowhere else; a spec without it is unaffected.
fn default_environment(file: &std::path::Path) -> Option<String> {
    let name = std::env::var("PRESIGN_STACK_DEFAULT_ENV")
        .ok()
        .filter(|n| !n.is_empty())?;
    let text = spec::read_spec(file).ok()?;
    let tree = spec::shape::tree(&text)?;
    let spec::shape::Node::Map(top) = &tree.value else {
        return None;
    };
    let (_, environments) = top.iter().find(|(k, _)| k.value == "environments")?;
    let spec::shape::Node::Map(envs) = &environments.value else {
        return None;
    };
    envs.iter().any(|(k, _)| k.value == name).then_some(name)
}
