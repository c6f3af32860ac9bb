//! The resource kinds and their typed properties: what the spec wants, what the state recorded
//! and what AWS reports are all expressed as [`Props`], normalised so they compare equal when
//! AWS would treat them the same.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A kind of AWS resource the stack manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    S3Bucket,
    S3BucketOwnershipControls,
    S3BucketPublicAccessBlock,
    S3BucketEncryption,
    S3BucketVersioning,
    S3BucketCors,
    S3BucketLifecycle,
    S3BucketPolicy,
    IamRole,
    IamRolePolicy,
    LogGroup,
    LambdaFunction,
    HttpApi,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::S3Bucket => "s3_bucket",
            Kind::S3BucketOwnershipControls => "s3_bucket_ownership_controls",
            Kind::S3BucketPublicAccessBlock => "s3_bucket_public_access_block",
            Kind::S3BucketEncryption => "s3_bucket_encryption",
            Kind::S3BucketVersioning => "s3_bucket_versioning",
            Kind::S3BucketCors => "s3_bucket_cors",
            Kind::S3BucketLifecycle => "s3_bucket_lifecycle",
            Kind::S3BucketPolicy => "s3_bucket_policy",
            Kind::IamRole => "iam_role",
            Kind::IamRolePolicy => "iam_role_policy",
            Kind::LogGroup => "log_group",
            Kind::LambdaFunction => "lambda_function",
            Kind::HttpApi => "http_api",
        }
    }

    /// Whether a change of this attribute can only be made by deleting and creating again.
    pub fn forces_replacement(self, attribute: &str) -> bool {
        match self {
            Kind::S3Bucket => matches!(attribute, "name" | "region"),
            Kind::IamRole | Kind::LogGroup | Kind::LambdaFunction | Kind::HttpApi => {
                attribute == "name"
            }
            Kind::IamRolePolicy => matches!(attribute, "role" | "name"),
            _ => attribute == "bucket",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The managed properties of one resource, per kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Props {
    S3Bucket(BucketProps),
    S3BucketOwnershipControls(OwnershipProps),
    S3BucketPublicAccessBlock(PublicAccessBlockProps),
    S3BucketEncryption(EncryptionProps),
    S3BucketVersioning(VersioningProps),
    S3BucketCors(CorsProps),
    S3BucketLifecycle(LifecycleProps),
    S3BucketPolicy(PolicyProps),
    IamRole(RoleProps),
    IamRolePolicy(RolePolicyProps),
    LogGroup(LogGroupProps),
    LambdaFunction(FunctionProps),
    HttpApi(HttpApiProps),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketProps {
    pub name: String,
    pub region: String,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnershipProps {
    pub bucket: String,
    pub object_ownership: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicAccessBlockProps {
    pub bucket: String,
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptionProps {
    pub bucket: String,
    /// `AES256` (SSE-S3) or `aws:kms`.
    pub sse_algorithm: String,
    pub kms_master_key_id: Option<String>,
    pub bucket_key_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersioningProps {
    pub bucket: String,
    /// `Suspended` and never-enabled both read as `false`: neither keeps new versions.
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsProps {
    pub bucket: String,
    pub rules: Vec<CorsRule>,
}

/// The spec's rule type, the one CORS rule there is.
pub use crate::spec::CorsRule;

/// The bucket's lifecycle configuration, rules sorted by id ([`super::normalize::lifecycle`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleProps {
    pub bucket: String,
    pub rules: Vec<LifecycleRule>,
}

/// One lifecycle rule: the parts the stack sets, and the names of any it does not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleRule {
    pub id: String,
    /// The key prefix the rule applies to (`""`: the whole bucket).
    pub prefix: String,
    pub enabled: bool,
    /// Days after which a multipart upload still incomplete is aborted and its parts deleted.
    pub abort_incomplete_after_days: Option<i32>,
    /// What else the rule does or filters on (`expiration`, `transitions`, `filter_tags`...):
    /// the stack's rule has none, so any here is drift.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyProps {
    pub bucket: String,
    /// The policy in canonical form ([`super::normalize::policy_document`]).
    pub document: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleProps {
    pub name: String,
    /// The trust policy, canonical.
    pub assume_role_policy: serde_json::Value,
    pub tags: BTreeMap<String, String>,
    /// ARNs of the managed policies attached to the role, sorted. The stack attaches none: any
    /// here is drift (an `AdministratorAccess` attached by hand, say).
    #[serde(default)]
    pub attached_policies: Vec<String>,
    /// Names of the role's inline policies other than the stack's own (which is the
    /// `iam_role_policy` resource), sorted. The stack wants none.
    #[serde(default)]
    pub other_inline_policies: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolePolicyProps {
    pub role: String,
    pub name: String,
    /// The inline policy, canonical.
    pub document: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogGroupProps {
    pub name: String,
    pub retention_days: i32,
    /// The group's tags, the ownership tag among them (state written before tags were read has
    /// none recorded).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionProps {
    pub name: String,
    pub runtime: String,
    pub handler: String,
    pub architecture: String,
    pub memory_mb: i32,
    pub timeout_seconds: i32,
    pub role_arn: String,
    pub environment: BTreeMap<String, String>,
    /// Base64 SHA-256 of the deployment zip, as Lambda reports it.
    pub code_sha256: String,
    pub tags: BTreeMap<String, String>,
    /// Statements of the function's resource policy that presign-stack did not put there (any
    /// whose Sid is not a `presign-stack-` one), sorted by Sid. The stack wants none: one here
    /// (a console trigger's, an invoke grant to anyone) is drift, which deploy removes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_permissions: Vec<ForeignStatement>,
}

/// A statement of a function's resource policy the stack did not put there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignStatement {
    pub sid: String,
    /// Who may invoke: a service (`apigateway.amazonaws.com`), an account, or `*`.
    pub principal: String,
    /// The `AWS:SourceArn` it is limited to; `None`: any source.
    pub source_arn: Option<String>,
}

/// The statement ids presign-stack gives the permissions it adds to a function.
pub const OWN_STATEMENT_PREFIX: &str = "presign-stack-";

/// The HTTP API with its parts: CORS, the Lambda integration, the route (with its optional JWT
/// authorizer), the `$default` stage, and the permission that lets API Gateway invoke the
/// function. One resource, because the parts only exist inside the API and are found through it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpApiProps {
    pub name: String,
    pub tags: BTreeMap<String, String>,
    pub cors: Option<ApiCors>,
    /// The function ARN the integration invokes (`AWS_PROXY`, payload format 2.0).
    pub integration: Option<String>,
    pub route: Option<ApiRoute>,
    pub stage: Option<ApiStage>,
    /// The function's permission for this API.
    pub invoke_permission: Option<InvokePermission>,
    /// Routes beyond the signing route (Uppy's, [`UPPY_ROUTE_KEYS`]), sorted: to the same
    /// integration, with the same authorizer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_routes: Vec<String>,
    /// The invoke permission of each of them, in the same order: one statement per route, never
    /// one wildcard over routes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_permissions: Vec<InvokePermission>,
}

/// Uppy's `@uppy/aws-s3` routes, served beside the signing route: the simple upload's with
/// `uploads.uppy` ([`UPPY_PARAMS_ROUTE`]), the multipart ones with `uploads.multipart`.
pub const UPPY_ROUTE_KEYS: [&str; 6] = [
    UPPY_PARAMS_ROUTE,
    "POST /s3/multipart",
    "GET /s3/multipart/{uploadId}",
    "DELETE /s3/multipart/{uploadId}",
    "GET /s3/multipart/{uploadId}/{partNumber}",
    "POST /s3/multipart/{uploadId}/complete",
];

/// Uppy's simple upload: a POST form for one file.
pub const UPPY_PARAMS_ROUTE: &str = "GET /s3/params";

/// `GET /sign` → the part of an invoke permission's source ARN that names that route:
/// `{api}/*/GET/sign` (`ANY` is `*`). A path parameter (`{uploadId}`) is `*`: API Gateway
/// names the request's own path in the source ARN, and Lambda compares with `ArnLike`.
pub fn route_source(route_key: &str) -> String {
    let (method, path) = route_key.split_once(' ').unwrap_or(("*", route_key));
    let method = if method == "ANY" { "*" } else { method };
    let path: Vec<&str> = path
        .split('/')
        .map(|s| {
            if s.starts_with('{') && s.ends_with('}') {
                "*"
            } else {
                s
            }
        })
        .collect();
    format!("{{api}}/*/{method}{}", path.join("/"))
}

/// The statement that lets API Gateway invoke the function for this API's route. Stored and shown
/// as `<function ARN> <source ARN>` (with ` principal=<p>` when the principal is not API
/// Gateway), the API id in the source ARN written `{api}` so the value is known before the API
/// exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct InvokePermission {
    pub function_arn: String,
    pub source_arn: String,
    pub principal: String,
}

impl InvokePermission {
    /// The principal every permission of ours grants to.
    pub const API_GATEWAY: &'static str = "apigateway.amazonaws.com";

    /// API Gateway's permission for `function_arn` from `source_arn`.
    pub fn api_gateway(function_arn: impl Into<String>, source_arn: impl Into<String>) -> Self {
        InvokePermission {
            function_arn: function_arn.into(),
            source_arn: source_arn.into(),
            principal: Self::API_GATEWAY.to_string(),
        }
    }

    /// The route the source ARN names (`GET/s3/params`), after the API and stage.
    pub fn route(&self) -> &str {
        self.source_arn
            .split_once("/*/")
            .map_or(self.source_arn.as_str(), |(_, r)| r)
    }

    /// The source ARN with the API's real id in place of `{api}`.
    pub fn source_arn_for(&self, api_id: &str) -> String {
        self.source_arn.replace("{api}", api_id)
    }
}

impl fmt::Display for InvokePermission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.function_arn, self.source_arn)?;
        if self.principal != Self::API_GATEWAY {
            write!(f, " principal={}", self.principal)?;
        }
        Ok(())
    }
}

impl From<InvokePermission> for String {
    fn from(p: InvokePermission) -> String {
        p.to_string()
    }
}

impl TryFrom<String> for InvokePermission {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        let mut parts = s.split(' ');
        let (Some(function_arn), Some(source_arn)) = (parts.next(), parts.next()) else {
            return Err(format!("not `<function ARN> <source ARN>`: {s:?}"));
        };
        let principal = match parts.next() {
            None => Self::API_GATEWAY,
            Some(p) => p
                .strip_prefix("principal=")
                .ok_or_else(|| format!("unexpected {p:?} in an invoke permission"))?,
        };
        if parts.next().is_some() {
            return Err(format!("unexpected words in an invoke permission: {s:?}"));
        }
        Ok(InvokePermission {
            function_arn: function_arn.to_string(),
            source_arn: source_arn.to_string(),
            principal: principal.to_string(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiRoute {
    /// e.g. `GET /sign`.
    pub route_key: String,
    pub authorizer: Option<JwtAuthorizer>,
}

/// The `$default` stage: auto-deployed, with default-route throttling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiStage {
    pub throttle_rate_limit: f64,
    pub throttle_burst_limit: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiCors {
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub max_age: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtAuthorizer {
    pub issuer: String,
    pub audience: Vec<String>,
}

impl Props {
    pub fn kind(&self) -> Kind {
        match self {
            Props::S3Bucket(_) => Kind::S3Bucket,
            Props::S3BucketOwnershipControls(_) => Kind::S3BucketOwnershipControls,
            Props::S3BucketPublicAccessBlock(_) => Kind::S3BucketPublicAccessBlock,
            Props::S3BucketEncryption(_) => Kind::S3BucketEncryption,
            Props::S3BucketVersioning(_) => Kind::S3BucketVersioning,
            Props::S3BucketCors(_) => Kind::S3BucketCors,
            Props::S3BucketLifecycle(_) => Kind::S3BucketLifecycle,
            Props::S3BucketPolicy(_) => Kind::S3BucketPolicy,
            Props::IamRole(_) => Kind::IamRole,
            Props::IamRolePolicy(_) => Kind::IamRolePolicy,
            Props::LogGroup(_) => Kind::LogGroup,
            Props::LambdaFunction(_) => Kind::LambdaFunction,
            Props::HttpApi(_) => Kind::HttpApi,
        }
    }

    /// The name AWS knows the resource by; for bucket sub-resources, the bucket's name.
    pub fn physical_id(&self) -> &str {
        match self {
            Props::S3Bucket(p) => &p.name,
            Props::S3BucketOwnershipControls(p) => &p.bucket,
            Props::S3BucketPublicAccessBlock(p) => &p.bucket,
            Props::S3BucketEncryption(p) => &p.bucket,
            Props::S3BucketVersioning(p) => &p.bucket,
            Props::S3BucketCors(p) => &p.bucket,
            Props::S3BucketLifecycle(p) => &p.bucket,
            Props::S3BucketPolicy(p) => &p.bucket,
            Props::IamRole(p) => &p.name,
            Props::IamRolePolicy(p) => &p.role,
            Props::LogGroup(p) => &p.name,
            Props::LambdaFunction(p) => &p.name,
            Props::HttpApi(p) => &p.name,
        }
    }

    /// The properties as an attribute map (attribute name → JSON value), for diffing and display.
    pub fn attributes(&self) -> BTreeMap<String, serde_json::Value> {
        let value = match self {
            Props::S3Bucket(p) => serde_json::to_value(p),
            Props::S3BucketOwnershipControls(p) => serde_json::to_value(p),
            Props::S3BucketPublicAccessBlock(p) => serde_json::to_value(p),
            Props::S3BucketEncryption(p) => serde_json::to_value(p),
            Props::S3BucketVersioning(p) => serde_json::to_value(p),
            Props::S3BucketCors(p) => serde_json::to_value(p),
            Props::S3BucketLifecycle(p) => serde_json::to_value(p),
            Props::S3BucketPolicy(p) => serde_json::to_value(p),
            Props::IamRole(p) => serde_json::to_value(p),
            Props::IamRolePolicy(p) => serde_json::to_value(p),
            Props::LogGroup(p) => serde_json::to_value(p),
            Props::LambdaFunction(p) => serde_json::to_value(p),
            Props::HttpApi(p) => serde_json::to_value(p),
        };
        match value {
            Ok(serde_json::Value::Object(map)) => map.into_iter().collect(),
            // Plain structs of strings, booleans and maps always serialise to an object.
            _ => BTreeMap::new(),
        }
    }
}

impl Props {
    /// The tags of kinds whose ownership is proven by the stack's tag; `None` for kinds whose
    /// tags are not read (ownership then rests on the deterministic name and the state).
    pub fn tags(&self) -> Option<&BTreeMap<String, String>> {
        match self {
            Props::S3Bucket(p) => Some(&p.tags),
            Props::IamRole(p) => Some(&p.tags),
            Props::LogGroup(p) => Some(&p.tags),
            Props::LambdaFunction(p) => Some(&p.tags),
            Props::HttpApi(p) => Some(&p.tags),
            _ => None,
        }
    }
}

/// One attribute that differs between two views of a resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttrChange {
    pub attribute: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

/// The attributes that differ from `before` to `after`, in name order.
pub fn attr_changes(before: &Props, after: &Props) -> Vec<AttrChange> {
    let b = before.attributes();
    let a = after.attributes();
    let mut names: Vec<&String> = b.keys().chain(a.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter_map(|name| {
            let before = b.get(name).cloned().unwrap_or(serde_json::Value::Null);
            let after = a.get(name).cloned().unwrap_or(serde_json::Value::Null);
            (before != after).then(|| AttrChange {
                attribute: name.clone(),
                before,
                after,
            })
        })
        .collect()
}

/// A resource the stack wants: its logical id, properties and the ids it depends on.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub id: String,
    pub props: Props,
    pub depends_on: Vec<String>,
}
