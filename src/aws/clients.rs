//! Building SDK clients from the standard AWS settings, and counting the calls they make.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

/// The clients one run uses.
#[derive(Clone, Debug)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub calls: CallCounter,
}

/// Where to send calls: the profile and region, as the command line gave them.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub profile: Option<String>,
    pub region: Option<String>,
}

/// Loads the standard configuration: the credential chain, `AWS_PROFILE` / `--profile`, the
/// region chain, and `AWS_ENDPOINT_URL` (then S3 uses path-style addressing, as emulators need).
pub async fn load_sdk_config(target: &Target) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(p) = &target.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &target.region {
        loader = loader.region(aws_config::Region::new(r.clone()));
    }
    loader.load().await
}

impl Clients {
    /// Clients for `region`, counting every call into a fresh [`CallCounter`].
    pub fn new(config: &aws_config::SdkConfig, region: &str) -> Clients {
        let calls = CallCounter::default();
        let endpoint_set =
            config.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .region(aws_config::Region::new(region.to_string()))
            .force_path_style(endpoint_set)
            .interceptor(calls.clone())
            .build();
        Clients {
            s3: aws_sdk_s3::Client::from_conf(s3),
            calls,
        }
    }
}

/// Counts AWS operations by name, once per operation (retries are not counted again).
/// Operations whose names start with `Get`, `Head` or `List` are reads; all others mutate.
#[derive(Clone, Debug, Default)]
pub struct CallCounter {
    inner: Arc<Mutex<BTreeMap<String, u64>>>,
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
        ["Get", "Head", "List"]
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
        let name = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_string())
            .unwrap_or_else(|| "Unknown".into());
        self.record(&name);
        Ok(())
    }
}
