//! The raw shape of `stack.yaml`, exactly as written: serde types with `deny_unknown_fields`.
//!
//! Values that validation may reject are wrapped in [`Spanned`] so the error can point at their
//! line and column. Nothing here checks meaning; see [`super::validate`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// The whole file.
#[derive(Debug, Deserialize, JsonSchema)]
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
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
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
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub tags: Option<Spanned<BTreeMap<String, String>>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
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

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPublicRead {
    #[schemars(with = "String")]
    pub prefix: Spanned<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
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
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUploads {
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub prefix: Option<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub allowed_content_types: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub expires_seconds: Option<Spanned<u64>>,
    #[serde(default)]
    pub max_size_bytes: Option<u64>,
    #[serde(default)]
    pub allow_downloads: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
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

#[derive(Debug, Deserialize, JsonSchema)]
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

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawThrottle {
    pub rate_limit: f64,
    pub burst_limit: u32,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawJwt {
    #[schemars(with = "String")]
    pub issuer: Spanned<String>,
    pub audience: Vec<String>,
}
