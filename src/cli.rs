//! Command-line definitions (clap derive) and nothing else.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Provision browser uploads to a private S3 bucket through pre-signed URLs.
///
/// presign-stack reads a declarative stack.yaml and makes AWS match it: the S3 bucket with its
/// ownership controls, public access block, encryption, versioning, CORS rules and policy; the
/// signer's IAM role, log group and Lambda function; and the HTTP API in front of it. It
/// records what it applied in a state file next to the spec (.presign-stack/<stack>.json), or in
/// an S3 bucket a team shares (`state:` in the spec), so that `diff` reports drift and `destroy`
/// removes exactly what it created.
///
/// AWS settings are the standard ones: the credential chain, AWS_PROFILE / --profile,
/// AWS_REGION / --region, and AWS_ENDPOINT_URL for an emulator (see scripts/emulator).
///
/// Exit status: 0 success (for diff: in sync), 1 error, 2 differences found (diff) or problems
/// found (url explain), 130 interrupted (Ctrl-C / SIGTERM; the state records what was done).
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
    /// Deploy this environment of the stack (an entry of `environments:` in the spec): its own
    /// resources and state, as the stack `<stack>-<ENV>`. Without it,
    /// PRESIGN_STACK_DEFAULT_ENV names an environment to use when the spec defines one of that
    /// name (scripts/local sets it to `local`).
    #[arg(long, global = true, env = "PRESIGN_STACK_ENV", value_name = "ENV")]
    pub env: Option<String>,
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
    /// Adopt resources built by hand (the original write-up's, say) into the stack.
    ///
    /// Name what exists as KIND=NAME: bucket=NAME, role=NAME, function=NAME, api=ID (an HTTP
    /// API's id); a bucket's CORS, policy and other settings come with it, as does a function's
    /// log group. It reads each one and prints a plan: what it adopts, then what the next deploy
    /// will change to match the spec, with the unsafe settings called out (a public-read
    /// policy, ACLs enabled, `*` CORS, a Node.js function, a role with console policies). After
    /// confirmation (--yes without a terminal) it tags each with the stack's ownership tag and
    /// records it in the state; nothing else changes until `deploy`. A resource of another
    /// stack, one that does not exist and a kind it cannot adopt are refused, changing nothing.
    /// Without KIND=NAME, it finishes an import that was interrupted.
    Import(ImportArgs),
    /// Delete every resource the stack created, in reverse dependency order.
    ///
    /// Only resources recorded in the state (and still carrying the stack's ownership tag) are
    /// deleted; one that lost the tag is left in place with what lives on it, reported, and the
    /// exit status is 1. A bucket that still holds objects is refused unless --force-empty is given or
    /// the spec sets bucket.force_destroy: true.
    Destroy(DestroyArgs),
    /// Print the stack's outputs (API URL, bucket, function and role ARNs) from the state.
    ///
    /// Makes no AWS call besides reading a state kept in S3. With NAME, prints that one value alone (for scripts:
    /// `curl "$(presign-stack output api_url)?filekey=a.jpg&contentType=image/jpeg"`).
    Output(OutputArgs),
    /// Inspect the state, clear a lock left behind, or keep the state in S3 (bootstrap, migrate).
    #[command(subcommand)]
    State(StateCommand),
    /// Check stack.yaml offline: parse and validate it, report every problem with its line and
    /// column. Makes no AWS call; exit 0 when valid, 1 otherwise.
    Validate,
    /// Print the JSON Schema of stack.yaml, generated from the types the parser uses. Editors
    /// use it through `# yaml-language-server: $schema=<file>` at the top of stack.yaml.
    Schema,
    /// Serve the stack's API on 127.0.0.1 with the real signer code, for front-end work.
    ///
    /// Answers GET <route>?filekey=...&contentType=... exactly as the deployed function does
    /// (same validation, same JSON), applies api.cors_origins as API Gateway does, and signs
    /// with your own AWS credentials for the stack's bucket (on AWS, or on the emulator when
    /// AWS_ENDPOINT_URL is set). Uploads need the deployed bucket: it warns at start when the
    /// bucket does not exist yet. No Docker needed.
    Dev(DevArgs),
    /// Check that an upload works now, as a browser would do it, step by step.
    ///
    /// Asks the API for a URL (with the page's Origin), checks the API's and the bucket's CORS
    /// answers, uploads a small object with the headers the signer returned, reads it back
    /// (HEAD) and deletes it with your credentials. Each step is reported with its status and
    /// latency; a failing step is named, and a refused URL is run through `url explain`. The
    /// API is the deployed one (the state's api_url) unless --api-url names another (`dev`,
    /// say). Exit 0 when the upload path works, 1 otherwise.
    Smoke(SmokeArgs),
    /// Debug pre-signed URLs: `url explain` says why one fails, `url sign` makes one.
    #[command(subcommand)]
    Url(UrlCommand),
    /// Print a shell completion script: `presign-stack completions bash > /etc/bash_completion.d/presign-stack`.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub struct SmokeArgs {
    /// The signing route to test, e.g. http://127.0.0.1:8787/sign (default: the deployed
    /// stack's api_url from the state).
    #[arg(long, value_name = "URL", conflicts_with = "dev")]
    pub api_url: Option<String>,
    /// Test the local path instead: serve the API as `presign-stack dev` does (the signer's
    /// code, your credentials, the bucket on AWS or the emulator) on a free port for this run.
    #[arg(long)]
    pub dev: bool,
    /// The page's origin the requests carry (default: the first of api.cors_origins; without
    /// one, no CORS check).
    #[arg(long)]
    pub origin: Option<String>,
    /// A bearer token for an API with api.jwt on (`dev` prints local ones).
    #[arg(long, env = "PRESIGN_STACK_SMOKE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Port to listen on (127.0.0.1 only; 0 picks a free port).
    #[arg(long, default_value_t = 8787)]
    pub port: u16,
    /// With api.jwt on: print a local token for this subject (the token's `sub`, which names the
    /// user's folder under uploads.prefix). Repeat it for several users; without it, one token
    /// for `presign-stack-dev`.
    #[arg(long = "token-for", value_name = "SUB")]
    pub token_for: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum UrlCommand {
    /// Take a pre-signed URL apart and name every problem that can be proven.
    ///
    /// Shows bucket, key, region, access key id, signing time, expiry (and whether it has
    /// passed), the headers the client must send, and whether a session token limits its
    /// life. Given the request you intend (--method, --header), S3's error body (--s3-error)
    /// or the page's origin (--origin, reads the bucket's CORS rules), it names what breaks and
    /// how to fix it. When your own credentials signed the URL (as with `dev` or `url sign`), it
    /// recomputes the signature and says which part differs. Exit status: 0 no problem found,
    /// 2 problems found, 1 error. Guide: docs/troubleshooting.md.
    Explain(ExplainArgs),
    /// Sign one URL with your credentials and the stack's signer rules (for testing).
    ///
    /// Prints the signer's JSON response ({"signed_url", "method", "headers", "key",
    /// "expires_at"}); the key goes under uploads.prefix as in the deployed function.
    Sign(SignArgs),
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The pre-signed URL (quote it), the signer's JSON response, or - to read either from stdin.
    pub url: String,
    /// The method the client uses (PUT for uploads, GET for downloads).
    #[arg(long, short = 'X', value_name = "METHOD")]
    pub method: Option<String>,
    /// A header the client sends, as 'Name: value' (repeat for several).
    #[arg(long = "header", short = 'H', value_name = "'NAME: VALUE'")]
    pub header: Vec<String>,
    /// S3's XML error body from the failed request (a file, or - for stdin).
    #[arg(long, value_name = "FILE")]
    pub s3_error: Option<String>,
    /// The origin of the page that uploads (checks the bucket's CORS rules; reads the bucket).
    #[arg(long, value_name = "ORIGIN")]
    pub origin: Option<String>,
    /// Also read the bucket's region, ACL setting and CORS rules with your credentials.
    #[arg(long)]
    pub check_bucket: bool,
    /// Judge expiry as of this instant instead of now (RFC 3339 UTC, e.g. 2026-11-28T14:30:39Z).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The file key (it goes under uploads.prefix).
    #[arg(long)]
    pub key: String,
    /// The Content-Type the upload will send (must be in uploads.allowed_content_types).
    #[arg(long, value_name = "TYPE")]
    pub content_type: Option<String>,
    /// PUT (upload) or GET (download, when uploads.allow_downloads is true).
    #[arg(long, default_value = "PUT")]
    pub method: String,
    /// Declared size in bytes (signs Content-Length).
    #[arg(long)]
    pub size: Option<u64>,
    /// Lifetime in seconds [default: uploads.expires_seconds].
    #[arg(long, value_name = "SECONDS")]
    pub expires: Option<u64>,
    /// Sign as of this instant instead of now (RFC 3339 UTC), e.g. to test expired URLs.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
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
    /// Remove the stack's lock, left by a run that crashed or was killed.
    ///
    /// A lock whose process is gone on this host (or, on S3, whose lease ran out) is removed at
    /// once; another one only with --force (make sure no run is active).
    Unlock {
        #[arg(long)]
        force: bool,
    },
    /// Create the S3 bucket for state a team shares (state.bucket in the spec).
    ///
    /// Versioning on (every state write is kept), default encryption (SSE-KMS with
    /// state.kms_key_id, else SSE-S3), public access blocked, ACLs disabled, plain HTTP refused.
    /// Safe to run again: an existing bucket of yours gets those settings. The bucket is not
    /// part of the stack: destroy never touches it.
    Bootstrap,
    /// Move the state between this machine and S3 (state.bucket / state.key in the spec).
    ///
    /// The state moves unchanged: same bytes, lineage and serial. Both locks are held while it moves. Refused
    /// when the destination holds another stack history (another lineage) or a newer serial.
    /// The source is left holding a note that points to the destination, so a run still
    /// configured for it stops instead of starting over; then set state.backend to match.
    Migrate {
        /// Where the state goes.
        #[arg(long, value_enum)]
        to: BackendArg,
    },
}

/// A state backend, on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendArg {
    /// The state folder (--state-dir, default .presign-stack/ next to the spec).
    Local,
    /// The bucket and key of `state:` in the spec.
    S3,
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
pub struct ImportArgs {
    /// What to adopt: bucket=NAME, role=NAME, function=NAME, api=ID. The bucket and the
    /// function must have the names the spec gives them (bucket.name, function.name).
    #[arg(value_name = "KIND=NAME")]
    pub resources: Vec<String>,
    /// Adopt without asking for confirmation.
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
