//! The raw shape of `stack.yaml`, exactly as written: serde types with `deny_unknown_fields`.
//!
//! Values that validation may reject are wrapped in [`Spanned`] so the error can point at their
//! line and column. Nothing here checks meaning; see [`super::validate`].

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStack {
    /// Stack name: used in resource names and in the ownership tag.
    pub stack: Spanned<String>,
    /// AWS region; `--region`, then `AWS_REGION` / the profile, are used when absent.
    #[serde(default)]
    pub region: Option<Spanned<String>>,
    /// Tags applied to every resource that supports tags.
    #[serde(default)]
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBucket {
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    #[serde(default)]
    pub versioning: Option<bool>,
    #[serde(default)]
    pub encryption: Option<Spanned<RawEncryption>>,
    #[serde(default)]
    pub force_destroy: Option<bool>,
    #[serde(default)]
    pub protect: Option<bool>,
    #[serde(default)]
    pub public_read: Option<Spanned<RawPublicRead>>,
    #[serde(default)]
    pub enforce_tls: Option<bool>,
    #[serde(default)]
    pub cors: Option<Vec<Spanned<RawCorsRule>>>,
    #[serde(default)]
    pub policy_statements: Option<Vec<Spanned<serde_json::Value>>>,
    #[serde(default)]
    pub tags: Option<Spanned<BTreeMap<String, String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEncryption {
    /// `sse-s3` (default) or `sse-kms`.
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    #[serde(default)]
    pub kms_key_id: Option<Spanned<String>>,
    #[serde(default)]
    pub bucket_key: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPublicRead {
    pub prefix: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCorsRule {
    #[serde(default)]
    pub id: Option<String>,
    pub allowed_origins: Spanned<Vec<Spanned<String>>>,
    pub allowed_methods: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    #[serde(default)]
    pub expose_headers: Vec<String>,
    #[serde(default)]
    pub max_age_seconds: Option<Spanned<i64>>,
}

/// What the signer accepts and signs (the signer and whole-stack issues use this).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUploads {
    #[serde(default)]
    pub prefix: Option<Spanned<String>>,
    #[serde(default)]
    pub allowed_content_types: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub expires_seconds: Option<Spanned<u64>>,
    #[serde(default)]
    pub max_size_bytes: Option<u64>,
    #[serde(default)]
    pub allow_downloads: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFunction {
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    #[serde(default)]
    pub memory_mb: Option<Spanned<u32>>,
    #[serde(default)]
    pub timeout_seconds: Option<Spanned<u32>>,
    #[serde(default)]
    pub log_retention_days: Option<Spanned<u32>>,
    #[serde(default)]
    pub artifact: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    #[serde(default)]
    pub route: Option<Spanned<String>>,
    #[serde(default)]
    pub cors_origins: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub throttle: Option<Spanned<RawThrottle>>,
    #[serde(default)]
    pub jwt: Option<RawJwt>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThrottle {
    pub rate_limit: f64,
    pub burst_limit: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJwt {
    pub issuer: Spanned<String>,
    pub audience: Vec<String>,
}
