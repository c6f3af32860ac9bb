//! Building SDK clients from the standard AWS settings, and counting the calls they make.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::config::interceptors::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

/// The SDK clients of one run, counting their calls, and what the SDK settings say about where
/// they send them. What the run itself carries is in [`super::run::Run`].
#[derive(Clone)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub iam: aws_sdk_iam::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub apigw: aws_sdk_apigatewayv2::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub sts: aws_sdk_sts::Client,
    pub calls: CallCounter,
    /// The S3 endpoint when one is configured (`AWS_ENDPOINT_URL[_S3]`, or the profile's
    /// `endpoint_url`): pre-signed URLs then address it path-style.
    pub s3_endpoint: Option<String>,
    /// The credential chain the clients sign with (for `dev` and `url sign`, which presign).
    pub credentials: Option<aws_sdk_s3::config::SharedCredentialsProvider>,
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients")
            .field("s3_endpoint", &self.s3_endpoint)
            .finish_non_exhaustive()
    }
}

/// Where to send calls: the profile and region, as the command line gave them.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub profile: Option<String>,
    pub region: Option<String>,
}

/// Loads the standard configuration: the credential chain, `AWS_PROFILE` / `--profile`, the
/// region chain, and `AWS_ENDPOINT_URL` (then S3 uses path-style addressing, as emulators need).
/// The SDK settings for `target`. A named profile (`--profile`, or `AWS_PROFILE`) must exist in
/// the shared config or credentials file: the SDK would otherwise go on without credentials and
/// fail later with a kilobyte of connection detail about a network that is fine.
pub async fn load_sdk_config(target: &Target) -> Result<aws_config::SdkConfig, super::AwsError> {
    let named = target
        .profile
        .clone()
        .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()));
    if let Some(name) = &named {
        check_profile(name).await?;
    }
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(p) = &target.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &target.region {
        loader = loader.region(aws_config::Region::new(r.clone()));
    }
    Ok(loader.load().await)
}

/// An error naming the profile and the ones that exist, unless `name` is in the shared files
/// (`~/.aws/config`, `~/.aws/credentials`, or `AWS_CONFIG_FILE` / `AWS_SHARED_CREDENTIALS_FILE`),
/// read with the SDK's own parser.
async fn check_profile(name: &str) -> Result<(), super::AwsError> {
    use super::AwsError;
    use aws_types::os_shim_internal::{Env, Fs};
    let what = format!("AWS profile {name:?}");
    let files = aws_runtime::env_config::file::EnvConfigFiles::default();
    let set = aws_config::profile::load(&Fs::real(), &Env::real(), &files, None)
        .await
        .map_err(|e| {
            AwsError::new(
                "LoadProfile",
                what.clone(),
                format!("the shared AWS config files cannot be read: {e}"),
                "fix ~/.aws/config (or the file AWS_CONFIG_FILE names)",
            )
        })?;
    if set.get_profile(name).is_some() {
        return Ok(());
    }
    let mut known: Vec<&str> = set.profiles().collect();
    known.sort();
    Err(AwsError::new(
        "LoadProfile",
        what,
        format!(
            "no such profile in ~/.aws/config or ~/.aws/credentials (profiles there: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ),
        "pass --profile with one of them, unset AWS_PROFILE, or create it with `aws configure --profile NAME`",
    ))
}

/// The SDK's standard retry mode (exponential backoff with jitter, throttling and transient
/// 5xx errors retried) with more attempts than its default of 3, so a throttled run still
/// finishes: a call fails only after 8 attempts in a row.
fn retry_config() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard()
        .with_max_attempts(8)
        .with_initial_backoff(Duration::from_millis(100))
        .with_max_backoff(Duration::from_secs(10))
}

/// The S3 endpoint when one is configured (`AWS_ENDPOINT_URL[_S3]`, or the profile's
/// `endpoint_url`).
pub fn s3_endpoint(config: &aws_config::SdkConfig) -> Option<String> {
    std::env::var("AWS_ENDPOINT_URL_S3")
        .ok()
        .filter(|e| !e.is_empty())
        .or_else(|| config.endpoint_url().map(str::to_string))
}

/// S3 client settings for `region`: path-style addressing when an endpoint is configured (as
/// emulators need), and the run's retry policy.
fn s3_config(config: &aws_config::SdkConfig, region: &str) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::from(config)
        .region(aws_config::Region::new(region.to_string()))
        .force_path_style(s3_endpoint(config).is_some())
        .retry_config(retry_config())
}

/// An S3 client for the state bucket in `region`. Its calls are not counted with the stack's.
pub fn state_s3_client(config: &aws_config::SdkConfig, region: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(s3_config(config, region).build())
}

impl Clients {
    /// Clients for `region`, counting every call into a fresh [`CallCounter`].
    pub fn new(config: &aws_config::SdkConfig, region: &str) -> Clients {
        let calls = CallCounter::default();
        let s3_endpoint = s3_endpoint(config);
        let region_value = aws_config::Region::new(region.to_string());
        macro_rules! client {
            ($sdk:ident) => {
                $sdk::Client::from_conf(
                    $sdk::config::Builder::from(config)
                        .region(region_value.clone())
                        .retry_config(retry_config())
                        .interceptor(calls.clone())
                        .build(),
                )
            };
        }
        let s3 = s3_config(config, region).interceptor(calls.clone()).build();
        Clients {
            s3: aws_sdk_s3::Client::from_conf(s3),
            iam: client!(aws_sdk_iam),
            lambda: client!(aws_sdk_lambda),
            apigw: client!(aws_sdk_apigatewayv2),
            logs: client!(aws_sdk_cloudwatchlogs),
            sts: client!(aws_sdk_sts),
            calls,
            s3_endpoint,
            credentials: config.credentials_provider(),
        }
    }
}

/// Counts AWS operations by name, once per operation, and the attempts they took (retries).
/// Operations whose names start with `Get`, `Head`, `List` or `Describe` are reads; all
/// others mutate.
///
/// It also carries the crash tests' failure points ([`crate::hooks`], only in test builds): the
/// process aborts right after the Nth mutating call returns, before anything is recorded (as a
/// `kill -9` would), or every call of one operation fails without being sent.
#[derive(Clone, Debug)]
pub struct CallCounter {
    inner: Arc<Mutex<BTreeMap<String, u64>>>,
    attempts: Arc<AtomicU64>,
    mutations: Arc<AtomicU64>,
    abort_after: Option<u64>,
    fail_operation: Option<String>,
}

impl Default for CallCounter {
    fn default() -> Self {
        CallCounter {
            inner: Arc::default(),
            attempts: Arc::default(),
            mutations: Arc::default(),
            abort_after: crate::hooks::abort_after_mutations(),
            fail_operation: crate::hooks::fail_operation(),
        }
    }
}

impl CallCounter {
    pub fn record(&self, operation: &str) {
        if let Ok(mut map) = self.inner.lock() {
            *map.entry(operation.to_string()).or_default() += 1;
        }
    }

    /// Calls so far, by operation name.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.inner.lock().map(|m| m.clone()).unwrap_or_default()
    }

    pub fn is_read(operation: &str) -> bool {
        ["Get", "Head", "List", "Describe"]
            .iter()
            .any(|p| operation.starts_with(p))
    }

    pub fn reads(&self) -> u64 {
        self.snapshot()
            .iter()
            .filter(|(op, _)| Self::is_read(op))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn mutations(&self) -> BTreeMap<String, u64> {
        self.snapshot()
            .into_iter()
            .filter(|(op, _)| !Self::is_read(op))
            .collect()
    }

    /// Attempts beyond the first, over all operations: the SDK's retries.
    pub fn retries(&self) -> u64 {
        let operations: u64 = self.snapshot().values().sum();
        self.attempts
            .load(Ordering::SeqCst)
            .saturating_sub(operations)
    }
}

fn operation_name(cfg: &ConfigBag) -> String {
    cfg.load::<Metadata>()
        .map(|m| m.name().to_string())
        .unwrap_or_else(|| "Unknown".into())
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "presign-stack call counter"
    }

    // After serialization the operation's metadata is in the config bag; it runs once per
    // operation, before the retry loop.
    fn read_after_serialization(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = operation_name(cfg);
        self.record(&name);
        if self.fail_operation.as_deref() == Some(name.as_str()) {
            return Err(format!("failpoint: {name} refused (test hook)").into());
        }
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(limit) = self.abort_after {
            if !Self::is_read(&operation_name(cfg))
                && self.mutations.fetch_add(1, Ordering::SeqCst) + 1 == limit
            {
                eprintln!("failpoint: aborting after mutating call {limit}");
                std::process::abort();
            }
        }
        Ok(())
    }
}
