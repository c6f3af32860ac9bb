//! Expansion: a validated [`Stack`] becomes the list of resources it wants, with dependencies.

use serde_json::{json, Value};

use super::normalize;
use super::resources::*;
use crate::spec::{names, Encryption, Stack, OWNERSHIP_TAG};

/// Logical ids of the bucket family.
pub mod ids {
    pub const BUCKET: &str = "bucket";
    pub const OWNERSHIP: &str = "bucket_ownership";
    pub const PUBLIC_ACCESS_BLOCK: &str = "bucket_public_access_block";
    pub const ENCRYPTION: &str = "bucket_encryption";
    pub const VERSIONING: &str = "bucket_versioning";
    pub const CORS: &str = "bucket_cors";
    pub const LIFECYCLE: &str = "bucket_lifecycle";
    pub const POLICY: &str = "bucket_policy";
    pub const ROLE: &str = "role";
    pub const ROLE_POLICY: &str = "role_policy";
    pub const LOG_GROUP: &str = "log_group";
    pub const FUNCTION: &str = "function";
    pub const API: &str = "api";
}

/// The id of the lifecycle rule that aborts abandoned multipart uploads under the prefix.
pub const ABORT_INCOMPLETE_RULE: &str = "presign-stack-abort-incomplete-uploads";

/// The bucket name the stack uses in `region`.
pub fn bucket_name(stack: &Stack, region: &str) -> String {
    stack
        .bucket
        .name
        .clone()
        .unwrap_or_else(|| names::default_bucket_name(&stack.name, region))
}

/// The bucket family the stack wants in `region`, in dependency order.
pub fn desired(stack: &Stack, region: &str) -> Vec<Resource> {
    let bucket = bucket_name(stack, region);
    let b = &stack.bucket;
    let mut tags = b.tags.clone();
    tags.insert(OWNERSHIP_TAG.to_string(), stack.name.clone());
    let on_bucket = || vec![ids::BUCKET.to_string()];

    let mut out = vec![
        Resource {
            id: ids::BUCKET.into(),
            props: Props::S3Bucket(BucketProps {
                name: bucket.clone(),
                region: region.to_string(),
                tags,
            }),
            depends_on: vec![],
        },
        Resource {
            id: ids::OWNERSHIP.into(),
            props: Props::S3BucketOwnershipControls(OwnershipProps {
                bucket: bucket.clone(),
                object_ownership: "BucketOwnerEnforced".into(),
            }),
            depends_on: on_bucket(),
        },
        Resource {
            id: ids::PUBLIC_ACCESS_BLOCK.into(),
            // Public read is granted by the bucket policy only: ACLs stay blocked, and the
            // policy blocks are lifted only when the spec asks for a public prefix.
            props: Props::S3BucketPublicAccessBlock(PublicAccessBlockProps {
                bucket: bucket.clone(),
                block_public_acls: true,
                ignore_public_acls: true,
                block_public_policy: b.public_read_prefix.is_none(),
                restrict_public_buckets: b.public_read_prefix.is_none(),
            }),
            depends_on: on_bucket(),
        },
        Resource {
            id: ids::ENCRYPTION.into(),
            props: Props::S3BucketEncryption(match &b.encryption {
                Encryption::SseS3 => EncryptionProps {
                    bucket: bucket.clone(),
                    sse_algorithm: "AES256".into(),
                    kms_master_key_id: None,
                    bucket_key_enabled: false,
                },
                Encryption::SseKms { key_id, bucket_key } => EncryptionProps {
                    bucket: bucket.clone(),
                    sse_algorithm: "aws:kms".into(),
                    kms_master_key_id: key_id.clone(),
                    bucket_key_enabled: *bucket_key,
                },
            }),
            depends_on: on_bucket(),
        },
        Resource {
            id: ids::VERSIONING.into(),
            props: Props::S3BucketVersioning(VersioningProps {
                bucket: bucket.clone(),
                enabled: b.versioning,
            }),
            depends_on: on_bucket(),
        },
    ];
    if !b.cors.is_empty() {
        out.push(Resource {
            id: ids::CORS.into(),
            props: Props::S3BucketCors(CorsProps {
                bucket: bucket.clone(),
                rules: b
                    .cors
                    .iter()
                    .map(|r| normalize::cors_rule(r.clone()))
                    .collect(),
            }),
            depends_on: on_bucket(),
        });
    }
    if stack.uploads.multipart {
        out.push(Resource {
            id: ids::LIFECYCLE.into(),
            props: Props::S3BucketLifecycle(normalize::lifecycle(LifecycleProps {
                bucket: bucket.clone(),
                rules: vec![LifecycleRule {
                    id: ABORT_INCOMPLETE_RULE.into(),
                    prefix: stack.uploads.prefix.clone(),
                    enabled: true,
                    abort_incomplete_after_days: Some(
                        stack.uploads.abort_incomplete_after_days as i32,
                    ),
                    other: Vec::new(),
                }],
            })),
            depends_on: on_bucket(),
        });
    }
    if let Some(document) = policy(stack, &bucket) {
        out.push(Resource {
            id: ids::POLICY.into(),
            props: Props::S3BucketPolicy(PolicyProps {
                bucket: bucket.clone(),
                document: normalize::policy_document(&document),
            }),
            // A public statement is refused while the public access block blocks public
            // policies: relax the block first. A policy with no public statement (only denies)
            // need not wait for it.
            depends_on: if stack.bucket.public_read_prefix.is_some() {
                vec![ids::BUCKET.into(), ids::PUBLIC_ACCESS_BLOCK.into()]
            } else {
                on_bucket()
            },
        });
    }
    out
}

/// The statement refusing every request to `bucket` made without TLS.
pub fn deny_insecure_transport(bucket: &str) -> Value {
    let arn = format!("arn:aws:s3:::{bucket}");
    json!({
        "Sid": "PresignStackDenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn.clone(), format!("{arn}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    })
}

/// The bucket policy the stack wants, before normalisation; `None` when it has no statement.
pub fn policy(stack: &Stack, bucket: &str) -> Option<Value> {
    let b = &stack.bucket;
    let arn = format!("arn:aws:s3:::{bucket}");
    let mut statements = Vec::new();
    if b.enforce_tls {
        statements.push(deny_insecure_transport(bucket));
    }
    if let Some(prefix) = &b.public_read_prefix {
        statements.push(json!({
            "Sid": "PresignStackPublicRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": format!("{arn}/{prefix}*")
        }));
    }
    for s in &b.policy_statements {
        statements.push(crate::spec::validate::substitute_bucket(s, bucket));
    }
    if statements.is_empty() {
        return None;
    }
    Some(json!({"Version": "2012-10-17", "Statement": statements}))
}

/// Facts about the target that the spec cannot know, read before planning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub region: String,
    pub account_id: String,
    /// Base64 SHA-256 of the signer's deployment zip.
    pub code_sha256: String,
}

/// Names of the signer's resources.
pub fn function_name(stack: &Stack) -> String {
    stack
        .function
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-signer", stack.name))
}

pub fn role_name(stack: &Stack) -> String {
    format!("{}-signer", stack.name)
}

pub fn api_name(stack: &Stack) -> String {
    format!("{}-api", stack.name)
}

pub fn log_group_name(stack: &Stack) -> String {
    format!("/aws/lambda/{}", function_name(stack))
}

pub fn role_arn(stack: &Stack, t: &Target) -> String {
    format!("arn:aws:iam::{}:role/{}", t.account_id, role_name(stack))
}

pub fn function_arn(stack: &Stack, t: &Target) -> String {
    format!(
        "arn:aws:lambda:{}:{}:function:{}",
        t.region,
        t.account_id,
        function_name(stack)
    )
}

/// The role's trust policy: Lambda may assume it, for functions of this account only.
pub fn trust_policy(t: &Target) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": t.account_id}}
        }]
    })
}

/// The signer's least-privilege policy: put (and, with downloads, get) objects under the upload
/// prefix of this bucket, and write to its own log group. Nothing else, no wildcard resource.
pub fn signer_policy(stack: &Stack, t: &Target) -> Value {
    let objects = format!(
        "arn:aws:s3:::{}/{}*",
        bucket_name(stack, &t.region),
        stack.uploads.prefix
    );
    let mut statements = vec![json!({
        "Sid": "PutUploads",
        "Effect": "Allow",
        "Action": "s3:PutObject",
        "Resource": objects.clone()
    })];
    if stack.uploads.allow_downloads {
        statements.push(json!({
            "Sid": "GetUploads",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": objects.clone()
        }));
    }
    if stack.uploads.multipart {
        // Create, upload part and complete are s3:PutObject; the routes also list the parts
        // of an upload and abort it, on the prefix only.
        statements.push(json!({
            "Sid": "ManageMultipartUploads",
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
            "Resource": objects.clone()
        }));
    }
    if let Some(key) = upload_key_grant(stack, t) {
        statements.push(key);
    }
    statements.push(json!({
        "Sid": "WriteOwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": format!(
            "arn:aws:logs:{}:{}:log-group:{}:*",
            t.region,
            t.account_id,
            log_group_name(stack)
        )
    }));
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// With SSE-KMS under a customer key, S3 encrypts each upload with a data key made under the
/// signer's identity (`kms:GenerateDataKey`), and decrypts it for a download (`kms:Decrypt`):
/// without them every pre-signed request fails with AccessDenied. An alias is matched through
/// `kms:ResourceAliases`, since IAM resources name keys, not aliases. `None` for SSE-S3 and for
/// the AWS managed key `aws/s3`, whose key policy already admits the account's principals.
fn upload_key_grant(stack: &Stack, t: &Target) -> Option<Value> {
    let Encryption::SseKms {
        key_id: Some(key), ..
    } = &stack.bucket.encryption
    else {
        return None;
    };
    let mut actions = vec!["kms:GenerateDataKey"];
    // A multipart upload under a KMS key also needs kms:Decrypt (to complete it):
    // https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions
    if stack.uploads.allow_downloads || stack.uploads.multipart {
        actions.push("kms:Decrypt");
    }
    let alias = key
        .strip_prefix("arn:")
        .and_then(|rest| rest.split_once(":alias/"))
        .map(|(_, name)| format!("alias/{name}"))
        .or_else(|| key.starts_with("alias/").then(|| key.clone()));
    if alias.as_deref() == Some("alias/aws/s3") {
        return None;
    }
    let statement = match alias {
        Some(alias) => json!({
            "Sid": "UseUploadKey",
            "Effect": "Allow",
            "Action": actions,
            "Resource": format!("arn:aws:kms:{}:{}:key/*", t.region, t.account_id),
            "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": alias}}
        }),
        None => json!({
            "Sid": "UseUploadKey",
            "Effect": "Allow",
            "Action": actions,
            "Resource": if key.starts_with("arn:") {
                key.clone()
            } else {
                format!("arn:aws:kms:{}:{}:key/{key}", t.region, t.account_id)
            }
        }),
    };
    Some(statement)
}

/// The environment the signer reads its configuration from.
pub fn signer_environment(
    stack: &Stack,
    region: &str,
) -> std::collections::BTreeMap<String, String> {
    let u = &stack.uploads;
    let mut env = std::collections::BTreeMap::from([
        ("PRESIGN_BUCKET".to_string(), bucket_name(stack, region)),
        ("PRESIGN_PREFIX".to_string(), u.prefix.clone()),
        (
            "PRESIGN_ALLOWED_CONTENT_TYPES".to_string(),
            u.allowed_content_types.join(","),
        ),
        (
            "PRESIGN_EXPIRES_SECONDS".to_string(),
            u.expires_seconds.to_string(),
        ),
        (
            "PRESIGN_ALLOW_DOWNLOADS".to_string(),
            u.allow_downloads.to_string(),
        ),
    ]);
    if let Some(max) = u.max_size_bytes {
        env.insert("PRESIGN_MAX_SIZE_BYTES".to_string(), max.to_string());
    }
    if let Some(min) = u.min_size_bytes {
        env.insert("PRESIGN_MIN_SIZE_BYTES".to_string(), min.to_string());
    }
    if u.uppy {
        env.insert("PRESIGN_UPPY".to_string(), "true".to_string());
        if u.uppy_put {
            env.insert("PRESIGN_UPPY_METHOD".to_string(), "put".to_string());
        }
    }
    if u.multipart {
        env.insert("PRESIGN_MULTIPART".to_string(), "true".to_string());
    }
    if let Some(c) = &u.checksum {
        env.insert("PRESIGN_CHECKSUM".to_string(), c.clone());
    }
    env
}

/// The HTTP API's CORS configuration (`None` without `api.cors_origins`): what API Gateway
/// answers preflights with, and what `dev` answers them with too.
pub fn api_cors(stack: &Stack) -> Option<ApiCors> {
    (!stack.api.cors_origins.is_empty()).then(|| {
        let mut origins = stack.api.cors_origins.clone();
        origins.sort();
        origins.dedup();
        ApiCors {
            allow_origins: origins,
            allow_methods: if stack.uploads.multipart {
                vec![
                    "DELETE".into(),
                    "GET".into(),
                    "OPTIONS".into(),
                    "POST".into(),
                ]
            } else {
                vec!["GET".into(), "OPTIONS".into()]
            },
            // Uppy's client sends its versions with every request to its routes.
            allow_headers: if stack.uploads.uppy || stack.uploads.multipart {
                vec![
                    "authorization".into(),
                    "content-type".into(),
                    "uppy-versions".into(),
                ]
            } else {
                vec!["authorization".into(), "content-type".into()]
            },
            max_age: 300,
        }
    })
}

/// The signer's resources: role, inline policy, log group, function, HTTP API.
pub fn signer(stack: &Stack, t: &Target) -> Vec<Resource> {
    let mut tags = stack.tags.clone();
    tags.insert(OWNERSHIP_TAG.to_string(), stack.name.clone());
    let f = &stack.function;
    let route_key = format!("GET {}", stack.api.route);
    let cors = api_cors(stack);
    let permission = |route_key: &str| {
        InvokePermission::api_gateway(
            function_arn(stack, t),
            format!(
                "arn:aws:execute-api:{}:{}:{}",
                t.region,
                t.account_id,
                route_source(route_key)
            ),
        )
    };
    let mut other_routes: Vec<String> = UPPY_ROUTE_KEYS
        .iter()
        .filter(|k| {
            if **k == UPPY_PARAMS_ROUTE {
                stack.uploads.uppy
            } else {
                stack.uploads.multipart
            }
        })
        .map(|k| k.to_string())
        .collect();
    other_routes.sort();
    let other_permissions = other_routes.iter().map(|k| permission(k)).collect();
    vec![
        Resource {
            id: ids::ROLE.into(),
            props: Props::IamRole(RoleProps {
                name: role_name(stack),
                assume_role_policy: normalize::policy_document(&trust_policy(t)),
                tags: tags.clone(),
                attached_policies: Vec::new(),
                other_inline_policies: Vec::new(),
            }),
            depends_on: vec![],
        },
        Resource {
            id: ids::ROLE_POLICY.into(),
            props: Props::IamRolePolicy(RolePolicyProps {
                role: role_name(stack),
                name: role_name(stack),
                document: normalize::policy_document(&signer_policy(stack, t)),
            }),
            depends_on: vec![ids::ROLE.into()],
        },
        Resource {
            id: ids::LOG_GROUP.into(),
            props: Props::LogGroup(LogGroupProps {
                name: log_group_name(stack),
                retention_days: f.log_retention_days as i32,
                tags: tags.clone(),
            }),
            depends_on: vec![],
        },
        Resource {
            id: ids::FUNCTION.into(),
            props: Props::LambdaFunction(FunctionProps {
                name: function_name(stack),
                runtime: "provided.al2023".into(),
                handler: "bootstrap".into(),
                architecture: "x86_64".into(),
                memory_mb: f.memory_mb as i32,
                timeout_seconds: f.timeout_seconds as i32,
                role_arn: role_arn(stack, t),
                environment: signer_environment(stack, &t.region),
                code_sha256: t.code_sha256.clone(),
                tags: tags.clone(),
                other_permissions: Vec::new(),
            }),
            // A function must never run without its grants, nor log before the stack's own
            // group exists: both are late dependencies (`plan::late_dependency`), which the
            // API's invoke permission waits for.
            depends_on: vec![
                ids::ROLE.into(),
                ids::ROLE_POLICY.into(),
                ids::LOG_GROUP.into(),
            ],
        },
        Resource {
            id: ids::API.into(),
            props: Props::HttpApi(HttpApiProps {
                name: api_name(stack),
                tags,
                cors,
                integration: Some(function_arn(stack, t)),
                route: Some(ApiRoute {
                    route_key: route_key.clone(),
                    authorizer: stack.api.jwt.as_ref().map(|j| JwtAuthorizer {
                        issuer: j.issuer.clone(),
                        audience: j.audience.clone(),
                    }),
                }),
                stage: Some(ApiStage {
                    throttle_rate_limit: stack.api.throttle_rate_limit,
                    throttle_burst_limit: stack.api.throttle_burst_limit as i32,
                }),
                invoke_permission: Some(permission(&route_key)),
                other_routes,
                other_permissions,
            }),
            depends_on: vec![ids::FUNCTION.into()],
        },
    ]
}

/// Every resource of the stack: the bucket family, then the signer's resources.
pub fn whole_stack(stack: &Stack, t: &Target) -> Vec<Resource> {
    let mut all = desired(stack, &t.region);
    all.extend(signer(stack, t));
    all
}
