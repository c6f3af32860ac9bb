//! The raw shape of `stack.yaml`, exactly as written: serde types with `deny_unknown_fields`.
//!
//! Values that validation may reject are wrapped in [`Spanned`] so the error can point at their
//! line and column. Nothing here checks meaning; see [`super::validate`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// The whole file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStack {
    /// Stack name: used in resource names and in the ownership tag.
    #[schemars(with = "String")]
    pub stack: Spanned<String>,
    /// AWS region; `--region`, then `AWS_REGION` / the profile, are used when absent.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub region: Option<Spanned<String>>,
    /// Tags applied to every resource that supports tags.
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub tags: Option<Spanned<BTreeMap<String, String>>>,
    #[serde(default)]
    pub bucket: Option<RawBucket>,
    #[serde(default)]
    pub uploads: Option<RawUploads>,
    #[serde(default)]
    pub function: Option<RawFunction>,
    #[serde(default)]
    pub api: Option<RawApi>,
    /// Where the stack's state lives: this machine (default) or an S3 bucket a team shares.
    #[serde(default)]
    pub state: Option<RawState>,
    /// Environments of this stack: `--env NAME` (or `PRESIGN_STACK_ENV`) deploys the stack as
    /// `<stack>-<NAME>`, with that entry's settings merged over the ones above (maps merged key
    /// by key, lists and scalars replaced). Each environment has its own resource names and state.
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, RawEnvironment>>")]
    pub environments: Option<BTreeMap<String, Spanned<RawEnvironment>>>,
}

/// One environment's settings, merged over the stack's. It repeats `RawStack`'s fields rather
/// than flattening them: serde's `flatten` does not work with `deny_unknown_fields`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEnvironment {
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub region: Option<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub tags: Option<Spanned<BTreeMap<String, String>>>,
    #[serde(default)]
    pub bucket: Option<RawBucket>,
    #[serde(default)]
    pub uploads: Option<RawUploads>,
    #[serde(default)]
    pub function: Option<RawFunction>,
    #[serde(default)]
    pub api: Option<RawApi>,
    #[serde(default)]
    pub state: Option<RawState>,
}

/// The overlay's value where it has one.
fn pick<T>(base: Option<T>, over: Option<T>) -> Option<T> {
    over.or(base)
}

/// Nested settings merged field by field.
fn nest<T>(base: Option<T>, over: Option<T>, merge: fn(T, T) -> T) -> Option<T> {
    match (base, over) {
        (Some(b), Some(o)) => Some(merge(b, o)),
        (b, o) => o.or(b),
    }
}

/// Tag maps merged key by key (the overlay's values win; its position is kept).
fn tags(
    base: Option<Spanned<BTreeMap<String, String>>>,
    over: Option<Spanned<BTreeMap<String, String>>>,
) -> Option<Spanned<BTreeMap<String, String>>> {
    match (base, over) {
        (Some(b), Some(mut o)) => {
            let mut merged = b.value;
            merged.append(&mut o.value);
            o.value = merged;
            Some(o)
        }
        (b, o) => o.or(b),
    }
}

impl RawStack {
    /// The stack with an environment's settings merged over its own.
    pub fn with_environment(self, env: RawEnvironment) -> RawStack {
        RawStack {
            stack: self.stack,
            region: pick(self.region, env.region),
            tags: tags(self.tags, env.tags),
            bucket: nest(self.bucket, env.bucket, RawBucket::merged),
            uploads: nest(self.uploads, env.uploads, RawUploads::merged),
            function: nest(self.function, env.function, RawFunction::merged),
            api: nest(self.api, env.api, RawApi::merged),
            state: nest(self.state, env.state, RawState::merged),
            environments: None,
        }
    }
}

impl RawBucket {
    fn merged(self, o: RawBucket) -> RawBucket {
        RawBucket {
            name: pick(self.name, o.name),
            versioning: pick(self.versioning, o.versioning),
            encryption: pick(self.encryption, o.encryption),
            force_destroy: pick(self.force_destroy, o.force_destroy),
            protect: pick(self.protect, o.protect),
            public_read: pick(self.public_read, o.public_read),
            enforce_tls: pick(self.enforce_tls, o.enforce_tls),
            cors: pick(self.cors, o.cors),
            policy_statements: pick(self.policy_statements, o.policy_statements),
            public_statements: pick(self.public_statements, o.public_statements),
            tags: tags(self.tags, o.tags),
        }
    }
}

impl RawUploads {
    fn merged(self, o: RawUploads) -> RawUploads {
        RawUploads {
            prefix: pick(self.prefix, o.prefix),
            allowed_content_types: pick(self.allowed_content_types, o.allowed_content_types),
            expires_seconds: pick(self.expires_seconds, o.expires_seconds),
            max_size_bytes: pick(self.max_size_bytes, o.max_size_bytes),
            allow_downloads: pick(self.allow_downloads, o.allow_downloads),
        }
    }
}

impl RawFunction {
    fn merged(self, o: RawFunction) -> RawFunction {
        RawFunction {
            name: pick(self.name, o.name),
            memory_mb: pick(self.memory_mb, o.memory_mb),
            timeout_seconds: pick(self.timeout_seconds, o.timeout_seconds),
            log_retention_days: pick(self.log_retention_days, o.log_retention_days),
            artifact: pick(self.artifact, o.artifact),
        }
    }
}

impl RawApi {
    fn merged(self, o: RawApi) -> RawApi {
        RawApi {
            route: pick(self.route, o.route),
            cors_origins: pick(self.cors_origins, o.cors_origins),
            throttle: pick(self.throttle, o.throttle),
            jwt: pick(self.jwt, o.jwt),
        }
    }
}

impl RawState {
    fn merged(self, o: RawState) -> RawState {
        RawState {
            backend: pick(self.backend, o.backend),
            bucket: pick(self.bucket, o.bucket),
            key: pick(self.key, o.key),
            region: pick(self.region, o.region),
            kms_key_id: pick(self.kms_key_id, o.kms_key_id),
            lock_lease_seconds: pick(self.lock_lease_seconds, o.lock_lease_seconds),
        }
    }
}

/// Where the state lives. `backend: s3` keeps it in a bucket a team shares, locked with
/// conditional writes; the S3 settings are also what `state bootstrap` and `state migrate` use.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawState {
    /// `local` (default: `.presign-stack/<stack>.json` next to the spec, or --state-dir) or `s3`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub backend: Option<Spanned<String>>,
    /// The state bucket (not part of the stack: `presign-stack state bootstrap` creates it).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub bucket: Option<Spanned<String>>,
    /// The state object's key [default: `presign-stack/<stack>.json`]; the lock is `<key>.lock`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub key: Option<Spanned<String>>,
    /// The state bucket's region [default: the stack's region].
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub region: Option<Spanned<String>>,
    /// A KMS key (id, ARN or alias) to encrypt the state and lock objects with (SSE-KMS).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub kms_key_id: Option<Spanned<String>>,
    /// How long a lock stays valid without its holder renewing it [default: 60]. A run renews
    /// it every third of this while it works; a lock not renewed for this long (its run was
    /// killed) is taken over by the next run.
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub lock_lease_seconds: Option<Spanned<u64>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBucket {
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,
    #[serde(default)]
    pub versioning: Option<bool>,
    #[serde(default)]
    #[schemars(with = "Option<RawEncryption>")]
    pub encryption: Option<Spanned<RawEncryption>>,
    #[serde(default)]
    pub force_destroy: Option<bool>,
    #[serde(default)]
    pub protect: Option<bool>,
    #[serde(default)]
    #[schemars(with = "Option<RawPublicRead>")]
    pub public_read: Option<Spanned<RawPublicRead>>,
    #[serde(default)]
    pub enforce_tls: Option<bool>,
    #[serde(default)]
    #[schemars(with = "Option<Vec<RawCorsRule>>")]
    pub cors: Option<Vec<Spanned<RawCorsRule>>>,
    #[serde(default)]
    #[schemars(with = "Option<Vec<serde_json::Value>>")]
    pub policy_statements: Option<Vec<Spanned<serde_json::Value>>>,
    /// The Sids of `policy_statements` that may grant to everyone (`Principal: "*"`): a
    /// deliberate, named opt-in; any other public Allow is refused.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub public_statements: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub tags: Option<Spanned<BTreeMap<String, String>>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEncryption {
    /// `sse-s3` (default) or `sse-kms`.
    #[serde(rename = "type")]
    #[schemars(with = "String")]
    pub kind: Spanned<String>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub kms_key_id: Option<Spanned<String>>,
    #[serde(default)]
    pub bucket_key: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPublicRead {
    #[schemars(with = "String")]
    pub prefix: Spanned<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCorsRule {
    #[serde(default)]
    pub id: Option<String>,
    #[schemars(with = "Vec<String>")]
    pub allowed_origins: Spanned<Vec<Spanned<String>>>,
    #[schemars(with = "Vec<String>")]
    pub allowed_methods: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    #[serde(default)]
    pub expose_headers: Vec<String>,
    #[serde(default)]
    #[schemars(with = "Option<i64>")]
    pub max_age_seconds: Option<Spanned<i64>>,
}

/// What the signer accepts and signs (the signer and whole-stack issues use this).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUploads {
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub prefix: Option<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub allowed_content_types: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub expires_seconds: Option<Spanned<u64>>,
    #[serde(default)]
    pub max_size_bytes: Option<u64>,
    #[serde(default)]
    pub allow_downloads: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFunction {
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub memory_mb: Option<Spanned<u32>>,
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub timeout_seconds: Option<Spanned<u32>>,
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub log_retention_days: Option<Spanned<u32>>,
    #[serde(default)]
    pub artifact: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub route: Option<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub cors_origins: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    #[schemars(with = "Option<RawThrottle>")]
    pub throttle: Option<Spanned<RawThrottle>>,
    #[serde(default)]
    pub jwt: Option<RawJwt>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawThrottle {
    pub rate_limit: f64,
    pub burst_limit: u32,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawJwt {
    #[schemars(with = "String")]
    pub issuer: Spanned<String>,
    pub audience: Vec<String>,
}
