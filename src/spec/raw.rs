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
    /// The bucket uploads land in, and its settings.
    #[serde(default)]
    pub bucket: Option<RawBucket>,
    /// What the signer accepts and signs.
    #[serde(default)]
    pub uploads: Option<RawUploads>,
    /// The signer function, its role and its log group.
    #[serde(default)]
    pub function: Option<RawFunction>,
    /// The HTTP API in front of the signer.
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
    /// This environment's region.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub region: Option<Spanned<String>>,
    /// Tags merged over the stack's.
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub tags: Option<Spanned<BTreeMap<String, String>>>,
    /// Bucket settings merged over the stack's.
    #[serde(default)]
    pub bucket: Option<RawBucket>,
    /// Upload settings merged over the stack's.
    #[serde(default)]
    pub uploads: Option<RawUploads>,
    /// Function settings merged over the stack's.
    #[serde(default)]
    pub function: Option<RawFunction>,
    /// API settings merged over the stack's.
    #[serde(default)]
    pub api: Option<RawApi>,
    /// State settings merged over the stack's (each environment has its own state object).
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
            min_size_bytes: pick(self.min_size_bytes, o.min_size_bytes),
            allow_downloads: pick(self.allow_downloads, o.allow_downloads),
            uppy: pick(self.uppy, o.uppy),
            multipart: pick(self.multipart, o.multipart),
            checksum: pick(self.checksum, o.checksum),
            uppy_method: pick(self.uppy_method, o.uppy_method),
            abort_incomplete_after_days: pick(
                self.abort_incomplete_after_days,
                o.abort_incomplete_after_days,
            ),
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
    #[schemars(range(min = 3, max = 3600))]
    pub lock_lease_seconds: Option<Spanned<u64>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBucket {
    /// The bucket's name; bucket names are global across all AWS accounts [default:
    /// `<stack>-uploads-<region>`].
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,
    /// Keep every version of every object [default: false].
    #[serde(default)]
    pub versioning: Option<bool>,
    /// Default encryption of new objects [default: `type: sse-s3`].
    #[serde(default)]
    #[schemars(with = "Option<RawEncryption>")]
    pub encryption: Option<Spanned<RawEncryption>>,
    /// Let `destroy` delete every object with the bucket [default: false: destroy refuses a
    /// non-empty bucket unless given --force-empty].
    #[serde(default)]
    pub force_destroy: Option<bool>,
    /// Make `destroy` refuse to delete the bucket (and so the stack) [default: false].
    #[serde(default)]
    pub protect: Option<bool>,
    /// Anyone may read objects under this prefix (a bucket policy statement; the public access
    /// block is relaxed just enough for it). Off unless set.
    #[serde(default)]
    #[schemars(with = "Option<RawPublicRead>")]
    pub public_read: Option<Spanned<RawPublicRead>>,
    /// Deny every request made without TLS (a bucket policy statement) [default: true].
    #[serde(default)]
    pub enforce_tls: Option<bool>,
    /// The bucket's CORS rules: browsers PUT to pre-signed URLs directly, so the pages that upload
    /// need a rule.
    #[serde(default)]
    #[schemars(with = "Option<Vec<RawCorsRule>>")]
    pub cors: Option<Vec<Spanned<RawCorsRule>>>,
    /// Extra bucket policy statements (IAM JSON written as YAML); `${bucket}` stands for the
    /// bucket's name. An Allow for everyone needs its Sid in `public_statements`.
    #[serde(default)]
    #[schemars(with = "Option<Vec<serde_json::Value>>")]
    pub policy_statements: Option<Vec<Spanned<serde_json::Value>>>,
    /// The Sids of `policy_statements` that may grant to everyone (`Principal: "*"`): a
    /// deliberate, named opt-in; any other public Allow is refused.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub public_statements: Option<Vec<Spanned<String>>>,
    /// Tags for the bucket, merged over the stack's `tags`.
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
    /// With `sse-kms`: the customer key (id, ARN or alias) [default: the AWS managed key aws/s3].
    /// The signer's role is granted kms:GenerateDataKey on it.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub kms_key_id: Option<Spanned<String>>,
    /// With `sse-kms`: use an S3 Bucket Key to cut KMS requests [default: true].
    #[serde(default)]
    pub bucket_key: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPublicRead {
    /// The key prefix anyone may read, e.g. `public/`.
    #[schemars(with = "String")]
    pub prefix: Spanned<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCorsRule {
    /// An id for the rule (S3's `ID`).
    #[serde(default)]
    pub id: Option<String>,
    /// Origins allowed to make the request, e.g. `https://app.example.com` (avoid `*`).
    #[schemars(with = "Vec<String>")]
    pub allowed_origins: Spanned<Vec<Spanned<String>>>,
    /// HTTP methods allowed: GET, PUT, POST, DELETE, HEAD.
    #[schemars(with = "Vec<String>")]
    pub allowed_methods: Spanned<Vec<Spanned<String>>>,
    /// Request headers a preflight may ask for, e.g. `content-type`.
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    /// Response headers the browser may read, e.g. `ETag`.
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// How long a browser may cache the preflight answer, in seconds.
    #[serde(default)]
    #[schemars(with = "Option<i64>")]
    #[schemars(range(min = 0, max = 2147483647))]
    pub max_age_seconds: Option<Spanned<i64>>,
}

/// What the signer accepts and signs (the signer and whole-stack issues use this).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUploads {
    /// Every key is put under this prefix; no leading `/`, `..`, `*` or `?` [default: `uploads/`].
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub prefix: Option<Spanned<String>>,
    /// The content types the signer accepts: exact `type/subtype` or a family `type/*` (which never
    /// admits types that carry script) [default: `[image/jpeg, image/png]`].
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub allowed_content_types: Option<Spanned<Vec<Spanned<String>>>>,
    /// Lifetime of a pre-signed URL, in seconds, at most 604800 (7 days) [default: 300].
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    #[schemars(range(min = 1, max = 604800))]
    pub expires_seconds: Option<Spanned<u64>>,
    /// The largest upload accepted: the caller must send `size`, which is signed as Content-Length,
    /// so S3 refuses any other length.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub max_size_bytes: Option<u64>,
    /// The smallest upload accepted where S3 enforces a size range (Uppy's POST forms) [default: 0].
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub min_size_bytes: Option<Spanned<u64>>,
    /// Also hand out pre-signed GET URLs for the prefix [default: false].
    #[serde(default)]
    pub allow_downloads: Option<bool>,
    /// Serve Uppy's `@uppy/aws-s3` simple upload (`GET /s3/params`: a POST form whose policy S3
    /// enforces, at a key the server chooses) beside the signing route [default: false].
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub uppy: Option<Spanned<bool>>,
    /// Serve Uppy's multipart routes (`/s3/multipart...`: large and resumable uploads in parts,
    /// at a key the server chooses; the function calls S3 to create, list, complete and abort
    /// them) beside the signing route [default: false].
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub multipart: Option<Spanned<bool>>,
    /// With `multipart`: the days after which S3 aborts a multipart upload still incomplete and
    /// deletes its parts (a lifecycle rule on the prefix, so abandoned uploads stop costing
    /// storage) [default: 1].
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    #[schemars(range(min = 1, max = 2147483647))]
    pub abort_incomplete_after_days: Option<Spanned<u64>>,
    /// A checksum S3 verifies on every upload body: `sha256`, `crc32` or `none`. When on, the
    /// caller declares the body's checksum (`&checksum=<base64>`) and every PUT and part URL
    /// signs it [default: `none`].
    #[serde(default)]
    #[schemars(with = "Option<ChecksumName>")]
    pub checksum: Option<Spanned<String>>,
    /// With `uppy`: what `GET /s3/params` answers. `post`: a form whose policy S3 enforces
    /// (what Uppy 6's `@uppy/aws-s3` sends). `put`: a pre-signed PUT and the headers to send
    /// with it (`{"method": "PUT", "url", "headers"}`, for Uppy's `getUploadParameters` of
    /// earlier versions and clients of your own); it signs the exact size (`&size=`), the
    /// checksum when on, and `If-None-Match: *` [default: `post`].
    #[serde(default)]
    #[schemars(with = "Option<UppyMethod>")]
    pub uppy_method: Option<Spanned<String>>,
}

/// What `uploads.uppy_method` names (for the schema).
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum UppyMethod {
    Post,
    Put,
}

/// The checksums `uploads.checksum` names (for the schema).
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum ChecksumName {
    Sha256,
    Crc32,
    None,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFunction {
    /// The signer function's name [default: `<stack>-signer`].
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,
    /// Memory of the signer, in MB [default: 128].
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    #[schemars(range(min = 128, max = 10240))]
    pub memory_mb: Option<Spanned<u32>>,
    /// Timeout of one invocation, in seconds [default: 10].
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    #[schemars(range(min = 1, max = 900))]
    pub timeout_seconds: Option<Spanned<u32>>,
    /// How long the function's log group keeps events, in days: one of CloudWatch's retention
    /// periods [default: 14].
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub log_retention_days: Option<Spanned<u32>>,
    /// The signer's deployment zip, relative to the spec [default: the checkout's
    /// `target/lambda/bootstrap/bootstrap.zip`, or a placeholder].
    #[serde(default)]
    pub artifact: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    /// The path of the signing route: `GET <route>?filekey=...&contentType=...` [default: `/sign`].
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub route: Option<Spanned<String>>,
    /// Origins whose pages may call the API (its CORS configuration).
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub cors_origins: Option<Vec<Spanned<String>>>,
    /// Throttling of the API's `$default` stage [default: 10 requests per second, bursts of 20].
    #[serde(default)]
    #[schemars(with = "Option<RawThrottle>")]
    pub throttle: Option<Spanned<RawThrottle>>,
    /// Require a JWT (e.g. from Cognito) on the route: API Gateway's JWT authorizer.
    #[serde(default)]
    pub jwt: Option<RawJwt>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawThrottle {
    /// Steady requests per second.
    #[schemars(range(min = 0))]
    pub rate_limit: f64,
    /// Requests allowed in a burst.
    pub burst_limit: u32,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawJwt {
    /// The token issuer, an https:// URL (e.g. a Cognito user pool's).
    #[schemars(with = "String")]
    pub issuer: Spanned<String>,
    /// Accepted audiences (`aud` or `client_id` claims), e.g. the app client id.
    pub audience: Vec<String>,
}
