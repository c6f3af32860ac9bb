//! Command-line definitions (clap derive) and nothing else.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Provision browser uploads to a private S3 bucket through pre-signed URLs.
///
/// presign-stack reads a declarative stack.yaml and makes AWS match it: the S3 bucket with its
/// ownership controls, public access block, encryption, versioning, CORS rules and policy; the
/// signer's IAM role, log group and Lambda function; and the HTTP API in front of it. It
/// records what it applied in a state file next to the spec (.presign-stack/<stack>.json), so
/// that `diff` reports drift and `destroy` removes exactly what it created.
///
/// AWS settings are the standard ones: the credential chain, AWS_PROFILE / --profile,
/// AWS_REGION / --region, and AWS_ENDPOINT_URL for an emulator (see scripts/emulator).
///
/// Exit status: 0 success (for diff: in sync), 1 error, 2 diff found differences.
#[derive(Debug, Parser)]
#[command(
    name = "presign-stack",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The stack spec to use.
    #[arg(
        short = 'f',
        long = "file",
        global = true,
        default_value = "stack.yaml",
        value_name = "PATH"
    )]
    pub file: PathBuf,
    /// AWS region (overrides `region:` in the spec and AWS_REGION).
    #[arg(
        long,
        global = true,
        env = "PRESIGN_STACK_REGION",
        value_name = "REGION"
    )]
    pub region: Option<String>,
    /// AWS shared-config profile to use (as AWS_PROFILE).
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Folder for state and lock files [default: .presign-stack/ next to the spec].
    #[arg(
        long,
        global = true,
        env = "PRESIGN_STACK_STATE_DIR",
        value_name = "DIR"
    )]
    pub state_dir: Option<PathBuf>,
    /// How many AWS changes may run at once.
    #[arg(long, global = true, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallelism: u16,
    /// How long to wait for another run's lock on the stack, in seconds (0: fail at once).
    #[arg(long, global = true, default_value_t = 0, value_name = "SECONDS")]
    pub lock_timeout: u64,
    /// How long to wait for IAM changes to reach Lambda, in seconds.
    #[arg(long, global = true, default_value_t = 300, value_name = "SECONDS")]
    pub propagation_timeout: u64,
    /// Print results as one JSON document on stdout (with `format_version`); logs stay on
    /// stderr and exit codes are unchanged. For deploy and destroy, also pass --yes.
    #[arg(long, global = true)]
    pub json: bool,
    /// Show more detail (AWS calls made, timings).
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or update the stack's resources so AWS matches the spec.
    ///
    /// Shows the plan, asks for confirmation on a terminal, applies it and prints the outputs.
    /// Without a terminal, --yes is required. A deploy with nothing to do says so and changes
    /// nothing.
    Deploy(DeployArgs),
    /// Report drift (AWS changed outside presign-stack) and pending changes (the spec changed).
    ///
    /// Read-only: takes no lock and makes no change. Exit status 0 = in sync, 2 = differences,
    /// 1 = error, so a scheduled job can alert on drift.
    Diff,
    /// Delete every resource the stack created, in reverse dependency order.
    ///
    /// Only resources recorded in the state (and still carrying the stack's ownership tag) are
    /// deleted; one that lost the tag is left in place with what lives on it, reported, and the
    /// exit status is 1. A bucket that still holds objects is refused unless --force-empty is given or
    /// the spec sets bucket.force_destroy: true.
    Destroy(DestroyArgs),
    /// Print the stack's outputs (API URL, bucket, function and role ARNs) from the state.
    ///
    /// Makes no AWS call. With NAME, prints that one value alone (for scripts:
    /// `curl "$(presign-stack output api_url)?filekey=a.jpg&contentType=image/jpeg"`).
    Output(OutputArgs),
    /// Inspect the state, or clear a lock left behind.
    #[command(subcommand)]
    State(StateCommand),
    /// Check stack.yaml offline: parse and validate it, report every problem with its line and
    /// column. Makes no AWS call; exit 0 when valid, 1 otherwise.
    Validate,
    /// Print the JSON Schema of stack.yaml, generated from the types the parser uses. Editors
    /// use it through `# yaml-language-server: $schema=<file>` at the top of stack.yaml.
    Schema,
    /// Print a shell completion script: `presign-stack completions bash > /etc/bash_completion.d/presign-stack`.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List the resources the state records (and operations an interrupted run left).
    List,
    /// Show what the state records for one resource (an id from `state list`).
    Show {
        /// The resource id, e.g. bucket or function.
        resource: String,
    },
    /// Remove the stack's lock. A lock whose process is gone on this host is removed at once;
    /// another one only with --force (make sure no run is active).
    Unlock {
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// The output to print: api_url, bucket, function_arn, role_arn or region.
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Apply without asking for confirmation.
    #[arg(short, long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Delete without asking for confirmation.
    #[arg(short, long)]
    pub yes: bool,
    /// Delete every object version and delete marker in the bucket first.
    #[arg(long)]
    pub force_empty: bool,
}
