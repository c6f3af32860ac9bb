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
pub async fn run(cli: Cli, printer: &Printer, clients: Option<aws::Clients>) -> ExitStatus {
    let result = match &cli.command {
        Command::Deploy(args) => commands::deploy::run(&cli.global, args, printer, clients).await,
        Command::Diff => commands::diff::run(&cli.global, printer, clients).await,
        Command::Destroy(args) => commands::destroy::run(&cli.global, args, printer, clients).await,
        Command::Output(args) => commands::output::run(&cli.global, args, printer).await,
        Command::State(cmd) => commands::state::run(&cli.global, cmd, printer).await,
        Command::Dev(args) => commands::dev::run(&cli.global, args, printer).await,
        Command::Url(cmd) => commands::url::run(&cli.global, cmd, printer).await,
        Command::Validate => commands::validate(&cli.global, printer),
        Command::Schema => {
            let schema = schemars::schema_for!(spec::raw::RawStack);
            printer.result(&format!(
                "{}\n",
                serde_json::to_string_pretty(&schema).unwrap_or_default()
            ));
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
            printer.result(&String::from_utf8_lossy(&out));
            Ok(ExitStatus::Success)
        }
    };
    match result {
        Ok(status) => status,
        Err(e) => {
            printer.info(&format!("error: {e:#}"));
            printer.json_result(serde_json::json!({"error": format!("{e:#}")}));
            if e.is::<commands::Interrupted>() {
                ExitStatus::Interrupted
            } else {
                ExitStatus::Failure
            }
        }
    }
}
